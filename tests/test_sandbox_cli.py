"""`lambdafail sandbox` through the real CLI: endpoint line, state file, --sandbox discovery,
clean Ctrl-C / SIGTERM, refusal of a second sandbox, and a clear exit 2 without moto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli, wait_until
from lambdafail.aws import AwsContext
from lambdafail.base import settings


def _start(state: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdafail", "sandbox", "--state-file", str(state),
         "--time-scale", "60", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # blocks until the server listens
    return proc, line


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sandbox_cli_runs_until_signal(tmp_path: Path, sig: signal.Signals) -> None:
    state = tmp_path / "state" / "sandbox.json"
    proc, line = _start(state)
    try:
        assert line.startswith("export AWS_ENDPOINT_URL=http://127.0.0.1:"), line
        url = line.split("=", 1)[1]
        doc = json.loads(state.read_text())
        assert doc["endpoint_url"] == url and doc["pid"] == proc.pid
        assert doc["time_scale"] == 60.0 and doc["region"] == "us-east-1"
        assert set(doc) >= {"started_at", "log_file"}

        # Another command finds it through --sandbox alone (the state file), as aws.py does.
        s = settings.reset()
        s.sandbox, s.sandbox_state_file = True, str(state)
        ctx = AwsContext.from_settings()
        assert ctx.endpoint_url == url
        assert ctx.account_id == "123456789012"

        # A second sandbox on the same state file refuses (exit 2) instead of clobbering it.
        second = run_cli("sandbox", "--state-file", str(state), timeout=60)
        assert second.returncode == 2
        assert "already running" in second.stderr and "Traceback" not in second.stderr
    finally:
        settings.reset()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert not state.exists()  # removed on a clean stop


def test_sandbox_cli_json_output(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdafail", "sandbox", "-o", "json", "--state-file",
         str(state)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(state.exists, timeout=30, what="state file")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    doc = json.loads(out)
    assert doc["endpoint_url"].startswith("http://127.0.0.1:") and doc["state_file"] == str(state)


def test_sandbox_cli_without_moto_exits_2_with_hint(tmp_path: Path) -> None:
    # Hide moto from the child interpreter, as in an install without the `sandbox` extra.
    blocker = tmp_path / "blocker" / "moto"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError(\"No module named 'moto'\", name='moto')\n")
    r = run_cli("sandbox", "--state-file", str(tmp_path / "s.json"),
                env={"PYTHONPATH": str(blocker.parent)}, timeout=60)
    assert r.returncode == 2
    assert "pip install 'lambdafail[sandbox]'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("args", [["--time-scale", "0"], ["--time-scale", "-3"]])
def test_sandbox_cli_rejects_bad_time_scale(tmp_path: Path, args: list[str]) -> None:
    r = run_cli("sandbox", "--state-file", str(tmp_path / "s.json"), *args, timeout=60)
    assert r.returncode == 2 and "time-scale" in r.stderr and "Traceback" not in r.stderr


def test_sandbox_cli_port_taken_is_a_usage_error(tmp_path: Path) -> None:
    """werkzeug would print its own message and exit 1; lambdafail says what to do, exit 2."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run_cli("sandbox", "--port", str(port), "--state-file", str(tmp_path / "s.json"),
                    timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "s.json").exists()

"""Ctrl-C and SIGTERM in the middle of a drill: the real CLI in a subprocess against the moto
server, the orchestrator's handler ticking in this process. The drill must restore (fault
cleared, primary active, lock released), write its reports and exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_until
from lambdafail.drill import report
from lambdafail.drill.journal import read_journal
from test_drill_env import DrillEnv


def _never_detecting_env(moto_server: str, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> tuple[DrillEnv, Path]:
    """100 consecutive failures are needed: the drill is still observing when we act on it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    env = DrillEnv(tmp_path, monkeypatch, endpoint_url=moto_server,
                   failure_threshold=100).provision()
    return env, tmp_path / "reports"


def _drill_subprocess(env: DrillEnv, out: Path, moto_server: str, *, timeout: int,
                      capture: bool) -> subprocess.Popen[str]:
    """The real CLI's drill in its own process, against the moto server."""
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    # As a terminal's foreground job: a test run started in the background (`cmd &`) ignores
    # SIGINT, the child would inherit that and Python would install no Ctrl-C handler.
    return subprocess.Popen(
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        args=[sys.executable, "-m", "lambdafail", "drill", "-f", str(env.file), "checkout",
              "--yes", "--timeout", str(timeout), "--report-dir", str(out)],
        stdout=pipe, stderr=pipe, text=True, env=dict(os.environ, AWS_ENDPOINT_URL=moto_server))


def _wait_for_the_fault_to_be_seen(proc: subprocess.Popen[str], store: Any) -> None:
    """Until the orchestrator has recorded the injected failure (the drill is observing)."""
    wait_until(lambda: proc.poll() is not None
               or (store.get("checkout").faults
                   and store.get("checkout").health["primary"].failures >= 1),
               timeout=30, what="the fault to be injected and seen")
    assert proc.poll() is None, proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["ctrl-c", "sigterm", "sighup"])
def test_drill_signal_mid_drill_restores_and_releases_the_lock(
        sig: signal.Signals, moto_server: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env, out = _never_detecting_env(moto_server, tmp_path, monkeypatch)
    try:
        env.start().steady()
        proc = _drill_subprocess(env, out, moto_server, timeout=60, capture=True)
        store = env.store()
        try:
            _wait_for_the_fault_to_be_seen(proc, store)
            assert store.drill_lock("checkout") is not None
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert "interrupted" in err
        st = store.get("checkout")
        assert st.active == "primary" and not st.faults
        assert env.side_of_router() == "primary"
        assert store.drill_lock("checkout") is None
        doc = json.loads((out / "report.json").read_text())
        assert report.validate(doc) == []
        phases = {p["name"]: p["status"] for p in doc["phases"]}
        assert phases["observe"] == "interrupted" and phases["restore"] == "passed"
        assert doc["grade"]["exit_code"] == 130
        assert "the drill was interrupted" in doc["grade"]["reasons"]
        kinds = [r["kind"] for r in read_journal(out / "journal.jsonl")]
        assert kinds[-1] == "drill-end"
    finally:
        env.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_drill_signal_storm_through_the_restore_neither_hangs_nor_changes_the_exit(
        sig: signal.Signals, moto_server: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The signal is sent again and again until the drill exits: during the phases, during
    the restore, while the journal is being written. It must restore, exit 130 and note them."""
    import time

    env, out = _never_detecting_env(moto_server, tmp_path, monkeypatch)
    try:
        env.start().steady()
        proc = _drill_subprocess(env, out, moto_server, timeout=60, capture=True)
        store = env.store()
        sent = 0
        try:
            _wait_for_the_fault_to_be_seen(proc, store)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                proc.send_signal(sig)
                sent += 1
                time.sleep(0.01)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert sent > 10
        assert proc.returncode == 130, err
        st = store.get("checkout")
        assert st.active == "primary" and not st.faults
        assert store.drill_lock("checkout") is None
        kinds = [r["kind"] for r in read_journal(out / "journal.jsonl")]
        assert kinds[-1] == "drill-end"
        notes = [r.get("text", "") for r in read_journal(out / "journal.jsonl")]
        assert any("received during the drill's restore" in n for n in notes)
    finally:
        env.stop()


def test_drill_killed_leaves_a_journal_and_self_expiring_fault_and_lock(
        moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    env, out = _never_detecting_env(moto_server, tmp_path, monkeypatch)
    try:
        env.start().steady()
        proc = _drill_subprocess(env, out, moto_server, timeout=30, capture=False)
        store = env.store()
        try:
            wait_until(lambda: proc.poll() is not None or bool(store.get("checkout").faults),
                       timeout=30, what="the fault to be injected")
            proc.kill()  # no finally, no restore: what a crash leaves
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        recs = read_journal(out / "journal.jsonl")
        assert any(r["kind"] == "phase-start" and r["phase"] == "inject" for r in recs)
        # Both expire by themselves: fault after timeout + margin, lock after that.
        deadline = store.get("checkout").faults["primary"]
        lock = store.drill_lock("checkout")
        assert lock is not None
        assert time.time() + 30 < deadline <= time.time() + 30 + 61
        assert float(lock["lock_expires_epoch"]) >= deadline
    finally:
        env.store().clear_fault("checkout")
        env.stop()


def test_drill_printed_abort_command_works_pasted_without_the_environment(
        moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A --no-restore drill against the moto server (reached through AWS_ENDPOINT_URL) prints
    one command; run in a shell whose environment does not name the endpoint, it works as
    printed: the connection flags are in it."""
    import re
    import shlex

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    env = DrillEnv(tmp_path, monkeypatch, endpoint_url=moto_server).provision()
    try:
        env.start().steady()
        r = subprocess.run(
            [sys.executable, "-m", "lambdafail", "drill", "-f", str(env.file), "checkout",
             "--yes", "--no-restore", "--timeout", "30", "--report-dir", str(tmp_path / "r")],
            capture_output=True, text=True, timeout=120,
            env=dict(os.environ, AWS_ENDPOINT_URL=moto_server, COLUMNS="60"))
        assert r.returncode == 0, r.stderr
        assert env.state().active == "standby" and env.state().faults
        printed = [re.sub(r"^\s*(\d+\.\s+)?", "", line) for line in r.stderr.splitlines()]
        commands = [line for line in printed if line.startswith("lambdafail ")]
        assert len(commands) == 1 and "--endpoint-url" in commands[0], r.stderr
        argv = shlex.split(commands[0], comments=True)
        clean = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
        pasted = subprocess.run([sys.executable, "-m", "lambdafail", *argv[1:]],
                                capture_output=True, text=True, timeout=120, env=clean)
        assert pasted.returncode == 0, pasted.stderr
        st = env.state()
        assert st.active == "primary" and not st.faults
        assert env.side_of_router() == "primary"
    finally:
        env.stop()

"""`lambdafail demo`: the whole loop through the real CLI, its failure paths, its topology.

Rule: the demo runs for real (sandbox, deployed orchestrator in subprocesses, a primary whose
socket really closes); nothing is mocked. Each test stays well under a minute on 2 cores.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import run_cli, wait_until
from lambdafail import demo as demo_mod
from lambdafail.base.errors import ExitCode
from lambdafail.demo import Demo, DemoEvent, DemoOptions, DemoStepFailed
from lambdafail.model.loader import load

INSTALL_HINT = "pip install 'lambdafail[sandbox]'"


def test_demo_runs_the_whole_loop_and_exits_0(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    t0 = time.monotonic()
    r = run_cli("demo", "--dir", str(workdir), "--no-color", timeout=170)
    wall = time.monotonic() - t0
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Traceback" not in out
    # Every step ran, in order, through the real commands.
    steps = [int(n) for n in re.findall(r"^step (\d) ·", r.stderr, re.M)]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8], r.stderr
    for cmd in ("deploy --yes", "status", "history", "rollback web", "drill web"):
        assert f"lambdafail --sandbox {cmd}" in r.stderr
    # The failover happened for real and was measured (how fast is bench/'s business).
    m = re.search(r"router switched to the standby (\d+\.\d) s after the primary went down",
                  r.stderr)
    assert m, r.stderr
    switch = float(m.group(1))
    floor = demo_mod.detection_floor(60.0)
    assert "nominal: failure_threshold 2 × 1 s probe interval = 2 s" in r.stderr
    assert "✗ failed_over" in r.stdout and "DEGRADED" in r.stdout  # status while failed over
    assert "primary → " in r.stdout or "primary →" in r.stdout  # history's transition
    assert "standby -> primary (rollback)" in r.stderr
    assert "DRILL PASS" in r.stderr
    # The pilot-light act: the standby was off; the plan's Lambda step started it, the wait
    # step saw it healthy, then the router moved; every phase timed, in order.
    act = r.stderr.split("step 6 ·", 1)[1].split("step 7 ·", 1)[0]
    timed = re.findall(r"^ +(\d+\.\d\d) s  (detect|step 1 lambda|step 2 wait|switch|total)",
                       act, re.M)
    assert [name for _, name in timed] == ["detect", "step 1 lambda", "step 2 wait", "switch",
                                           "total"], act
    parts = [float(s) for s, _ in timed]
    assert abs(sum(parts[:-1]) - parts[-1]) < 0.02  # the phases add up to the total
    assert "lambdafail --sandbox history pilot" in act
    # The region act: us-east-1 goes dark for real, the watcher in us-west-2 moves traffic.
    act = r.stderr.split("step 7 ·", 1)[1].split("step 8 ·", 1)[0]
    assert "lambdafail --sandbox outage us-east-1" in act
    m = re.search(r"shop: router on the standby in us-east-2 (\d+\.\d) s after us-east-1 went "
                  r"dark — within its RTO of 30 s, decided in us-west-2", act)
    assert m, act
    assert "lambdafail --sandbox outage us-east-1 --end" in act
    assert "lambdafail --sandbox rollback shop" in act
    assert "region outage: us-east-1 dark → router on the standby in" in r.stdout
    assert "pilot light: detect" in r.stdout
    assert "✓ demo finished in" in r.stdout
    assert "Try it against AWS" in r.stdout and "lambdafail sandbox" in r.stdout
    # The reports exist where the summary says, and nothing is left running.
    reports = workdir / "reports" / "drill-web"
    for name in ("report.json", "report.md", "junit.xml", "timeline.svg"):
        assert (reports / name).is_file(), name
        assert str(reports) in r.stdout
    assert '"result": "pass"' in (reports / "report.json").read_text()
    assert (workdir / "lambdafail.yaml").is_file()
    assert not (workdir / "sandbox.json").exists()  # the sandbox stopped and cleaned up
    print(f"demo wall time {wall:.1f} s; primary down → router switched {switch:.1f} s "
          f"(floor {floor:g} s)")


def test_demo_without_moto_exits_2_with_the_install_hint(tmp_path: Path) -> None:
    # Hide moto from the child interpreter, as in an install without the `sandbox` extra.
    blocker = tmp_path / "blocker" / "moto"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError(\"No module named 'moto'\", name='moto')\n")
    r = run_cli("demo", "--dir", str(tmp_path / "demo"),
                env={"PYTHONPATH": str(blocker.parent)}, timeout=60)
    assert r.returncode == 2, r.stderr
    assert INSTALL_HINT in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "demo").exists()  # nothing started, nothing written


def test_demo_sigterm_mid_run_exits_130_and_stops_everything(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    err = tmp_path / "stderr"
    with err.open("w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "lambdafail", "demo", "--dir",
                                 str(workdir), "--no-color"], stdout=subprocess.DEVNULL,
                                stderr=f, env=dict(os.environ))
    try:
        wait_until(lambda: "step 3 ·" in err.read_text() or proc.poll() is not None,
                   timeout=60, what="the demo's step 3")
        assert proc.poll() is None, err.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.read_text()
    assert "lambdafail: interrupted" in text and "Traceback" not in text
    assert not (workdir / "sandbox.json").exists()  # the sandbox stopped and cleaned up


def test_demo_refuses_json_output(tmp_path: Path) -> None:
    r = run_cli("demo", "-o", "json", "--dir", str(tmp_path / "demo"), timeout=60)
    assert r.returncode == 2
    assert "no JSON output" in r.stderr
    assert r.stdout == ""


def test_demo_topology_is_valid_and_its_floor_follows_the_time_scale(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(demo_mod.topology_yaml("http://127.0.0.1:1/healthz",
                                        "http://127.0.0.1:2/healthz"))
    topo = load(str(f))
    h = topo.health(demo_mod.SERVICE)
    assert h.failure_threshold == demo_mod.FAILURE_THRESHOLD
    assert demo_mod.detection_floor(60.0) == demo_mod.FAILURE_THRESHOLD * 1.0
    assert demo_mod.detection_floor(30.0) == demo_mod.FAILURE_THRESHOLD * 2.0
    # The sandbox never ticks more than once a second, whatever the scale.
    assert demo_mod.detection_floor(120.0) == demo_mod.FAILURE_THRESHOLD * 1.0


def test_demo_failing_step_names_the_step_keeps_its_exit_code_and_stops_everything(
        tmp_path: Path) -> None:
    events: list[DemoEvent] = []
    calls: list[Sequence[str]] = []

    def aws_down(argv: Sequence[str]) -> int:
        calls.append(list(argv))
        return int(ExitCode.AWS)  # as if deploy met an AWS error

    d = Demo(DemoOptions(workdir=tmp_path / "demo"), aws_down, events.append)
    try:
        with pytest.raises(DemoStepFailed) as info:
            d.run()
    finally:
        d.close()
    err = info.value
    assert err.exit_code == ExitCode.AWS
    assert err.message.startswith("demo step 2 (write the topology, deploy it, show status) "
                                  "failed: `lambdafail deploy` exited 3")
    assert calls and calls[0][:3] == ["--sandbox", "deploy", "--yes"]
    # close() stopped everything: the services refuse connections, the sandbox state is gone.
    assert d.primary is not None and not d.primary.running
    assert d.standby is not None and not d.standby.running
    assert not (tmp_path / "demo" / "sandbox.json").exists()
    assert [e.step for e in events if e.kind == "step"] == [1, 2]


def test_demo_unmet_expectation_exits_5(tmp_path: Path) -> None:
    # `status` exiting 0 where the demo expects 7 (degraded) is a failed rehearsal, not a bug.
    from lambdafail.sandbox.server import Sandbox

    d = Demo(DemoOptions(workdir=tmp_path / "demo"), lambda argv: 0, lambda e: None)
    d.sandbox = Sandbox(state_file=tmp_path / "never-started.json")  # command() reads its path
    d._begin(4)
    with pytest.raises(DemoStepFailed) as info:
        d.command(["status"], expect=ExitCode.DEGRADED)
    assert info.value.exit_code == ExitCode.DRILL_FAILED
    assert info.value.message.startswith("demo step 4 (status and history, restore the "
                                         "primary, roll back) failed: `lambdafail status` "
                                         "exited 0, expected 7")

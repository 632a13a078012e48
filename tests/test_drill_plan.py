"""Drills measure the recovery plan: through the real CLI on moto, with the orchestrator's real
handler ticking (tests/test_drill_env.py), a service whose failover scales an ECS service up and
whose failback scales it down. The report (json, md, junit) shows each step with its start, end
and duration; the restore runs the failback steps (the desired count is set back)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdafail.cli import main as cli
from lambdafail.drill import report
from test_drill_env import DrillEnv

PLAN = """\
    recovery:
      failover:
        - ecs: {cluster: shop, service: checkout-dr, desired: 2, every_seconds: 0.1}
        - wait: {healthy: 1, every_seconds: 0.1, timeout_seconds: 10}
      failback:
        - ecs: {cluster: shop, service: checkout-dr, desired: 0, every_seconds: 0.1}
"""


def _ecs() -> Any:
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="shop")
    ecs.register_task_definition(family="checkout", containerDefinitions=[
        {"name": "app", "image": "checkout:1", "memory": 128}])
    ecs.create_service(cluster="shop", serviceName="checkout-dr", taskDefinition="checkout",
                       desiredCount=0)
    return ecs


def _desired(ecs: Any) -> int:
    return int(ecs.describe_services(cluster="shop", services=["checkout-dr"])["services"][0][
        "desiredCount"])


def test_a_drill_reports_each_step_and_its_restore_runs_the_failback_steps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mocked_aws: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    ecs = _ecs()
    env = DrillEnv(tmp_path, monkeypatch, signals=PLAN).provision()
    try:
        env.start().steady()
        out = tmp_path / "out"
        code = cli.run(["drill", "-f", str(env.file), "checkout", "--yes", "--timeout", "30",
                        "--report-dir", str(out), "--output", "json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        doc = json.loads(captured.out)
        fo, fb = doc["recovery"]["failover"], doc["recovery"]["failback"]
        assert [(s["kind"], s["status"]) for s in fo["steps"]] == [("ecs", "done"),
                                                                  ("wait", "done")]
        assert [(s["kind"], s["status"]) for s in fb["steps"]] == [("ecs", "done")]
        ms = {k: v["offset_s"] for k, v in doc["milestones"].items() if v}
        # detect → steps → switch → verified, in that order, on one clock.
        a, b = fo["steps"]
        assert ms["injected"] <= a["start_s"] <= a["end_s"] <= b["start_s"] <= b["end_s"]
        assert b["end_s"] <= ms["transition_committed"] + 0.001
        assert all(s["duration_s"] is not None and s["duration_s"] >= 0 for s in fo["steps"])
        t = doc["timings"]
        assert t["steps_s"] == pytest.approx(b["end_s"] - a["start_s"], abs=0.002)
        assert t["steps_s"] <= t["total_s"]
        assert t["switch_after_steps_s"] is not None
        parts = (t["time_to_detect_s"], t["decide_s"], t["steps_s"], t["switch_after_steps_s"])
        assert sum(parts) == pytest.approx(t["total_s"], abs=0.01)  # back to back
        # The restore failed back through the rollback path, which ran the failback steps.
        assert fb["steps"][0]["start_s"] >= ms["router_verified"]
        assert fb["transition_id"] != fo["transition_id"]
        assert _desired(ecs) == 0
        # The other renderings show the steps too.
        assert report.validate(json.loads((out / "report.json").read_text())) == []
        md = (out / "report.md").read_text()
        assert "## Recovery plan" in md and "| failover | 1 | ecs | done |" in md
        assert "failover step 2 (wait) finished" in md and "failback step 1 (ecs)" in md
        cases = [c.get("name") for c in ET.parse(out / "junit.xml").iter("testcase")]
        assert {"step 1 ecs", "step 2 wait"} <= set(cases)
        assert "None" not in md
        svg = ET.parse(out / "timeline.svg").getroot()
        bars = [g.get("data-step") for g in svg.iter() if g.get("class") == "step"]
        assert bars == ["failover 1 ecs", "failover 2 wait", "failback 1 ecs"]
    finally:
        env.stop()


def test_a_failed_step_fails_the_drill_with_the_step_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mocked_aws: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The ECS step scales up, but the standby never answers: the wait step gives up after
    # 10 s, the router never moves, and the drill names the step.
    from conftest import wait_until

    _ecs()
    env = DrillEnv(tmp_path, monkeypatch, signals=PLAN).provision()
    try:
        env.start().steady()
        env.web["checkout-standby"].stop()
        wait_until(lambda: env.state().health["standby"].ok is False, what="standby down")
        code = cli.run(["drill", "-f", str(env.file), "checkout", "--yes", "--timeout", "20",
                        "--report-dir", str(tmp_path / "out"), "--output", "json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 5
        steps = doc["recovery"]["failover"]["steps"]
        assert [(s["kind"], s["status"]) for s in steps] == [("ecs", "done"), ("wait", "failed")]
        assert any(r.startswith("failover step 2 (wait) failed: the standby was not healthy")
                   for r in doc["grade"]["reasons"]), doc["grade"]["reasons"]
        assert env.side_of_router() == "primary"
    finally:
        env.stop()


def test_a_drill_of_a_cold_standby_checks_its_plan_not_its_health(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mocked_aws: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The standby is down until the ECS step scales it up (a watcher plays ECS starting the
    tasks: the standby's web service comes up once the desired count is 2)."""
    import threading

    from conftest import wait_until

    ecs = _ecs()
    env = DrillEnv(tmp_path, monkeypatch, signals=PLAN).provision()
    standby = env.web["checkout-standby"]
    stop = threading.Event()

    def tasks() -> None:
        while not stop.wait(0.05):
            if _desired(ecs) == 2 and not standby.running:
                standby.start()

    watcher = threading.Thread(target=tasks, daemon=True)
    try:
        env.start().steady()
        standby.stop()
        wait_until(lambda: env.state().health["standby"].ok is False, what="standby down")
        watcher.start()
        code = cli.run(["drill", "-f", str(env.file), "checkout", "--yes", "--timeout", "30",
                        "--report-dir", str(tmp_path / "out"), "--output", "json"])
        doc = json.loads(capsys.readouterr().out)
        checks = {c["name"]: c for c in doc["phases"][0]["checks"]}
        assert "standby healthy" not in checks
        assert checks["standby's recovery plan can run"]["ok"] is True
        assert code == 0, doc["grade"]["reasons"]
        assert [s["status"] for s in doc["recovery"]["failover"]["steps"]] == ["done", "done"]
    finally:
        stop.set()
        env.stop()


def test_a_drill_of_a_cold_standby_whose_plan_cannot_run_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mocked_aws: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = DrillEnv(tmp_path, monkeypatch, signals=PLAN).provision()  # no ECS service
    try:
        env.start().steady()
        code = cli.run(["drill", "-f", str(env.file), "checkout", "--yes", "--timeout", "10",
                        "--report-dir", str(tmp_path / "out"), "--output", "json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 5 and doc["milestones"]["injected"] is None  # nothing injected
        check = {c["name"]: c for c in doc["phases"][0]["checks"]}[
            "standby's recovery plan can run"]
        assert check["ok"] is False and "ecs cluster shop not found" in check["detail"]
    finally:
        env.stop()

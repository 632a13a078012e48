"""`lambdafail drill` against in-process moto, with the orchestrator's real handler ticking in a
background thread: pass, RTO missed, steady state not met, refusals, restore failure, scenarios.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from lambdafail.aws import AwsContext
from lambdafail.cli import main as cli
from lambdafail.drill import report
from lambdafail.drill.journal import read_journal
from lambdafail.drill.runner import Drill, DrillOptions
from test_drill_env import DrillEnv


def _drill(env: DrillEnv, tmp_path: Path, listener: Any = None, **opts: Any) -> dict[str, Any]:
    o = DrillOptions(service=opts.pop("service", "checkout"),
                     report_dir=str(tmp_path / "reports"), operator="tester",
                     topology_file=str(env.file), **{"timeout": 20.0, **opts})
    ctx = AwsContext(region="us-east-1")
    return Drill(env.compiled, ctx, o, listener=listener).run()


def printed_commands(err: str) -> list[str]:
    """The `lambdafail …` command lines a drill printed for the operator to paste."""
    out = []
    for line in err.splitlines():
        text = re.sub(r"^\s*(\d+\.\s+)?", "", line)
        if text.startswith("lambdafail "):
            out.append(text)
    return out


def paste(line: str) -> int:
    """Run a printed command line as a shell would (comments dropped), through the real CLI."""
    argv = shlex.split(line, comments=True)
    assert argv[0] == "lambdafail"
    return cli.run(argv[1:])


def _assert_restored(env: DrillEnv) -> None:
    st = env.state()
    assert st.active == "primary" and st.phase == "steady"
    assert not st.faults
    assert env.side_of_router() == "primary"
    assert env.store().drill_lock("checkout") is None


def test_drill_pass_through_the_cli(drill_env: DrillEnv, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    drill_env.start().steady()
    before_search = drill_env.state("search")
    out_dir = tmp_path / "out"
    code = cli.run(["drill", "-f", str(drill_env.file), "checkout", "--yes", "--timeout", "20",
                    "--report-dir", str(out_dir), "--output", "json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 0, captured.err
    assert doc["grade"]["result"] == "pass" and doc["grade"]["rto_met"] is True
    assert [p["status"] for p in doc["phases"]] == ["passed"] * 6
    t = doc["timings"]
    assert 0 <= t["time_to_detect_s"] <= t["total_s"] <= 30
    ms = doc["milestones"]
    order = ["injected", "first_failure_seen", "transition_committed", "router_verified",
             "fault_cleared", "primary_restored", "lock_released"]
    offsets = [ms[k]["offset_s"] for k in order]
    assert offsets == sorted(offsets)
    assert doc["restore"] == {"requested": True, "ok": True, "path": "lambdafail.oncall.rollback",
                              "left": [], "instructions": []}
    # The four reports, and they parse.
    for name in report.FILES:
        assert (out_dir / name).is_file()
    assert report.validate(json.loads((out_dir / "report.json").read_text())) == []
    for name in ("report.md", "junit.xml", "timeline.svg"):
        assert "None" not in (out_dir / name).read_text(), name
    assert doc["context"]["region"] == "us-east-1" and doc["context"]["lambdafail_version"]
    assert doc["context"]["environment"].startswith("AWS account ")
    kinds = [r["kind"] for r in read_journal(out_dir / "journal.jsonl")]
    assert kinds[0] == "drill-start" and kinds[-1] == "drill-end"
    # Live progress went to stderr.
    assert "▶ observe" in captured.err and "DRILL PASS" in captured.err
    _assert_restored(drill_env)
    # The log: the orchestrator's failover (reason `drill`, what detected it kept) and the
    # drill's rollback, both carrying the drill id; the actor of the rollback is the caller's
    # STS identity. Nothing for `search`.
    log = list(reversed(drill_env.store().log()))
    assert [(e["service"], e["to"], e["reason"]) for e in log] == [
        ("checkout", "standby", "drill"), ("checkout", "primary", "rollback")]
    assert [e["drill_id"] for e in log] == [doc["drill_id"]] * 2
    assert log[0]["evidence"]["detected_by"] == "probe" and log[0]["actor"].startswith(
        "function:lambdafail-")
    assert log[1]["actor"].startswith("arn:aws:") and doc["operator"] == log[1]["actor"]
    assert drill_env.state("search").active == before_search.active == "primary"
    assert doc["other_services"] == {"checked": ["search"], "changed": []}
    # A drill right after a drill: the orchestrator would refuse to switch (cooldown), so the
    # steady state is not met and nothing is injected.
    again = _drill(drill_env, tmp_path / "again")
    assert again["grade"]["exit_code"] == 5 and again["milestones"]["injected"] is None
    cool = {c["name"]: c for c in again["phases"][0]["checks"]}["cooldown elapsed"]
    assert cool["ok"] is False and "s left" in cool["detail"]


def test_drill_rto_missed_when_detection_is_slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 mocked_aws: None) -> None:
    # RTO 1 s, but 3 consecutive failed probes are needed and ticks come every 0.6 s.
    env = DrillEnv(tmp_path, monkeypatch, failure_threshold=3, rto_seconds=1,
                   tick_every=0.6).provision()
    try:
        env.start().steady()
        doc = _drill(env, tmp_path)
        assert doc["grade"]["result"] == "fail" and doc["grade"]["exit_code"] == 5
        assert doc["grade"]["rto_met"] is False
        assert doc["timings"]["total_s"] > 1
        assert any("RTO missed" in r for r in doc["grade"]["reasons"])
        # Every phase itself succeeded: only the clock failed the drill.
        assert {p["name"]: p["status"] for p in doc["phases"]}["observe"] == "passed"
        _assert_restored(env)
    finally:
        env.stop()


def test_drill_steady_state_not_met_injects_nothing(drill_env: DrillEnv, tmp_path: Path) -> None:
    # The orchestrator never ticked: no heartbeat, no probe results.
    before = drill_env.state()
    doc = _drill(drill_env, tmp_path)
    assert doc["grade"]["exit_code"] == 5
    pre = doc["phases"][0]
    assert pre["name"] == "precheck" and pre["status"] == "failed"
    failed = {c["name"] for c in pre["checks"] if not c["ok"]}
    assert {"orchestrator fresh", "primary healthy", "standby healthy"} <= failed
    assert [p["status"] for p in doc["phases"][1:5]] == ["skipped"] * 4
    after = drill_env.state()
    assert after.version == before.version and not after.faults
    assert drill_env.store().drill_lock("checkout") is None
    assert doc["milestones"]["injected"] is None


def test_drill_refused_when_the_standby_is_unhealthy(drill_env: DrillEnv,
                                                     tmp_path: Path) -> None:
    drill_env.start().steady()
    drill_env.web["checkout-standby"].degrade(503)
    store = drill_env.store()
    from conftest import wait_until

    wait_until(lambda: store.get("checkout").health["standby"].ok is False, what="standby down")
    doc = _drill(drill_env, tmp_path)
    assert doc["grade"]["exit_code"] == 5
    checks = {c["name"]: c for c in doc["phases"][0]["checks"]}
    assert checks["standby healthy"]["ok"] is False and "503" in checks["standby healthy"][
        "detail"]
    assert not drill_env.state().faults and store.drill_lock("checkout") is None


def test_drill_concurrent_drill_refused_and_expired_lock_ignored(drill_env: DrillEnv,
                                                                  tmp_path: Path) -> None:
    import time

    drill_env.start().steady()
    store = drill_env.store()
    assert store.acquire_drill_lock("checkout", "other-drill", "alice@laptop", 600)
    doc = _drill(drill_env, tmp_path)
    assert doc["grade"]["exit_code"] == 5
    check = {c["name"]: c for c in doc["phases"][0]["checks"]}["no other drill running"]
    assert check["ok"] is False and "other-drill" in check["detail"]
    assert store.drill_lock("checkout")["drill_id"] == "other-drill"  # not stolen
    assert not drill_env.state().faults
    # A crashed drill's lock expires by itself: then a drill may run.
    store.release_drill_lock("checkout", "other-drill")
    assert store.acquire_drill_lock("checkout", "crashed", "bob", 1, now=time.time() - 10)
    doc = _drill(drill_env, tmp_path / "2")
    assert doc["grade"]["result"] == "pass", doc["grade"]
    _assert_restored(drill_env)


def test_drill_restore_failure_exits_6_with_instructions(drill_env: DrillEnv,
                                                         tmp_path: Path) -> None:
    drill_env.start().steady()

    def kill_primary(rec: dict[str, Any]) -> None:
        # The primary really dies during the drill: failing back to it must not happen.
        if rec["kind"] == "milestone" and rec["name"] == "injected":
            drill_env.web["checkout-primary"].degrade(500)

    doc = _drill(drill_env, tmp_path, listener=kill_primary, timeout=6.0)
    assert doc["grade"]["result"] == "restore-incomplete" and doc["grade"]["exit_code"] == 6
    r = doc["restore"]
    assert r["ok"] is False
    assert any("still failed over" in x for x in r["left"])
    assert any(x.startswith("lambdafail drill -f ") and " checkout --abort --reason " in x
               for x in r["instructions"])
    st = drill_env.state()
    assert st.active == "standby"  # stays on the healthy side
    assert not st.faults and drill_env.store().drill_lock("checkout") is None
    # The instructions, pasted: status works as printed; once the primary is back, the abort
    # command fails the service back.
    drill_env.web["checkout-primary"].heal()
    for line in r["instructions"]:
        assert paste(line) in (0, 7), line
    _assert_restored(drill_env)
    md = (tmp_path / "reports" / "report.md").read_text() if (
        tmp_path / "reports" / "report.md").exists() else report.to_markdown(doc)
    assert "INCOMPLETE" in md


def test_drill_interrupted_mid_drill_restores(drill_env: DrillEnv, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    drill_env.start().steady()

    def ctrl_c(self: Drill) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the service is failed over

    monkeypatch.setattr(Drill, "_verify", ctrl_c)
    doc = _drill(drill_env, tmp_path)
    assert doc["grade"]["exit_code"] == 130 and "the drill was interrupted" in doc["grade"][
        "reasons"]
    phases = {p["name"]: p["status"] for p in doc["phases"]}
    assert phases["verify"] == "skipped" and phases["restore"] == "passed"
    assert doc["milestones"]["router_verified"] is not None
    _assert_restored(drill_env)


def test_drill_no_restore_leaves_it_failed_over_loudly(drill_env: DrillEnv, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    drill_env.start().steady()
    code = cli.run(["drill", "-f", str(drill_env.file), "checkout", "--yes", "--no-restore",
                    "--timeout", "20", "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "LEFT FAILED OVER" in err
    st = drill_env.state()
    assert st.active == "standby" and drill_env.side_of_router() == "standby"
    assert drill_env.store().drill_lock("checkout") is None
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["restore"]["requested"] is False
    assert {p["name"]: p["status"] for p in doc["phases"]}["restore"] == "skipped"
    # The printed command, pasted as it is, clears the fault and fails back (no --force).
    printed = printed_commands(err)
    assert printed == doc["restore"]["instructions"]
    assert [paste(line) for line in printed] == [0]
    _assert_restored(drill_env)
    # Idempotent: nothing is left, a second abort changes nothing.
    assert paste(printed[0]) == 0
    assert [e["reason"] for e in drill_env.store().log()] == ["rollback", "drill"]


def test_drill_dry_run_changes_nothing(drill_env: DrillEnv, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    drill_env.start().steady()
    drill_env.pause()
    before = drill_env.state()
    code = cli.run(["drill", "-f", str(drill_env.file), "checkout", "--dry-run",
                    "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Dry run" in err and "forced-unhealthy" in err
    assert drill_env.state().version == before.version
    assert drill_env.store().drill_lock("checkout") is None
    assert not (tmp_path / "r").exists()


def test_drill_needs_confirmation_without_a_terminal(drill_env: DrillEnv,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.run(["drill", "-f", str(drill_env.file), "checkout"])
    assert code == 2
    assert "--yes" in capsys.readouterr().err


def test_drill_unknown_service_is_a_usage_error(drill_env: DrillEnv,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.run(["drill", "-f", str(drill_env.file), "nope", "--yes"])
    assert code == 2 and "no service 'nope'" in capsys.readouterr().err


def test_drill_event_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              mocked_aws: None) -> None:
    signals = ("    signals:\n      - event: {source: [shop.checkout], "
               "detail-type: [Server failure]}\n")
    env = DrillEnv(tmp_path, monkeypatch, signals=signals).provision()
    try:
        env.add_event_delivery()
        env.start().steady()
        doc = _drill(env, tmp_path, scenario="event")
        assert doc["grade"]["result"] == "pass", doc["grade"]
        log = env.store().log()
        assert [e["reason"] for e in reversed(log)] == ["drill", "rollback"]
        assert log[-1]["evidence"]["detected_by"] == "event"
        _assert_restored(env)
    finally:
        env.stop()


def test_drill_alarm_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              mocked_aws: None) -> None:
    signals = "    signals:\n      - alarm: checkout-5xx\n"
    env = DrillEnv(tmp_path, monkeypatch, signals=signals).provision()
    try:
        env.client("cloudwatch").put_metric_alarm(
            AlarmName="checkout-5xx", MetricName="5xx", Namespace="shop", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
        env.client("cloudwatch").set_alarm_state(AlarmName="checkout-5xx", StateValue="OK",
                                                 StateReason="test")
        env.start().steady()
        doc = _drill(env, tmp_path, scenario="alarm",
                     check_url=env.web["checkout-standby"].url)
        assert doc["grade"]["result"] == "pass", doc["grade"]
        assert doc["milestones"]["http_verified"] is not None
        log = env.store().log()
        assert [e["reason"] for e in reversed(log)] == ["drill", "rollback"]
        assert log[-1]["evidence"]["detected_by"] == "alarm"
        alarm = env.client("cloudwatch").describe_alarms(AlarmNames=["checkout-5xx"])
        assert alarm["MetricAlarms"][0]["StateValue"] == "OK"
        notes = [x["text"] for x in read_journal(tmp_path / "reports" / "journal.jsonl")
                 if x["kind"] == "note"]
        assert any("checkout-5xx will go to ALARM for real" in n for n in notes)
        _assert_restored(env)
    finally:
        env.stop()


def test_drill_scenario_without_its_signal_is_refused(drill_env: DrillEnv,
                                                      tmp_path: Path) -> None:
    drill_env.start().steady()
    doc = _drill(drill_env, tmp_path, scenario="alarm")
    assert doc["grade"]["exit_code"] == 5
    assert "alarm signal" in doc["phases"][0]["detail"]
    assert drill_env.store().drill_lock("checkout") is None


def test_drill_command_scenario_causes_a_real_outage(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      mocked_aws: None) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    flag = tmp_path / "primary-down"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503 if flag.exists() else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    env = DrillEnv(tmp_path, monkeypatch, urls={"checkout-primary": url}).provision()
    try:
        env.start().steady()
        doc = _drill(env, tmp_path, scenario="command", inject_cmd=f"touch '{flag}'",
                     restore_cmd=f"rm -f '{flag}'")
        assert doc["grade"]["result"] == "pass", doc["grade"]
        assert not flag.exists()
        log = env.store().log()
        assert [e["reason"] for e in reversed(log)] == ["drill", "rollback"]
        assert "HTTP 503" in str(log[-1]["evidence"])
        _assert_restored(env)
    finally:
        env.stop()
        server.shutdown()
        server.server_close()


def test_drill_dry_run_reports_an_unmet_steady_state(drill_env: DrillEnv, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.run(["drill", "-f", str(drill_env.file), "checkout", "--dry-run",
                    "--output", "json"])
    captured = capsys.readouterr()
    assert code == 5
    assert "NOT met" in captured.err and "The drill would" in captured.err
    doc = json.loads(captured.out)
    assert doc["dry_run"] is True and "inject" in doc["plan"]
    assert drill_env.store().drill_lock("checkout") is None

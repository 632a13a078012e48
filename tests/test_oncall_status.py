"""`lambdafail status` and `history`: tables, JSON documents, exit codes, constant API calls."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lambdafail.cli.main import run
from oncall_support import Env, json_out, unique, write_topology


@pytest.fixture
def env(oncall_env: Env) -> Env:
    return oncall_env  # oncall_support.oncall_env: deployed, COLUMNS=200


def status(env: Env, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run(["status", "-f", str(env.file), "--no-color", *extra])
    return code, capsys.readouterr().out


def status_json(env: Env, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    code, out = status(env, capsys, "-o", "json", *extra)
    return code, json_out(out)


def test_oncall_status_healthy(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    code, doc = status_json(env, capsys)
    assert code == 0
    assert doc["format"] == 1 and doc["healthy"] is True
    assert doc["topology"] == env.name and doc["region"] == "us-east-1"
    o = doc["orchestrator"]
    assert o["fresh"] is True and o["drift"] is False and o["deployed_version"] == "1"
    assert o["last_tick_age_seconds"] < 60 and o["stale_after_seconds"] == 120
    (svc,) = doc["services"]
    assert svc["name"] == "checkout" and svc["active"] == "primary" and svc["phase"] == "steady"
    assert svc["primary"]["ok"] is True and svc["standby"]["ok"] is True
    assert svc["primary"]["failures"] == 0 and svc["last_transition"] is None
    assert svc["drill"] is None and svc["healthy"] is True
    assert svc["state"] == "healthy" and svc["reason"] == "" and doc["verdict"] == "healthy"
    assert svc["rules"] == {f"lambdafail-{env.name}-tick-60s": "ENABLED"}  # the tick rule
    assert svc["router"] == {"kind": "ssm", "points_at": "primary", "found": True,
                             "readable": True,
                             "seen": f"SSM parameter /{env.name}/checkout/active = "
                                     f"{env.web[('checkout', 'primary')].url!r}"}

    code, out = status(env, capsys)
    assert code == 0
    assert out.startswith("✓ HEALTHY") and "✓ healthy" in out and "NOT RUNNING" not in out
    assert "DRIFT" not in out and "orchestrator v1" in out
    assert "\x1b[" not in out  # --no-color: words and symbols only
    code, out = status(env, capsys, "-o", "wide")
    assert code == 0 and "● primary" in out and "orchestrator v1" in out


def test_oncall_status_failed_over(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    env.beat(ctx)
    assert run(["failover", "-f", str(env.file), "checkout", "--reason", "test", "--yes"]) == 0
    code, doc = status_json(env, capsys)
    assert code == 7 and doc["healthy"] is False
    svc = doc["services"][0]
    assert svc["active"] == "standby" and svc["healthy"] is False
    assert svc["last_transition"]["from"] == "primary" and svc["last_transition"]["to"] == "standby"
    assert svc["last_transition"]["reason"] == "manual"
    assert "running on the standby" in svc["problems"]
    assert svc["state"] == "failed_over" and svc["severity"] == "degraded"
    assert "manual" in svc["reason"]
    code, out = status(env, capsys)
    assert code == 7 and out.startswith("✗ DEGRADED") and "✗ failed_over" in out
    code, out = status(env, capsys, "-o", "wide")
    assert "▲ STANDBY" in out and "DEGRADED" in out and "primary → standby" in out
    # A monitor that pages only on what is not a deliberate failover:
    assert status(env, capsys, "--fail-on", "blocked,stale")[0] == 0


def test_oncall_status_both_down(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "primary", ok=False, times=4)
    env.observe(ctx, "checkout", "standby", ok=False, times=2)
    code, doc = status_json(env, capsys)
    assert code == 7
    svc = doc["services"][0]
    assert svc["primary"]["ok"] is False and svc["primary"]["failures"] == 4
    assert svc["standby"]["ok"] is False and svc["standby"]["failures"] == 2
    assert any("primary failing (≥4 consecutive)" in p for p in svc["problems"])
    assert svc["state"] == "blocked" and "primary down: HTTP 503" in svc["reason"]
    code, out = status(env, capsys, "-o", "wide")
    assert code == 7 and out.count("FAIL") >= 2 and "×4" in out


def test_oncall_status_stale_orchestrator(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    # Never ticked at all: the dead-man's switch fires.
    code, out = status(env, capsys)
    assert code == 7 and "ORCHESTRATOR NOT RUNNING" in out and "no heartbeat" in out
    # Ticked, but longer ago than twice the probe interval (2 × 60 s).
    env.beat(ctx, age=125)
    code, doc = status_json(env, capsys)
    assert code == 7 and doc["orchestrator"]["fresh"] is False
    assert doc["orchestrator"]["last_tick_age_seconds"] >= 125
    # Never probed either: unknown (at risk), the orchestrator's staleness makes it degraded.
    assert {s["state"] for s in doc["services"]} == {"unknown"}
    code, out = status(env, capsys)
    assert "ORCHESTRATOR NOT RUNNING" in out and "no tick for 2m" in out
    assert status(env, capsys, "--fail-on", "unknown")[0] == 8  # staleness not counted
    env.beat(ctx, age=100)  # inside the limit again
    assert status(env, capsys)[0] == 8  # nothing degraded; the targets are still unknown
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    assert status(env, capsys)[0] == 0


def test_oncall_status_drift(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    text = env.file.read_text().replace("failure_threshold: 3", "failure_threshold: 5")
    env.file.write_text(text)
    code, doc = status_json(env, capsys)
    assert doc["orchestrator"]["drift"] is True
    assert doc["orchestrator"]["deployed_config_sha256"] != doc["orchestrator"][
        "file_config_sha256"]
    assert code == 0  # drift is flagged, not degraded: traffic and watcher are fine
    code, out = status(env, capsys)
    assert "DRIFT" in out and "lambdafail plan" in out


def test_oncall_status_disabled_rule_and_drill(env: Env,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    env.beat(ctx)
    rule = f"lambdafail-{env.name}-tick-60s"  # the watcher itself
    ctx.client("events").disable_rule(Name=rule)
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    code, doc = status_json(env, capsys)
    assert code == 8  # at risk: failures go undetected
    svc = doc["services"][0]
    assert svc["state"] == "at_risk" and f"rule {rule} is DISABLED" in svc["reason"]
    env.store(ctx).acquire_drill_lock("checkout", "d-123", "alice", 600)
    code, doc = status_json(env, capsys)
    assert code == 8
    svc = doc["services"][0]
    assert svc["rules"][rule] == "DISABLED" and svc["drill"]["drill_id"] == "d-123"
    assert svc["state"] == "drill" and "d-123" in svc["reason"]
    code, out = status(env, capsys, "-o", "wide")
    assert "disabled" in out and "◆ DRILL" in out


def test_oncall_status_probe_live(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = env.ctx()
    env.beat(ctx)
    env.web[("checkout", "primary")].degrade(503)
    code, doc = status_json(env, capsys, "--probe")
    assert code == 8  # failing now, not (yet) over the orchestrator's threshold
    svc = doc["services"][0]
    assert svc["state"] == "failing" and "503" in svc["reason"]
    assert svc["primary"]["probe"]["ok"] is False and "503" in svc["primary"]["probe"]["detail"]
    assert svc["standby"]["probe"]["ok"] is True
    code, out = status(env, capsys, "--probe", "-o", "wide")
    assert "now: FAIL" in out and "now: ok" in out


def test_oncall_status_not_deployed_is_aws_error(mocked_aws: None, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    f = write_topology(tmp_path / "t.yaml", unique(), {"a": ("http://127.0.0.1:9/",
                                                             "http://127.0.0.1:9/x")})
    assert run(["status", "-f", str(f)]) == 3
    err = capsys.readouterr().err
    assert "not deployed" in err and "lambdafail: hint:" in err and "Traceback" not in err


def _seed(ctx: Any, tmp_path: Path, n: int) -> dict[str, Any]:
    """A topology of n services, seeded with the runtime's StateStore (no full deploy)."""
    from lambdafail.model.loader import load
    from lambdafail.oncall import common
    from lambdafail.runtime.state import StateStore, table_definition

    name = unique("sc")
    f = write_topology(tmp_path / f"{name}.yaml", name,
                       {f"svc{i:03d}": ("http://127.0.0.1:9/p", "http://127.0.0.1:9/s")
                        for i in range(n)})
    compiled = common.compiled_for(load(str(f)), ctx.region)
    ddb = ctx.client("dynamodb")
    ddb.create_table(**table_definition(compiled["table"]))
    store = StateStore(compiled["table"], ddb)
    for svc in compiled["services"]:
        store.seed(svc, time.time())
    store.heartbeat(time.time(), common.config_sha256(compiled), "1")
    from lambdafail.model import naming

    ctx.client("sqs").create_queue(QueueName=naming.dlq_name(compiled["topology"]))
    events = ctx.client("events")
    events.create_event_bus(Name=compiled["bus"])
    for rule in compiled["schedules"]:
        events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    for svc in compiled["services"].values():
        for sig in svc["signals"]:
            events.put_rule(Name=sig["rule"], EventBusName=compiled["bus"],
                            EventPattern='{"source": ["x"]}')
    return compiled


def test_oncall_status_constant_api_calls(mocked_aws: None, tmp_path: Path) -> None:
    from lambdafail.aws import AwsContext
    from lambdafail.oncall import status

    counts = {}
    router_calls = {}
    for n in (1, 100, 250):
        ctx = AwsContext(region="us-east-1")
        compiled = _seed(ctx, tmp_path, n)
        ctx.calls.clear()
        report = status.gather_status(ctx, compiled)
        assert len(report.services) == n
        assert all(s.deployed and s.rules and all(v == "ENABLED" for v in s.rules.values())
                   for s in report.services)
        # _seed writes no router parameter: every router reads back as missing.
        assert all(s.state == "misrouted" and s.router and not s.router.found
                   for s in report.services)
        router_calls[n] = [c for c in ctx.calls if c == ("ssm", "GetParameters")]
        counts[n] = sorted(c for c in ctx.calls if c != ("ssm", "GetParameters"))
        assert report.api_calls == len(ctx.calls)
    assert counts[1] == counts[100] == counts[250], (counts[1], counts[250])
    # query services, heartbeat, drill locks, list_rules (tick rules), lambda,
    # DLQ url + attributes
    assert len(counts[250]) == 7
    # The router read-back: GetParameters, 10 names a call (docs/commands.md: ⌈P / 10⌉).
    assert {n: len(c) for n, c in router_calls.items()} == {1: 1, 100: 10, 250: 25}


def test_oncall_status_failed_events(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    from lambdafail.model import naming

    ctx = env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    sqs = ctx.client("sqs")
    dlq = naming.dlq_name(env.name)
    url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    code, doc = status_json(env, capsys)
    assert code == 0 and doc["orchestrator"]["failed_events"] == 0
    assert doc["orchestrator"]["dlq"] == dlq
    sqs.send_message(QueueUrl=url, MessageBody='{"requestContext": {}}')
    sqs.send_message(QueueUrl=url, MessageBody='{"requestContext": {}}')
    code, doc = status_json(env, capsys)
    assert code == 8 and doc["verdict"] == "at_risk"  # a signal may have been lost
    assert doc["orchestrator"]["failed_events"] == 2
    assert any(f"2 failed event(s) in the dead-letter queue {dlq}" in p and "runbook" in p
               for p in doc["orchestrator"]["problems"])
    code, out = status(env, capsys)
    assert code == 8 and out.startswith("▲ AT RISK") and "2 failed event(s)" in out
    assert status(env, capsys, "--fail-on", "blocked,stale")[0] == 0
    assert status(env, capsys, "--fail-on", "failed_events")[0] == 8
    sqs.purge_queue(QueueUrl=url)
    assert status(env, capsys)[0] == 0
    sqs.delete_queue(QueueUrl=url)
    code, doc = status_json(env, capsys)
    assert doc["orchestrator"]["failed_events"] is None
    assert any("does not exist" in p for p in doc["orchestrator"]["problems"])


# ---- history -----------------------------------------------------------------------------------


def test_oncall_history(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(env.file)
    assert run(["failover", "-f", f, "checkout", "--reason", "INC-1 primary slow", "--yes"]) == 0
    assert run(["rollback", "-f", f, "checkout", "--reason", "INC-1 fixed", "--yes"]) == 0
    capsys.readouterr()
    assert run(["history", "-f", f, "-o", "json"]) == 0
    doc = json_out(capsys.readouterr().out)
    assert doc["format"] == 1
    t = doc["transitions"]
    assert [(x["from"], x["to"], x["reason"]) for x in t] == [
        ("standby", "primary", "rollback"), ("primary", "standby", "manual")]  # newest first
    assert t[1]["evidence"]["note"] == "INC-1 primary slow"
    assert t[0]["actor"].startswith("arn:aws:")
    assert run(["history", "-f", f, "checkout", "--limit", "1", "-o", "json"]) == 0
    assert len(json_out(capsys.readouterr().out)["transitions"]) == 1
    assert run(["history", "-f", f, "--since", "2999-01-01T00:00:00Z", "-o", "json"]) == 0
    assert json_out(capsys.readouterr().out)["transitions"] == []
    assert run(["history", "-f", f, "--since", "1h", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "primary → standby" in out and "INC-1 fixed" in out and "rollback" in out
    assert run(["history", "-f", f, "nosuch"]) == 2
    assert run(["history", "-f", f, "--since", "yesterday"]) == 2


def test_oncall_status_watch_refuses_json(env: Env) -> None:
    assert run(["status", "-f", str(env.file), "--watch", "-o", "json"]) == 2


def test_oncall_status_watch_refreshes_until_ctrl_c(env: Env, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """--watch re-reads status on every refresh, follows the state as it changes, and Ctrl-C
    ends it with the exit code of the last status it showed."""
    from lambdafail.oncall import status

    ctx = env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    real = status.gather_status
    calls: list[bool] = []

    def gather(*args: Any, **kwargs: Any) -> Any:
        if len(calls) == 1:  # between refreshes the primary starts failing
            env.observe(ctx, "checkout", "primary", ok=False, times=3)
        if len(calls) == 2:  # then the state table goes away: a real AWS error
            ctx.client("dynamodb").delete_table(TableName=f"lambdafail-{env.name}-state")
        if len(calls) == 3:
            raise KeyboardInterrupt
        try:
            report = real(*args, **kwargs)
        except Exception:
            calls.append(None)
            raise
        calls.append(report.healthy)
        return report

    monkeypatch.setattr(status, "gather_status", gather)
    code = run(["status", "-f", str(env.file), "--no-color", "--watch", "--interval", "0.5"])
    assert calls == [True, False, None]
    assert code == 3  # the last refresh could not read AWS
    out = capsys.readouterr().out
    # The failed refresh keeps the last good status on screen, marked stale, with why.
    last = out.rsplit("STALE", 1)[1]
    assert "refresh failed at" in last and "not found" in last
    assert "DEGRADED" in last and "checkout" in last and "✗ blocked" in last


def test_oncall_status_last_probe_from_the_heartbeat(env: Env,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A steady orchestrator leaves the service item alone: "last probed" is its rule's tick."""
    from lambdafail.oncall import common
    from lambdafail.runtime.decisions import record_probe
    from lambdafail.runtime.probes import ProbeResult

    ctx = env.ctx()
    store = env.store(ctx)
    st = store.get("checkout")
    for side in ("primary", "standby"):
        record_probe(st, side, ProbeResult(ok=True, latency_ms=5.0, detail="HTTP 200"),
                     time.time() - 600)
    store.save(st, st.version)
    compiled = env.compiled(ctx)
    sha = common.config_sha256(compiled)
    store.heartbeat(time.time() - 2, config_sha256=sha, function_version="1")
    _, doc = status_json(env, capsys)
    assert doc["services"][0]["primary"]["age_seconds"] >= 590  # no rule tick recorded
    (rule,) = compiled["schedules"]
    store.heartbeat(time.time() - 2, config_sha256=sha, function_version="1", rule=rule)
    code, doc = status_json(env, capsys)
    assert code == 0
    svc = doc["services"][0]
    assert svc["primary"]["age_seconds"] < 60 and svc["standby"]["age_seconds"] < 60
    assert svc["primary"]["at"] == doc["orchestrator"]["last_tick_at"]


def test_oncall_single_shot_lambda_clients_are_counted(mocked_aws: None) -> None:
    """The probe and hook clients (one attempt, short read timeout) go through the context, so
    status and switches count their Lambda calls like any other."""
    from lambdafail.aws import AwsContext
    from lambdafail.oncall import common

    ctx = AwsContext(region="us-east-1")
    common.probe_lambda(ctx, 2.0).list_functions()
    common.clients_for(ctx).get_single_shot("lambda").list_functions()
    assert ctx.calls == [("lambda", "ListFunctions"), ("lambda", "ListFunctions")]
    assert common.probe_lambda(ctx, 2.0) is common.probe_lambda(ctx, 2.0)


@pytest.mark.parametrize(("text", "width", "want"), [
    ("standby down: connection failed: Connection refused", 33,
     "standby down: …Connection refused"),
    ("invoke failed: ResourceNotFoundException: An error occurred (ResourceNotFoundException) "
     "when calling the Invoke operation: Function not found: arn:aws:lambda:x", 60,
     "invoke failed: …Function not found: arn:aws:lambda:x"),
    ("a short one", 20, "a short one"),
    ("transition pending for a long while", 14, "transition…"),
    ("connection failed", 12, "connection…"),
])
def test_oncall_status_fit_keeps_the_end_and_whole_words(text: str, width: int,
                                                        want: str) -> None:
    from lambdafail.cli.render import fit

    got = fit(text, width)
    assert len(got) <= width
    assert got.startswith(want.split("…")[0]) and got.endswith(want.split("…")[-1])
    words = set(text.split())
    assert all(piece in words for piece in got.replace("…", " ").split()), got  # none broken


def test_oncall_status_shows_notifications_failing(env: Env,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # The topic is deleted; the orchestrator then fails over: its SNS publish fails, and the
    # failure lands on the heartbeat item, where status reads it (no extra call).
    import boto3

    from lambdafail.runtime.config import Clients
    from lambdafail.runtime.handler import Orchestrator
    from lambdafail.runtime.log import Logger
    from runtime_support import ScriptedProber, loaded

    ctx = env.ctx()
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name=f"{env.name}-alerts")["TopicArn"]
    sns.delete_topic(TopicArn=topic)
    compiled = env.compiled(ctx) | {"sns_topic_arn": topic}
    prober = ScriptedProber()
    prober.set("checkout", primary=False, standby=True)
    orch = Orchestrator(loaded(compiled), Clients(region="us-east-1"), prober=prober,
                        logger=Logger(sink=lambda _line: None, keep=True))
    rule = next(iter(compiled["schedules"]))
    for _ in range(3):  # the failure threshold
        orch.handle({"lambdafail": "tick", "rule": rule})
    assert env.store(ctx).get("checkout").active == "standby"  # type: ignore[union-attr]
    env.beat(ctx)  # the heartbeat keeps its other attributes
    code, doc = status_json(env, capsys)
    note = doc["orchestrator"]["notifications"]
    assert note["failing"] is True and note["error"].startswith("sns: ") and note["since"]
    assert "notifications failing" not in doc["verdict"]
    assert code == 7  # failed over: degraded, whatever the notifications
    # Nothing else wrong: notifications failing alone is "at risk" (exit 8).
    assert status(env, capsys, "--fail-on", "notifications")[0] == 8
    code, out = status(env, capsys)
    assert "NOTIFICATIONS FAILING" in out and "notifications failing" in out.splitlines()[0]
    # A later notification that reaches the topic clears it.
    good = sns.create_topic(Name=f"{env.name}-alerts-2")["TopicArn"]
    orch.notifier.topic_arn = good
    orch.notifier.publish("lambdafail: test", {"event": "test"})
    code, doc = status_json(env, capsys)
    assert doc["orchestrator"]["notifications"] == {"failing": False, "error": None,
                                                    "since": None}


def test_oncall_status_router_changed_or_deleted_by_hand(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """Status reads the router back: a parameter changed or deleted by hand degrades the
    service (exit 7) and says what it saw; putting it back heals it."""
    ctx = env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "primary", ok=True)
    env.observe(ctx, "checkout", "standby", ok=True)
    ssm = ctx.client("ssm")
    param = f"/{env.name}/checkout/active"
    assert status_json(env, capsys)[0] == 0
    ssm.put_parameter(Name=param, Value="http://elsewhere.invalid/", Overwrite=True)
    code, doc = status_json(env, capsys)
    (svc,) = doc["services"]
    assert code == 7 and svc["state"] == "misrouted" and svc["severity"] == "degraded"
    assert svc["router"]["points_at"] is None and "neither side" in svc["reason"]
    assert "http://elsewhere.invalid/" in svc["reason"] and "the state says primary" in svc["reason"]
    ssm.put_parameter(Name=param, Value=env.web[("checkout", "standby")].url, Overwrite=True)
    code, doc = status_json(env, capsys)
    assert code == 7 and "router points at the standby" in doc["services"][0]["reason"]
    ssm.delete_parameter(Name=param)
    code, doc = status_json(env, capsys)
    (svc,) = doc["services"]
    assert code == 7 and svc["state"] == "misrouted" and svc["router"]["found"] is False
    assert f"router missing: SSM parameter {param} does not exist" in svc["reason"]
    code, out = status(env, capsys)
    assert code == 7 and "misrouted" in out
    ssm.put_parameter(Name=param, Value=env.web[("checkout", "primary")].url, Type="String")
    assert status_json(env, capsys)[0] == 0


def test_oncall_status_reads_route53_and_rules_routers(mocked_aws: None) -> None:
    """Each kind's batched read-back against moto: a zone listed once for all its records,
    rules by DescribeRule, a hook said to be unreadable (no call)."""
    from lambdafail.aws import AwsContext
    from lambdafail.oncall.common import clients_for
    from lambdafail.runtime.routers import read_all

    ctx = AwsContext(region="us-east-1")
    r53 = ctx.client("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="x")["HostedZone"]["Id"]
    zone = zone.removeprefix("/hostedzone/")

    def upsert(name: str, value: str) -> None:
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": 60,
                                                      "ResourceRecords": [{"Value": value}]}}]})
    upsert("a.example.com.", "p.example.net")
    upsert("b.example.com.", "s.example.net")
    events = ctx.client("events")
    events.put_rule(Name="app-p", EventPattern='{"source": ["x"]}', State="DISABLED")
    events.put_rule(Name="app-s", EventPattern='{"source": ["x"]}', State="ENABLED")

    def r(record: str) -> dict[str, Any]:
        return {"kind": "route53", "zone_id": zone, "record": record, "type": "CNAME", "ttl": 60,
                "values": {"primary": "p.example.net", "standby": "s.example.net"}}
    routers = {"a": r("a.example.com."), "b": r("b.example.com."), "c": r("c.example.com."),
               "d": {"kind": "rules", "bus": "default",
                     "rules": {"primary": ["app-p"], "standby": ["app-s"]}},
               "e": {"kind": "rules", "bus": "default",
                     "rules": {"primary": ["app-gone"], "standby": []}},
               "f": {"kind": "hook", "function": "my-hook"}}
    ctx.calls.clear()
    got = read_all(routers, clients_for(ctx))
    assert (got["a"].side, got["b"].side, got["c"].found) == ("primary", "standby", False)
    assert got["d"].side == "standby" and got["e"].found is False
    assert got["f"].readable is False and "cannot be read back" in got["f"].seen
    assert sorted(ctx.calls) == [("events", "DescribeRule")] * 3 + [
        ("route53", "ListResourceRecordSets")]

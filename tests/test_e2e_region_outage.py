"""The loss of the region it protects, end to end through the real CLI on the sandbox: the
primaries live in us-east-1, the orchestrator, its state and the router in us-west-2
(`control:`); us-east-1 goes dark (`lambdafail outage`) and its primary with it — a regional
web endpoint of the sandbox (`lambdafail web`), cut off by the outage itself; the watcher in
us-west-2 fails over, and status and history answer from us-west-2 during the outage.

Rule: nothing is faked — the orchestrator is the deployed zip the sandbox runs in us-west-2,
the outage cuts off every request for us-east-1, its web endpoints' connections included; the
primary is never stopped separately.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from conftest import run_cli, wait_until
from lambdafail.drill.journal import read_journal
from lambdafail.model import naming
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox import control, regional_web
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import PROC_TIME_SCALE, region_client, state_waiter

pytestmark = pytest.mark.slow

THRESHOLD = 2
FLOOR_S = THRESHOLD * 60 / PROC_TIME_SCALE  # failure_threshold × rate(1 minute) at the scale
DEADLINE_S = 10 * FLOOR_S + 20  # generous on a loaded 2-core machine
CONTROL, PROTECTED = "us-west-2", "us-east-1"
THIRD = "us-east-2"  # the standby and its router: neither the watcher's region nor the primary's


def _topology(path: Path, name: str, primary: str, standby: str) -> str:
    path.write_text(f"""\
version: 1
name: {name}
region: {PROTECTED}
control: {{regions: [{CONTROL}]}}
defaults:
  health: {{interval: rate(1 minute), timeout_seconds: 1, failure_threshold: {THRESHOLD},
           recovery_threshold: 2}}
  policy: {{cooldown_seconds: 1, failback: manual, rto_seconds: 30}}
services:
  web:
    primary: {{url: "{primary}"}}
    standby: {{url: "{standby}", region: {THIRD}}}
    router: {{ssm_parameter: /{name}/web/active, region: {THIRD}}}
""")
    return str(path)


def _deploy_and_wait(f: str, env: dict[str, str], wait: Any) -> None:
    """Deploy through the CLI, then wait until the first tick has seen both sides healthy."""
    r = run_cli("--sandbox", "deploy", "-f", f, "--yes", env=env)
    assert r.returncode == 0, r.stderr
    wait(lambda st: st.health["primary"].ok and st.health["standby"].ok, 30,
         "the first probe tick")


def test_the_watcher_in_another_region_fails_over_while_the_primarys_region_is_dark(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"dr{uuid.uuid4().hex[:8]}"
    ssm = region_client(endpoint, "ssm", THIRD)  # the orchestrator in us-west-2 switches it there
    param = f"/{name}/web/active"
    wait = state_waiter(StateStore(naming.table_name(name),
                                   region_client(endpoint, "dynamodb", CONTROL)), "web")
    # The primary lives in us-east-1: the sandbox serves it, and cuts it off with its region.
    r = run_cli("--sandbox", "web", PROTECTED, name, env=env)
    assert r.returncode == 0, r.stderr
    primary_url = r.stdout.strip()
    assert primary_url == regional_web.url(endpoint, PROTECTED, name)
    with WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary_url, standby.url)
        r = run_cli("validate", "-f", f)
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
        r = run_cli("--sandbox", "deploy", "-f", f, "--yes", env=env)
        assert r.returncode == 0, r.stderr
        # Everything lambdafail owns is in the control region, nothing in the protected one.
        assert naming.table_name(name) in region_client(endpoint, "dynamodb", CONTROL).list_tables()[
            "TableNames"]
        assert naming.table_name(name) not in region_client(
            endpoint, "dynamodb", PROTECTED).list_tables()["TableNames"]
        wait(lambda st: st.health["primary"].ok and st.health["standby"].ok, 30,
             "the first probe tick")

        # us-east-1 goes dark, and its primary with it: nothing else is stopped.
        r = run_cli("--sandbox", "outage", PROTECTED, env=env)
        assert r.returncode == 0, r.stderr
        t0 = time.monotonic()
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            region_client(endpoint, "ssm", PROTECTED).describe_parameters()
        wait_until(lambda: ssm.get_parameter(Name=param)["Parameter"]["Value"] == standby.url,
                   timeout=DEADLINE_S, interval=0.05, what="the router to switch")
        switched_after = time.monotonic() - t0
        wait(lambda st: st.active == "standby" and st.phase == "steady", DEADLINE_S,
             "the transition to be committed")
        st = StateStore(naming.table_name(name), region_client(endpoint, "dynamodb", CONTROL)).get(
            "web")
        assert st is not None and st.health["primary"].ok is False
        assert "HTTP" not in (st.health["primary"].detail or "")  # cut off, never answered

        # On-call reads it from the surviving region during the outage.
        r = run_cli("--sandbox", "status", "-f", f, "-o", "json", env=env, timeout=60)
        assert r.returncode == 7, r.stderr
        web = next(s for s in json.loads(r.stdout)["services"] if s["name"] == "web")
        assert web["active"] == "standby" and web["state"] == "failed_over"
        r = run_cli("--sandbox", "history", "web", "-f", f, "-o", "json", env=env)
        assert r.returncode == 0, r.stderr
        moves = [(t["from"], t["to"], t["reason"]) for t in json.loads(r.stdout)["transitions"]]
        assert moves == [("primary", "standby", "probe")]
        print(f"\nregion outage → router on the standby: {switched_after:.2f} s "
              f"(floor {FLOOR_S:.1f} s, RTO 30 s)")

        # The region comes back — and the primary with it; traffic goes home by hand.
        r = run_cli("--sandbox", "outage", PROTECTED, "--end", env=env)
        assert r.returncode == 0, r.stderr
        wait(lambda st: st.health["primary"].ok is True, 30, "the primary probed ok again")
        r = run_cli("--sandbox", "rollback", "web", "-f", f, "--reason", "region back",
                    "--yes", env=env)
        assert r.returncode == 0, r.stderr
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary_url


def test_break_glass_switches_without_the_state_table_and_is_reconciled_after(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    journal = tmp_path / "break-glass.json"
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1",
           "LAMBDAFAIL_BREAK_GLASS_JOURNAL": str(journal)}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"bg{uuid.uuid4().hex[:8]}"
    ssm = region_client(endpoint, "ssm", THIRD)  # the router's region: it stays lit
    param = f"/{name}/web/active"
    wait = state_waiter(StateStore(naming.table_name(name),
                                   region_client(endpoint, "dynamodb", CONTROL)), "web")
    with WebService("primary") as primary, WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary.url, standby.url)
        _deploy_and_wait(f, env, wait)
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary.url

        # With the table reachable, break-glass is refused: the normal path must be used.
        r = run_cli("--sandbox", "failover", "web", "-f", f, "--break-glass", "--reason", "x",
                    "--yes", env=env)
        assert r.returncode == 2 and "answers" in r.stderr, r.stderr
        assert not journal.exists() or json.loads(journal.read_text()) == []

        # The control region goes dark: the state table is out of reach.
        assert run_cli("--sandbox", "outage", CONTROL, env=env).returncode == 0
        r = run_cli("--sandbox", "failover", "web", "-f", f, "--reason", "INC-7", "--yes",
                    env=env)
        assert r.returncode == 3, r.stderr  # the normal path cannot read the state
        r = run_cli("--sandbox", "failover", "web", "-f", f, "--break-glass", "--reason",
                    "INC-7: us-west-2 out", "--yes", env=env)
        assert r.returncode == 0, r.stderr
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == standby.url
        [entry] = json.loads(journal.read_text())
        assert entry["service"] == "web" and entry["status"] == "applied"
        r = run_cli("--sandbox", "status", "-f", f, env=env, timeout=60)
        assert r.returncode == 3 and "1 break-glass switch(es) pending" in r.stderr, r.stderr

        # The region answers again: the next status writes the switch into the log and state.
        assert run_cli("--sandbox", "outage", CONTROL, "--end", env=env).returncode == 0
        r = run_cli("--sandbox", "status", "-f", f, "-o", "json", env=env, timeout=60)
        assert "reconciled the break-glass switch of web" in r.stderr, r.stderr
        web = next(s for s in json.loads(r.stdout)["services"] if s["name"] == "web")
        assert web["active"] == "standby"
        assert json.loads(journal.read_text()) == []
        r = run_cli("--sandbox", "history", "web", "-f", f, "--kind", "all", "-o", "json",
                    env=env)
        assert r.returncode == 0, r.stderr
        entries = json.loads(r.stdout)["transitions"]
        kinds = [(t.get("kind"), t.get("reason")) for t in entries]
        assert ("break-glass", "INC-7: us-west-2 out") in kinds, kinds
        assert ("transition", "break-glass") in kinds, kinds
        # The same entry reconciled again (a journal restored from a backup, two machines)
        # writes nothing more: one break-glass entry, one transition.
        journal.write_text(json.dumps([entry]))
        r = run_cli("--sandbox", "status", "-f", f, "-o", "json", env=env, timeout=60)
        assert "reconciled the break-glass switch of web" in r.stderr, r.stderr
        r = run_cli("--sandbox", "history", "web", "-f", f, "--kind", "all", "-o", "json",
                    env=env)
        again = [(t.get("kind"), t.get("reason")) for t in json.loads(r.stdout)["transitions"]]
        assert again.count(("break-glass", "INC-7: us-west-2 out")) == 1, again
        assert again.count(("transition", "break-glass")) == 1, again


def test_a_region_outage_drill_blacks_the_primarys_region_out_and_always_lights_it(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"rd{uuid.uuid4().hex[:8]}"
    ssm = region_client(endpoint, "ssm", THIRD)
    wait = state_waiter(StateStore(naming.table_name(name),
                                   region_client(endpoint, "dynamodb", CONTROL)), "web")
    with WebService("primary") as primary, WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary.url, standby.url)
        _deploy_and_wait(f, env, wait)
        reports = tmp_path / "reports"
        r = run_cli("--sandbox", "drill", "web", "-f", f, "--scenario", "region-outage",
                    "--yes", "--timeout", "30", "--report-dir", str(reports), env=env,
                    timeout=180)
        assert r.returncode == 0, r.stderr
        report = json.loads((reports / "report.json").read_text())
        assert report["grade"]["result"] == "pass"
        checks = json.dumps(report)
        assert f"sandbox region {PROTECTED} dark" in checks and "region lit again" in checks
        # Restored: traffic home, the region answers, nothing left dark.
        assert ssm.get_parameter(Name=f"/{name}/web/active")["Parameter"]["Value"] == primary.url
        r = run_cli("--sandbox", "outage", "-o", "json", env=env)
        assert json.loads(r.stdout)["outages"] == []

        # Where the watcher shares the primary's region the drill says why it cannot run.
        same = tmp_path / "same.yaml"
        same.write_text(Path(f).read_text().replace(f"[{CONTROL}]", f"[{PROTECTED}]")
                        .replace(name, f"{name}x"))
        assert run_cli("--sandbox", "deploy", "-f", str(same), "--yes",
                       env=env).returncode == 0
        r = run_cli("--sandbox", "drill", "web", "-f", str(same), "--scenario",
                    "region-outage", "--yes", "--timeout", "30", env=env, timeout=120)
        assert r.returncode == 5 and "take the watcher down too" in r.stderr, r.stderr


def _region_topology(path: Path, name: str, endpoint: str, standby: str,
                     threshold: int = THRESHOLD) -> str:
    """Two services whose primaries are the sandbox's regional endpoints in us-east-1 (RTOs 30
    and 45 s), a third whose primary is in us-east-2; the watcher in us-west-2."""
    def url(region: str, svc: str) -> str:
        return regional_web.url(endpoint, region, f"{name}-{svc}")

    path.write_text(f"""\
version: 1
name: {name}
region: {PROTECTED}
control: {{regions: [{CONTROL}]}}
defaults:
  health: {{interval: rate(1 minute), timeout_seconds: 1, failure_threshold: {threshold},
           recovery_threshold: 2}}
  policy: {{cooldown_seconds: 1, failback: manual, rto_seconds: 30}}
services:
  web:
    primary: {{url: "{url(PROTECTED, 'web')}"}}
    standby: {{url: "{standby}", region: {THIRD}}}
    router: {{ssm_parameter: /{name}/web/active, region: {THIRD}}}
  api:
    primary: {{url: "{url(PROTECTED, 'api')}"}}
    standby: {{url: "{standby}?api", region: {THIRD}}}
    router: {{ssm_parameter: /{name}/api/active, region: {THIRD}}}
    policy: {{rto_seconds: 45}}
  other:
    primary: {{url: "{url(THIRD, 'other')}", region: {THIRD}}}
    standby: {{url: "{standby}?other", region: {THIRD}}}
    router: {{ssm_parameter: /{name}/other/active, region: {THIRD}}}
""")
    return str(path)


def test_a_region_drill_fails_every_primary_of_the_region_over_at_once_and_restores_all(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"rg{uuid.uuid4().hex[:8]}"
    ssm = region_client(endpoint, "ssm", THIRD)
    store = StateStore(naming.table_name(name), region_client(endpoint, "dynamodb", CONTROL))
    with WebService("standby") as standby:
        f = _region_topology(tmp_path / "lambdafail.yaml", name, endpoint, standby.url)
        r = run_cli("--sandbox", "deploy", "-f", f, "--yes", env=env)
        assert r.returncode == 0, r.stderr
        for svc in ("web", "api", "other"):
            state_waiter(store, svc)(lambda st: st.health["primary"].ok and st.health[
                "standby"].ok, 30, f"the first probe tick of {svc}")
        # A dry run pre-checks both and changes nothing (--scenario implied).
        r = run_cli("--sandbox", "-o", "json", "drill", "-f", f, "--outage-region", PROTECTED,
                    "--dry-run", env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        dry = json.loads(r.stdout)
        assert (dry["dry_run"], dry["outage"]["blacked_out"], sorted(dry["drills"])) == (
            True, False, ["api", "web"])
        assert all(store.drill_lock(svc) is None for svc in ("web", "api"))
        reports = tmp_path / "reports"
        r = run_cli("--sandbox", "-o", "json", "drill", "-f", f, "--scenario",
                    "region-outage", "--outage-region", PROTECTED, "--yes", "--timeout", "30",
                    "--report-dir", str(reports), env=env, timeout=240)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["schema"] == "lambdafail.drill.region/1"
        assert (doc["region"], doc["control_region"]) == (PROTECTED, CONTROL)
        assert doc["outage"] == {"sandbox": True, "blacked_out": True, "lit_again": True}
        assert doc["grade"] == {"result": "pass", "passed": True, "exit_code": 0,
                                "reasons": []}
        rows = {row["service"]: row for row in doc["services"]}
        assert sorted(rows) == ["api", "web"]  # `other`'s primary is in us-east-2
        for svc, rto in (("web", 30.0), ("api", 45.0)):
            row = rows[svc]
            assert (row["result"], row["exit_code"], row["switched"], row["restored"],
                    row["rto_met"], row["rto_seconds"]) == ("pass", 0, True, True, True, rto)
            assert row["total_s"] is not None and 0 < row["total_s"] <= rto
            assert row["time_to_switch_s"] is not None and row["time_to_switch_s"] >= 0
            assert row["report_dir"] == str(reports / svc)
            one = json.loads((reports / svc / "report.json").read_text())
            assert one["service"] == svc and one["grade"]["result"] == "pass"
            checks = json.dumps(one["phases"])
            # One outage for both: each drill saw the region dark and lit again.
            assert "one outage for 2 service(s)" in checks and "region lit again" in checks
            # The sibling is not an "other service"; `other` is, and stayed put.
            assert one["other_services"] == {"checked": ["other"], "changed": []}
            assert doc["drills"][svc] == one
        assert json.loads((reports / "region.json").read_text())["services"] == doc["services"]
        # Restored: both routers home, the region answers, nothing dark, nothing drilled.
        for svc in ("web", "api", "other"):
            value = ssm.get_parameter(Name=f"/{name}/{svc}/active")["Parameter"]["Value"]
            assert value == regional_web.url(endpoint, THIRD if svc == "other" else PROTECTED,
                                             f"{name}-{svc}")
            st = store.get(svc)
            assert st is not None and (st.active, st.phase, st.faults) == (
                "primary", "steady", {})
            assert store.drill_lock(svc) is None
        r = run_cli("--sandbox", "outage", "-o", "json", env=env)
        assert json.loads(r.stdout)["outages"] == []
        moves = [(e["service"], e["from"], e["to"], e["reason"])
                 for e in store.log(kind="transition")]
        assert sorted(moves) == sorted([("web", "primary", "standby", "drill"),
                                        ("web", "standby", "primary", "rollback"),
                                        ("api", "primary", "standby", "drill"),
                                        ("api", "standby", "primary", "rollback")])

        # The watcher in the drilled region: refused, as a single region-outage drill is.
        same = tmp_path / "same.yaml"
        same.write_text(Path(f).read_text().replace(f"[{CONTROL}]", f"[{PROTECTED}]")
                        .replace(name, f"{name}x"))
        assert run_cli("--sandbox", "deploy", "-f", str(same), "--yes",
                       env=env).returncode == 0
        r = run_cli("--sandbox", "-o", "json", "drill", "-f", str(same), "--scenario",
                    "region-outage", "--outage-region", PROTECTED, "--yes", "--timeout", "30",
                    "--report-dir", str(tmp_path / "same-reports"), env=env, timeout=120)
        assert r.returncode == 5 and "take the watcher down too" in r.stderr, r.stderr
        refused = json.loads(r.stdout)
        assert refused["outage"]["blacked_out"] is False
        assert [(row["service"], row["switched"]) for row in refused["services"]] == [
            ("api", False), ("web", False)]


def test_a_region_drill_interrupted_while_it_observes_restores_every_service(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"ri{uuid.uuid4().hex[:8]}"
    store = StateStore(naming.table_name(name), region_client(endpoint, "dynamodb", CONTROL))
    with WebService("standby") as standby:
        # 50 failed probes to switch: the drill is still observing when the signal comes.
        f = _region_topology(tmp_path / "lambdafail.yaml", name, endpoint, standby.url,
                             threshold=50)
        assert run_cli("--sandbox", "deploy", "-f", f, "--yes", env=env).returncode == 0
        for svc in ("web", "api"):
            state_waiter(store, svc)(lambda st: st.health["primary"].ok and st.health[
                "standby"].ok, 30, f"the first probe tick of {svc}")
        reports = tmp_path / "reports"
        proc = subprocess.Popen(
            [sys.executable, "-m", "lambdafail", "--sandbox", "-o", "json", "drill", "-f", f,
             "--scenario", "region-outage", "--outage-region", PROTECTED, "--yes",
             "--timeout", "60", "--report-dir", str(reports)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **env})

        def observing() -> bool:
            journals = [reports / svc / "journal.jsonl" for svc in ("web", "api")]
            return all(j.exists() and any(
                rec.get("kind") == "phase-start" and rec.get("phase") == "observe"
                for rec in read_journal(j)) for j in journals)

        try:
            wait_until(observing, timeout=60, interval=0.05, what="both drills observing")
            assert [o["region"] for o in control.outages(endpoint)["outages"]] == [PROTECTED]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, err
        doc = json.loads(out)
        assert doc["grade"]["exit_code"] == 130 and doc["grade"]["result"] == "fail"
        assert doc["outage"] == {"sandbox": True, "blacked_out": True, "lit_again": True}
        assert [(row["service"], row["exit_code"], row["switched"], row["restored"])
                for row in doc["services"]] == [("api", 130, False, True),
                                                ("web", 130, False, True)], err
        for svc in ("web", "api"):
            phases = {p["name"]: p["status"] for p in doc["drills"][svc]["phases"]}
            assert (phases["observe"], phases["restore"]) == ("interrupted", "passed")
            st = store.get(svc)
            assert st is not None and (st.active, st.faults) == ("primary", {})
            assert store.drill_lock(svc) is None
        assert control.outages(endpoint)["outages"] == []

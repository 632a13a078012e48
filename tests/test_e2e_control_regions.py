"""Three control regions, end to end through the real CLI on the sandbox: one watcher in each
of eu-west-2, eu-west-3 and eu-central-1, one global state table with multi-Region strong
consistency; 20 failure events delivered at once to the orchestrators of all three regions
give exactly one transition; with the table's home region dark, on-call answers from another.

Rule: nothing is faked — each orchestrator is the deployed zip the sandbox runs in its region
(as its own role, IAM enforced), the events go through each region's event bus, the state is
the sandbox's global table.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import region_client, state_waiter

pytestmark = pytest.mark.slow

CONTROL = ["eu-west-2", "eu-west-3", "eu-central-1"]
PROTECTED = "eu-west-1"
ROUTER = "eu-west-3"  # lit while the table's home (eu-west-2) is dark
EVENTS = 20
DEADLINE_S = 90.0  # three regions' orchestrators on a loaded 2-core machine


def _topology(path: Path, name: str, primary: str, standby: str) -> str:
    path.write_text(f"""\
version: 1
name: {name}
region: {PROTECTED}
control: {{regions: [{", ".join(CONTROL)}]}}
defaults:
  health: {{interval: rate(1 hour), timeout_seconds: 1, failure_threshold: 3}}
  policy: {{cooldown_seconds: 1, failback: manual, rto_seconds: 60}}
services:
  web:
    primary: {{url: "{primary}"}}
    standby: {{url: "{standby}", region: {ROUTER}}}
    signals:
      - event: {{source: [shop.web], detail-type: [Server failure]}}
    router: {{ssm_parameter: /{name}/web/active, region: {ROUTER}}}
""")
    return str(path)


def test_three_control_regions_switch_exactly_once_and_answer_with_one_dark(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state), "AWS_MAX_ATTEMPTS": "1"}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"mr{uuid.uuid4().hex[:8]}"
    table = naming.table_name(name)
    param = f"/{name}/web/active"
    ssm = region_client(endpoint, "ssm", ROUTER)
    with WebService("primary") as primary, WebService("standby") as standby:
        f = _topology(tmp_path / "lambdafail.yaml", name, primary.url, standby.url)
        r = run_cli("validate", "-f", f)
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
        r = run_cli("--sandbox", "deploy", "-f", f, "--yes", env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        deployed = [re.match(r"deployed topology '\w+' in (\S+):", line)
                    for line in r.stdout.splitlines() if line.startswith("deployed")]
        assert [m.group(1) for m in deployed if m] == CONTROL, r.stdout  # the home first
        # One table, made global in its home region; a watcher in every control region.
        home = region_client(endpoint, "dynamodb", CONTROL[0]).describe_table(TableName=table)["Table"]
        assert sorted(x["RegionName"] for x in home["Replicas"]) == sorted(CONTROL[1:])
        assert home["MultiRegionConsistency"] == "STRONG"
        for region in CONTROL:
            fn = region_client(endpoint, "lambda", region).get_function(
                FunctionName=naming.function_name(name))
            assert fn["Configuration"]["Role"].endswith(
                f"role/{naming.role_name(name, region)}")
        assert table not in region_client(endpoint, "dynamodb", PROTECTED).list_tables()["TableNames"]
        # A re-deploy of every region changes nothing.
        r = run_cli("--sandbox", "plan", "-f", f, "--detailed-exitcode", env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr

        # 20 failure events at once, spread over the three regions' buses.
        buses = {region: region_client(endpoint, "events", region) for region in CONTROL}
        barrier = threading.Barrier(EVENTS)
        errors: list[str] = []

        def fire(i: int) -> None:
            region = CONTROL[i % len(CONTROL)]
            barrier.wait(timeout=30)
            answer = buses[region].put_events(Entries=[{
                "Source": "shop.web", "DetailType": "Server failure",
                "Detail": json.dumps({"n": i}), "EventBusName": naming.bus_name(name)}])
            if answer.get("FailedEntryCount"):
                errors.append(f"{region}: {answer}")

        threads = [threading.Thread(target=fire, args=(i,)) for i in range(EVENTS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        store = StateStore(table, region_client(endpoint, "dynamodb", CONTROL[1]))
        wait = state_waiter(store, "web")
        wait(lambda st: st.active == "standby" and st.phase == "steady", DEADLINE_S,
             "the transition to be committed")
        switched_after = time.monotonic() - t0
        ddb = region_client(endpoint, "dynamodb", CONTROL[2])

        def handled() -> int:
            items = ddb.query(TableName=table, ConsistentRead=True,
                              KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "event"}})["Items"]
            return sum(1 for item in items if item.get("status", {}).get("S") == "done")

        wait_until(lambda: handled() >= EVENTS, timeout=DEADLINE_S, what="every event handled")
        transitions = [e for e in store.log() if e.get("kind", "transition") == "transition"]
        assert [(e["from"], e["to"], e["reason"]) for e in transitions] == [
            ("primary", "standby", "event")]
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == standby.url
        print(f"\n{EVENTS} events in {len(CONTROL)} regions → one switch in "
              f"{switched_after:.2f} s")

        # The table's home region goes dark: on-call answers from the next control region.
        r = run_cli("--sandbox", "outage", CONTROL[0], env=env)
        assert r.returncode == 0, r.stderr
        r = run_cli("--sandbox", "status", "-f", f, "-o", "json", env=env, timeout=60)
        assert r.returncode == 7, r.stderr
        web = next(s for s in json.loads(r.stdout)["services"] if s["name"] == "web")
        assert web["active"] == "standby" and web["state"] == "failed_over"
        r = run_cli("--sandbox", "history", "web", "-f", f, "-o", "json", env=env)
        assert r.returncode == 0, r.stderr
        assert [(t["from"], t["to"]) for t in json.loads(r.stdout)["transitions"]] == [
            ("primary", "standby")]
        # ... and can move traffic: the two lit regions are a majority of the global table.
        r = run_cli("--sandbox", "rollback", "web", "-f", f, "--reason", "drill over",
                    "--yes", env=env)
        assert r.returncode == 0, r.stderr
        assert ssm.get_parameter(Name=param)["Parameter"]["Value"] == primary.url
        r = run_cli("--sandbox", "outage", CONTROL[0], "--end", env=env)
        assert r.returncode == 0, r.stderr

        # Destroy with its state: every region's watcher, then the global table (its
        # replicas first: AWS refuses to delete a table that has them).
        r = run_cli("--sandbox", "destroy", "-f", f, "--delete-state", "--yes", env=env,
                    timeout=300)
        assert r.returncode == 0, r.stderr
        destroyed = [re.match(r"destroyed topology '\w+' in (\S+):", line)
                     for line in r.stdout.splitlines() if line.startswith("destroyed")]
        assert [m.group(1) for m in destroyed if m] == CONTROL[::-1], r.stdout
        for region in CONTROL:
            assert table not in region_client(endpoint, "dynamodb", region).list_tables()[
                "TableNames"], region
            names = [fn["FunctionName"] for fn in region_client(
                endpoint, "lambda", region).list_functions()["Functions"]]
            assert naming.function_name(name) not in names, region

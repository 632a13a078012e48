"""On-call through the real CLI on the sandbox: service states and exit codes, the 80-column
status, and a pause holding a real outage until `resume` lets it fail over.

Rule: nothing mocked: `lambdafail sandbox` runs in its own process and runs the deployed
orchestrator on its sped-up schedule; every command is a fresh `python -m lambdafail`; the
outage is a closed socket; waits are deadlines on the state table (cheap) before the CLI is
asked once.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import run_cli, wait_until
from lambdafail.model import naming
from lambdafail.runtime.state import StateStore
from lambdafail.sandbox.webservice import WebService
from sandbox_fixtures import PROC_TIME_SCALE, sandbox_topology, state_waiter

THRESHOLD = 2
TICK_S = 60 / PROC_TIME_SCALE  # rate(1 minute) at 60×
DEADLINE_S = 10 * THRESHOLD * TICK_S + 20  # generous on a loaded 2-core machine
DEAD_URL = "http://127.0.0.1:9/health/a/rather/long/path/so/the/error/does/not/fit"


def _topology(path: Path, name: str, web: tuple[str, str], cart: tuple[str, str]) -> str:
    return sandbox_topology(path, name, f"""\
  web:
    primary: {{url: "{web[0]}"}}
    standby: {{url: "{web[1]}"}}
    router: {{ssm_parameter: /{name}/web/active}}
  cart:
    primary: {{url: "{cart[0]}"}}
    standby: {{url: "{cart[1]}"}}
    router: {{ssm_parameter: /{name}/cart/active}}
""", THRESHOLD)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--sandbox", *args, env=env, timeout=90)


def _status(env: dict[str, str], f: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    r = _cli(env, "status", "-f", f, "-o", "json")
    assert r.returncode in (0, 7, 8), r.stderr
    doc = json.loads(r.stdout)
    return r.returncode, {s["name"]: s for s in doc["services"]}, doc["verdict"]


def _assert_fits_80(out: str, services: dict[str, dict[str, Any]]) -> None:
    """At 80 columns: verdict first, one line per service, no line wider, no word broken."""
    print(out)  # shown with -s or on failure: what on-call sees
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    for name, svc in services.items():
        mine = [line for line in lines if line.startswith(name + " ")]
        assert len(mine) == 1, out
        words = set(svc["reason"].split()) | {name, svc["state"], str(svc["active"]), "-"}
        for token in mine[0].split()[1:]:
            if re.fullmatch(r"\d+[smhd]|never|[✓▲!✗⇄?‖◆]", token):
                continue
            # A shortened text is marked "…" where it was cut, between whole words.
            for piece in token.split("…"):
                assert not piece or piece in words, (piece, mine[0], svc["reason"])


@pytest.mark.slow  # about a minute: a sandbox process, ~15 CLI interpreters, real ticks
def test_oncall_sandbox_states_80_columns_and_pause_holds_an_outage(
        tmp_path: Path, sandbox_proc: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = sandbox_proc
    env = {"LAMBDAFAIL_SANDBOX_STATE": str(state)}
    endpoint = json.loads(state.read_text())["endpoint_url"]
    name = f"oc{uuid.uuid4().hex[:8]}"
    store = StateStore(naming.table_name(name), boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing"))
    web_wait, cart_wait = state_waiter(store, "web"), state_waiter(store, "cart")
    with WebService("primary") as primary, WebService("standby") as standby, \
            WebService("cart") as cart:
        f = _topology(tmp_path / "lambdafail.yaml", name, (primary.url, standby.url),
                      (cart.url, DEAD_URL))
        r = _cli(env, "deploy", "-f", f, "--yes")
        assert r.returncode == 0, r.stderr

        # web healthy; cart's standby does not answer: at risk (exit 8), nothing degraded.
        web_wait(lambda st: st.health["primary"].ok and st.health["standby"].ok, DEADLINE_S,
                 "web's first probe tick")
        # Down = failing past the threshold (2): one failed probe alone reads "failing".
        cart_wait(lambda st: st.health["primary"].ok and st.health["standby"].ok is False
                  and st.health["standby"].failures >= 2, DEADLINE_S, "cart's standby down")
        code, svcs, verdict = _status(env, f)
        assert (code, verdict) == (8, "at_risk"), svcs
        assert svcs["web"]["state"] == "healthy" and svcs["cart"]["state"] == "at_risk"
        assert svcs["cart"]["reason"].startswith("standby down: ")
        assert _cli(env, "status", "-f", f, "--fail-on", "failed_over,blocked,stale"
                    ).returncode == 0
        r = run_cli("--sandbox", "status", "-f", f, "--no-color", env={**env, "COLUMNS": "80"},
                    timeout=90)
        assert r.returncode == 8, r.stderr
        assert r.stdout.startswith("▲ AT RISK cart at_risk"), r.stdout
        _assert_fits_80(r.stdout, svcs)
        assert "…" in r.stdout  # the long connection error was shortened, from the front

        # Paused, a real outage of web's primary is detected and recorded, never switched.
        r = _cli(env, "pause", "-f", f, "web", "--for", "1h", "--reason", "INC-9 freeze")
        assert r.returncode == 0, r.stderr
        primary.stop()
        web_wait(lambda st: (st.blocked or "").startswith("paused")
                 and st.health["primary"].failures >= THRESHOLD, DEADLINE_S,
                 "the orchestrator to want a failover and hold it")
        held_at = float(store.heartbeat_item()["last_tick_epoch"])  # type: ignore[index]
        wait_until(lambda: float((store.heartbeat_item() or {}).get("last_tick_epoch", 0))
                   >= held_at + 3 * TICK_S, timeout=DEADLINE_S, interval=0.05,
                   what="three more ticks")
        st = store.get("web")
        assert st is not None and st.active == "primary" and st.phase == "steady"
        assert list(store.log(service="web", kind="transition")) == []
        code, svcs, verdict = _status(env, f)
        assert code == 7 and svcs["web"]["state"] == "blocked", svcs["web"]
        assert "paused until" in svcs["web"]["reason"] and "INC-9 freeze" in svcs["web"]["reason"]
        r = run_cli("--sandbox", "status", "-f", f, "--no-color", env={**env, "COLUMNS": "80"},
                    timeout=90)
        assert r.stdout.startswith("✗ DEGRADED web blocked"), r.stdout
        _assert_fits_80(r.stdout, svcs)

        # Resumed: the next tick fails over, by the orchestrator, for the probe failures.
        r = _cli(env, "resume", "-f", f, "web")
        assert r.returncode == 0 and "resumed" in r.stderr, r.stderr
        web_wait(lambda st: st.active == "standby" and st.phase == "steady", DEADLINE_S,
                 "the failover after resume")
        code, svcs, verdict = _status(env, f)
        assert code == 7 and svcs["web"]["state"] == "failed_over"
        (entry,) = store.log(service="web", kind="transition")
        assert entry["reason"] == "probe" and entry["actor"].startswith("arn:aws:lambda:")
        assert entry["actor"].endswith("-orchestrator:live")

        r = _cli(env, "destroy", "-f", f, "--yes")
        assert r.returncode == 0, r.stderr

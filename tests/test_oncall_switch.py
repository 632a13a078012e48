"""`failover` and `rollback`: happy paths, refusals, races, router failure, deployment rollback,
and how AWS failures and an undeployed topology are reported."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdafail.cli.main import run
from oncall_support import Env, json_out, unique, write_topology
from runtime_support import run_concurrently, serialize_dynamodb


@pytest.fixture
def env(oncall_env: Env) -> Env:
    return oncall_env  # oncall_support.oncall_env: deployed, COLUMNS=200


def ssm_value(env: Env, service: str = "checkout") -> str:
    ctx = env.ctx()
    return str(ctx.client("ssm").get_parameter(Name=f"/{env.name}/{service}/active")
               ["Parameter"]["Value"])


def state(env: Env, service: str = "checkout") -> Any:
    return env.store(env.ctx()).get(service)


def log(env: Env) -> list[dict[str, Any]]:
    return list(env.store(env.ctx()).log(kind="transition"))


def test_oncall_failover_happy_path(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(env.file)
    assert ssm_value(env) == env.web[("checkout", "primary")].url
    capsys.readouterr()
    assert run(["failover", "-f", f, "checkout", "--reason", "INC-7 latency", "--yes",
                "-o", "json"]) == 0
    cap = capsys.readouterr()
    doc = json_out(cap.out)  # stdout carries the JSON alone (runtime log lines stay off it)
    assert doc["outcome"] == "switched" and doc["active"] == "standby" and doc["verified"]
    assert doc["read_back"] == "standby" and doc["actor"].startswith("arn:aws:sts::")
    st = state(env)
    assert st.active == "standby" and st.phase == "steady" and st.previous_active == "primary"
    assert ssm_value(env) == env.web[("checkout", "standby")].url
    (entry,) = log(env)
    assert entry["reason"] == "manual" and entry["actor"] == doc["actor"]
    assert entry["evidence"]["note"] == "INC-7 latency"
    assert entry["evidence"]["probe"]["ok"] is True
    # Again: already there, exit 0, nothing written.
    assert run(["failover", "-f", f, "checkout", "--reason", "again", "--yes"]) == 0
    assert "already on the standby" in capsys.readouterr().err
    assert len(log(env)) == 1


def test_oncall_failover_refusals(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(env.file)
    env.web[("checkout", "standby")].degrade(503)
    capsys.readouterr()
    assert run(["failover", "-f", f, "checkout", "--reason", "x", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "standby is not healthy now (HTTP 503" in err and "--force" in err
    assert state(env).active == "primary" and log(env) == []
    # --reason is required; confirmation is required without a terminal.
    assert run(["failover", "-f", f, "checkout", "--yes"]) == 2
    env.web[("checkout", "standby")].heal()
    assert run(["failover", "-f", f, "checkout", "--reason", "x"], ) == 2
    assert "needs confirmation" in capsys.readouterr().err
    assert run(["failover", "-f", f, "nosuch", "--reason", "x", "--yes"]) == 2
    assert state(env).active == "primary"


def test_oncall_failover_honours_drill_fault_and_force(env: Env,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    import time

    f = str(env.file)
    env.store(env.ctx()).set_fault("checkout", "standby", time.time() + 600)
    capsys.readouterr()
    assert run(["failover", "-f", f, "checkout", "--reason", "x", "--yes"]) == 2
    assert "forced unhealthy by drill" in capsys.readouterr().err
    assert run(["failover", "-f", f, "checkout", "--reason", "I know", "--yes", "--force"]) == 0
    (entry,) = log(env)
    assert entry["evidence"]["forced"] is True and state(env).active == "standby"


def test_oncall_rollback_happy_and_idempotent(env: Env,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    f = str(env.file)
    assert run(["failover", "-f", f, "checkout", "--reason", "x", "--yes"]) == 0
    capsys.readouterr()
    assert run(["rollback", "-f", f, "checkout", "--reason", "fixed", "--yes", "-o",
                "json"]) == 0
    doc = json_out(capsys.readouterr().out)
    assert doc["outcome"] == "switched" and doc["to"] == "primary" and doc["verified"]
    assert state(env).active == "primary"
    assert ssm_value(env) == env.web[("checkout", "primary")].url
    assert [e["reason"] for e in log(env)] == ["rollback", "manual"]
    # A second rollback finds the service home: says so, exits 0, writes nothing.
    assert run(["rollback", "-f", f, "checkout", "--reason", "again", "--yes"]) == 0
    assert "already on the primary; nothing to do" in capsys.readouterr().err
    assert len(log(env)) == 2 and state(env).active == "primary"
    assert run(["rollback", "-f", f, "--reason", "x", "--yes"]) == 2  # no SERVICE
    assert run(["rollback", "-f", f, "checkout", "--yes"]) == 2  # no --reason


def test_oncall_rollback_after_the_orchestrator_failed_back_stays_on_the_primary(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """The last transition was the orchestrator's own failback (standby → primary): rollback
    means "back to the primary", never "undo that" (which would move traffic to the standby)."""
    from lambdafail.oncall import switch
    from lambdafail.runtime.transitions import request_switch

    f = str(env.file)
    assert run(["failover", "-f", f, "checkout", "--reason", "x", "--yes"]) == 0
    ctx = env.ctx()
    svc = env.compiled(ctx)["services"]["checkout"]
    env.observe(ctx, "checkout", "primary", ok=True, times=3)  # the primary recovered
    store = env.store(ctx)
    router = switch._router(ctx, svc, store.get("checkout"))
    res = request_switch(store, router, svc, "checkout", "primary", reason="probe",
                         actor="orchestrator", evidence={}, automatic=True,
                         now=time.time() + 600)  # after the cooldown
    assert res.status == "switched" and state(env).active == "primary", res.message
    capsys.readouterr()
    assert run(["rollback", "-f", f, "checkout", "--reason", "on-call reflex", "--yes",
                "-o", "json"]) == 0
    doc = json_out(capsys.readouterr().out)
    assert doc["outcome"] == "noop" and doc["active"] == "primary" and doc["verified"]
    assert state(env).active == "primary"
    assert ssm_value(env) == env.web[("checkout", "primary")].url
    assert [e["reason"] for e in log(env)] == ["probe", "manual"]


def test_oncall_rollback_refuses_unhealthy_primary(env: Env,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    f = str(env.file)
    assert run(["failover", "-f", f, "checkout", "--reason", "x", "--yes"]) == 0
    env.web[("checkout", "primary")].stop()  # connection refused
    capsys.readouterr()
    assert run(["rollback", "-f", f, "checkout", "--reason", "y", "--yes"]) == 2
    assert "primary is not healthy now (connection failed" in capsys.readouterr().err
    assert state(env).active == "standby"
    assert run(["rollback", "-f", f, "checkout", "--reason", "y", "--yes", "--force"]) == 0
    assert state(env).active == "primary"


@pytest.mark.parametrize("action", ["rollback", "failover"])
def test_oncall_race_one_wins(env: Env, action: str) -> None:
    """Two operators at once: both read the same state, exactly one conditional write wins."""
    from lambdafail.oncall import model, switch

    if action == "rollback":
        assert run(["failover", "-f", str(env.file), "checkout", "--reason", "x", "--yes"]) == 0
    before = len(log(env))
    barrier = threading.Barrier(2, timeout=20)
    outcomes: list[model.SwitchOutcome] = []
    errors: list[BaseException] = []

    def operator(i: int) -> None:
        try:
            ctx = env.ctx()  # each operator has their own session and clients
            # moto's in-process DynamoDB checks conditions without a lock; real DynamoDB is
            # atomic per item. Give the race the real semantics (see serialize_dynamodb).
            serialize_dynamodb(ctx.client("dynamodb"))
            core = switch.rollback if action == "rollback" else switch.failover
            outcomes.append(core(ctx, env.compiled(ctx), "checkout", note=f"op{i}",
                                 actor=f"arn:aws:iam::123456789012:user/op{i}",
                                 confirm=lambda q: barrier.wait() and None))
        except BaseException as e:
            errors.append(e)

    run_concurrently([functools.partial(operator, i) for i in range(2)])
    assert not errors, errors
    kinds = sorted(o.outcome for o in outcomes)
    assert kinds.count("switched") == 1, kinds
    loser = next(o for o in outcomes if o.outcome != "switched")
    assert loser.outcome in ("noop", "lost_race")
    assert ("already on" in loser.message) or ("lost a race" in loser.message)
    assert len(log(env)) == before + 1  # exactly one transition recorded
    want = "primary" if action == "rollback" else "standby"
    assert state(env).active == want


def _break_ssm_puts(monkeypatch: pytest.MonkeyPatch, code: str, message: str) -> dict[str, bool]:
    """Every PutParameter the CLI makes fails with `code` while the returned flag is on."""
    from botocore.exceptions import ClientError

    from lambdafail.aws import AwsContext

    broken = {"on": True}
    original = AwsContext.client

    def client(self: AwsContext, service: str, region: str | None = None) -> Any:
        c = original(self, service, region)
        if service == "ssm" and not getattr(c, "_oncall_fault", False):
            def fail(**_: Any) -> None:
                if broken["on"]:
                    raise ClientError({"Error": {"Code": code, "Message": message}},
                                      "PutParameter")
            c.meta.events.register("before-call.ssm.PutParameter", fail)
            c._oncall_fault = True
        return c

    monkeypatch.setattr(AwsContext, "client", client)
    return broken


def test_oncall_router_failure_exit_6_then_resume(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    broken = _break_ssm_puts(monkeypatch, "InternalServerError", "injected")
    f = str(env.file)
    capsys.readouterr()
    assert run(["failover", "-f", f, "checkout", "--reason", "INC 9", "--yes"]) == 6
    err = capsys.readouterr().err
    assert "router failed midway: state is `switching` to standby" in err
    assert "traffic may still point at primary" in err
    assert f"lambdafail failover -f {f} checkout --yes --reason 'INC 9'" in err
    assert f"/{env.name}/checkout/active" in err
    st = state(env)
    assert st.phase == "switching" and st.pending["to"] == "standby" and log(env) == []
    code = run(["status", "-f", f, "-o", "json"])
    doc = json_out(capsys.readouterr().out)
    assert code == 7 and "pending" in doc["services"][0]["problems"][0]
    assert doc["services"][0]["state"] == "switching"
    assert doc["services"][0]["severity"] == "degraded"  # its router failed
    # Fixed: the same command resumes the pending switch; one transition, not two.
    broken["on"] = False
    assert run(["failover", "-f", f, "checkout", "--reason", "INC 9", "--yes"]) == 0
    st = state(env)
    assert st.active == "standby" and st.phase == "steady"
    assert len(log(env)) == 1 and ssm_value(env) == env.web[("checkout", "standby")].url


def test_oncall_stuck_switch_can_be_abandoned_by_hand(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The router keeps refusing (its parameter's permissions or zone are gone): finishing and
    cancelling both need the router, so `rollback --abandon` gives the switch up without it."""
    _break_ssm_puts(monkeypatch, "AccessDeniedException", "gone")
    f = str(env.file)
    before = ssm_value(env)
    capsys.readouterr()
    assert run(["failover", "-f", f, "checkout", "--reason", "INC 7", "--yes"]) == 6
    assert run(["rollback", "-f", f, "checkout", "--reason", "INC 7", "--yes"]) == 6  # router
    wanted = state(env).pending["to"]  # rollback now tries to cancel it: also through the router
    capsys.readouterr()
    assert run(["rollback", "-f", f, "checkout", "--abandon", "--reason", "zone deleted",
                "--yes"]) == 0
    err = capsys.readouterr().err
    assert "abandoned" in err and "did not touch it" in err and f"/{env.name}/checkout" in err
    st = state(env)
    assert st.phase == "steady" and st.active == "primary" and st.pending is None
    (entry,) = log(env)
    assert entry["from"] == entry["to"] == "primary"
    assert entry["evidence"]["abandoned"]["wanted"] == wanted
    assert "gone" in entry["evidence"]["abandoned"]["router_error"]
    assert entry["evidence"]["abandoned"]["note"] == "zone deleted"
    assert entry["evidence"]["abandoned"]["by"].startswith("arn:aws:sts::")
    assert ssm_value(env) == before  # never touched
    assert run(["rollback", "-f", f, "checkout", "--abandon", "--reason", "again", "-o",
                "json"]) == 0
    assert json_out(capsys.readouterr().out)["outcome"] == "noop"
    assert run(["rollback", "-f", f, "checkout", "--abandon", "--force", "--reason", "x"]) == 2


def test_oncall_rollback_deployment(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(env.file)
    ctx = env.ctx()
    lam = ctx.client("lambda")
    fn = f"lambdafail-{env.name}-orchestrator"
    v1 = lam.get_alias(FunctionName=fn, Name="live")["FunctionVersion"]
    # Nothing before version 1.
    assert run(["rollback", "-f", f, "--deployment", "--yes"]) == 2
    env.file.write_text(env.file.read_text().replace("failure_threshold: 3",
                                                     "failure_threshold: 4"))
    assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
    v2 = lam.get_alias(FunctionName=fn, Name="live")["FunctionVersion"]
    assert v2 != v1
    cfg2 = lam.get_function_configuration(FunctionName=fn, Qualifier=v2)
    capsys.readouterr()
    assert run(["rollback", "-f", f, "--deployment", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "compiled topology sha256" in err and f"now points at version {v1}" in err
    # ...and which topology fields move back with it.
    assert re.search(r"config\.services\.checkout\.health\.failure_threshold\s*│\s*4\s*│\s*3",
                     err), err
    assert lam.get_alias(FunctionName=fn, Name="live")["FunctionVersion"] == v1
    cfg1 = lam.get_function_configuration(FunctionName=fn, Qualifier="live")
    assert (cfg1["Environment"]["Variables"]["LAMBDAFAIL_CONFIG_SHA256"]
            != cfg2["Environment"]["Variables"]["LAMBDAFAIL_CONFIG_SHA256"])
    # The file still says threshold 4: status flags the drift.
    env.beat(ctx)
    assert run(["status", "-f", f, "-o", "json"]) == 8  # at risk: targets never probed
    assert json_out(capsys.readouterr().out)["orchestrator"]["drift"] is True
    # Forward again with --to, then --to the current version is a no-op.
    assert run(["rollback", "-f", f, "--deployment", "--to", v2, "--yes", "-o", "json"]) == 0
    doc = json_out(capsys.readouterr().out)
    assert doc["from_version"] == v1 and doc["to_version"] == v2 and doc["applied"]
    assert doc["read_back_version"] == v2
    assert run(["rollback", "-f", f, "--deployment", "--to", v2, "--yes"]) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert run(["rollback", "-f", f, "--deployment", "--to", "99", "--yes"]) == 2
    assert run(["rollback", "-f", f, "--deployment", "checkout", "--yes"]) == 2


# -- AWS failures of runtime code: the error names the call that really failed, and a topology
# that is not deployed is reported the same way by every command


def _break(monkeypatch: pytest.MonkeyPatch, service: str, operation: str,
           fault: Callable[[], Exception]) -> None:
    """Every client of `service` the CLI makes from now on fails `operation` with `fault()`."""
    from lambdafail.aws import AwsContext

    original = AwsContext.client

    def client(self: AwsContext, name: str, region: str | None = None) -> Any:
        c = original(self, name, region)
        if name == service and not getattr(c, "_test_fault", False):
            def fail(**_: Any) -> None:
                raise fault()
            c.meta.events.register(f"before-call.{service}.{operation}", fail)
            c._test_fault = True
        return c

    monkeypatch.setattr(AwsContext, "client", client)


def test_failed_switch_names_the_call_that_failed(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The switch fails on its first write (an UpdateItem), not on the commit: the error says
    so, with AWS's code and the state table."""
    from botocore.exceptions import ClientError

    _break(monkeypatch, "dynamodb", "UpdateItem", lambda: ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "UpdateItem"))
    capsys.readouterr()
    assert run(["failover", "-f", str(env.file), "checkout", "--reason", "INC 1", "--yes"]) == 3
    err = capsys.readouterr().err
    table = f"lambdafail-{env.name}-state"
    assert f"UpdateItem on {table}: AccessDeniedException: not allowed" in err
    assert "TransactWriteItems" not in err and "Traceback" not in err
    # The code's hint names the action the refused call needs.
    assert "UpdateItem needs dynamodb:UpdateItem" in " ".join(err.split())


def test_timed_out_call_is_named_from_the_call_in_flight(env: Env,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """A timeout carries no operation name: the call this thread had in flight is the one."""
    from botocore.exceptions import ReadTimeoutError

    _break(monkeypatch, "dynamodb", "UpdateItem",
           lambda: ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"))
    capsys.readouterr()
    assert run(["failover", "-f", str(env.file), "checkout", "--reason", "INC 2", "--yes"]) == 3
    err = capsys.readouterr().err
    assert f"UpdateItem on lambdafail-{env.name}-state: cannot reach AWS" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["status"], ["history"],
                                  ["failover", "checkout", "--reason", "x", "--yes"],
                                  ["rollback", "checkout", "--reason", "x", "--yes"]])
def test_not_deployed_is_one_error_everywhere(mocked_aws: None, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              argv: list[str]) -> None:
    name = unique()
    f = write_topology(tmp_path / "t.yaml", name, {"checkout": ("http://127.0.0.1:9/",
                                                                "http://127.0.0.1:9/x")})
    assert run([argv[0], "-f", str(f), *argv[1:]]) == 3
    err = capsys.readouterr().err
    assert (f"state table lambdafail-{name}-state not found: topology {name!r} is not deployed "
            "in us-east-1") in err
    assert "`lambdafail deploy` creates it" in err and "Traceback" not in err

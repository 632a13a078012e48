"""`pause` / `resume` and the `--dry-run` of `failover`: on in-process moto, through `run()`.

The orchestrator holding a real outage while paused is proven on the sandbox through the real
CLI (tests/test_oncall_sandbox.py); here: the state item, status, deploy, usage errors.
"""

from __future__ import annotations

import time

import pytest

from lambdafail.cli.main import run
from oncall_support import Env, json_out


@pytest.fixture
def env(oncall_env: Env) -> Env:
    return oncall_env  # oncall_support.oncall_env: deployed, COLUMNS=200


def test_oncall_pause_shows_in_status_survives_deploy_and_resumes(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    from lambdafail.runtime.decisions import decide

    f, ctx = str(env.file), env.ctx()
    env.beat(ctx)
    env.observe(ctx, "checkout", "standby", ok=True)
    env.observe(ctx, "checkout", "primary", ok=True)
    capsys.readouterr()
    assert run(["pause", "-f", f, "checkout", "--for", "1h30m", "--reason", "DB migration",
                "-o", "json"]) == 0
    (p,) = json_out(capsys.readouterr().out)["services"]
    assert p["action"] == "pause" and p["service"] == "checkout" and p["changed"]
    assert p["actor"].startswith("arn:aws:sts::") and p["reason"] == "DB migration"
    st = env.store(ctx).get("checkout")
    assert 5390 < st.paused_until(time.time()) - time.time() <= 5400

    assert run(["status", "-f", f, "-o", "json"]) == 8  # at risk: nothing switches now
    (svc,) = json_out(capsys.readouterr().out)["services"]
    assert svc["state"] == "paused" and svc["paused"]["reason"] == "DB migration"
    assert svc["reason"] == f"until {svc['paused']['until'][11:16]} UTC: DB migration"
    assert svc["paused"]["seconds_left"] > 5300

    # The orchestrator's own decision over a failing primary: held, and says why.
    env.observe(ctx, "checkout", "primary", ok=False, times=3)
    st = env.store(ctx).get("checkout")
    d = decide(st, env.compiled(ctx)["services"]["checkout"], time.time())
    assert d.switch_to is None and d.blocked and d.blocked.startswith("paused: wanted standby")

    # deploy never undoes a pause.
    assert run(["deploy", "-f", f, "--yes", "-o", "json"]) == 0
    capsys.readouterr()
    assert env.store(ctx).get("checkout").paused_until(time.time()) is not None

    assert run(["resume", "-f", f, "checkout"]) == 0
    assert "resumed" in capsys.readouterr().err
    st = env.store(ctx).get("checkout")
    assert st.paused is None
    assert decide(st, env.compiled(ctx)["services"]["checkout"], time.time()).switch_to == \
        "standby"
    assert run(["resume", "-f", f, "--all"]) == 0
    assert "was not paused; nothing to do" in capsys.readouterr().err

    # Both are entries in the log (`history --kind`), by the caller, never a transition.
    assert run(["history", "-f", f, "--kind", "all", "-o", "json"]) == 0
    entries = json_out(capsys.readouterr().out)["transitions"]
    kinds = [(e["kind"], e["service"]) for e in entries if e["kind"] in ("pause", "resume")]
    assert kinds == [("resume", "checkout"), ("pause", "checkout")]  # newest first, once each
    assert all(e["actor"].startswith("arn:aws:sts::") for e in entries
               if e["kind"] in ("pause", "resume"))
    assert run(["history", "-f", f, "-o", "json"]) == 0
    assert [e for e in json_out(capsys.readouterr().out)["transitions"]
            if e["kind"] != "transition"] == []


@pytest.mark.parametrize(("argv", "words"), [
    (["pause", "--for", "1h", "--reason", "x"], "name one SERVICE or give --all"),
    (["pause", "checkout", "--all", "--for", "1h", "--reason", "x"], "name one SERVICE"),
    (["pause", "checkout", "--for", "soon", "--reason", "x"], "is not a duration"),
    (["pause", "checkout", "--for", "8d", "--reason", "x"], "at most 7 days"),
    (["pause", "nope", "--for", "1h", "--reason", "x"], "no service 'nope'"),
    (["resume"], "name one SERVICE or give --all"),
])
def test_oncall_pause_usage_errors(env: Env, capsys: pytest.CaptureFixture[str],
                                   argv: list[str], words: str) -> None:
    capsys.readouterr()
    assert run([argv[0], "-f", str(env.file), *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert "lambdafail: error:" in err and words in err and "lambdafail: hint:" in err
    assert "Traceback" not in err


def test_oncall_failover_dry_run_writes_nothing_and_names_where(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    f, ctx = str(env.file), env.ctx()
    param = f"/{env.name}/checkout/active"
    before = ctx.client("ssm").get_parameter(Name=param)["Parameter"]["Value"]
    version = env.store(ctx).get("checkout").version
    capsys.readouterr()
    assert run(["failover", "-f", f, "checkout", "--reason", "INC-1", "--dry-run"]) == 0
    err = capsys.readouterr().err
    standby = env.web[("checkout", "standby")].url
    for words in ("dry run", "account 123456789012", "region us-east-1",
                  f"topology {env.name}", "switch checkout from primary to standby", standby,
                  "nothing was written"):
        assert words in " ".join(err.split()), (words, err)
    st = env.store(ctx).get("checkout")
    assert st.active == "primary" and st.version == version
    assert list(env.store(ctx).log(kind="transition")) == []
    assert ctx.client("ssm").get_parameter(Name=param)["Parameter"]["Value"] == before
    assert run(["failover", "-f", f, "checkout", "--reason", "INC-1", "--dry-run",
                "-o", "json"]) == 0
    assert json_out(capsys.readouterr().out)["outcome"] == "dry_run"

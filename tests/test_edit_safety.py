"""Editing the topology while a service is not steady on its primary, and who owns a routed
parameter — through the real CLI (`lambdafail.cli.main.run`) on in-process moto.

Each edit of the issue (rename, remove, re-add, change the router while failed over) is
refused (exit 2) saying what to run first; `--force` proceeds and the plan says what it does;
re-seeding writes the side the state says. A parameter lambdafail did not create is a
conflict unless adopted; one routed by another topology always is; a parameter the router
recreates is tagged, so `destroy --delete-state` removes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambdafail.cli.main import run
from oncall_support import Env, json_out


@pytest.fixture
def env(mocked_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("COLUMNS", "200")
    e = Env(tmp_path, services=("checkout", "cart"))
    assert run(["deploy", "-f", str(e.file), "--yes", "-o", "json"]) == 0
    yield e
    e.close()


def _url(env: Env, svc: str, side: str) -> str:
    return env.web[(svc, side)].url


def _param(env: Env, name: str) -> str | None:
    ssm = env.ctx().client("ssm")
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def _tags(env: Env, name: str) -> dict[str, str]:
    got = env.ctx().client("ssm").list_tags_for_resource(ResourceType="Parameter",
                                                         ResourceId=name)["TagList"]
    return {t["Key"]: t["Value"] for t in got}


def _fail_over(env: Env, svc: str = "checkout") -> None:
    assert run(["failover", "-f", str(env.file), svc, "--reason", "INC-7", "--yes"]) == 0
    assert _param(env, f"/{env.name}/{svc}/active") == _url(env, svc, "standby")


def _drop_service(text: str, svc: str) -> str:
    """The topology text without service `svc` (write_topology's 6-line blocks)."""
    lines = text.splitlines()
    start = lines.index(f"  {svc}:")
    return "\n".join(lines[:start] + lines[start + 6:]) + "\n"


def _plan(env: Env, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    code = run(["plan", "-f", str(env.file), "-o", "json", *extra])
    out = capsys.readouterr()
    return code, json_out(out.out) if out.out.strip() else None, out.err


def test_remove_while_failed_over_is_refused_then_forced(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    _fail_over(env)
    param = f"/{env.name}/checkout/active"
    env.file.write_text(_drop_service(env.file.read_text(), "checkout"))
    code, doc, err = _plan(env, capsys)
    assert code == 2
    assert doc["hazards"][0]["service"] == "checkout" and doc["hazards"][0]["edit"] == "remove"
    assert "failed over: on the standby" in err and f"delete its router parameter {param}" in err
    assert "lambdafail rollback -f FILE checkout --reason" in err and "--force" in err
    capsys.readouterr()
    assert run(["deploy", "-f", str(env.file), "--yes"]) == 2
    assert _param(env, param) == _url(env, "checkout", "standby")  # nothing was deleted

    capsys.readouterr()
    assert run(["deploy", "-f", str(env.file), "--yes", "--force", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "! forced: checkout is failed over: on the standby; deploy removes it anyway" in out
    assert _param(env, param) is None  # what --force said it would do
    assert env.store(env.ctx()).get("checkout").active == "standby"  # the state item stays


def test_rename_while_failed_over_is_refused(env: Env,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _fail_over(env)
    env.file.write_text(env.file.read_text().replace("  checkout:", "  checkout2:")
                        .replace(f"/{env.name}/checkout/active", f"/{env.name}/checkout2/active"))
    code, doc, err = _plan(env, capsys)
    assert code == 2 and "renamed to checkout2?" in err
    assert [h["edit"] for h in doc["hazards"]] == ["remove"]
    code, doc, _ = _plan(env, capsys, "--force")
    assert code == 0 and doc["forced"] is True
    assert doc["hazards"][0]["forced"].startswith("forced: checkout is failed over")


def test_readd_is_seeded_at_the_side_the_state_says(env: Env,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _fail_over(env)
    full = env.file.read_text()
    param = f"/{env.name}/checkout/active"
    env.file.write_text(_drop_service(full, "checkout"))
    assert run(["deploy", "-f", str(env.file), "--yes", "--force"]) == 0
    assert _param(env, param) is None
    env.file.write_text(full)  # re-added: no longer deployed, so not a hazard, but...
    code, doc, _ = _plan(env, capsys)
    assert code == 0
    (seed,) = [c for c in doc["changes"] if c["kind"] == "parameter" and c["action"] == "create"]
    assert "seeded at the standby" in seed["note"]
    assert run(["deploy", "-f", str(env.file), "--yes"]) == 0
    # ...the router starts where the state says traffic is, not at the primary.
    assert _param(env, param) == _url(env, "checkout", "standby")
    assert _tags(env, param)["lambdafail:topology"] == env.name


def test_change_router_while_failed_over(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    _fail_over(env)
    old, new = f"/{env.name}/checkout/active", f"/{env.name}/checkout/endpoint"
    base = env.file.read_text()
    # 1. a new parameter
    env.file.write_text(base.replace(old, new))
    code, doc, err = _plan(env, capsys)
    assert code == 2 and doc["hazards"][0]["edit"] == "reroute" and "changing its router" in err
    assert run(["deploy", "-f", str(env.file), "--yes"]) == 2
    capsys.readouterr()
    code, doc, _ = _plan(env, capsys, "--force")
    assert code == 0
    assert (f"a new router parameter {new} is seeded at the standby"
            in doc["hazards"][0]["forced"])
    assert run(["deploy", "-f", str(env.file), "--yes", "--force"]) == 0
    assert _param(env, new) == _url(env, "checkout", "standby") and _param(env, old) is None

    # 2. new values on the same parameter: the standby's new value is written (forced)
    other = "http://127.0.0.1:9/other-standby"
    lines = env.file.read_text().replace(
        f"    router: {{ssm_parameter: {new}}}",
        f"    router: {{ssm_parameter: {new}, values: {{standby: \"{other}\"}}}}")
    env.file.write_text(lines)
    code, doc, _ = _plan(env, capsys)
    assert code == 2 and doc["hazards"][0]["edit"] == "reroute"
    assert run(["deploy", "-f", str(env.file), "--yes", "--force"]) == 0
    assert _param(env, new) == other
    # the untouched service was never in the way
    assert _param(env, f"/{env.name}/cart/active") == _url(env, "cart", "primary")


def test_steady_service_edits_pass(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """A service steady on its primary may be removed or re-routed as before."""
    env.file.write_text(_drop_service(env.file.read_text(), "cart"))
    code, doc, _ = _plan(env, capsys)
    assert code == 0 and doc["hazards"] == []


def test_paused_service_is_held(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["pause", "-f", str(env.file), "cart", "--reason", "maintenance",
                "--for", "1h"]) == 0
    env.file.write_text(_drop_service(env.file.read_text(), "cart"))
    code, doc, err = _plan(env, capsys)
    assert code == 2 and doc["hazards"][0]["state"] == "paused"
    assert "lambdafail resume -f FILE cart" in err


# ---- ownership ------------------------------------------------------------------------------


def test_foreign_parameter_is_a_conflict_unless_adopted(
        mocked_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = Env(tmp_path)
    try:
        param = f"/{e.name}/checkout/active"
        ssm = e.ctx().client("ssm")
        ssm.put_parameter(Name=param, Value="postgres://db.example/prod", Type="String")
        capsys.readouterr()
        assert run(["deploy", "-f", str(e.file), "--yes"]) == 3
        err = capsys.readouterr().err
        assert f"parameter {param}" in err and "adopt: true" in err
        assert _tags(e, param) == {}
        e.file.write_text(e.file.read_text().replace(
            f"{{ssm_parameter: {param}}}", f"{{ssm_parameter: {param}, adopt: true}}"))
        assert run(["deploy", "-f", str(e.file), "--yes"]) == 0
        assert _tags(e, param) == {"lambdafail:topology": e.name,
                                   "lambdafail:service": "checkout"}
        assert _param(e, param) == "postgres://db.example/prod"  # adopted, value kept
        code = run(["plan", "-f", str(e.file), "--detailed-exitcode"])
        assert code == 0  # converged
    finally:
        e.close()


def test_parameter_routed_by_another_topology_is_a_conflict(
        mocked_aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = Env(tmp_path)
    b = Env(tmp_path)
    try:
        assert run(["deploy", "-f", str(a.file), "--yes"]) == 0
        param = f"/{a.name}/checkout/active"
        b.file.write_text(b.file.read_text().replace(
            f"/{b.name}/checkout/active", param).replace(
            f"{{ssm_parameter: {param}}}", f"{{ssm_parameter: {param}, adopt: true}}"))
        capsys.readouterr()
        assert run(["deploy", "-f", str(b.file), "--yes"]) == 3  # even with adopt: true
        err = capsys.readouterr().err
        assert f"parameter {param}" in err and f"topology {a.name!r}" in err
        assert _tags(a, param)["lambdafail:topology"] == a.name
    finally:
        a.close()
        b.close()


def test_recreated_parameter_is_tagged_and_destroyed(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    param = f"/{env.name}/checkout/active"
    env.ctx().client("ssm").delete_parameter(Name=param)
    _fail_over(env)  # the router recreates the parameter...
    assert _tags(env, param) == {"lambdafail:topology": env.name,
                                 "lambdafail:service": "checkout"}  # ...as ours
    assert run(["rollback", "-f", str(env.file), "checkout", "--reason", "INC-7 done",
                "--yes"]) == 0
    assert run(["destroy", "-f", str(env.file), "--yes", "--delete-state"]) == 0
    assert _param(env, param) is None


def test_validate_refuses_lambdafails_own_names(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.yaml"
    base = ("version: 1\nname: own\nregion: us-east-1\nservices:\n  web:\n"
            "    primary: {url: \"https://p.example\"}\n"
            "    standby: {url: \"https://s.example\"}\n")
    for router, words in (("{ssm_parameter: /lambdafail/own/web}", "lambdafail's own"),
                          ("{ssm_parameter: lambdafail-web}", "lambdafail's own"),
                          ("{hook: lambdafail-own-orchestrator}", "lambdafail's own orchestrator")):
        f.write_text(base + f"    router: {router}\n")
        capsys.readouterr()
        assert run(["validate", "-f", str(f)]) == 2, router
        out = capsys.readouterr()
        assert words in out.out + out.err, router
    f.write_text(base + "    router: {ssm_parameter: /own/lambdafail/web}\n")
    assert run(["validate", "-f", str(f)]) == 0


def test_switching_and_drilling_services_are_held() -> None:
    """guard.held reads the state the inventory observed: switching and drill locks count,
    an expired drill lock or pause does not."""
    from lambdafail.deploy import guard, planner

    now = 1_000_000.0

    def item(name: str, **context: Any) -> planner.Resource:
        return planner.Resource("item", name, {"active": "primary"}, service=name,
                                context={"phase": "steady", "paused_until": None, **context})
    actual = planner.Actual("t", "aws", "us-east-1", "123456789012")
    for r in (item("a", phase="switching", pending_to="standby"), item("b"), item("c"),
              item("d", paused_until=now - 1), item("e")):
        actual.resources[r.key] = r
    actual.drills = {"b": now + 60, "c": now - 1}
    got = guard.held(actual, now)
    assert sorted(got) == ["a", "b"]
    assert got["a"][0] == "switching to the standby" and "--abandon" in got["a"][2]
    assert got["b"][0] == "in a drill"


@pytest.mark.slow
def test_through_the_cli_process_on_a_moto_server(moto_server: str, tmp_path: Path) -> None:
    """The same refusals from `python -m lambdafail` against a moto server: an edit of a
    failed-over service exits 2, a router parameter deleted by hand makes status exit 7
    (misrouted), a parameter nobody tagged is a conflict (exit 3)."""
    import boto3

    from conftest import run_cli

    e = Env(tmp_path, services=("checkout", "cart"))
    try:
        common = ["-f", str(e.file), "--endpoint-url", moto_server]
        ssm = boto3.session.Session(region_name="us-east-1").client(
            "ssm", endpoint_url=moto_server)
        ssm.put_parameter(Name=f"/{e.name}/cart/active", Value="by hand", Type="String")
        r = run_cli("deploy", *common, "--yes")
        assert r.returncode == 3 and "adopt: true" in r.stderr, r.stderr
        ssm.delete_parameter(Name=f"/{e.name}/cart/active")
        assert run_cli("deploy", *common, "--yes").returncode == 0
        r = run_cli("failover", *common, "checkout", "--reason", "INC-9", "--yes")
        assert r.returncode == 0, r.stderr
        full = e.file.read_text()
        e.file.write_text(_drop_service(full, "checkout"))
        r = run_cli("plan", *common)
        assert r.returncode == 2 and "lambdafail rollback -f FILE checkout" in r.stderr, r.stderr
        e.file.write_text(full)
        ssm.delete_parameter(Name=f"/{e.name}/cart/active")
        r = run_cli("status", *common, "-o", "json")
        doc = json_out(r.stdout)
        states = {s["name"]: s["state"] for s in doc["services"]}
        assert r.returncode == 7 and states == {"cart": "misrouted", "checkout": "failed_over"}
    finally:
        e.close()

"""Running functions in the sandbox: the deployed zip (never the working tree), versions and
aliases, environment, timeout, errors, async invokes, and the scripted answer of other functions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from lambdafail.sandbox.server import Sandbox
from sandbox_support import (
    REPORTING_HANDLER,
    Clients,
    create_function,
    orchestrator_zip,
    queue,
    uid,
    wait_for_reports,
    zip_tree,
)


def _invoke(aws: Clients, name: str, payload: Any = None, **kw: Any) -> tuple[dict[str, Any], Any]:
    resp = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(),
                                **kw)
    body = resp["Payload"].read()
    return resp, json.loads(body) if body else None


IDENTIFYING_HANDLER = '''
import importlib, importlib.util, os
import lambdafail

BUILD = "{build}"

def handle(event, context):
    return {{"build": BUILD, "package_file": lambdafail.__file__,
             "working_tree_importable": importlib.util.find_spec("lambdafail.topology") is not None,
             "host_packages": sorted(n for n in ("click", "pydantic", "yaml", "rich", "moto")
                                     if importlib.util.find_spec(n) is not None),
             "sdk": [importlib.import_module(n).__name__ for n in ("boto3", "botocore")],
             "event": event, "function_name": context.function_name,
             "remaining_ms": context.get_remaining_time_in_millis(),
             "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
             "time_scale": os.environ.get("LAMBDAFAIL_TIME_SCALE"),
             "custom": os.environ.get("CUSTOM")}}
'''


def _working_tree(root: Path, build: str) -> Path:
    pkg = root / "lambdafail"
    (pkg / "runtime").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "runtime" / "__init__.py").write_text("")
    (pkg / "runtime" / "handler.py").write_text(IDENTIFYING_HANDLER.format(build=build))
    return root


def test_sandbox_runs_the_deployed_zip_not_the_working_tree(sandbox: Sandbox, aws: Clients,
                                                            tmp_path: Path) -> None:
    tree = _working_tree(tmp_path / "tree", "deployed-v1")
    fn = create_function(aws, zip_tree(tree), env={"CUSTOM": "from-config"}, timeout=7)
    # The working tree changes after deploy: what runs must not change.
    _working_tree(tree, "edited-after-deploy")

    resp, out = _invoke(aws, fn, {"lambdafail": "ping"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert out["build"] == "deployed-v1"
    assert out["package_file"].startswith(str(tmp_path / "sandbox-code"))
    # Not the repository's editable install either (as on AWS, only the zip is importable).
    assert out["working_tree_importable"] is False
    # The AWS SDK is there (Lambda's runtime provides it); nothing else the host installed is.
    assert out["sdk"] == ["boto3", "botocore"]
    assert out["host_packages"] == []
    assert out["event"] == {"lambdafail": "ping"}
    assert out["function_name"] == fn
    assert out["endpoint"] == sandbox.endpoint_url
    assert out["time_scale"] == "60.0"
    assert out["custom"] == "from-config"
    assert 0 < out["remaining_ms"] <= 7000


def test_sandbox_invoke_resolves_versions_and_aliases(sandbox: Sandbox, aws: Clients,
                                                      tmp_path: Path) -> None:
    lam = aws("lambda")
    fn = create_function(aws, zip_tree(_working_tree(tmp_path / "a", "v1")))
    v1 = lam.publish_version(FunctionName=fn)["Version"]
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=v1)
    lam.update_function_code(FunctionName=fn, ZipFile=zip_tree(_working_tree(tmp_path / "b", "v2")))

    resp, out = _invoke(aws, fn, Qualifier="live")
    assert out["build"] == "v1" and resp["ExecutedVersion"] == v1
    resp, out = _invoke(aws, f"{fn}:live")
    assert out["build"] == "v1"
    resp, out = _invoke(aws, fn)
    assert out["build"] == "v2" and resp["ExecutedVersion"] == "$LATEST"


def test_sandbox_invoke_enforces_the_function_timeout(sandbox: Sandbox, aws: Clients) -> None:
    fn = create_function(aws, orchestrator_zip(
        "import time\ndef handle(event, context):\n    time.sleep(30)\n"), timeout=1)
    started = time.monotonic()
    resp, out = _invoke(aws, fn)
    assert time.monotonic() - started < 10
    assert resp["StatusCode"] == 200 and resp["FunctionError"] == "Unhandled"
    assert out["errorMessage"] == "Task timed out after 1.00 seconds"


def test_sandbox_invoke_reports_handler_errors(sandbox: Sandbox, aws: Clients) -> None:
    fn = create_function(aws, orchestrator_zip(
        "def handle(event, context):\n    print('about to fail')\n"
        "    raise ValueError('bad config')\n"))
    resp, out = _invoke(aws, fn)
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError" and out["errorMessage"] == "bad config"
    assert any("about to fail" in line for line in sandbox.logs(fn))
    assert sandbox.log_file.exists() and "about to fail" in sandbox.log_file.read_text()


def test_sandbox_event_invoke_runs_in_background(sandbox: Sandbox, aws: Clients) -> None:
    report_url, _ = queue(aws)
    fn = create_function(aws, orchestrator_zip(REPORTING_HANDLER), env={"REPORT_TO": report_url})
    resp = aws("lambda").invoke(FunctionName=fn, InvocationType="Event",
                                Payload=json.dumps({"n": 7}).encode())
    assert resp["StatusCode"] == 202
    assert wait_for_reports(aws, report_url) == [{"n": 7}]


def test_sandbox_other_functions_answer_as_scripted(sandbox: Sandbox, aws: Clients) -> None:
    zip_bytes = orchestrator_zip("raise SystemExit('never run')\n")
    echo = create_function(aws, zip_bytes, handler="app.handler")
    resp, out = _invoke(aws, echo, {"hello": 1})
    assert "FunctionError" not in resp and out == {"hello": 1}

    failing = create_function(aws, zip_bytes, handler="app.handler",
                              env={"LAMBDAFAIL_SANDBOX_RESPONSE": "error"})
    resp, out = _invoke(aws, failing)
    assert resp["FunctionError"] == "Unhandled" and out["errorType"] == "Sandbox.ScriptedError"

    tagged = create_function(aws, zip_bytes, handler="app.handler")
    arn = aws("lambda").get_function(FunctionName=tagged)["Configuration"]["FunctionArn"]
    aws("lambda").tag_resource(Resource=arn, Tags={"lambdafail:sandbox-response": "error"})
    resp, _ = _invoke(aws, tagged)
    assert resp["FunctionError"] == "Unhandled"
    aws("lambda").tag_resource(Resource=arn, Tags={"lambdafail:sandbox-response": "ok"})
    resp, _ = _invoke(aws, tagged)
    assert "FunctionError" not in resp

    fixed = create_function(aws, zip_bytes, handler="app.handler",
                            env={"LAMBDAFAIL_SANDBOX_RESPONSE": '{"active": "standby"}'})
    _, out = _invoke(aws, fixed, {"to": "primary"})
    assert out == {"active": "standby"}


def test_sandbox_invoke_unknown_function_is_not_found(sandbox: Sandbox, aws: Clients) -> None:
    with pytest.raises(aws("lambda").exceptions.ResourceNotFoundException):
        aws("lambda").invoke(FunctionName=uid("missing"), Payload=b"{}")


def test_sandbox_runs_the_real_orchestrator_package(sandbox: Sandbox, aws: Clients) -> None:
    from lambdafail.deploy import package
    name = uid("sbx")
    compiled = {"format": 1, "topology": name, "region": "us-east-1",
                "table": f"lambdafail-{name}-state", "bus": f"lambdafail-{name}-events",
                "function": f"lambdafail-{name}-orchestrator", "sns_topic_arn": None,
                "schedules": {}, "services": {}}
    pkg = package.build(compiled)
    fn = create_function(aws, pkg.zip_bytes, handler=package.HANDLER, timeout=30)
    resp, out = _invoke(aws, fn, {"lambdafail": "ping"})
    assert "FunctionError" not in resp, out
    assert out["ok"] is True and out["topology"] == name
    assert out["config_sha256"] == pkg.config_sha256


def test_sandbox_stop_restores_moto_lambda_config(tmp_path: Path) -> None:
    # The docker switch is process-wide; a later mock_aws in this process must not inherit it.
    from moto.core.config import default_user_config

    before = dict(default_user_config["lambda"])
    with Sandbox(state_file=tmp_path / "s.json"):
        assert default_user_config["lambda"] == {"use_docker": False}
    assert default_user_config["lambda"] == before
    assert not (tmp_path / "s.json").exists()


COUNTING_HANDLER = """
import os
CALLS = 0

def handle(event, context):
    global CALLS
    CALLS += 1
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"calls": CALLS, "pid": os.getpid()}
"""


def test_sandbox_reuses_warm_interpreters_like_lambda(sandbox: Sandbox, aws: Clients) -> None:
    """Sequential invokes share one warm interpreter (module state survives, as on Lambda);
    new code gets a fresh one; a timed-out interpreter is thrown away."""
    fn = create_function(aws, orchestrator_zip(COUNTING_HANDLER), timeout=2)
    runner = sandbox.runner
    before = runner.cold_starts
    _, first = _invoke(aws, fn)
    _, second = _invoke(aws, fn)
    assert (first["calls"], second["calls"]) == (1, 2)
    assert first["pid"] == second["pid"]
    assert runner.cold_starts - before == 1

    aws("lambda").update_function_code(FunctionName=fn,
                                       ZipFile=orchestrator_zip(COUNTING_HANDLER + "\n# v2\n"))
    _, third = _invoke(aws, fn)
    assert third["calls"] == 1 and third["pid"] != first["pid"]

    resp, out = _invoke(aws, fn, {"sleep": 30})
    assert resp["FunctionError"] == "Unhandled" and "timed out" in out["errorMessage"]
    _, after_timeout = _invoke(aws, fn)
    assert after_timeout["calls"] == 1 and after_timeout["pid"] != third["pid"]

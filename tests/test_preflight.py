"""Pre-flight in plan: what the topology references but does not own is looked up read-only;
plan lists what is missing, deploy refuses it (exit 2, naming it) unless --allow-missing.
In-process moto, configs/multi.yaml (alarms, a hosted zone, rules, a hook, Lambda standbys)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import CONFIGS
from deploy_support import context
from lambdafail.cli.main import run
from lambdafail.deploy import preflight
from lambdafail.model.loader import load
from lambdafail.oncall.common import compiled_for


def _multi(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    f = tmp_path / "multi.yaml"
    f.write_text((CONFIGS / "multi.yaml").read_text())
    return f, compiled_for(load(str(f)), "us-east-1")


def test_plan_lists_missing_and_deploy_refuses_them(mocked_aws: None, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    f, compiled = _multi(tmp_path)
    refs = preflight.referenced(compiled)
    assert refs["alarm"] and refs["hosted zone"] and refs["function"] and refs["rule"]
    capsys.readouterr()
    assert run(["plan", "-f", str(f), "-o", "json"]) in (0, 4)
    doc = json.loads(capsys.readouterr().out)
    kinds = {m["kind"] for m in doc["missing"]}
    assert {"alarm", "hosted zone", "function", "rule"} <= kinds
    assert all(m["used_by"].startswith("service ") or m["used_by"] == "notify"
               for m in doc["missing"])
    capsys.readouterr()
    assert run(["plan", "-f", str(f), "--no-color"]) in (0, 4)
    assert "! missing: alarm checkout-5xx-high does not exist (service checkout: signal)" in (
        capsys.readouterr().out)

    assert run(["deploy", "-f", str(f), "--yes", "--no-color"]) == 2
    err = capsys.readouterr().err
    assert "do not exist" in err and "checkout-5xx-high" in err and "--allow-missing" in err
    assert "Traceback" not in err
    ctx = context()
    assert not ctx.client("lambda").list_functions()["Functions"]  # nothing was created

    assert run(["deploy", "-f", str(f), "--yes", "--allow-missing", "-o", "json"]) == 0


def test_preflight_finds_what_exists_in_few_calls(mocked_aws: None, tmp_path: Path) -> None:
    _, compiled = _multi(tmp_path)
    ctx = context()
    refs = preflight.referenced(compiled)
    cw = ctx.client("cloudwatch")
    for name in refs["alarm"]:
        cw.put_metric_alarm(AlarmName=name, MetricName="m", Namespace="n", Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="GreaterThanThreshold")
    before = len(ctx.calls)
    gone = preflight.missing(ctx, compiled)
    assert not [m for m in gone if m.kind == "alarm"]
    calls = ctx.calls[before:]
    # One DescribeAlarms for all alarms; one call per zone, function and rule otherwise.
    assert sum(1 for c in calls if c[1] == "DescribeAlarms") == 1
    expected = 1 + sum(len(v) for k, v in refs.items() if k not in ("alarm", "ecs service"))
    assert len(calls) == expected + len({n.split("/")[0] for n in refs["ecs service"]})


def test_preflight_looks_where_a_resource_lives(mocked_aws: None, tmp_path: Path) -> None:
    import boto3

    from sandbox_support import make_zip

    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}
                                               ]}))["Role"]["Arn"]
    west = boto3.client("lambda", region_name="us-west-2")
    arn = west.create_function(FunctionName="degraded", Runtime="python3.12", Role=role,
                               Handler="h.handle", Code={"ZipFile": make_zip({"h.py": "x=1"})}
                               )["FunctionArn"]
    compiled: dict[str, Any] = {"sns_topic_arn": None, "services": {"web": {
        "primary": {"kind": "url", "url": "https://a.example"},
        "standby": {"kind": "lambda", "function": arn},
        "signals": [], "router": {"kind": "ssm", "parameter": "/w"},
        "recovery": {"failover": [{"kind": "lambda", "function": "degraded"}],
                     "failback": []}}}}
    gone = preflight.missing(context(), compiled)
    # The ARN is found in us-west-2; the bare name is looked up in the topology's region.
    assert [(m.kind, m.name) for m in gone] == [("function", "degraded")]

"""End to end: the real CLI in a subprocess against the moto server subprocess; what deploy
created is checked with plain boto3, not with lambdafail's own code."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from conftest import run_cli
from deploy_support import multi_text

pytestmark = pytest.mark.e2e


def _client(service: str, endpoint: str) -> object:
    return boto3.session.Session(region_name="us-east-1").client(service, endpoint_url=endpoint)


def test_deploy_plan_destroy_through_the_cli(moto_server: str, tmp_path: Path) -> None:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "multi.yaml"
    path.write_text(multi_text(name))
    common = ["-f", str(path), "--endpoint-url", moto_server]

    # Without a terminal and without --yes, deploy refuses and changes nothing.
    refused = run_cli("deploy", *common, "--allow-missing", input="")
    assert refused.returncode == 2, refused.stderr
    assert "--yes" in refused.stderr

    pending = run_cli("plan", *common, "--detailed-exitcode", "-o", "json")
    assert pending.returncode == 4, pending.stderr
    doc = json.loads(pending.stdout)
    assert doc["pending"] is True and doc["summary"]["create"] == len(doc["changes"])
    assert doc["cost"]["memory_mb"] == 128 and doc["cost"]["architecture"] == "arm64"
    assert 0 < doc["cost"]["usd_per_month"] < doc["cost"]["route53_health_checks_usd_per_month"]

    deployed = run_cli("deploy", *common, "--yes", "--allow-missing")
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed" in deployed.stdout

    empty = run_cli("plan", *common, "--detailed-exitcode", "-o", "json")
    assert empty.returncode == 0, empty.stderr
    doc = json.loads(empty.stdout)
    assert doc["pending"] is False
    assert {c["action"] for c in doc["changes"]} == {"no-op"}

    # Verify with a client that is not ours.
    events = _client("events", moto_server)
    lam = _client("lambda", moto_server)
    fn = f"lambdafail-{name}-orchestrator"
    alias = lam.get_alias(FunctionName=fn, Name="live")  # type: ignore[attr-defined]
    assert alias["FunctionVersion"] == "1"
    cfg = lam.get_function_configuration(FunctionName=fn)  # type: ignore[attr-defined]
    assert cfg["Architectures"] == ["arm64"] and cfg["MemorySize"] == 128
    tick = events.describe_rule(Name=f"lambdafail-{name}-tick-60s")  # type: ignore[attr-defined]
    assert tick["ScheduleExpression"] == "rate(1 minute)" and tick["State"] == "ENABLED"
    assert events.describe_rule(  # type: ignore[attr-defined]
        Name=f"lambdafail-{name}-tick-120s")["ScheduleExpression"] == "cron(0/2 * * * ? *)"
    targets = events.list_targets_by_rule(  # type: ignore[attr-defined]
        Rule=f"lambdafail-{name}-tick-60s")["Targets"]
    assert len(targets) == 1
    t = targets[0]
    assert t["Arn"] == alias["AliasArn"]
    assert json.loads(t["Input"]) == {"lambdafail": "tick", "rule": f"lambdafail-{name}-tick-60s"}
    assert t["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert t["DeadLetterConfig"]["Arn"].endswith(f":lambdafail-{name}-dlq")
    alarm_rule = events.describe_rule(  # type: ignore[attr-defined]
        Name=f"lambdafail-{name}-checkout-alarm-0")
    assert json.loads(alarm_rule["EventPattern"]) == {
        "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": ["checkout-5xx-high"]}}
    ev_rule = events.describe_rule(  # type: ignore[attr-defined]
        Name=f"lambdafail-{name}-checkout-event-1", EventBusName=f"lambdafail-{name}-events")
    assert json.loads(ev_rule["EventPattern"])["source"] == ["shop.checkout"]
    tags = events.list_tags_for_resource(ResourceARN=ev_rule["Arn"])["Tags"]  # type: ignore[attr-defined]
    assert {"Key": "lambdafail:topology", "Value": name} in tags
    assert {"Key": "lambdafail:service", "Value": "checkout"} in tags
    policy = json.loads(lam.get_policy(FunctionName=fn, Qualifier="live")["Policy"])  # type: ignore[attr-defined]
    sources = {json.dumps(s.get("Condition")) for s in policy["Statement"]}
    assert any(ev_rule["Arn"] in s for s in sources)
    assert all(s["Principal"] == {"Service": "events.amazonaws.com"}
               for s in policy["Statement"])
    ddb = _client("dynamodb", moto_server)
    table = f"lambdafail-{name}-state"
    desc = ddb.describe_table(TableName=table)["Table"]  # type: ignore[attr-defined]
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ddb.describe_continuous_backups(TableName=table)[  # type: ignore[attr-defined]
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"] == "ENABLED"
    ttags = ddb.list_tags_of_resource(ResourceArn=desc["TableArn"])["Tags"]  # type: ignore[attr-defined]
    assert {"Key": "lambdafail:topology", "Value": name} in ttags
    role = _client("iam", moto_server).get_role_policy(  # type: ignore[attr-defined]
        RoleName=f"lambdafail-{name}-orchestrator", PolicyName="lambdafail-orchestrator")
    for st in role["PolicyDocument"]["Statement"]:
        assert st["Action"] != "*" and st["Resource"] != "*"

    destroyed = run_cli("destroy", *common, "--yes", "--delete-state")
    assert destroyed.returncode == 0, destroyed.stderr
    tagged = _client("resourcegroupstaggingapi", moto_server).get_resources(  # type: ignore[attr-defined]
        TagFilters=[{"Key": "lambdafail:topology", "Values": [name]}])
    assert tagged["ResourceTagMappingList"] == []
    assert events.list_rules(NamePrefix=f"lambdafail-{name}-")["Rules"] == []  # type: ignore[attr-defined]
    assert fn not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}  # type: ignore[attr-defined]

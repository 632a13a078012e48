"""Deploy / plan / destroy round trips against in-process moto (configs/multi.yaml)."""

from __future__ import annotations

import hashlib
import json
import zlib

import boto3
import pytest

from deploy_support import deploy, destroy, multi, multi_text, replan, snapshot
from lambdafail.aws import AwsContext
from lambdafail.cli import main as cli
from lambdafail.deploy.executor import Executor
from lambdafail.deploy.inventory import plan_for

pytestmark = pytest.mark.usefixtures("mocked_aws")

RULES = {
    "lambdafail-multi-tick-60s", "lambdafail-multi-tick-120s", "lambdafail-multi-tick-300s",
    "lambdafail-multi-checkout-alarm-0", "lambdafail-multi-checkout-event-1",
    "lambdafail-multi-catalog-event-0", "lambdafail-multi-orders-alarm-0",
    "lambdafail-multi-payments-event-0",
}


def test_deploy_creates_everything_then_plan_is_empty() -> None:
    plan, _, _ = deploy(multi())
    counts = plan.counts()
    assert counts["create"] == len(plan.changes) and counts["create"] > 0
    snap = snapshot("multi")
    assert set(snap["rules"]) == RULES
    assert set(snap["buses"]) == {"lambdafail-multi-events"}
    assert set(snap["functions"]) == {"lambdafail-multi-orchestrator"}
    assert set(snap["tables"]) == {"lambdafail-multi-state"}
    assert set(snap["queues"]) == {"lambdafail-multi-dlq"}
    assert set(snap["parameters"]) == {"/multi/checkout/active"}
    assert snap["parameters"]["/multi/checkout/active"]["value"] == \
        "https://checkout.example.com/healthz"
    all_items = snap["tables"]["lambdafail-multi-state"]["items"]
    items = [i for i in all_items if i["pk"]["S"] == "service"]
    assert [i["sk"]["S"] for i in items] == ["catalog", "checkout", "orders", "payments"]
    # The deployed compiled topology, by hash, for later plans' field-level diffs.
    # Stored zlib-compressed as Binary, keyed by the sha256 of the canonical JSON.
    [config] = [i for i in all_items if i["pk"]["S"] == "config"]
    raw = zlib.decompress(config["data"]["B"])
    assert hashlib.sha256(raw).hexdigest() == config["sk"]["S"]
    assert json.loads(raw)["topology"] == "multi"
    assert set(json.loads(raw)["services"]) == {"catalog", "checkout", "orders", "payments"}
    assert all(i["active"]["S"] == "primary" and i["phase"]["S"] == "steady"
               and i["version"]["N"] == "1" for i in items)

    again = replan(multi())
    assert again.pending == [], [(c.action, c.kind, c.name, c.diffs) for c in again.pending]


def test_deploy_noop_makes_no_mutating_call_and_publishes_no_version() -> None:
    deploy(multi())
    fn = "lambdafail-multi-orchestrator"
    versions = boto3.client("lambda").list_versions_by_function(FunctionName=fn)["Versions"]
    _, outcome, ctx = deploy(multi())
    assert outcome.done == []
    assert ctx.mutating_calls() == []
    after = boto3.client("lambda").list_versions_by_function(FunctionName=fn)["Versions"]
    assert len(after) == len(versions)


def test_deploy_one_field_changed_plans_exactly_that_update() -> None:
    deploy(multi())

    def edit(text: str) -> str:
        return text.replace("source: [shop.catalog]", "source: [shop.catalog.v2]")

    plan = replan(multi(edit=edit))
    pending = {(c.action, c.kind, c.name) for c in plan.pending}
    # The pattern lives in the rule, in the compiled topology inside the function's zip and,
    # for its sources, in the bus policy (who may send them).
    config_items = {c for c in pending if c[1] == "item"}
    assert len(config_items) == 1 and next(iter(config_items))[2].startswith("config#")
    assert pending - config_items == {("update", "rule", "lambdafail-multi-catalog-event-0"),
                                      ("update", "bus", "lambdafail-multi-events"),
                                      ("update", "function", "lambdafail-multi-orchestrator"),
                                      ("update", "alias", "live")}
    rule = next(c for c in plan.pending if c.kind == "rule")
    assert [(d.field, d.before, d.after) for d in rule.diffs] == [
        ("event_pattern.source", ["shop.catalog"], ["shop.catalog.v2"])]
    fn = next(c for c in plan.pending if c.kind == "function")
    # ...and the function's update names the topology field that changed, not just hashes.
    assert {d.field for d in fn.diffs} == {
        "code_sha256", "environment.LAMBDAFAIL_CONFIG_SHA256",
        "config.services.catalog.signals[0].pattern.source"}
    [cfg] = [d for d in fn.diffs if d.field.startswith("config.")]
    assert (cfg.before, cfg.after) == (["shop.catalog"], ["shop.catalog.v2"])
    deploy(multi(edit=edit))
    assert replan(multi(edit=edit)).pending == []
    snap = snapshot("multi")
    assert snap["rules"]["lambdafail-multi-catalog-event-0"]["pattern"]["source"] == \
        ["shop.catalog.v2"]
    f = snap["functions"]["lambdafail-multi-orchestrator"]
    assert f["aliases"]["live"] == "2"


def test_deploy_removing_a_service_deletes_only_its_resources() -> None:
    deploy(multi())
    before = snapshot("multi")

    def drop_checkout(text: str) -> str:
        start = text.index("  checkout:")
        end = text.index("  # URL primary, Lambda standby")
        return text[:start] + text[end:]

    plan, _, _ = deploy(multi(edit=drop_checkout))
    deleted = {(c.kind, c.name) for c in plan.changes if c.action == "delete"}
    assert deleted == {
        ("rule", "lambdafail-multi-checkout-alarm-0"),
        ("rule", "lambdafail-multi-checkout-event-1"),
        ("permission", "lambdafail-lambdafail-multi-checkout-alarm-0"),
        ("permission", "lambdafail-lambdafail-multi-checkout-event-1"),
        ("parameter", "/multi/checkout/active"),
    }
    after = snapshot("multi")
    assert set(after["rules"]) == RULES - {"lambdafail-multi-checkout-alarm-0",
                                           "lambdafail-multi-checkout-event-1"}
    for name in after["rules"]:
        if name.startswith("lambdafail-multi-tick"):
            continue
        assert after["rules"][name] == before["rules"][name], name
    assert after["parameters"] == {}
    sids = {s["Sid"] for s in after["functions"]["lambdafail-multi-orchestrator"]["policy"]}
    assert not any("checkout" in s for s in sids)
    assert replan(multi(edit=drop_checkout)).pending == []


def test_deploy_destroy_leaves_nothing_tagged() -> None:
    deploy(multi())
    # Someone attached a managed policy to our role by hand: destroy must still converge.
    iam_client = boto3.client("iam")
    arn = iam_client.create_policy(PolicyName="extra-by-hand", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                "Resource": "arn:aws:s3:::x"}]}))["Policy"]["Arn"]
    iam_client.attach_role_policy(RoleName="lambdafail-multi-orchestrator", PolicyArn=arn)
    destroy(multi())
    assert iam_client.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn  # detached, not deleted
    snap = snapshot("multi")
    # The audit log and the router parameter are state: kept without --delete-state.
    assert set(snap["tables"]) == {"lambdafail-multi-state"}
    assert set(snap["parameters"]) == {"/multi/checkout/active"}
    assert not snap["rules"] and not snap["functions"] and not snap["roles"]
    assert not snap["buses"] and not snap["queues"]
    destroy(multi(), delete_state=True)
    snap = snapshot("multi")
    assert all(not v for v in snap.values()), snap
    tagged = boto3.client("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "lambdafail:topology", "Values": ["multi"]}])
    assert tagged["ResourceTagMappingList"] == []
    # And destroy again is a no-op.
    assert destroy(multi(), delete_state=True).done == []


def test_deploy_foreign_resource_with_our_name_is_left_alone_and_reported(
        tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    events = boto3.client("events")
    events.put_rule(Name="lambdafail-multi-orders-alarm-0", ScheduleExpression="rate(7 days)")
    # Same prefix, name we never use: not a collision, just not ours.
    events.put_rule(Name="lambdafail-multi-custom", ScheduleExpression="rate(1 day)")
    ctx = AwsContext(region="us-east-1")
    plan, _ = plan_for(ctx, multi())
    assert [(x.kind, x.name, x.owner) for x in plan.conflicts] == [
        ("rule", "lambdafail-multi-orders-alarm-0", None)]

    from pathlib import Path

    path = Path(str(tmp_path)) / "multi.yaml"
    path.write_text(multi_text())
    rc = cli.run(["deploy", "-f", str(path), "--yes", "--region", "us-east-1"])
    err = capsys.readouterr().err
    assert rc == 3
    assert "lambdafail-multi-orders-alarm-0" in err and "not own" in err
    assert ctx.mutating_calls() == []
    rule = events.describe_rule(Name="lambdafail-multi-orders-alarm-0")
    assert rule["ScheduleExpression"] == "rate(7 days)"
    assert events.list_targets_by_rule(Rule="lambdafail-multi-orders-alarm-0")["Targets"] == []
    # Nothing was created either: the deploy refused before any change.
    assert snapshot("multi")["functions"] == {}

    # Once the foreign rule is gone, deploy works; the other foreign rule survives a destroy.
    events.delete_rule(Name="lambdafail-multi-orders-alarm-0")
    deploy(multi())
    destroy(multi(), delete_state=True)
    assert events.describe_rule(Name="lambdafail-multi-custom")["ScheduleExpression"] == \
        "rate(1 day)"


def test_deploy_live_state_is_never_reset() -> None:
    deploy(multi())
    ddb = boto3.client("dynamodb")
    ddb.update_item(TableName="lambdafail-multi-state",
                    Key={"pk": {"S": "service"}, "sk": {"S": "checkout"}},
                    UpdateExpression="SET active = :s, version = :v",
                    ExpressionAttributeValues={":s": {"S": "standby"}, ":v": {"N": "7"}})
    boto3.client("ssm").put_parameter(Name="/multi/checkout/active", Value="dr", Overwrite=True)
    # A live value makes the item differ from the seed; still nothing to do.
    assert replan(multi()).pending == []
    deploy(multi())
    item = ddb.get_item(TableName="lambdafail-multi-state",
                        Key={"pk": {"S": "service"}, "sk": {"S": "checkout"}})["Item"]
    assert item["active"]["S"] == "standby" and item["version"]["N"] == "7"
    assert boto3.client("ssm").get_parameter(
        Name="/multi/checkout/active")["Parameter"]["Value"] == "dr"


def test_deploy_drift_is_repaired() -> None:
    deploy(multi())
    events = boto3.client("events")
    events.remove_targets(Rule="lambdafail-multi-tick-60s", Ids=["lambdafail-orchestrator"])
    boto3.client("lambda").update_function_configuration(
        FunctionName="lambdafail-multi-orchestrator", Timeout=3)
    boto3.client("iam").delete_role_policy(RoleName="lambdafail-multi-orchestrator",
                                           PolicyName="lambdafail-orchestrator")
    plan = replan(multi())
    assert {(c.kind, c.name) for c in plan.pending} == {
        ("rule", "lambdafail-multi-tick-60s"), ("function", "lambdafail-multi-orchestrator"),
        ("role", "lambdafail-multi-orchestrator")}  # the alias's version never drifted
    deploy(multi())
    assert replan(multi()).pending == []
    target = events.list_targets_by_rule(Rule="lambdafail-multi-tick-60s")["Targets"][0]
    assert json.loads(target["Input"]) == {"lambdafail": "tick",
                                           "rule": "lambdafail-multi-tick-60s"}


def test_deploy_executor_reports_progress_in_order() -> None:
    ctx = AwsContext(region="us-east-1")
    plan, pkg = plan_for(ctx, multi())
    seen: list[tuple[str, str]] = []
    Executor(ctx, plan, pkg, progress=lambda c, s: seen.append((c.kind, s))).apply()
    kinds = [k for k, s in seen if s == "done"]
    order = ["queue", "bus", "table", "role", "policy", "loggroup", "function", "alias",
             "permission", "rule", "alarm", "dashboard", "item", "parameter"]
    assert kinds == sorted(kinds, key=order.index)
    assert {"alarm", "dashboard"} <= set(kinds)


def test_deploy_cli_dry_run_and_json_output(tmp_path: object,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "multi.yaml"
    path.write_text(multi_text())
    assert cli.run(["deploy", "-f", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "to create" in out and "lambdafail-multi-orchestrator" in out
    assert snapshot("multi")["functions"] == {}

    assert cli.run(["deploy", "-f", str(path), "--yes", "--allow-missing", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["applied"] is True and doc["aws_calls"]["mutating"] > 0
    assert len(doc["done"]) == doc["plan"]["summary"]["create"]

    assert cli.run(["deploy", "-f", str(path), "--yes", "--allow-missing", "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["applied"] is False and doc["aws_calls"]["mutating"] == 0

    assert cli.run(["destroy", "-f", str(path), "--yes", "--delete-state"]) == 0
    assert "destroyed" in capsys.readouterr().out
    assert all(not v for v in snapshot("multi").values())


def test_deploy_many_rules_converge_with_wildcard_permissions(mocked_aws: None) -> None:
    """A topology past the per-rule permission budget deploys, re-plans empty, and going back
    under the budget swaps the wildcard statements for per-rule ones."""
    def many(text: str) -> str:
        extra = "".join(f"      - alarm: checkout-extra-{i}\n" for i in range(80))
        return text.replace("      - alarm: checkout-5xx-high", extra +
                            "      - alarm: checkout-5xx-high")

    big = multi("big", edit=many)
    deploy(big)
    assert not replan(big).pending
    lam = boto3.client("lambda", region_name="us-east-1")
    fn = "lambdafail-big-orchestrator"

    def sources() -> list[str]:
        policy = json.loads(lam.get_policy(FunctionName=fn, Qualifier="live")["Policy"])
        return [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]]

    assert len(sources()) == 2 and all(s.endswith("*") for s in sources())
    small = multi("big")
    deploy(small)
    assert not replan(small).pending
    assert len(sources()) > 2 and not any(s.endswith("*") for s in sources())


def test_deploy_plan_is_read_only_even_with_everything_to_create() -> None:
    """`plan` (and the planning half of deploy) observes AWS without changing anything."""
    from deploy_support import context

    ctx = context()
    plan, _ = plan_for(ctx, multi("readonly"))
    assert plan.pending and {c.action for c in plan.pending} == {"create"}
    assert ctx.calls and ctx.mutating_calls() == []


def test_deploy_sets_the_alias_asynchronous_invocation_to_the_dlq() -> None:
    _, _, ctx = deploy(multi())
    cfg = boto3.client("lambda", region_name="us-east-1").get_function_event_invoke_config(
        FunctionName="lambdafail-multi-orchestrator", Qualifier="live")
    assert cfg["MaximumRetryAttempts"] == 2 and cfg["MaximumEventAgeInSeconds"] == 3600
    assert cfg["DestinationConfig"]["OnFailure"]["Destination"].endswith(":lambdafail-multi-dlq")
    assert ("lambda", "PutFunctionEventInvokeConfig") in ctx.calls
    assert replan(multi()).pending == []


def test_deploy_owns_the_function_log_group_and_destroy_removes_it_before_the_parameter() -> None:
    deploy(multi())
    logs = boto3.client("logs", region_name="us-east-1")
    name = "/aws/lambda/lambdafail-multi-orchestrator"
    [group] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 30
    assert logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"] == {
        "lambdafail:topology": "multi"}
    ninety = multi(edit=lambda t: t.replace("region: us-east-1",
                                            "region: us-east-1\nlog_retention_days: 90"))
    plan = replan(ninety)
    assert [(c.action, c.kind) for c in plan.pending if c.kind == "loggroup"] == [
        ("update", "loggroup")]
    ctx = AwsContext(region="us-east-1")
    plan, _ = plan_for(ctx, multi(), mode="destroy", delete_state=True)
    order = [c.kind for c in plan.pending]
    assert order[-1] == "parameter" and "loggroup" in order
    Executor(ctx, plan, None).apply()
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []


def test_an_untagged_log_group_lambda_made_is_adopted() -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws/lambda/lambdafail-multi-orchestrator")
    plan, _, _ = deploy(multi())
    assert not plan.conflicts
    assert replan(multi()).pending == []

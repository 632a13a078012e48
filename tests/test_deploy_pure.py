"""Offline parts of provisioning: the package, the IAM policy, desired resources, plan JSON."""

from __future__ import annotations

import fnmatch
import io
import json
import zipfile

from deploy_support import multi
from lambdafail.cli.render_plan import plan_to_json
from lambdafail.deploy import iam, package, planner
from lambdafail.model.topology import compile_topology

WHERE = iam.Where("aws", "us-east-1", "123456789012")


def test_deploy_package_is_deterministic_and_complete() -> None:
    compiled = compile_topology(multi())
    a, b = package.build(compiled), package.build(json.loads(json.dumps(compiled)))
    assert a.zip_bytes == b.zip_bytes and a.sha256_b64 == b.sha256_b64
    names = zipfile.ZipFile(io.BytesIO(a.zip_bytes)).namelist()
    assert "lambdafail/__init__.py" in names and "lambdafail_config.json" in names
    assert "lambdafail/runtime/__init__.py" in names
    assert all(n.endswith((".py", ".json")) for n in names)
    zf = zipfile.ZipFile(io.BytesIO(a.zip_bytes))
    assert json.loads(zf.read("lambdafail_config.json")) == compiled
    assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    # Stored, not deflated: the bytes cannot depend on the machine's zlib build.
    assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    # A budget, not Lambda's 50 MB limit: the zip is read on every cold start.
    assert len(a.zip_bytes) < 300_000
    compiled["services"]["checkout"]["policy"]["cooldown_seconds"] += 1
    assert package.build(compiled).sha256_b64 != a.sha256_b64


def test_deploy_iam_policy_is_scoped() -> None:
    compiled = compile_topology(multi())
    doc = iam.orchestrator_policy(compiled, WHERE)
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    for st in doc["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        assert "*" not in actions and all(not a.endswith(":*") for a in actions)
        assert "*" not in resources
    assert by_sid["StateTable"]["Resource"] == \
        "arn:aws:dynamodb:us-east-1:123456789012:table/lambdafail-multi-state"
    assert by_sid["RouterParameters"]["Resource"] == \
        "arn:aws:ssm:us-east-1:123456789012:parameter/multi/checkout/active"
    zone = "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    assert by_sid["RouterZoneReads"]["Resource"] == zone
    assert by_sid["RouterZoneReads"]["Action"] == ["route53:ListResourceRecordSets"]
    # Changes only to the routed record, of its type, by UPSERT: nothing else in the zone.
    assert by_sid["RouterZones"]["Resource"] == zone
    assert by_sid["RouterZones"]["Action"] == ["route53:ChangeResourceRecordSets"]
    routed = next(s["router"] for s in compiled["services"].values()
                  if s["router"]["kind"] == "route53")
    assert by_sid["RouterZones"]["Condition"] == {"ForAllValues:StringEquals": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
            routed["record"].rstrip(".").lower()],
        "route53:ChangeResourceRecordSetsRecordTypes": [routed["type"]],
        "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}}
    assert set(by_sid["RouterRules"]["Resource"]) == {
        "arn:aws:events:us-east-1:123456789012:rule/orders-bus/orders-to-main",
        "arn:aws:events:us-east-1:123456789012:rule/orders-bus/orders-to-dr"}
    invoke = by_sid["InvokeTargets"]["Resource"]
    assert "arn:aws:lambda:us-east-1:123456789012:function:payments-switch" in invoke
    assert "arn:aws:lambda:us-east-1:123456789012:function:catalog-degraded" in invoke
    assert by_sid["Notify"]["Resource"] == compiled["sns_topic_arn"]
    # Each tick re-reads its alarms (lost-event reconcile): allowed on exactly those alarms.
    alarms = sorted(f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{sig['alarm_name']}"
                    for svc in compiled["services"].values() for sig in svc["signals"]
                    if sig["kind"] == "alarm")
    assert alarms and by_sid["AlarmStates"]["Action"] == ["cloudwatch:DescribeAlarms"]
    got = by_sid["AlarmStates"]["Resource"]
    assert sorted(got if isinstance(got, list) else [got]) == alarms
    assert iam.orchestrator_policy(compiled, WHERE) == doc  # deterministic


def test_deploy_function_timeout_covers_one_tick() -> None:
    compiled = compile_topology(multi())
    # catalog probes 3 times per tick with a 5 s timeout: 50 + 5 + 10.
    assert planner.function_timeout(compiled) == 65
    for svc in compiled["services"].values():
        svc["health"]["probes_per_tick"] = 1
    assert planner.function_timeout(compiled) == 30
    # Two rounds already spread over the first 50 s (the smallest probes_per_tick that does).
    next(iter(compiled["services"].values()))["health"]["probes_per_tick"] = 2
    assert planner.function_timeout(compiled) == 65


def test_deploy_many_rules_share_wildcard_permissions_within_the_policy_limit() -> None:
    """Past ~18 KB of per-rule statements, one ArnLike wildcard permission per bus is used,
    so the function's 20 KB resource policy never overflows, and every rule stays covered."""
    def many(text: str) -> str:
        extra = "".join(f"      - alarm: checkout-extra-{i}\n" for i in range(80))
        return text.replace("      - alarm: checkout-5xx-high", extra +
                            "      - alarm: checkout-5xx-high")

    few = planner.desired(compile_topology(multi()), where=WHERE, code_sha256="x",
                          config_sha256="y")
    few_perms = [r for r in few if r.kind == "permission"]
    few_rules = [r for r in few if r.kind == "rule"]
    assert len(few_perms) == len(few_rules)  # one per rule while they fit
    assert {p.spec["source_arn"] for p in few_perms} == {r.context["arn"] for r in few_rules}

    want = planner.desired(compile_topology(multi(edit=many)), where=WHERE, code_sha256="x",
                           config_sha256="y")
    perms = [r for r in want if r.kind == "permission"]
    rules = [r for r in want if r.kind == "rule"]
    assert len(rules) > 80 and len(perms) == 2
    statements = [planner._statement(p.name, "arn:alias", p.spec["source_arn"]) for p in perms]
    assert len(json.dumps(statements)) < planner.POLICY_BUDGET
    patterns = [p.spec["source_arn"] for p in perms]
    assert all(p.endswith("*") for p in patterns)
    for r in rules:  # every rule's ARN is matched by one of the ArnLike patterns
        assert any(fnmatch.fnmatchcase(r.context["arn"], p) for p in patterns), r.context["arn"]
    foreign = "arn:aws:events:us-east-1:123456789012:rule/someone-elses-rule"
    assert not any(fnmatch.fnmatchcase(foreign, p) for p in patterns)


def test_deploy_plan_json_document_shape() -> None:
    compiled = compile_topology(multi())
    want = planner.desired(compiled, where=WHERE, code_sha256="x", config_sha256="y")
    actual = planner.Actual("multi", "aws", "us-east-1", "123456789012")
    doc = plan_to_json(planner.plan(want, actual))
    assert set(doc) == {"format", "mode", "topology", "region", "account", "pending", "summary",
                        "changes", "conflicts", "notes", "missing", "hazards", "forced"}
    assert doc["notes"] == [] and doc["missing"] == []
    assert doc["format"] == 1 and doc["pending"] is True
    assert doc["summary"]["create"] == len(doc["changes"]) == len(want)
    assert set(doc["changes"][0]) == {"action", "kind", "name", "service", "note", "diff"}
    json.dumps(doc)  # plain JSON
    kinds = [c["kind"] for c in doc["changes"]]
    assert kinds == sorted(kinds, key=planner.KINDS.index)


def test_deploy_destroy_plan_keeps_state_unless_asked() -> None:
    compiled = compile_topology(multi())
    want = planner.desired(compiled, where=WHERE, code_sha256="x", config_sha256="y")
    actual = planner.Actual("multi", "aws", "us-east-1", "123456789012",
                            {r.key: r for r in want})
    keep = planner.plan(want, actual, mode="destroy")
    kinds = {c.kind for c in keep.pending}
    assert "table" not in kinds and "parameter" not in kinds and "item" not in kinds
    assert kinds >= {"rule", "function", "role", "bus", "queue", "permission", "alias"}
    order = [c.kind for c in keep.pending]
    assert order.index("rule") < order.index("permission") < order.index("alias") \
        < order.index("function") < order.index("role")
    gone = planner.plan(want, actual, mode="destroy", delete_state=True)
    assert {"table", "parameter"} <= {c.kind for c in gone.pending}


def test_deploy_tick_rule_description_fits_eventbridge_limit() -> None:
    """PutRule's Description is at most 512 characters, however many services a tick probes."""
    def many(text: str) -> str:
        extra = "".join(
            f"  service-with-a-rather-long-name-{i}:\n"
            f"    primary: {{url: 'https://p{i}.example.com/'}}\n"
            f"    standby: {{url: 'https://s{i}.example.com/'}}\n"
            f"    router: {{ssm_parameter: /multi/s{i}/active}}\n" for i in range(30))
        return text.replace("services:\n", "services:\n" + extra, 1)

    want = planner.desired(compile_topology(multi(edit=many)), where=WHERE, code_sha256="x",
                           config_sha256="y")
    ticks = [r for r in want if r.kind == "rule" and "schedule_expression" in r.spec]
    assert ticks and all(len(r.spec["description"]) <= 512 for r in ticks)
    assert any("services" in r.spec["description"] for r in ticks)


def test_deploy_route53_condition_names_are_normalized_as_aws_compares_them() -> None:
    assert iam.normalized_record_name("API.Example.COM.") == "api.example.com"
    assert iam.normalized_record_name("*.shop.example.com") == "\\052.shop.example.com"
    assert iam.normalized_record_name("a_b-c.example.com") == "a_b-c.example.com"


def test_aws_service_event_signals_are_rules_on_the_default_bus() -> None:
    def aws_health(text: str) -> str:
        return text.replace("source: [shop.catalog]", "source: [aws.health]")

    compiled = compile_topology(multi(edit=aws_health))
    want = planner.desired(compiled, where=WHERE, code_sha256="x", config_sha256="y")
    rules = {r.service: r for r in want if r.kind == "rule" and r.service
             and "event_pattern" in r.spec and r.spec["event_pattern"].get("source") !=
             ["aws.cloudwatch"]}
    assert rules["catalog"].spec["bus"] == "default"
    assert rules["catalog"].context["arn"].endswith(f":rule/{rules['catalog'].name}")
    assert rules["checkout"].spec["bus"] == compiled["bus"]


def test_failed_invocations_go_to_the_dlq_which_the_role_may_send_to() -> None:
    compiled = compile_topology(multi())
    want = planner.desired(compiled, where=WHERE, code_sha256="x", config_sha256="y")
    alias = next(r for r in want if r.kind == "alias")
    dlq = "arn:aws:sqs:us-east-1:123456789012:lambdafail-multi-dlq"
    assert alias.spec["async_invoke"] == {"MaximumRetryAttempts": 2,
                                          "MaximumEventAgeInSeconds": 3600, "OnFailure": dlq}
    doc = iam.orchestrator_policy(compiled, WHERE)
    st = next(s for s in doc["Statement"] if s["Sid"] == "FailedInvocations")
    assert st["Action"] == ["sqs:SendMessage"] and st["Resource"] == dlq


def test_a_function_lambda_left_failed_or_pending_is_not_deployed() -> None:
    from lambdafail.deploy.inventory import function_state

    assert function_state({"State": "Active", "LastUpdateStatus": "Successful"}) == "ready"
    assert function_state({}) == "ready"
    assert function_state({"State": "Pending"}) == "pending"
    assert function_state({"State": "Active", "LastUpdateStatus": "InProgress"}) == "pending"
    assert function_state({"State": "Failed"}) == "failed"
    assert function_state({"State": "Active", "LastUpdateStatus": "Failed"}) == "failed"
    compiled = compile_topology(multi())
    want = planner.desired(compiled, where=WHERE, code_sha256="x", config_sha256="y")
    fn = next(r for r in want if r.kind == "function")
    actual = planner.Actual("multi", "aws", "us-east-1", "123456789012")
    for r in want:
        if r.kind != "item":
            copy = planner.Resource(r.kind, r.name, dict(r.spec), dict(r.tags), r.service)
            actual.resources[r.key] = copy
    actual.resources[fn.key].spec["state"] = "failed"
    plan = planner.plan(want, actual)
    [change] = [c for c in plan.pending if c.kind == "function"]
    assert [(d.field, d.before, d.after) for d in change.diffs] == [("state", "failed", "ready")]
    # The alias's fingerprint does not include the state: no new version for it.
    assert not [c for c in plan.pending if c.kind == "alias"]

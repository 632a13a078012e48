"""The sandbox's IAM evaluation: pure policy logic, and requests through an enforcing sandbox.

Rule: the pure tests state AWS's documented evaluation (explicit deny wins, an allow in an
identity or resource policy allows, conditions on missing keys); the sandbox tests sign real
boto3 requests with a user's keys and with a role's session credentials.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdafail.sandbox.iam_policy import Need, Principal, decide
from lambdafail.sandbox.server import Sandbox
from sandbox_support import Clients, iam_user

USER = Principal(arn="arn:aws:iam::123456789012:user/op", account="123456789012")
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/b"


def _allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _need(action: str, resource: str | None = "*", **ctx: str) -> Need:
    return Need(action, (resource,) if resource else None,
                {k.replace("_", ":", 1).replace("_", "-"): (v,) for k, v in ctx.items()})


def test_actions_resources_and_wildcards() -> None:
    doc = [_allow(["dynamodb:Get*", "SQS:sendmessage"],
                  "arn:aws:dynamodb:us-east-1:123456789012:table/lambdafail-*")]
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/lambdafail-x-state"
    assert decide(_need("dynamodb:GetItem", table), [doc], None, USER).effect == "allow"
    assert decide(_need("dynamodb:PutItem", table), [doc], None, USER).effect == "deny"
    other = "arn:aws:dynamodb:us-east-1:123456789012:table/other"
    assert decide(_need("dynamodb:GetItem", other), [doc], None, USER).effect == "deny"
    # Actions are case-insensitive, resources are not.
    assert decide(_need("sqs:SendMessage", table), [[_allow("SQS:sendmessage")]], None,
                  USER).effect == "allow"
    assert decide(_need("dynamodb:GetItem", table.upper()), [doc], None, USER).effect == "deny"
    # NotAction with a Deny: everything but the listed actions is refused.
    deny_rest = [{"Effect": "Deny", "NotAction": "sts:*", "Resource": "*"}, _allow("*")]
    got = decide(_need("dynamodb:GetItem", table), [deny_rest], None, USER)
    assert got.effect == "deny" and got.explicit


def test_explicit_deny_wins_over_any_allow_and_conditions_are_evaluated() -> None:
    allow = [_allow("events:PutEvents", BUS)]
    deny = [{"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": BUS,
             "Condition": {"StringEquals": {"events:source": ["shop.web"]},
                           "ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/ok-*"]}}}]

    def put(principal: Principal, source: str) -> str:
        need = Need("events:PutEvents", (BUS,), {"events:source": (source,),
                                                 **principal.context()})
        return decide(need, [allow], deny, principal).effect

    role = Principal(arn="arn:aws:iam::123456789012:role/ok-sender", account="123456789012",
                     session_arn="arn:aws:sts::123456789012:assumed-role/ok-sender/s",
                     kind="AssumedRole")
    assert put(USER, "shop.web") == "deny"  # forged: the resource policy denies
    assert put(USER, "shop.other") == "allow"  # a source no signal listens to
    assert put(role, "shop.web") == "allow"  # a named sender
    # Within one account a resource policy's Allow suffices without an identity policy.
    open_bus = [{"Effect": "Allow", "Principal": {"AWS": USER.arn}, "Action": "events:PutEvents",
                 "Resource": BUS}]
    need = Need("events:PutEvents", (BUS,), USER.context())
    assert decide(need, [], open_bus, USER).effect == "allow"
    assert decide(need, [], [{**open_bus[0], "Principal": {"AWS": "arn:aws:iam::1:user/x"}}],
                  USER).effect == "deny"


def test_condition_operators_on_missing_keys_follow_aws() -> None:
    passrole = [_allow("iam:PassRole", "*", Condition={
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})]
    with_key = _need("iam:PassRole", "*", iam_PassedToService="lambda.amazonaws.com")
    assert decide(with_key, [passrole], None, USER).effect == "allow"
    assert decide(_need("iam:PassRole"), [passrole], None, USER).effect == "deny"  # absent key
    other = _need("iam:PassRole", "*", iam_PassedToService="ec2.amazonaws.com")
    assert decide(other, [passrole], None, USER).effect == "deny"
    negated = [_allow("x:Y", "*", Condition={"StringNotEquals": {"events:source": "a"}})]
    assert decide(_need("x:Y"), [negated], None, USER).effect == "allow"  # absent: true
    names = [_allow("route53:ChangeResourceRecordSets", "*", Condition={
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["api.example.com"]}})]
    key = "route53:changeresourcerecordsetsnormalizedrecordnames"
    ok = Need("route53:ChangeResourceRecordSets", ("*",), {key: ("api.example.com",)})
    bad = Need("route53:ChangeResourceRecordSets", ("*",),
               {key: ("api.example.com", "www.example.com")})
    assert decide(ok, [names], None, USER).effect == "allow"
    assert decide(bad, [names], None, USER).effect == "deny"


def _client(url: str, service: str, creds: dict[str, str]) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=url,
                        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=creds.get("AWS_SESSION_TOKEN") or None,
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


def _code(f: Any) -> str:
    try:
        f()
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "ok"


@pytest.mark.slow
def test_users_and_role_sessions_are_authorized_by_their_own_policies(
        enforced_sandbox: Sandbox) -> None:
    url = enforced_sandbox.endpoint_url
    root = Clients(url)
    param = "arn:aws:ssm:us-east-1:123456789012:parameter/app/*"
    user = iam_user(root, "reader", {"Version": "2012-10-17", "Statement": [
        _allow("ssm:GetParameter", param), _allow("cloudwatch:DescribeAlarms", "*")]})
    root("ssm").put_parameter(Name="/app/x", Value="1", Type="String")
    root("ssm").put_parameter(Name="/other/x", Value="1", Type="String")
    ssm = _client(url, "ssm", user)
    assert _code(lambda: ssm.get_parameter(Name="/app/x")) == "ok"
    assert _code(lambda: ssm.get_parameter(Name="/other/x")) == "AccessDeniedException"
    assert _code(lambda: ssm.put_parameter(Name="/app/x", Value="2", Type="String",
                                           Overwrite=True)) == "AccessDeniedException"
    # CloudWatch speaks CBOR: the refusal is decoded by botocore as AWS's.
    cw = _client(url, "cloudwatch", user)
    assert _code(lambda: cw.describe_alarms()) == "ok"
    assert _code(lambda: cw.set_alarm_state(AlarmName="a", StateValue="OK",
                                            StateReason="t")) == "AccessDeniedException"
    bogus = dict(user, AWS_ACCESS_KEY_ID="AKIANOSUCHKEY")
    assert _code(lambda: _client(url, "ssm", bogus).get_parameter(Name="/app/x")) \
        == "UnrecognizedClientException"

    # A role's session: inline and attached managed policies both count.
    iam = root("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action":
             "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    arn = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"]["Arn"]
    managed = iam.create_policy(PolicyName="put", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [_allow("ssm:PutParameter", param)]}))
    iam.attach_role_policy(RoleName="fn-role", PolicyArn=managed["Policy"]["Arn"])
    assert enforced_sandbox.enforcer is not None
    creds = enforced_sandbox.enforcer.role_credentials(arn, "fn")
    assert creds is not None and creds["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    as_role = _client(url, "ssm", creds)
    assert _code(lambda: as_role.put_parameter(Name="/app/x", Value="3", Type="String",
                                               Overwrite=True)) == "ok"
    assert _code(lambda: as_role.get_parameter(Name="/app/x")) == "AccessDeniedException"
    iam.put_role_policy(RoleName="fn-role", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [_allow("ssm:GetParameter", param)]}))
    assert _code(lambda: as_role.get_parameter(Name="/app/x")) == "ok"
    assert any("assumed-role/fn-role/fn" in m and "ssm:GetParameter" in m
               for m in enforced_sandbox.enforcer.refused)


@pytest.mark.slow
def test_get_function_returns_tags_only_to_callers_allowed_list_tags(
        enforced_sandbox: Sandbox) -> None:
    from sandbox_support import create_function, make_zip

    url = enforced_sandbox.endpoint_url
    root = Clients(url)
    fn = create_function(root, make_zip({"h.py": "def handle(e, c):\n    return e\n"}),
                         handler="h.handle", tags={"lambdafail:topology": "shop"})
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{fn}"
    blind = iam_user(root, "blind", {"Version": "2012-10-17", "Statement": [
        _allow("lambda:GetFunction", arn)]})
    seeing = iam_user(root, "seeing", {"Version": "2012-10-17", "Statement": [
        _allow(["lambda:GetFunction", "lambda:ListTags"], arn)]})
    got = _client(url, "lambda", blind).get_function(FunctionName=fn)
    assert got["Configuration"]["FunctionName"] == fn and "Tags" not in got  # silently
    got = _client(url, "lambda", seeing).get_function(FunctionName=fn)
    assert got["Tags"] == {"lambdafail:topology": "shop"}

"""What an AWS request needs from IAM: its actions, their resources and condition context.

Rule: derived from the wire request alone (the SigV4 scope, the X-Amz-Target / query Action /
botocore's REST URI templates, the body), independently of lambdafail's own action table
(`aws.actions`), so the sandbox checks lambdafail's policies instead of restating them.
Names follow AWS's Service Authorization Reference: Lambda `Invoke` is `lambda:InvokeFunction`,
a DynamoDB transaction needs each item's action, creating with tags needs the tag action,
passing a role needs `iam:PassRole`. A call this module does not know gets `<service>:<Op>`
with its resource not derived (docs/sandbox.md). botocore, not moto: usable without the server.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote

from lambdafail.sandbox.iam_policy import Need

# SigV4 signing name -> (botocore service name, IAM action prefix)
SERVICES = {"monitoring": ("cloudwatch", "cloudwatch")}
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name
    operation: str  # botocore's operation name
    protocol: str
    params: dict[str, Any]
    labels: dict[str, str]


@lru_cache(maxsize=32)
def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=32)
def _routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, operation) from the REST service's URI templates, longest first."""
    model = _model(service)
    out = []
    for op in model.operation_names:
        http = model.operation_model(op).http
        uri = str(http.get("requestUri", "/")).split("?")[0]
        regex = re.sub(r"\{([A-Za-z0-9_]+)\+\}", r"(?P<\1>.+)", uri)
        regex = re.sub(r"\{([A-Za-z0-9_]+)\}", r"(?P<\1>[^/]+)", regex)
        out.append((str(http.get("method", "POST")), re.compile(f"^{regex}/?$"), op))
    out.sort(key=lambda r: -len(r[1].pattern))
    return out


def _cbor(body: bytes) -> Any:
    from botocore.parsers import RpcV2CBORParser

    return RpcV2CBORParser().parse_data_item(io.BytesIO(body)) if body else {}


def identify(signing_name: str, method: str, path: str, query: str, headers: dict[str, str],
             body: bytes) -> Call | None:
    """The botocore operation this request is, with its parameters; None if unknown."""
    service = SERVICES.get(signing_name, (signing_name, signing_name))[0]
    try:
        model = _model(service)
    except Exception:  # a service botocore does not know
        return None
    target = headers.get("X-Amz-Target", "")
    ctype = headers.get("Content-Type", "")
    if target:
        op = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return Call(service, op, "json", params if isinstance(params, dict) else {}, {})
    if "/operation/" in path:  # smithy RPCv2 CBOR: /service/<Service>/operation/<Op>
        op = path.rsplit("/", 1)[-1]
        try:
            params = _cbor(body)
        except Exception:
            params = {}
        return Call(service, op, "cbor", params if isinstance(params, dict) else {}, {})
    if ctype.startswith("application/x-www-form-urlencoded") or model.protocol == "query":
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        form.update({k: v[0] for k, v in parse_qs(query).items()})
        op = form.get("Action", "")
        return Call(service, op, "query", form, {}) if op else None
    for m, regex, op in _routes(service):
        hit = regex.match(path)
        if m == method and hit:
            labels = {k: unquote(v) for k, v in hit.groupdict().items()}
            rest: dict[str, Any] = {k: v[0] for k, v in parse_qs(query).items()}
            if model.protocol == "rest-json" and body:
                try:
                    doc = json.loads(body)
                    if isinstance(doc, dict):
                        rest.update(doc)
                except ValueError:
                    pass
            elif body:
                rest["_xml"] = body
            return Call(service, op, model.protocol, rest, labels)
    return None


class _Arns:
    def __init__(self, region: str, account: str):
        self.region, self.account = region, account

    def __call__(self, service: str, resource: str, *, regional: bool = True,
                 account: bool = True) -> str:
        return (f"arn:aws:{service}:{self.region if regional else ''}:"
                f"{self.account if account else ''}:{resource}")


def needs(call: Call, region: str, account: str,
          role_path: Any = None) -> list[Need]:
    """The actions `call` needs. `role_path(name)` gives an IAM role's path (default "/")."""
    a = _Arns(region, account)
    p, op = call.params, call.operation
    fn = _SERVICE_NEEDS.get(call.service)
    if fn is None:
        return [Need(f"{call.service}:{op}", None)]
    return fn(call, a, p, op, role_path or (lambda _n: "/"))


def _lambda(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    name = call.labels.get("FunctionName") or str(p.get("FunctionName") or "")
    res: tuple[str, ...] | None = None
    if call.labels.get("Resource") or call.labels.get("ARN"):
        res = (call.labels.get("Resource") or call.labels["ARN"],)
    elif name:
        arn = name if name.startswith("arn:") else a("lambda", f"function:{name}")
        qualifier = p.get("Qualifier")
        res = (f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn,)
    elif op.startswith("List"):
        res = ("*",)
    out = [Need(f"lambda:{_LAMBDA_ACTIONS.get(op, op)}", res)]
    if op == "CreateFunction" and p.get("Tags"):
        out.append(Need("lambda:TagResource", res))
    if op in ("CreateFunction", "UpdateFunctionConfiguration") and p.get("Role"):
        out.append(Need("iam:PassRole", (str(p["Role"]),),
                        {"iam:passedtoservice": ("lambda.amazonaws.com",)}))
    return out


def _dynamodb(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    def table(name: Any, index: Any = None) -> tuple[str, ...]:
        arn = str(name) if str(name).startswith("arn:") else a("dynamodb", f"table/{name}")
        return (f"{arn}/index/{index}",) if index else (arn,)

    if op == "TransactWriteItems":
        kinds = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem",
                 "Update": "UpdateItem", "Delete": "DeleteItem"}
        return [Need(f"dynamodb:{kinds[k]}", table(v.get("TableName")))
                for item in p.get("TransactItems") or [] for k, v in item.items() if k in kinds]
    if op == "TransactGetItems":
        return [Need("dynamodb:GetItem", table(v.get("TableName")))
                for item in p.get("TransactItems") or [] for v in item.values()]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Need(f"dynamodb:{op}", table(t)) for t in p.get("RequestItems") or {}]
    if p.get("ResourceArn"):
        res: tuple[str, ...] | None = (str(p["ResourceArn"]),)
    elif p.get("TableName"):
        res = table(p["TableName"], p.get("IndexName"))
    else:
        res = ("*",) if op.startswith(("List", "Describe")) else None
    out = [Need(f"dynamodb:{op}", res)]
    if op == "CreateTable" and p.get("Tags"):
        out.append(Need("dynamodb:TagResource", res))
    return out


def _query_tags(p: dict[str, Any]) -> bool:
    return any(k.startswith("Tags.member.") for k in p)


def _iam(call: Call, a: _Arns, p: dict[str, Any], op: str, role_path: Any) -> list[Need]:
    res: tuple[str, ...] | None = None
    if p.get("RoleName"):
        path = str(p.get("Path") or "/") if op == "CreateRole" else role_path(p["RoleName"])
        res = (a("iam", f"role{path}{p['RoleName']}", regional=False),)
    elif p.get("PolicyArn"):
        res = (str(p["PolicyArn"]),)
    elif op == "CreatePolicy":
        res = (a("iam", f"policy{p.get('Path') or '/'}{p.get('PolicyName')}", regional=False),)
    elif p.get("UserName"):
        res = (a("iam", f"user/{p['UserName']}", regional=False),)
    elif op.startswith("List"):
        res = ("*",)
    out = [Need(f"iam:{op}", res)]
    if op == "CreateRole" and _query_tags(p):
        out.append(Need("iam:TagRole", res))
    if op == "CreatePolicy" and _query_tags(p):
        out.append(Need("iam:TagPolicy", res))
    return out


def _bus_arn(a: _Arns, bus: Any) -> str:
    bus = str(bus or "default")
    return bus if bus.startswith("arn:") else a("events", f"event-bus/{bus}")


def _rule_arn(a: _Arns, bus: Any, name: Any) -> str:
    bus = str(bus or "default").rsplit("/", 1)[-1]
    return a("events", f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}")


def _events(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    if op == "PutEvents":
        # Authorized per entry: each names its bus, and events:source / events:detail-type
        # are the entry's own.
        return [Need("events:PutEvents", (_bus_arn(a, e.get("EventBusName")),),
                     {"events:source": (str(e.get("Source", "")),),
                      "events:detail-type": (str(e.get("DetailType", "")),)})
                for e in p.get("Entries") or [] if isinstance(e, dict)]
    res: tuple[str, ...] | None
    if p.get("ResourceARN"):
        res = (str(p["ResourceARN"]),)
    elif op in ("DescribeEventBus", "CreateEventBus", "DeleteEventBus"):
        res = (_bus_arn(a, p.get("Name")),)
    elif op in ("PutPermission", "RemovePermission"):
        res = (_bus_arn(a, p.get("EventBusName")),)
    elif p.get("Name") or p.get("Rule"):
        res = (_rule_arn(a, p.get("EventBusName"), p.get("Name") or p.get("Rule")),)
    else:
        res = ("*",) if op.startswith("List") else None
    out = [Need(f"events:{op}", res)]
    if op in ("CreateEventBus", "PutRule") and p.get("Tags"):
        out.append(Need("events:TagResource", res))
    return out


def _sqs(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    name = p.get("QueueName") or str(p.get("QueueUrl") or "").rstrip("/").rsplit("/", 1)[-1]
    res = (a("sqs", str(name)),) if name else (("*",) if op.startswith("List") else None)
    out = [Need(f"sqs:{op}", res)]
    if op == "CreateQueue" and (p.get("tags") or p.get("Tags")):
        out.append(Need("sqs:TagQueue", res))
    return out


def _parameter(a: _Arns, name: Any) -> str:
    return a("ssm", f"parameter/{str(name).lstrip('/')}")


def _ssm(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    if p.get("Names"):
        return [Need(f"ssm:{op}", (_parameter(a, n),)) for n in p["Names"]]
    res: tuple[str, ...] | None
    if p.get("Name") or p.get("Path"):
        res = (_parameter(a, p.get("Name") or p.get("Path")),)
    elif p.get("ResourceId"):
        res = (_parameter(a, p["ResourceId"]),)
    else:
        res = ("*",) if op.startswith(("Describe", "List")) else None
    out = [Need(f"ssm:{op}", res)]
    if op == "PutParameter" and p.get("Tags"):
        out.append(Need("ssm:AddTagsToResource", res))
    return out


def _logs(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    res: tuple[str, ...] | None
    if p.get("resourceArn"):
        res = (str(p["resourceArn"]),)
    elif p.get("logGroupName"):
        # Log group actions are checked against the group's ARN, with or without ":*".
        arn = a("logs", f"log-group:{p['logGroupName']}")
        res = (arn, f"{arn}:*")
    else:
        res = ("*",) if op.startswith("Describe") else None
    out = [Need(f"logs:{op}", res)]
    if op == "CreateLogGroup" and p.get("tags"):
        out.append(Need("logs:TagResource", res))
    return out


def _cloudwatch(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    names = p.get("AlarmNames") or ([p["AlarmName"]] if p.get("AlarmName") else [])
    if call.protocol == "query" and not names:
        names = [v for k, v in p.items() if k.startswith("AlarmNames.member.")]
    if names:
        return [Need(f"cloudwatch:{op}", (a("cloudwatch", f"alarm:{n}"),)) for n in names]
    if op == "PutMetricData":
        # The namespace condition key: PutMetricData's only scope.
        namespace = p.get("Namespace")
        return [Need("cloudwatch:PutMetricData", ("*",),
                     {"cloudwatch:namespace": (str(namespace),)} if namespace else {})]
    return [Need(f"cloudwatch:{op}", ("*",) if op in ("GetMetricData", "ListMetrics")
                 else None)]


def _route53(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    ident = call.labels.get("Id") or call.labels.get("HostedZoneId") or ""
    ident = ident.rsplit("/", 1)[-1]
    kind = "change" if op == "GetChange" else "hostedzone"
    res = (a("route53", f"{kind}/{ident}", regional=False, account=False),) if ident else None
    context: dict[str, tuple[str, ...]] = {}
    if op == "ChangeResourceRecordSets" and p.get("_xml"):
        context = _record_changes(p["_xml"])
    return [Need(f"route53:{op}", res, context)]


def _record_changes(xml: bytes) -> dict[str, tuple[str, ...]]:
    """Route 53's change-batch condition keys: names lower-cased without the final dot."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    names, types, actions = [], [], []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Action":
            actions.append(str(el.text or ""))
        elif tag == "ResourceRecordSet":
            for child in el:
                ctag = child.tag.rsplit("}", 1)[-1]
                if ctag == "Name":
                    names.append(str(child.text or "").lower().rstrip("."))
                elif ctag == "Type":
                    types.append(str(child.text or ""))
    return {"route53:changeresourcerecordsetsnormalizedrecordnames": tuple(names),
            "route53:changeresourcerecordsetsrecordtypes": tuple(types),
            "route53:changeresourcerecordsetsactions": tuple(actions)}


def _sns(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    arn = p.get("TopicArn") or p.get("ResourceArn")
    return [Need(f"sns:{op}", (str(arn),) if arn else None)]


def _ecs(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    cluster = str(p.get("cluster") or "default").rsplit("/", 1)[-1]
    services = p.get("services") or ([p["service"]] if p.get("service") else [])
    if not services:
        return [Need(f"ecs:{op}", None)]
    return [Need(f"ecs:{op}", (s if str(s).startswith("arn:")
                               else a("ecs", f"service/{cluster}/{s}"),)) for s in services]


def _sts(call: Call, a: _Arns, p: dict[str, Any], op: str, _rp: Any) -> list[Need]:
    if op == "GetCallerIdentity":
        return []  # AWS answers it for any valid credentials, even under an explicit Deny
    return [Need(f"sts:{op}", (str(p["RoleArn"]),) if p.get("RoleArn") else None)]


_SERVICE_NEEDS = {"lambda": _lambda, "dynamodb": _dynamodb, "iam": _iam, "events": _events,
                  "sqs": _sqs, "ssm": _ssm, "logs": _logs, "cloudwatch": _cloudwatch,
                  "route53": _route53, "sns": _sns, "ecs": _ecs, "sts": _sts}

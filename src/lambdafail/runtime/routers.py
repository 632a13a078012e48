"""Routers: point traffic at one side, idempotently, and read back where it points.

Rules: `apply(side)` may run any number of times with the same result (SSM put with Overwrite,
Route 53 UPSERT, enable/disable rules, hook invoke); `read_back()` answers from what AWS now
holds, never from what we meant to set; failures raise a RouterError subclass that says what
happened — RouterTimeout (no answer: the call may still be in effect), RouterNotFound (the
resource to switch does not exist), RouterRefused (AWS or the hook answered with an error) —
and the transition stays `switching` and is retried. stdlib + boto3 only; clients come from
`config.Clients`.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from lambdafail.runtime.config import SIDES, Clients


class RouterError(Exception):
    """The router could not apply or confirm a side. `operation`: the AWS call that failed
    (e.g. "ssm PutParameter /shop/web/active"); `code`: AWS's error code, if it answered."""

    def __init__(self, message: str, *, operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


class RouterTimeout(RouterError):
    """No answer in time: the call may have been applied, and a hook may still be running."""


class RouterNotFound(RouterError):
    """What the router switches (zone, rule, function) does not exist."""


class RouterRefused(RouterError):
    """AWS or the hook answered with an error, or the read-back disagrees."""


# Error codes meaning "the thing to switch is not there" (Route 53, EventBridge, Lambda).
_NOT_FOUND = {"NoSuchHostedZone", "ResourceNotFoundException", "ParameterNotFound"}


def router_error(operation: str, e: Exception) -> RouterError:
    """The typed RouterError for exception `e` raised by `operation`."""
    code = _code(e)
    message = f"{operation}: {code}: {e}"
    if _timed_out(e):
        return RouterTimeout(message, operation=operation)
    if code in _NOT_FOUND:
        return RouterNotFound(message, operation=operation, code=code)
    return RouterRefused(message, operation=operation, code=code)


def _timed_out(e: BaseException) -> bool:
    # botocore's ReadTimeoutError: the request went out, the answer did not come back. A
    # connect timeout never reached AWS, so nothing can be in effect: that is not one.
    from botocore.exceptions import ReadTimeoutError

    return isinstance(e, TimeoutError | ReadTimeoutError)


class Router(Protocol):
    kind: str

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None: ...

    def read_back(self) -> str | None: ...


def _code(e: Exception) -> str:
    return str((getattr(e, "response", None) or {}).get("Error", {}).get("Code", type(e).__name__))


class SsmRouter:
    kind = "ssm"

    def __init__(self, cfg: dict[str, Any], ssm_client: Any) -> None:
        self.parameter = str(cfg["parameter"])
        self.values: dict[str, str] = dict(cfg["values"])
        self.ssm = ssm_client

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        try:
            self.ssm.put_parameter(Name=self.parameter, Value=self.values[side], Type="String",
                                   Overwrite=True)
        except Exception as e:
            raise router_error(f"ssm PutParameter {self.parameter}", e) from e

    def read_back(self) -> str | None:
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except Exception as e:
            if _code(e) == "ParameterNotFound":
                return None
            raise router_error(f"ssm GetParameter {self.parameter}", e) from e
        return _side_of(value, self.values)


def _side_of(value: str, values: dict[str, str]) -> str | None:
    matches = [s for s in SIDES if values.get(s) == value]
    return matches[0] if len(matches) == 1 else None


def _norm_name(name: str) -> str:
    # Route 53 returns names lower-cased, with a trailing dot, and some characters as \ooo
    # octal escapes (e.g. "*" as \052).
    return name.rstrip(".").lower().replace("\\052", "*")


class Route53Router:
    kind = "route53"

    def __init__(self, cfg: dict[str, Any], route53_client: Any) -> None:
        self.zone_id = str(cfg["zone_id"])
        self.record = str(cfg["record"])
        self.type = str(cfg.get("type", "CNAME"))
        self.ttl = int(cfg.get("ttl", 60))
        self.values: dict[str, str] = dict(cfg["values"])
        self.r53 = route53_client

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        try:
            self.r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={
                "Comment": f"lambdafail: {side}",
                "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": self.record, "Type": self.type, "TTL": self.ttl,
                    "ResourceRecords": [{"Value": self.values[side]}]}}]})
        except Exception as e:
            raise router_error(f"route53 ChangeResourceRecordSets UPSERT {self.record}", e) from e

    def read_back(self) -> str | None:
        try:
            resp = self.r53.list_resource_record_sets(
                HostedZoneId=self.zone_id, StartRecordName=self.record,
                StartRecordType=self.type, MaxItems="1")
        except Exception as e:
            raise router_error(f"route53 ListResourceRecordSets {self.record}", e) from e
        for rrs in resp.get("ResourceRecordSets", []):
            if _norm_name(rrs["Name"]) == _norm_name(self.record) and rrs["Type"] == self.type:
                vals = [r["Value"] for r in rrs.get("ResourceRecords", [])]
                if len(vals) != 1:
                    return None
                norm = {s: v.rstrip(".").lower() for s, v in self.values.items()}
                return _side_of(vals[0].rstrip(".").lower(), norm)
        return None


class RulesRouter:
    kind = "rules"

    def __init__(self, cfg: dict[str, Any], events_client: Any) -> None:
        self.bus = str(cfg.get("bus") or "default")
        self.rules: dict[str, list[str]] = {s: list(cfg["rules"].get(s, [])) for s in SIDES}
        self.events = events_client

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        other = "standby" if side == "primary" else "primary"
        # Enable the new side first: for a moment both run rather than neither.
        for call, names in (("EnableRule", self.rules[side]), ("DisableRule", self.rules[other])):
            for name in names:
                try:
                    if call == "EnableRule":
                        self.events.enable_rule(Name=name, EventBusName=self.bus)
                    else:
                        self.events.disable_rule(Name=name, EventBusName=self.bus)
                except Exception as e:
                    raise router_error(f"events {call} {name} on bus {self.bus}", e) from e

    def read_back(self) -> str | None:
        states: dict[str, list[str]] = {side: [] for side in SIDES}
        for side in SIDES:
            for name in self.rules[side]:
                try:
                    states[side].append(self.events.describe_rule(
                        Name=name, EventBusName=self.bus)["State"])
                except Exception as e:
                    raise router_error(f"events DescribeRule {name} on bus {self.bus}", e) from e
        for side in SIDES:
            other = "standby" if side == "primary" else "primary"
            if (all(s == "ENABLED" for s in states[side])
                    and all(s == "DISABLED" for s in states[other])):
                return side
        return None


class HookRouter:
    """Invokes the user's Lambda with the transition; its successful answer is the read-back.

    The hook owns the real switch, so nothing in AWS can be read back: the confirmed side is
    what the last successful invoke (or, before any, the committed state) says.
    """

    kind = "hook"

    def __init__(self, cfg: dict[str, Any], lambda_client: Any,
                 confirmed: str | None = None) -> None:
        self.function = str(cfg["function"])
        self.lam = lambda_client
        self.confirmed = confirmed

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        payload = {"lambdafail": "switch", "to": side, **(transition or {})}
        payload["to"] = side
        try:
            resp = self.lam.invoke(FunctionName=self.function, InvocationType="RequestResponse",
                                   Payload=json.dumps(payload, default=str).encode())
            # The answer streams in after the headers: reading it can time out too.
            body = resp["Payload"].read() if resp.get("Payload") is not None else b""
        except Exception as e:
            raise router_error(f"lambda Invoke {self.function} (hook)", e) from e
        if resp.get("FunctionError"):
            # The hook ran and failed — even "Task timed out": Lambda stopped it, so nothing
            # is still running. Its text is the user's and classifies nothing.
            text = body[:1000].decode("utf-8", "replace")
            raise RouterRefused(f"hook {self.function} failed ({resp['FunctionError']}): {text}",
                                operation=f"lambda Invoke {self.function} (hook)",
                                code=str(resp["FunctionError"]))
        answer: Any = None
        try:
            answer = json.loads(body) if body else None
        except ValueError:
            answer = None
        # A hook may answer {"active": "<side>"}; any other successful answer confirms `side`.
        if isinstance(answer, dict) and answer.get("active") in SIDES:
            self.confirmed = str(answer["active"])
        else:
            self.confirmed = side

    def read_back(self) -> str | None:
        return self.confirmed


def make_router(router_cfg: dict[str, Any], clients: Clients,
                confirmed: str | None = None) -> Router:
    """Build the router of a service. `confirmed`: the committed active side (hook read-back)."""
    kind = router_cfg.get("kind")
    if kind == "ssm":
        return SsmRouter(router_cfg, clients.get("ssm"))
    if kind == "route53":
        return Route53Router(router_cfg, clients.get("route53"))
    if kind == "rules":
        return RulesRouter(router_cfg, clients.get("events"))
    if kind == "hook":
        return HookRouter(router_cfg, clients.get_single_shot("lambda"), confirmed)
    raise RouterError(f"unknown router kind {kind!r}")

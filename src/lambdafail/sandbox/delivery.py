"""EventBridge delivery as AWS does it: envelope, matching, enabled rules only, target input.

Fills moto gaps (moto 5.2.1): PutEvents with a Lambda target fails the whole call; DISABLED
rules still deliver; schedule-only rules are matched against every event on the default bus;
static Input and InputTransformer are ignored. Rule: matching is lambdafail's own
`runtime.patterns.matches` (the same code validate and the orchestrator use, held to the AWS
conformance cases); Lambda targets are invoked asynchronously through the `LambdaRunner`, SQS
targets synchronously through moto's SQS backend, bus targets re-route the event.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdafail.sandbox import backends
from lambdafail.sandbox.activity import ActivityLog
from lambdafail.sandbox.lambda_runner import LambdaRunner
from lambdafail.sandbox.transform import target_input


def iso_time(epoch: float | None = None) -> str:
    """EventBridge's event `time`: UTC, second precision, Z suffix."""
    when = datetime.fromtimestamp(epoch, UTC) if epoch is not None else datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(*, source: str, detail_type: str, detail: Any, region: str,
             resources: list[str] | None = None, time: str | None = None,
             event_id: str | None = None) -> dict[str, Any]:
    """An event exactly as EventBridge hands it to targets (field order as AWS)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": backends.ACCOUNT_ID,
        "time": time or iso_time(),
        "region": region,
        "resources": list(resources or []),
        "detail": detail,
    }


def events_may_invoke(region: str, function: str, qualifier: str | None, rule_arn: str) -> bool:
    """Does the function's resource policy let EventBridge invoke it for this rule?

    Allow statements for principal events.amazonaws.com and lambda:InvokeFunction, whose
    SourceArn condition (ArnLike with wildcards, ArnEquals, StringEquals) admits `rule_arn`;
    a statement without a SourceArn condition admits every rule.
    """
    try:
        wire = json.loads(backends.lambda_backend(region).get_policy(function, qualifier))
        policy = json.loads(wire["Policy"]) if isinstance(wire.get("Policy"), str) else wire
    except Exception:  # no policy at all (or no such function): nothing is allowed
        return False
    for st in policy.get("Statement", []):
        principal = st.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = st.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if st.get("Effect") != "Allow" or service != "events.amazonaws.com" or not any(
                a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        sources = [(op, v) for op, cond in (st.get("Condition") or {}).items()
                   for key, v in cond.items() if key.lower() == "aws:sourcearn"]
        if not sources:
            return True
        for op, values in sources:
            for v in values if isinstance(values, list) else [values]:
                if (fnmatch.fnmatchcase(rule_arn, v) if op == "ArnLike" else rule_arn == v):
                    return True
    return False


def rule_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """The sandbox's matcher: lambdafail's own implementation of EventBridge patterns."""
    from lambdafail.runtime.patterns import matches

    return bool(matches(pattern, event))


@dataclass
class Delivered:
    """One event handed to one target (kept for tests and `Sandbox.deliveries`)."""

    event_id: str
    rule: str
    target_arn: str
    ok: bool
    detail: str = ""


@dataclass
class Dispatcher:
    runner: LambdaRunner
    log: ActivityLog
    keep: int = 1000
    #: Whether a region is dark (an outage, outages.py): nothing is delivered into it.
    dark: Callable[[str], bool] = field(default=lambda region: False)
    deliveries: list[Delivered] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put_events(self, region: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer a PutEvents call (the JSON body AWS returns) and deliver what matched."""
        results: list[dict[str, Any]] = []
        for entry in entries:
            results.append(self._put_one(region, entry))
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def _put_one(self, region: str, entry: dict[str, Any]) -> dict[str, Any]:
        for key, label in (("Source", "Source"), ("DetailType", "DetailType"),
                           ("Detail", "Detail")):
            if not entry.get(key):
                return {"ErrorCode": "InvalidArgument",
                        "ErrorMessage": f"Parameter {label} is not valid. Reason: {label} is a "
                        "required argument."}
        if str(entry["Source"]).lower().startswith("aws."):
            # Sources beginning with "aws." are AWS services' own: PutEvents refuses them.
            return {"ErrorCode": "NotAuthorizedForSourceException",
                    "ErrorMessage": "Not authorized for the source."}
        try:
            detail = json.loads(entry["Detail"])
        except (TypeError, ValueError):
            detail = None
        if not isinstance(detail, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
        bus = str(entry.get("EventBusName") or "default").split("/")[-1]
        if bus not in backends.events(region).event_buses:
            return {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": f"Event bus {bus} does not exist."}
        when = entry.get("Time")
        event = envelope(source=str(entry["Source"]), detail_type=str(entry["DetailType"]),
                         detail=detail, region=region, resources=entry.get("Resources") or [],
                         time=iso_time(float(when)) if isinstance(when, int | float) else None)
        self.deliver_to_bus(region, bus, event)
        return {"EventId": event["id"]}

    def deliver_to_bus(self, region: str, bus: str, event: dict[str, Any]) -> int:
        """Deliver `event` to every ENABLED pattern rule of `bus` it matches; rules matched."""
        backend = backends.events(region)
        event_bus = backend.event_buses.get(bus)
        if event_bus is None:
            return 0
        matched = 0
        for rule in list(event_bus.rules.values()):
            if not str(rule.state).startswith("ENABLED"):
                continue  # AWS: a DISABLED rule delivers nothing
            pattern = rule.event_pattern.get_pattern() if rule.event_pattern else None
            if not pattern:
                continue  # schedule-only rule: fired by the scheduler, never by events
            try:
                hit = rule_matches(pattern, event)
            except Exception as e:  # a bad pattern must not stop the others
                self.log.write("ERROR", f"rule {rule.name}: cannot match: {type(e).__name__}: {e}")
                continue
            if hit:
                matched += 1
                self.deliver_to_rule(region, rule, event)
        return matched

    def deliver_to_rule(self, region: str, rule: Any, event: dict[str, Any]) -> None:
        """Send `event` to each of `rule`'s targets, transformed per target."""
        for target in list(rule.targets):
            arn = str(target.get("Arn", ""))
            try:
                text = target_input(target, event, str(rule.name), str(rule.arn))
                ok, note = self._send(region, rule, target, arn, text, event)
            except Exception as e:  # one failing target must not stop the rest
                ok, note = False, f"{type(e).__name__}: {e}"
            self._record(Delivered(str(event.get("id")), str(rule.name), arn, ok, note))

    def _send(self, region: str, rule: Any, target: dict[str, Any], arn: str, text: str,
              event: dict[str, Any]) -> tuple[bool, str]:
        parts = arn.split(":")
        service = parts[2] if len(parts) > 5 else ""
        target_region = parts[3] if len(parts) > 5 and parts[3] else region
        if self.dark(target_region) or self.dark(region):
            return False, f"region {target_region if self.dark(target_region) else region} is dark"
        if service == "lambda":
            # arn:aws:lambda:region:account:function:name[:qualifier]
            name = parts[6] if len(parts) > 6 else ""
            qualifier = parts[7] if len(parts) > 7 else None
            if not events_may_invoke(target_region, name, qualifier, str(rule.arn)):
                # AWS drops the event (and counts a FailedInvocation): no resource policy lets
                # this rule invoke the function. A deploy that forgot add_permission fails here
                # as it would on AWS.
                return False, (f"no permission for events.amazonaws.com from {rule.arn} on "
                               f"{name}{':' + qualifier if qualifier else ''} (AWS would not "
                               "deliver)")
            ok = self.runner.invoke_async(target_region, name, qualifier, text.encode(),
                                          source=f"rule {rule.name}")
            return ok, "invoked (async)" if ok else "function not found"
        if service == "sqs":
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            backends.sqs_send(target_region, parts[5], text, group_id=group)
            return True, "sent"
        if service == "events" and parts[5].startswith("event-bus/"):
            # Cross-bus target: the event (untransformed, as AWS does) enters the other bus.
            self.deliver_to_bus(target_region, parts[5].split("/", 1)[1], event)
            return True, "forwarded"
        return False, "target type not supported by the sandbox"

    def _record(self, d: Delivered) -> None:
        with self._lock:
            self.deliveries.append(d)
            if len(self.deliveries) > self.keep:
                del self.deliveries[: len(self.deliveries) - self.keep]
        self.log.write("DELIVER" if d.ok else "DROPPED",
                       f"event {d.event_id} rule {d.rule} -> {d.target_arn}: {d.detail}")

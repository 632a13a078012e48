"""The `event` signal: an EventBridge event pattern ("Server failure" events and the like).

Rule: a pattern on AWS service events (`source: aws.…`) is matched on the default bus, the
only bus AWS services publish to; every other pattern on the topology's own bus. A pattern may
not mix the two.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from lambdafail.model import naming
from lambdafail.model.common import Invalid
from lambdafail.model.kinds.signals.base import SignalKind, SignalRule, SignalSpec
from lambdafail.runtime.compiled import SignalCfg


def aws_service_source(pattern: dict[str, Any]) -> bool | None:
    """True when every `source` the pattern matches is an AWS service's (`aws.…`), False when
    none is, None when it mixes both. AWS service events arrive only on the default bus."""
    sources = pattern.get("source")
    values = sources if isinstance(sources, list) else []
    if not values:
        return False
    flags = {(v.startswith("aws.") if isinstance(v, str)
              else str(v.get("prefix", "")).startswith("aws.") if isinstance(v, dict)
              else False) for v in values}
    return flags.pop() if len(flags) == 1 else None


_SENDER_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|(user|role)/[\w+=,.@/*?-]{1,512})$")


class EventSignal(SignalSpec):
    event: dict[str, Any] = Field(description="EventBridge event pattern, matched on the "
                                  "topology's bus; a pattern on AWS service events (`source: "
                                  "[aws.…]`) is matched on the default bus, where they arrive.")
    mode: Literal["failover", "failure"] = "failover"
    senders: list[str] = Field(default_factory=list, description="IAM principals (user or "
                               "role ARNs, `*` wildcards allowed) that may put events this "
                               "signal matches on the topology's bus; besides them only the "
                               "account's lambdafail orchestrator roles may (the bus policy "
                               "denies everyone else, docs/permissions.md).")

    @field_validator("senders")
    @classmethod
    def _senders(cls, v: list[str]) -> list[str]:
        for arn in v:
            if not _SENDER_RE.match(arn):
                raise Invalid(f"sender {arn!r} is not an IAM user, role or account-root ARN",
                              hint="e.g. arn:aws:iam::123456789012:role/deployer or "
                                   "arn:aws:iam::123456789012:user/oncall-*")
        return sorted(set(v))

    @field_validator("event")
    @classmethod
    def _pattern(cls, v: dict[str, Any]) -> dict[str, Any]:
        from lambdafail.runtime.patterns import PatternError, validate_pattern

        try:
            validate_pattern(v)
        except PatternError as e:
            raise ValueError(f"invalid event pattern: {e}") from None
        if aws_service_source(v) is None:
            raise Invalid("the pattern's sources mix AWS services (aws.…) and your own",
                          hint="AWS service events arrive only on the default bus and yours "
                               "on the topology's bus: make them two signals")
        return v


class Event(SignalKind[EventSignal]):
    kind: ClassVar[str] = "event"
    key: ClassVar[str] = "event"
    label: ClassVar[str] = "EventBridge event pattern"
    model = EventSignal

    def rule_name(self, topology: str, service: str, index: int) -> str:
        return naming.event_rule_name(topology, service, index)

    def compile(self, signal: EventSignal, rule: str) -> SignalCfg:
        return {"kind": "event", "pattern": signal.event, "mode": signal.mode, "rule": rule,
                "senders": list(signal.senders)}

    def rule(self, signal: SignalCfg, *, topology: str, service: str, bus: str) -> SignalRule:
        pattern: dict[str, Any] = signal["pattern"]  # type: ignore[typeddict-item]
        on = "default" if aws_service_source(pattern) else bus
        return SignalRule(on, pattern, f"lambdafail {topology}: failure events → {service}")


KIND = Event()

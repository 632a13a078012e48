"""The `alarm` signal: a CloudWatch alarm whose ALARM state fails over (or counts as a failure).

Rule: the alarm's state changes reach the orchestrator on the default bus (CloudWatch publishes
only there), and each tick re-reads the alarms' states in case an event was lost, so the role
may DescribeAlarms on exactly these alarms.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from lambdafail.model import naming
from lambdafail.model.arns import Where, statement
from lambdafail.model.common import Reference
from lambdafail.model.kinds.signals.base import SignalKind, SignalRule, SignalSpec
from lambdafail.runtime.compiled import SignalCfg

ALARM_NAME_MAX = 255


class AlarmSignal(SignalSpec):
    alarm: str = Field(description="CloudWatch alarm name: ALARM fails over, OK recovers.")
    mode: Literal["failover", "failure"] = Field(default="failover", description="failover: act at "
                                                 "once; failure: count as one failed probe.")

    @field_validator("alarm")
    @classmethod
    def _alarm(cls, v: str) -> str:
        if not v or len(v) > ALARM_NAME_MAX:
            raise ValueError("alarm names are 1-255 characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
            raise ValueError(f"alarm name {v!r} contains control characters")
        return v


class Alarm(SignalKind[AlarmSignal]):
    kind: ClassVar[str] = "alarm"
    key: ClassVar[str] = "alarm"
    label: ClassVar[str] = "CloudWatch alarm name"
    model = AlarmSignal

    def rule_name(self, topology: str, service: str, index: int) -> str:
        return naming.alarm_rule_name(topology, service, index)

    def compile(self, signal: AlarmSignal, rule: str) -> SignalCfg:
        return {"kind": "alarm", "alarm_name": signal.alarm, "mode": signal.mode, "rule": rule}

    def rule(self, signal: SignalCfg, *, topology: str, service: str, bus: str) -> SignalRule:
        name = str(signal["alarm_name"])  # type: ignore[typeddict-item]
        pattern = {"source": ["aws.cloudwatch"],
                   "detail-type": ["CloudWatch Alarm State Change"],
                   "detail": {"alarmName": [name]}}
        return SignalRule("default", pattern, f"lambdafail {topology}: alarm {name} → {service}")

    def claim(self, signal: AlarmSignal) -> tuple[str, str]:
        return (f"alarm:{signal.alarm}", f"alarm {signal.alarm!r}")

    def iam_statements(self, signals: list[SignalCfg], where: Where) -> list[dict[str, Any]]:
        alarms = {where.arn("cloudwatch", f"alarm:{s['alarm_name']}")  # type: ignore[typeddict-item]
                  for s in signals}
        return statement("AlarmStates", ["cloudwatch:DescribeAlarms"], sorted(alarms))

    def references(self, signal: SignalCfg) -> list[Reference]:
        # The alarm lives where its rule does: in the control region.
        return [("alarm", str(signal["alarm_name"]), None)]  # type: ignore[typeddict-item]


KIND = Alarm()

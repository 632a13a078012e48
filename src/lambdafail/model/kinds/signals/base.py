"""The contract of a signal kind: a failure signal besides the probes (an alarm, an event).

Rule: a kind is one module in this package exporting `KIND`; nothing outside it dispatches on
its name. Everything here is pure: the compiler, the planner (the EventBridge rule each signal
gets) and IAM ask the kind. What the orchestrator does with a matching event lives in
`lambdafail/runtime/transitions.py` (alarm edges) and `runtime/handler.py` (event matching).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from lambdafail.model.arns import Where
from lambdafail.model.common import Reference, Strict
from lambdafail.runtime.compiled import SignalCfg


class SignalSpec(Strict):
    """Base of every signal model (an item of a service's `signals:` list)."""


M = TypeVar("M", bound=SignalSpec)


@dataclass(frozen=True)
class SignalRule:
    """The EventBridge rule that delivers a signal to the orchestrator."""

    bus: str  # "default" or the topology's bus
    pattern: dict[str, Any]
    description: str


class SignalKind(Generic[M]):
    kind: ClassVar[str]
    key: ClassVar[str]
    #: Said in the error for a mapping that is no signal: "`alarm` (CloudWatch alarm name)".
    label: ClassVar[str]
    model: type[M]

    def rule_name(self, topology: str, service: str, index: int) -> str:
        raise NotImplementedError

    def compile(self, signal: M, rule: str) -> SignalCfg:
        raise NotImplementedError

    def rule(self, signal: SignalCfg, *, topology: str, service: str, bus: str) -> SignalRule:
        raise NotImplementedError

    def claim(self, signal: M) -> tuple[str, str] | None:
        """What the signal holds that no other service's signal may share, as (key, what is
        said about it); None when sharing is harmless."""
        return None

    def iam_statements(self, signals: list[SignalCfg], where: Where) -> list[dict[str, Any]]:
        """The orchestrator's statements for all compiled signals of this kind (may be [])."""
        return []

    def references(self, signal: SignalCfg) -> list[Reference]:
        """What the compiled signal names but lambdafail does not create (plan's pre-flight)."""
        return []

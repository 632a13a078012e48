"""The contract of a target kind: one way of telling whether a primary or standby is healthy.

Rule: a kind is one module in this package exporting `KIND`; nothing outside it dispatches on
its name. Everything here is pure. How the orchestrator probes a compiled target lives in
`lambdafail/runtime/probes.py`, keyed by the same `kind`.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from pydantic import Field, field_validator

from lambdafail.model import regions
from lambdafail.model.common import Reference, Strict
from lambdafail.runtime.compiled import TargetCfg


class TargetSpec(Strict):
    """Base of every target model (a service's `primary:` / `standby:` mapping)."""

    region: str | None = Field(default=None, description="The region the target lives in "
                               "(default: the topology's `region`); a region outage fails it.")

    _region = field_validator("region")(staticmethod(regions.checked))


M = TypeVar("M", bound=TargetSpec)


class TargetKind(Generic[M]):
    #: The `kind` of the compiled target.
    kind: ClassVar[str]
    #: The YAML key whose presence selects this kind.
    key: ClassVar[str]
    #: Said in the error for a mapping that is no target: "`url` (HTTP probe)".
    label: ClassVar[str]
    model: type[M]

    def value(self, target: M) -> str:
        """What the target points at (URL or function): a router's per-side value."""
        raise NotImplementedError

    def compile(self, target: M) -> TargetCfg:
        raise NotImplementedError

    def invokes(self, target: TargetCfg) -> set[str]:
        """Lambda functions the orchestrator invokes to probe it."""
        return set()

    def references(self, target: TargetCfg) -> list[Reference]:
        """What the compiled target names but lambdafail does not create (plan's pre-flight)."""
        return []

"""The registry of target kinds (what a primary or standby is): one module per kind.

Rule: callers dispatch through `TARGETS` / `target_kind()` / `target_kind_of()`, never on a
kind's name. Adding a target kind = one module here + its probe in `lambdafail/runtime/probes.py`
+ docs/topology.md.
"""

from __future__ import annotations

from typing import Any

from lambdafail.model.kinds.targets import lambda_, url
from lambdafail.model.kinds.targets.base import TargetKind, TargetSpec

TARGETS: tuple[TargetKind[Any], ...] = (url.KIND, lambda_.KIND)

_BY_KIND = {k.kind: k for k in TARGETS}
_BY_MODEL = {k.model: k for k in TARGETS}


def target_kind(kind: str) -> TargetKind[Any]:
    """The kind of a compiled target (`target["kind"]`)."""
    return _BY_KIND[kind]


def target_kind_of(target: TargetSpec) -> TargetKind[Any]:
    """The kind of a loaded target model."""
    return _BY_MODEL[type(target)]


def target_value(target: TargetSpec) -> str:
    return target_kind_of(target).value(target)


__all__ = ["TARGETS", "TargetKind", "TargetSpec", "target_kind", "target_kind_of",
           "target_value"]

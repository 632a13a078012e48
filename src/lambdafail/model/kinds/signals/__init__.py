"""The registry of signal kinds (failure signals besides the probes): one module per kind.

Rule: callers dispatch through `SIGNALS` / `signal_kind()` / `signal_kind_of()`, never on a
kind's name. Adding a signal kind = one module here + what the orchestrator does with it
(`lambdafail/runtime/`) + docs/topology.md.
"""

from __future__ import annotations

from typing import Any

from lambdafail.model.kinds.signals import alarm, event
from lambdafail.model.kinds.signals.base import SignalKind, SignalRule, SignalSpec

SIGNALS: tuple[SignalKind[Any], ...] = (alarm.KIND, event.KIND)

_BY_KIND = {k.kind: k for k in SIGNALS}
_BY_MODEL = {k.model: k for k in SIGNALS}


def signal_kind(kind: str) -> SignalKind[Any]:
    """The kind of a compiled signal (`signal["kind"]`)."""
    return _BY_KIND[kind]


def signal_kind_of(signal: SignalSpec) -> SignalKind[Any]:
    """The kind of a loaded signal model."""
    return _BY_MODEL[type(signal)]


__all__ = ["SIGNALS", "SignalKind", "SignalRule", "SignalSpec", "signal_kind", "signal_kind_of"]

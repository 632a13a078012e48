"""Durations typed by people: `90s`, `30m`, `2h`, `1d`, `1h30m`.

Rule: one grammar for every `--for DURATION` option; a bad value is a usage error that shows
the grammar, never a traceback. Stdlib only.
"""

from __future__ import annotations

import re

from lambdafail.base.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse(text: str, *, what: str, max_seconds: float, hint: str, option: str = "--for") -> float:
    """Seconds (more than 0, at most `max_seconds`); `what` names the thing that lasts
    ("a pause") in the error for a value out of range, `hint` says what to do instead."""
    t = text.strip().lower()
    parts = re.findall(r"(\d+)\s*([smhd])", t)
    if not t or not parts or re.sub(r"\d+\s*[smhd]\s*", "", t):
        raise UsageError(f"{option} {text!r} is not a duration",
                         hint=f"e.g. {option} 30m, {option} 2h, {option} 1h30m (units s, m, h, d)")
    seconds = float(sum(int(n) * _UNITS[u] for n, u in parts))
    if not 0 < seconds <= max_seconds:
        raise UsageError(f"{option} {text!r}: {what} lasts more than 0 s and at most "
                         f"{_said(max_seconds)}", hint=hint)
    return seconds


def _said(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days" if days >= 1 else f"{seconds:g} s"

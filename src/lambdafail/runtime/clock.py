"""Time as lambdafail writes and reads it: ISO-8601 UTC strings and the sandbox's time scale.

Rule: the one definition of `iso`, `parse_iso` and the environment's time scale, used by the
orchestrator and (since runtime/ is a leaf every layer may import) by on-call and drills. stdlib
only.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

ENV_TIME_SCALE = "LAMBDAFAIL_TIME_SCALE"


def iso(epoch: float) -> str:
    """Fixed-width UTC ISO-8601 with milliseconds: sorts as text, used in log sort keys."""
    t = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO-8601 string; one without a zone is UTC. ValueError if not one."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def parse_iso_or_none(text: Any) -> float | None:
    """`parse_iso` for values read back from AWS: None for anything that is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def time_scale() -> float:
    """How much faster than real time the world runs: 1 on AWS; the sandbox sets
    LAMBDAFAIL_TIME_SCALE. Probe-round spacing and polling follow it; cooldowns never do."""
    try:
        scale = float(os.environ.get(ENV_TIME_SCALE, "1") or "1")
    except ValueError:
        return 1.0
    return scale if scale > 0 else 1.0

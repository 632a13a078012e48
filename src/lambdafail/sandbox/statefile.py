"""Where a running sandbox says it listens, so `--sandbox` needs no other flag.

Rule: stdlib only (read on every `--sandbox` command start).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lambdafail.base.errors import UsageError


def default_state_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambdafail" / "sandbox.json"


def write_state(data: dict[str, Any], path: str | None = None) -> Path:
    p = Path(path) if path else default_state_file()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(p)
    return p


def read_state(path: str | None = None) -> dict[str, Any]:
    p = Path(path or os.environ.get("LAMBDAFAIL_SANDBOX_STATE") or default_state_file())
    try:
        data: dict[str, Any] = json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"no sandbox is running (no {p})",
                         hint="start one with `lambdafail sandbox` in another terminal") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read sandbox state {p}: {e}",
                         hint="restart `lambdafail sandbox`") from None
    if "endpoint_url" not in data:
        raise UsageError(f"{p} is not a sandbox state file", hint="restart `lambdafail sandbox`")
    return data

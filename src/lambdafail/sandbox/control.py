"""The client side of the sandbox's control path (outages.py): what `lambdafail outage` calls.

Rule: stdlib only, one bounded HTTP request per call; an unreachable sandbox or a refused
request is a UsageError that says what to do.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from lambdafail.base.errors import UsageError
from lambdafail.sandbox.outages import CONTROL_PATH

TIMEOUT_SECONDS = 5.0


def outages(endpoint_url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sandbox's answer: `outages` (the dark regions, after starting or ending one when
    `body` is given) and, for an end, `ended` (whether the region was dark)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(endpoint_url.rstrip("/") + CONTROL_PATH, data=data,
                                 method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:
            doc = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            why = json.loads(e.read() or b"{}").get("error", e.reason)
        except ValueError:
            why = e.reason
        raise UsageError(f"the sandbox refused: {why}",
                         hint="lambdafail --sandbox outage REGION [--for 30m] | --end") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UsageError(f"cannot reach the sandbox at {endpoint_url}: {e}",
                         hint="is `lambdafail sandbox` running? (outages are a sandbox "
                              "feature)") from None
    result: dict[str, Any] = doc if isinstance(doc, dict) else {}
    result.setdefault("outages", [])
    return result

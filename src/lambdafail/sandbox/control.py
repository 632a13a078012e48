"""The client side of the sandbox's control paths: region outages (outages.py), what
`lambdafail outage` and the region-outage drill call, and regional web endpoints
(regional_web.py), what `lambdafail web` and tests call.

Rule: stdlib only, one bounded HTTP request per call; an unreachable sandbox or a refused
request is a UsageError that says what to do.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from lambdafail.base.errors import UsageError
from lambdafail.sandbox.outages import CONTROL_PATH
from lambdafail.sandbox.regional_web import WEB_PATH

TIMEOUT_SECONDS = 5.0
_OUTAGE_HINT = "lambdafail --sandbox outage REGION [--for 30m] | --end"
_WEB_HINT = "lambdafail --sandbox web REGION NAME [--status 503 | --healthy]"


def _call(endpoint_url: str, path: str, body: dict[str, Any] | None, hint: str,
          feature: str) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(endpoint_url.rstrip("/") + path, data=data,
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
        raise UsageError(f"the sandbox refused: {why}", hint=hint) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UsageError(f"cannot reach the sandbox at {endpoint_url}: {e}",
                         hint=f"is `lambdafail sandbox` running? ({feature} are a sandbox "
                              "feature)") from None
    return doc if isinstance(doc, dict) else {}


def outages(endpoint_url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sandbox's answer: `outages` (the dark regions, after starting or ending one when
    `body` is given) and, for an end, `ended` (whether the region was dark)."""
    result = _call(endpoint_url, CONTROL_PATH, body, _OUTAGE_HINT, "outages")
    result.setdefault("outages", [])
    return result


def web(endpoint_url: str, region: str | None = None, name: str | None = None,
        status: int | None = None) -> dict[str, Any]:
    """Without `region`: `{"endpoints": [...]}`, every regional web endpoint so far. With
    `region` and `name`: `{"endpoint": {region, name, status, requests}, "url": the health
    URL}`, after setting what it answers when `status` is given."""
    if region is None or name is None:
        result = _call(endpoint_url, WEB_PATH, None, _WEB_HINT, "regional web endpoints")
        result.setdefault("endpoints", [])
        return result
    path = f"{WEB_PATH}/{urllib.parse.quote(region, safe='')}/{urllib.parse.quote(name, safe='')}"
    return _call(endpoint_url, path, None if status is None else {"status": status},
                 _WEB_HINT, "regional web endpoints")


def endpoint_from_settings(feature: str, hint: str) -> str:
    """The sandbox's URL for a sandbox-only command: `--sandbox` (its state file) or an
    `--endpoint-url` of a sandbox; without either a UsageError saying `feature` needs it."""
    from lambdafail.base import settings

    s = settings.current()
    if s.sandbox:
        from lambdafail.sandbox.statefile import read_state

        return str(read_state(s.sandbox_state_file)["endpoint_url"])
    if s.endpoint_url:
        return s.endpoint_url
    raise UsageError(f"{feature} exist only in the sandbox", hint=hint)

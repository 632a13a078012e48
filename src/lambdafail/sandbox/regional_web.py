"""Regional web endpoints in the sandbox: health URLs that fail with their region.

Rule: `GET <sandbox>/_lambdafail/web/<region>/<name>/<path>` answers as a web service living in
<region> would: 200 `ok` — or the status set for it — from its first request on. While <region>
is dark (outages.py) the connection is cut off unanswered, exactly as a request signed for that
region is (server.py cuts both through `served_region`). `POST <sandbox>/_lambdafail/web/
<region>/<name>` `{"status": N}` sets what the endpoint answers and `GET` on that path reads it
(the sandbox's control, never cut off); `GET /_lambdafail/web` lists the endpoints. Not an AWS
API; stdlib only.
"""

from __future__ import annotations

import re
import threading
from typing import Any

#: The sandbox's web path (not an AWS API): endpoints and their control live under it.
WEB_PATH = "/_lambdafail/web"
#: An endpoint's name: letters, digits, `.`, `_`, `-`; at most 63 characters.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: The statuses an endpoint may be set to answer.
MIN_STATUS, MAX_STATUS = 200, 599


def url(endpoint_url: str, region: str, name: str) -> str:
    """The health URL of endpoint `name` in `region` on the sandbox at `endpoint_url`."""
    return f"{endpoint_url.rstrip('/')}{WEB_PATH}/{region}/{name}/healthz"


def split(path: str) -> tuple[str, str, bool] | None:
    """(region, name, served) of a path under WEB_PATH/<region>/<name>; `served` is True for
    the endpoint itself (a path below it), False for its control path. None otherwise."""
    if not path.startswith(WEB_PATH + "/"):
        return None
    parts = path[len(WEB_PATH) + 1:].split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1], len(parts) == 3


def served_region(path: str) -> str | None:
    """The region of the regional endpoint `path` is a request to (None: not one): what
    server.py cuts off while that region is dark."""
    got = split(path)
    return got[0] if got is not None and got[2] else None


def check_name(name: str) -> None:
    """Raise ValueError unless `name` is a valid endpoint name."""
    if not NAME.match(name):
        raise ValueError(f"not an endpoint name: {name!r} (letters, digits, '.', '_', '-'; "
                         "at most 63 characters, starting with a letter or digit)")


def check_status(status: Any) -> int:
    """The status of a control request, checked: an integer in [200, 599]."""
    if isinstance(status, bool) or not isinstance(status, int) or not (
            MIN_STATUS <= status <= MAX_STATUS):
        raise ValueError(f"status must be an integer in [{MIN_STATUS}, {MAX_STATUS}], "
                         f"got {status!r}")
    return status


class WebEndpoints:
    """What each regional endpoint answers, and how many requests it answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[tuple[str, str], int] = {}
        self._requests: dict[tuple[str, str], int] = {}

    def answer(self, region: str, name: str) -> int:
        """The status a request to the endpoint gets now (and count it)."""
        key = (region, name)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            return self._status.setdefault(key, 200)

    def set(self, region: str, name: str, status: int) -> None:
        key = (region, name)
        with self._lock:
            self._status[key] = status
            self._requests.setdefault(key, 0)

    def describe(self, region: str, name: str) -> dict[str, Any]:
        """`region`, `name`, `status` (what it answers when lit), `requests` (answered)."""
        key = (region, name)
        with self._lock:
            return {"region": region, "name": name, "status": self._status.get(key, 200),
                    "requests": self._requests.get(key, 0)}

    def snapshot(self) -> list[dict[str, Any]]:
        """Every endpoint requested or set so far, by region then name."""
        with self._lock:
            keys = sorted(set(self._status) | set(self._requests))
        return [self.describe(region, name) for region, name in keys]

"""Region outages in the sandbox: a region can be blacked out, for a while or until ended.

Rule: while a region is dark, every request signed for it is cut off before it is answered (the
connection is closed, as an unreachable regional endpoint looks to a client), its schedules do
not fire (and, as on AWS, missed firings are not made up afterwards) and no event is delivered
to a target in it. Durations are sandbox time: divided by the time scale, like schedules.
Other regions are untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: The sandbox's control path (not an AWS API): GET lists outages, POST starts or ends one.
CONTROL_PATH = "/_lambdafail/outages"
#: The longest outage one request may start (sandbox seconds).
MAX_SECONDS = 7 * 86400


class Outages:
    def __init__(self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.time_scale = time_scale
        self.clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float | None] = {}  # region -> real monotonic end, None: open
        self._started: dict[str, float] = {}
        self.refused: dict[str, int] = {}  # region -> requests cut off so far

    def start(self, region: str, seconds: float | None = None) -> None:
        """Black `region` out; `seconds` in sandbox time (None: until `end`)."""
        now = self.clock()
        self.dark(region)  # an expired outage of this region ends here, counters and all
        with self._lock:
            if region not in self._until:
                self._started[region] = now
                self.refused[region] = 0
            self._until[region] = None if seconds is None else now + seconds / self.time_scale

    def end(self, region: str) -> bool:
        """Light `region` again; False if it was not dark (or its outage had run out)."""
        if not self.dark(region):
            return False
        with self._lock:
            self._started.pop(region, None)
            return self._until.pop(region, "none") != "none"

    def dark(self, region: str) -> bool:
        with self._lock:
            if region not in self._until:
                return False
            until = self._until[region]
            if until is not None and self.clock() >= until:
                del self._until[region]
                self._started.pop(region, None)
                return False
            return True

    def refuse(self, region: str) -> bool:
        """Whether a request for `region` is cut off now (and count it if so)."""
        if not self.dark(region):
            return False
        with self._lock:
            self.refused[region] = self.refused.get(region, 0) + 1
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        """The dark regions: `region`, `seconds_left` (sandbox time; None: until ended),
        `seconds_dark` (sandbox time), `refused` (requests cut off)."""
        now = self.clock()
        out = []
        with self._lock:
            regions = sorted(self._until)
        for region in regions:
            if not self.dark(region):
                continue
            with self._lock:
                until = self._until.get(region)
                started = self._started.get(region, now)
                refused = self.refused.get(region, 0)
            out.append({"region": region,
                        "seconds_left": None if until is None
                        else round(max(0.0, until - now) * self.time_scale, 1),
                        "seconds_dark": round((now - started) * self.time_scale, 1),
                        "refused": refused})
        return out

"""The sandbox's activity log (deliveries, invocations and function output, for debugging) and
its request log (every AWS API call served: service, operation, region, caller).

Rule: thread-safe, bounded in memory (the last `keep` lines per function and overall), and
appended to a log file next to the state file when one is given. Never raises: a full disk
must not stop event delivery. stdlib only; moto-independent.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path


class ActivityLog:
    def __init__(self, path: Path | None = None, keep: int = 500):
        self.path = path
        self.keep = keep
        self._lock = threading.Lock()
        self._all: deque[str] = deque(maxlen=keep)
        self._by_function: dict[str, deque[str]] = {}

    def write(self, kind: str, message: str, function: str | None = None) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{stamp} {kind:<8} {function + ' ' if function else ''}{message}"
        with self._lock:
            self._all.append(line)
            if function is not None:
                self._by_function.setdefault(function, deque(maxlen=self.keep)).append(line)
            if self.path is not None:
                try:
                    with self.path.open("a", encoding="utf-8") as f:
                        f.write(line + "\n")
                except OSError:
                    pass

    def lines(self, function: str | None = None) -> list[str]:
        """The retained lines, oldest first: all of them, or one function's."""
        with self._lock:
            if function is None:
                return list(self._all)
            return list(self._by_function.get(function, ()))


class RequestLog:
    """Every signed AWS API request the sandbox served: (seq, epoch seconds, service,
    operation, region, caller's access key), the last `keep` of them, oldest first.

    Rule: the record of what was called, not of what it did; `seq` only grows, so a reader
    asks for what came after the last one it saw. Thread-safe; never raises."""

    def __init__(self, keep: int = 50_000):
        self._lock = threading.Lock()
        self._rows: deque[dict[str, object]] = deque(maxlen=keep)
        self._seq = 0

    def write(self, service: str, operation: str, region: str, caller: str) -> None:
        import time

        with self._lock:
            self._seq += 1
            self._rows.append({"seq": self._seq, "at": time.time(), "service": service,
                               "operation": operation, "region": region, "caller": caller})

    def since(self, seq: int = 0) -> list[dict[str, object]]:
        with self._lock:
            return [dict(r) for r in self._rows if int(str(r["seq"])) > seq]

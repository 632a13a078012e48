"""The sandbox's activity log: deliveries, invocations and function output, for debugging.

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

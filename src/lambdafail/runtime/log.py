"""Structured JSON log lines and CloudWatch Embedded Metric Format (EMF) documents.

Rule: one JSON object per line on stdout (Lambda ships stdout to CloudWatch Logs, where EMF lines
become metrics without any PutMetricData call); stdlib only; the sink is injectable so tests read
exactly what would be shipped.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

NAMESPACE = "lambdafail"
# One value a tick (dimension Topology): what the deployed heartbeat alarm watches.
HEARTBEAT_METRIC = "Heartbeat"

Sink = Callable[[str], None]


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Logger:
    """Writes JSON lines. `lines` keeps the parsed records when `keep=True` (tests, benches)."""

    def __init__(self, sink: Sink | None = None, *, keep: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self._sink = sink or _stdout
        self._keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.context: dict[str, Any] = {}

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str, separators=(",", ":"))
        with self._lock:
            if self._keep:
                self.records.append(record)
            self._sink(line)

    def log(self, level: str, message: str, **fields: Any) -> None:
        record: dict[str, Any] = {"level": level, "message": message,
                                  "ts": round(self._clock(), 3), **self.context, **fields}
        self._write(record)

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def metrics(self, values: Mapping[str, tuple[float, str]], dimensions: Mapping[str, str],
                **properties: Any) -> None:
        """One EMF document: `values` maps metric name -> (value, unit), e.g. ("Count")."""
        record = emf_document(values, dimensions, timestamp_ms=int(self._clock() * 1000),
                              **properties)
        self._write(record)

    def emf_records(self) -> list[dict[str, Any]]:
        return [r for r in self.records if "_aws" in r]


def emf_document(values: Mapping[str, tuple[float, str]], dimensions: Mapping[str, str], *,
                 timestamp_ms: int, namespace: str = NAMESPACE,
                 **properties: Any) -> dict[str, Any]:
    """Build an EMF document. CloudWatch needs every dimension and metric as a top-level key."""
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [sorted(dimensions)],
                "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
            }],
        },
        **properties,
        **dict(dimensions),
    }
    for name, (value, _) in values.items():
        doc[name] = value
    return doc

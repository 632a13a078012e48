"""Metrics from Embedded Metric Format log lines, as CloudWatch Logs makes them.

Fills a moto gap: moto 5.2.1 turns no Lambda log line into a metric. Rule: `ingest_emf` stores
the metrics of one EMF document (a JSON line with `_aws.CloudWatchMetrics`) in moto's
CloudWatch backend, what PutMetricData would, stamped with the document's own timestamp; any
other line is left alone. Imports nothing of the sandbox but `backends` (the Lambda runner
calls it for every log line). Tested with moto 5.2.1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lambdafail.sandbox import backends


def ingest_emf(region: str, line: str) -> bool:
    """Store the metrics of `line` if it is an EMF document; whether it was one."""
    if '"_aws"' not in line:
        return False
    try:
        doc = json.loads(line)
        meta = doc["_aws"]
        stamp = datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, UTC)
        cw = backends.cloudwatch(region)
        for directive in meta["CloudWatchMetrics"]:
            dims = [{"Name": d, "Value": str(doc[d])} for d in directive["Dimensions"][0]]
            data = [{"MetricName": m["Name"], "Value": float(doc[m["Name"]]),
                     "Unit": m.get("Unit") or "None", "Dimensions": dims,
                     "Timestamp": stamp} for m in directive["Metrics"]]
            cw.put_metric_data(directive["Namespace"], data)
    except (ValueError, KeyError, TypeError, IndexError):
        return False
    return True

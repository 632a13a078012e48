"""What a topology costs on AWS a month: list prices, a bill from usage, and the plan's estimate.

Rules: pure — no I/O, no AWS, no clock; prices are AWS's public us-east-1 list prices, each with
where it comes from and when it was checked (`PRICES_CHECKED`), free tiers ignored (an account's
free tier is usually spent elsewhere); the estimate's per-tick constants are measured by
`bench/cost.py` (docs/cost.md shows the measurements they come from) — change them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lambdafail.model.capacity import BASE_CPU_MS, CPU_MS_PER_PROBE, FULL_VCPU_MB, PROBE_WORKERS

PRICES_CHECKED = "2026-12-01"
SECONDS_PER_MONTH = 730 * 3600  # AWS bills a month as 730 hours


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    assumption: bool = False  # True: not confirmed on AWS's page when checked


PRICES: dict[str, Price] = {
    "lambda_request": Price(0.20 / 1e6, "request", "aws.amazon.com/lambda/pricing"),
    "lambda_gb_s_x86_64": Price(0.0000166667, "GB-second (x86_64, first 6 B GB-s)",
                                "aws.amazon.com/lambda/pricing"),
    "lambda_gb_s_arm64": Price(0.0000133334, "GB-second (arm64, first 7.5 B GB-s)",
                               "aws.amazon.com/lambda/pricing"),
    # On-demand throughput, after the 50 % cut of 2024-11-01.
    "dynamodb_wru": Price(0.625 / 1e6, "write request unit (on-demand)",
                          "aws.amazon.com/dynamodb/pricing/on-demand"),
    "dynamodb_rru": Price(0.125 / 1e6, "read request unit (on-demand)",
                          "aws.amazon.com/dynamodb/pricing/on-demand"),
    "logs_ingest_gb": Price(0.50, "GB of logs ingested (standard class; EMF lines included)",
                            "aws.amazon.com/cloudwatch/pricing"),
    "metric_month": Price(0.30, "custom metric a month (first 10,000)",
                          "aws.amazon.com/cloudwatch/pricing"),
    # Standard resolution (a period of 60 s or more); aws.amazon.com/cloudwatch/pricing, also
    # c3x.dev/resources/aws/aws_cloudwatch_metric_alarm ($0.10 an alarm-month).
    "alarm_month": Price(0.10, "standard-resolution alarm metric a month",
                         "aws.amazon.com/cloudwatch/pricing"),
    "dashboard_month": Price(3.00, "dashboard a month (the account's first 3 are free)",
                             "aws.amazon.com/cloudwatch/pricing"),
    "route53_check_aws": Price(0.50, "health check a month, AWS endpoint",
                               "aws.amazon.com/route53/pricing"),
    "route53_check_other": Price(0.75, "health check a month, non-AWS endpoint",
                                 "aws.amazon.com/route53/pricing"),
    # HTTPS, string matching, fast (10 s) interval, latency measurement: each one extra.
    "route53_feature_aws": Price(1.00, "optional feature a health check a month, AWS endpoint",
                                 "aws.amazon.com/route53/pricing"),
    "route53_feature_other": Price(2.00, "optional feature a health check a month, non-AWS "
                                   "endpoint", "aws.amazon.com/route53/pricing",
                                   assumption=True),
}

# Lambda gives a full vCPU at 1,769 MB and CPU in proportion below it.
MEMORY_SIZES_MB = (128, 256, 512, 1024, 1769)

# --- per-tick constants measured by bench/cost.py (docs/cost.md, "Measured") ---------------
SERVICE_ITEM_BYTES = 301  # a steady service item as DynamoDB sizes it (454 when failing)
STATE_DOC_BYTES = 214  # one State EMF line, newline included
# Not measured by the bench (assumptions of the same order as what it measures):
PROBE_DOC_BYTES = 290  # one ProbeLatency/Healthy EMF line (metrics: probes), per side
PLATFORM_LOG_BYTES = 330  # Lambda's own START/END/REPORT lines, per invocation
# CPU on the bench machine (one core taken as one Lambda vCPU; moto's request handling
# included, TLS handshakes not: loopback HTTP): BASE_CPU_MS and CPU_MS_PER_PROBE, shared with
# the compiler's split of large schedules (model/capacity.py).
# Assumptions, not measured here: real endpoints and AWS APIs answer in this long.
PROBE_WAIT_MS = 150.0
AWS_CALL_MS = 10.0


@dataclass
class Usage:
    """A month's billable usage."""

    requests: float = 0.0
    gb_seconds: float = 0.0
    architecture: str = "arm64"
    wru: float = 0.0
    rru: float = 0.0
    log_bytes: float = 0.0
    metrics: int = 0


def bill(u: Usage) -> dict[str, float]:
    """Line items in USD a month, and `total`."""
    items = {
        "lambda_requests": u.requests * PRICES["lambda_request"].usd,
        "lambda_duration": u.gb_seconds * PRICES[f"lambda_gb_s_{u.architecture}"].usd,
        "dynamodb_writes": u.wru * PRICES["dynamodb_wru"].usd,
        "dynamodb_reads": u.rru * PRICES["dynamodb_rru"].usd,
        "logs": u.log_bytes / 1e9 * PRICES["logs_ingest_gb"].usd,
        "metrics": u.metrics * PRICES["metric_month"].usd,
    }
    items["total"] = sum(items.values())
    return items


def route53_equivalent(targets: list[dict[str, Any]], *, fast: bool,
                       aws_endpoints: bool = True) -> float:
    """Route 53 health checks for the same endpoints, USD a month: one check per target,
    plus HTTPS and string matching where the target uses them, and the fast interval when
    `fast` (lambdafail's `probes_per_tick` > 1)."""
    check = PRICES["route53_check_aws" if aws_endpoints else "route53_check_other"].usd
    feature = PRICES["route53_feature_aws" if aws_endpoints else "route53_feature_other"].usd
    total = 0.0
    for t in targets:
        features = int(str(t.get("url", "")).startswith("https://"))
        features += int(bool(t.get("body_contains"))) + int(fast)
        total += check + features * feature
    return total


def round_seconds(probes: int, memory_mb: int, cpu_ms: float | None = None) -> float:
    """How long one probe round of `probes` probes lasts at `memory_mb` (the model)."""
    waits = math.ceil(max(probes, 1) / PROBE_WORKERS) * PROBE_WAIT_MS
    return (waits + 2 * AWS_CALL_MS + cpu_seconds(probes, memory_mb, cpu_ms) * 1000) / 1000.0


def cpu_seconds(probes: int, memory_mb: int, cpu_ms: float | None = None) -> float:
    """A round's CPU work at `memory_mb` (Lambda's CPU share for that size), in seconds."""
    cpu = (BASE_CPU_MS + CPU_MS_PER_PROBE * probes) if cpu_ms is None else cpu_ms
    return cpu * max(1.0, FULL_VCPU_MB / memory_mb) / 1000.0


def memory_for(compiled: dict[str, Any]) -> int:
    """The memory size to deploy: the smallest whose probe rounds fit the deadline.

    Below a full vCPU the CPU work costs the same at any size (half the memory, twice the
    time) while the waits cost in proportion to the memory: the smallest size is the cheapest.
    The deadline: a round's CPU work stays within half the shortest probe timeout of its rule
    (a probe starved of CPU for longer would read as a timeout, a false failure).
    """
    need = MEMORY_SIZES_MB[0]
    services = compiled["services"]
    for sched in compiled.get("schedules", {}).values():
        names = [s for s in sched["services"] if s in services]
        if not names:
            continue
        budget = min(float(services[s]["health"]["timeout_seconds"]) for s in names) / 2
        fits = [mb for mb in MEMORY_SIZES_MB if cpu_seconds(2 * len(names), mb) <= budget]
        need = max(need, fits[0] if fits else MEMORY_SIZES_MB[-1])
    return need


def tick_seconds(interval_seconds: float, rounds: int, probes: int, memory_mb: int,
                 cpu_ms_per_round: float | None = None) -> float:
    """Billed duration of one tick: the waits between rounds, then each round's work."""
    window = max(min(interval_seconds, 60.0) - 10.0, 0.0)
    waits = window * (rounds - 1) / rounds if rounds > 1 else 0.0
    one = round_seconds(probes, memory_mb, cpu_ms_per_round)
    # A round that takes longer than its spacing delays the next one (it is not skipped).
    return max(waits + one, rounds * one)


@dataclass
class Estimate:
    services: int
    usage: Usage
    bill: dict[str, float]
    route53: float
    memory_mb: int
    # Watching the watcher (deploy/watch.py), per topology whatever its size: 3 alarms, the
    # dashboard and the Heartbeat metric. Kept apart from the per-service model above.
    watch: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"usd_per_month": round(self.bill["total"], 2),
                "usd_per_service_per_month": round(self.bill["total"] / max(self.services, 1),
                                                   3),
                "items": {k: round(v, 4) for k, v in self.bill.items() if k != "total"},
                "route53_health_checks_usd_per_month": round(self.route53, 2),
                "watch_usd_per_month": round(self.watch, 2),
                "memory_mb": self.memory_mb, "architecture": self.usage.architecture,
                "prices_checked": PRICES_CHECKED, "model": "steady state (docs/cost.md)"}

    def line(self) -> str:
        return (f"estimated AWS cost: ${self.bill['total']:.2f}/month for {self.services} "
                f"service{'s' if self.services != 1 else ''} "
                f"(${self.bill['total'] / max(self.services, 1):.2f} each; Route 53 health "
                f"checks for the same endpoints: ${self.route53:.2f}); + ${self.watch:.2f}/month "
                f"watching the orchestrator (alarms, dashboard) — docs/cost.md")


def estimate(compiled: dict[str, Any], memory_mb: int, architecture: str) -> Estimate:
    """The steady-state monthly cost of a compiled topology (nothing failing, no failover)."""
    services = compiled["services"]
    u = Usage(architecture=architecture)
    for sched in compiled.get("schedules", {}).values():
        names = [s for s in sched["services"] if s in services]
        if not names:
            continue
        ticks = SECONDS_PER_MONTH / float(sched["interval_seconds"])
        rounds = max(int(services[s]["health"].get("probes_per_tick", 1)) for s in names)
        u.requests += ticks
        u.gb_seconds += ticks * tick_seconds(float(sched["interval_seconds"]), rounds,
                                             2 * len(names), memory_mb) * memory_mb / 1024
        # Steady: one heartbeat write; every round reads all items in one consistent Query.
        u.wru += ticks
        u.rru += ticks * rounds * max(1, math.ceil(len(names) * SERVICE_ITEM_BYTES / 4096))
        per_tick = float(PLATFORM_LOG_BYTES)
        for s in names:
            h = services[s]["health"]
            mode = h.get("metrics", "state")
            if mode != "none":
                per_tick += STATE_DOC_BYTES
            if mode == "probes":
                per_tick += 2 * int(h.get("probes_per_tick", 1)) * PROBE_DOC_BYTES
        u.log_bytes += ticks * per_tick
    for svc in services.values():
        mode = svc["health"].get("metrics", "state")
        u.metrics += {"none": 0, "state": 1, "probes": 5}.get(mode, 1)
    r53 = sum(route53_equivalent([svc["primary"], svc["standby"]],
                                 fast=int(svc["health"].get("probes_per_tick", 1)) > 1)
              for svc in services.values())
    return Estimate(services=len(services), usage=u, bill=bill(u), route53=r53,
                    memory_mb=memory_mb, watch=watch_cost())


def watch_cost() -> float:
    """The watch alarms, the dashboard and the Heartbeat metric, USD a month."""
    return (WATCH_ALARMS * PRICES["alarm_month"].usd + PRICES["dashboard_month"].usd
            + PRICES["metric_month"].usd)


WATCH_ALARMS = 3  # heartbeat, errors, DLQ depth

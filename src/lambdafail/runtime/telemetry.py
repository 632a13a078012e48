"""The orchestrator's metrics and verdict log lines (docs/cost.md, "Metrics").

Rule: few bytes a tick — one `State` metric per service and only when it changed, one log line
when a side's verdict changes, never one per probe; stdlib only (EMF lines through the Logger).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdafail.runtime.config import SIDES
from lambdafail.runtime.log import Logger
from lambdafail.runtime.probes import ProbeResult
from lambdafail.runtime.state import ServiceState


def metric_failover(logger: Logger, topology: str, service: str,
                    transition: Mapping[str, Any] | None) -> None:
    item = transition or {}
    logger.metrics({"Failovers": (1, "Count")}, {"Topology": topology, "Service": service},
                   transition_id=item.get("transition_id"), to=item.get("to"),
                   reason=item.get("reason"))


def log_verdicts(logger: Logger, service: str, st: ServiceState,
                 before: Mapping[str, bool | None]) -> None:
    for side in SIDES:
        h = st.health[side]
        if h.ok != before.get(side):
            logger.log("INFO" if h.ok else "WARNING", f"{side} {'healthy' if h.ok else 'failing'}",
                       service=service, side=side, detail=h.detail, failures=h.failures)


def state_code(observed: Mapping[str, ProbeResult], active: str) -> int:
    """0 on the primary with both sides healthy, 1 on the primary with the standby failing (at
    risk), 2 on the standby and it is healthy (failed over), 3 the active side is failing."""
    standby = "standby" if active == "primary" else "primary"
    if not observed[active].ok:
        return 3
    if active != "primary":
        return 2
    return 0 if observed[standby].ok else 1


def emit_health(logger: Logger, topology: str, service: str, mode: str,
                observed: Mapping[str, ProbeResult], active: str,
                state_codes: dict[str, int]) -> None:
    """The service's metrics by its `health.metrics`:

    - `state` (default): one metric, `State` (dimensions Topology, Service; `state_code`),
      emitted on a tick's first round, and on a later round only when it changed
      (`state_codes` remembers the last one per service);
    - `probes`: `State`, and `ProbeLatency`/`Healthy` per side and probe (4 more metrics);
    - `none`: nothing (alarm on the transitions log or SNS instead).
    """
    if mode == "none":
        return
    code = state_code(observed, active)
    if state_codes.get(service) != code:
        state_codes[service] = code
        logger.metrics({"State": (code, "None")}, {"Topology": topology, "Service": service})
    if mode != "probes":
        return
    for side, result in observed.items():
        logger.metrics({"ProbeLatency": (round(result.latency_ms, 1), "Milliseconds"),
                        "Healthy": (1 if result.ok else 0, "Count")},
                       {"Topology": topology, "Service": service, "Side": side},
                       detail=result.detail)

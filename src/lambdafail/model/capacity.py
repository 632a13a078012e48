"""How many services one tick invocation can carry, and the split of a schedule into rules.

Job: a schedule's services are probed, decided and written by one orchestrator invocation per
tick rule. One invocation has one Python process (one core's worth of CPU whatever the memory)
and PROBE_WORKERS probes in flight, so a rule carrying too many services would starve its own
probes (false failures) or outlive its interval. The compiler splits such a schedule into
several rules of at most `services_per_invocation` services; each is its own invocation.

Rule: pure. The figures are bench/ measurements (docs/cost.md) and deploy/cost.py prices with
the same ones; change them together.
"""

from __future__ import annotations

import math

FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at this memory size
BASE_CPU_MS = 20.0  # a round's fixed work (query, heartbeat, bookkeeping)
CPU_MS_PER_PROBE = 2.8  # per probe: HTTP GET in a worker thread, fold, decide, write
PROBE_WORKERS = 128  # runtime.probes.probe_all's pool: probes beyond it wait their turn
ROUND_WINDOW_SECONDS = 50.0  # probe rounds spread over the first 50 s of a tick


def services_per_invocation(timeout_seconds: float, probes_per_tick: int = 1) -> int:
    """The most services (two probes each) one invocation carries at these health settings.

    Two bounds, the smaller wins:
    - CPU: a round's work at a full vCPU stays within half the probe timeout, or the probes
      still waiting for CPU would read as timeouts (the rule deploy/cost.memory_for sizes by);
    - waves: a round's probes, PROBE_WORKERS at a time and each up to its timeout, fit in the
      round's share of the tick window, so rounds never overlap and the tick ends in time.
    """
    cpu_budget_ms = timeout_seconds / 2 * 1000 - BASE_CPU_MS
    by_cpu = math.floor(cpu_budget_ms / (2 * CPU_MS_PER_PROBE))
    slot = ROUND_WINDOW_SECONDS / max(probes_per_tick, 1)
    waves = max(1, math.floor(slot / timeout_seconds))
    by_waves = waves * PROBE_WORKERS // 2
    return max(1, min(by_cpu, by_waves))


def probe_waves(services: int) -> int:
    """How many times a round of `services` services fills the probe pool."""
    return max(1, math.ceil(2 * services / PROBE_WORKERS))


def shard_name(rule: str, index: int) -> str:
    """The `index`-th (0-based) rule of a split schedule: the first keeps the schedule's name,
    so a topology that fits in one rule deploys exactly as before."""
    return rule if index == 0 else f"{rule}-{index + 1}"

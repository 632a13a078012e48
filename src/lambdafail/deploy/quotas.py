"""EventBridge's quotas on what deploy creates: rules per event bus, targets per rule.

Rule: pure; counts the rules the planner would create on each bus exactly as it places them
(a signal kind says its bus), and refuses (TopologyError, exit 2) in validate, plan and deploy
what AWS would refuse midway through a deploy. AWS (eb-quota): 300 rules per event bus in most
regions (100 in af-south-1 and eu-south-1; adjustable), 5 targets per rule (fixed) — lambdafail
puts one target on each of its rules. The default bus is shared with the account's other
rules, which lambdafail cannot see offline: the check counts its own.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

RULES_PER_BUS = 300
RULES_PER_BUS_SMALL = {"af-south-1": 100, "eu-south-1": 100}
TARGETS_PER_RULE = 5
TARGETS_LAMBDAFAIL_PUTS = 1


def rules_per_bus(compiled: dict[str, Any]) -> Counter[str]:
    """How many rules deploy creates on each bus (bus name → count)."""
    from lambdafail.model.kinds.signals import signal_kind

    counts: Counter[str] = Counter()
    counts["default"] += len(compiled["schedules"])
    for name, svc in compiled["services"].items():
        for sig in svc["signals"]:
            r = signal_kind(sig["kind"]).rule(sig, topology=compiled["topology"], service=name,
                                             bus=compiled["bus"])
            counts[r.bus] += 1
    return counts


def rule_limit(region: str | None) -> int:
    return RULES_PER_BUS_SMALL.get(region or "", RULES_PER_BUS)


def check_rules(compiled: dict[str, Any], file: str = "") -> None:
    from lambdafail.base.errors import Problem, TopologyError

    limit = rule_limit(compiled.get("region"))
    over = {bus: n for bus, n in rules_per_bus(compiled).items() if n > limit}
    if not over:
        return
    problems = [Problem(
        f"the topology needs {n} EventBridge rules on the {bus} bus; EventBridge allows "
        f"{limit} rules per bus in {compiled.get('region') or 'this region'} (each schedule, "
        "alarm signal and event signal is one rule)", path="services", file=file,
        hint="split the services into several topologies, share alarm or event signals between "
             "services, or ask AWS to raise the 'Number of rules' quota and re-run")
        for bus, n in sorted(over.items())]
    raise TopologyError(problems, file)

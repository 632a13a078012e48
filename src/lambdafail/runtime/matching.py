"""Which services an alarm or an event concerns, and what the event says of its sender.

Rule: pure over the compiled services (no I/O); event patterns are matched with the same
`patterns.matches` that validate and the sandbox use. stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def alarm_services(services: Mapping[str, Mapping[str, Any]], alarm: str) -> list[str]:
    """The services with `alarm` among their signals."""
    return [s for s, cfg in services.items()
            if any(sig.get("kind") == "alarm" and sig.get("alarm_name") == alarm
                   for sig in cfg["signals"])]


def event_signals(services: Mapping[str, Mapping[str, Any]],
                  event: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(service, its first event signal whose pattern matches `event`), per service."""
    # Imported here: a tick never matches an event, and the matcher is the cold start's
    # largest module.
    from lambdafail.runtime.patterns import matches

    hits: list[tuple[str, dict[str, Any]]] = []
    for s, cfg in services.items():
        for sig in cfg["signals"]:
            if sig.get("kind") == "event" and matches(sig["pattern"], event):
                hits.append((s, sig))
                break
    return hits


def sender_evidence(event: Mapping[str, Any]) -> dict[str, Any]:
    """What EventBridge says of the sender: the account that put the event (an event carries
    no principal; the bus policy decided who may put it), its source and region."""
    return {"event_id": event.get("id"), "source": event.get("source"),
            "detail-type": event.get("detail-type"), "time": event.get("time"),
            "account": event.get("account"), "region": event.get("region")}


def alarm_names(services: Mapping[str, Mapping[str, Any]], names_of: list[str]) -> list[str]:
    """The alarms the services `names_of` watch, sorted, each once."""
    return sorted({sig["alarm_name"] for s in names_of for sig in services[s]["signals"]
                   if sig.get("kind") == "alarm"})


def alarm_states_by_service(services: Mapping[str, Mapping[str, Any]], names_of: list[str],
                            current: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """service -> {alarm: state} for the alarms read (`current`) that each service watches."""
    out: dict[str, dict[str, str]] = {}
    for s in names_of:
        for sig in services[s]["signals"]:
            name = sig.get("alarm_name")
            if sig.get("kind") == "alarm" and name in current:
                out.setdefault(s, {})[name] = current[name]
    return out

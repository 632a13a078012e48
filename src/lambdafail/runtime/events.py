"""The orchestrator's event inputs: a CloudWatch alarm's state change and a custom failure event,
each processed once however EventBridge delivers it (twice, or at once in two invocations), and
the alarm states a reconciling tick reads.

Rule: an event is claimed by its id before any work (`StateStore.mark_event`: one conditional
write) and finished after it; a crash unmarks it, so EventBridge's retry processes it. A mixin
of `handler.Orchestrator`. stdlib + boto3 only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lambdafail.runtime import decisions as dc
from lambdafail.runtime import matching
from lambdafail.runtime.config import Clients, LoadedConfig
from lambdafail.runtime.log import Logger

if TYPE_CHECKING:
    from lambdafail.runtime.probes import ProbeResult
    from lambdafail.runtime.state import ServiceState, StateStore

# How long an event claim lasts when the invocation's remaining time is unknown (tests, CLI).
CLAIM_SECONDS = 60.0


def remaining_ms(context: Any) -> int | None:
    """The invocation's remaining time (None without a Lambda context)."""
    fn = getattr(context, "get_remaining_time_in_millis", None)
    if fn is None:
        return None
    try:
        return int(fn())
    except Exception:
        return None


class Events:
    config: LoadedConfig
    clients: Clients
    logger: Logger
    clock: Callable[[], float]

    if TYPE_CHECKING:
        @property
        def store(self) -> StateStore: ...

        def process(self, service: str, *, observations: Mapping[str, ProbeResult] | None = None,
                    alarm_states: Mapping[str, str] | None = None,
                    trigger: dc.Trigger | None = None, event_id: str | None = None,
                    state: ServiceState | None = None) -> dict[str, Any] | None: ...

    def _reconcile_alarms(self, services: list[str]) -> dict[str, dict[str, str]]:
        """Current states of the services' alarms (one cheap DescribeAlarms per 100 names)."""
        names = matching.alarm_names(self.config.services, services)
        if not names:
            return {}
        current: dict[str, str] = {}
        try:
            cw = self.clients.get("cloudwatch")
            for i in range(0, len(names), 100):
                # DescribeAlarms pages at 50 by default; 100 is its maximum, so one page each.
                resp = cw.describe_alarms(AlarmNames=names[i:i + 100], MaxRecords=100,
                                          AlarmTypes=["MetricAlarm", "CompositeAlarm"])
                for a in resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", []):
                    current[a["AlarmName"]] = a["StateValue"]
        except Exception as e:
            self.logger.error("alarm reconcile failed", error=str(e))
            return {}
        return matching.alarm_states_by_service(self.config.services, services, current)

    # -- events --

    def alarm_event(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        detail = event.get("detail") or {}
        name = detail.get("alarmName")
        value = (detail.get("state") or {}).get("value")
        if not name or not value:
            return {"ok": False, "error": "alarm event without alarmName/state"}
        targets = matching.alarm_services(self.config.services, str(name))
        if not targets:
            self.logger.info("alarm concerns no service", alarm=name)
            return {"ok": True, "skipped": "no service watches this alarm"}
        return self._once(event, lambda: [
            self.process(s, alarm_states={name: str(value)}, event_id=str(event.get("id")))
            for s in targets], context)

    def failure_event(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        hits = matching.event_signals(self.config.services, event)
        if not hits:
            self.logger.info("event matches no service signal", event_id=event.get("id"),
                             source=event.get("source"), detail_type=event.get("detail-type"))
            return {"ok": True, "skipped": "no signal matches"}
        evidence = matching.sender_evidence(event)
        return self._once(event, lambda: [
            self.process(s, trigger=dc.Trigger("event", str(sig["mode"]),
                                               {**evidence, "rule": sig.get("rule")}))
            for s, sig in hits], context)

    def _once(self, event: dict[str, Any], work: Callable[[], list[dict[str, Any] | None]],
              context: Any = None) -> dict[str, Any]:
        event_id = str(event.get("id") or "")
        # The claim lasts as long as this invocation can (Lambda's remaining time): a timeout
        # kill leaves it behind, and it must lapse before EventBridge's retry (a minute or more).
        remaining = remaining_ms(context)
        claim = (remaining / 1000.0 if remaining is not None else CLAIM_SECONDS) + 1.0
        if event_id and not self.store.mark_event(event_id, self.clock(), claim_seconds=claim):
            self.logger.info("duplicate event skipped", event_id=event_id)
            return {"ok": True, "duplicate": True, "event_id": event_id}
        try:
            actions = [a for a in work() if a]
            if event_id:
                self.store.finish_event(event_id, self.clock())
        except Exception:
            if event_id:
                # Let EventBridge's retry process it: a crash must not swallow the event.
                try:
                    self.store.unmark_event(event_id)
                except Exception as e:
                    self.logger.error("could not unmark event", event_id=event_id, error=str(e))
            raise
        return {"ok": True, "event_id": event_id, "actions": actions}

"""The orchestrator's Lambda entry point: `handle(event, context)`.

Inputs (docs/architecture.md, "What the orchestrator receives"): a probe tick
`{"lambdafail": "tick", "rule": ...}`, a CloudWatch alarm state change (source aws.cloudwatch),
any other event with an `id` (a failure event, matched against each service's patterns), and a
ping `{"lambdafail": "ping"}`. Rules: stdlib + boto3 only; nothing touches AWS at import time;
clients, clock, sleep, prober and logger are injectable; decisions come from `decisions`, switches from `transitions`.
What a tick costs is part of the design (docs/cost.md): a steady service writes nothing (its
counters saturate, "last probed" is the heartbeat), emits one metric (`State`) unless its topology
asks for more or none, and logs only changes of verdict, transitions and errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from lambdafail import __version__
from lambdafail.runtime import decisions as dc
from lambdafail.runtime import drill_guard, notify, telemetry
from lambdafail.runtime import transitions as tr
from lambdafail.runtime.clock import time_scale
from lambdafail.runtime.config import SIDES, Clients, LoadedConfig, load_config
from lambdafail.runtime.events import CLAIM_SECONDS as CLAIM_SECONDS
from lambdafail.runtime.events import Events, remaining_ms
from lambdafail.runtime.log import HEARTBEAT_METRIC, Logger
from lambdafail.runtime.probes import ProbeResult, probe_all
from lambdafail.runtime.routers import Router, make_router, owner_tags
from lambdafail.runtime.secrets import HeaderResolver
from lambdafail.runtime.state import ServiceState, StateConflict, StateStore
from lambdafail.runtime.steps import StepEnv

_T = TypeVar("_T")

# Who the log says acted when the orchestrator switches: the ARN it was invoked by (the
# context's `invoked_function_arn`, "…:function:<name>:live" through the alias), else, called
# without a Lambda context (tests, a direct call), "function:<name>" (the same short form).
ACTOR_PREFIX = "function:"
MAX_ATTEMPTS = 5  # re-reads after losing a conditional write to a concurrent writer
ROUND_WINDOW_MARGIN = 10.0  # probe rounds spread over min(interval, 60 s) minus this
MIN_REMAINING_MS = 5000  # stop probing rounds when the invocation has less time than this
# Services of a round are seeded and decided this many at a time. Each one's work is a few
# DynamoDB calls that mostly wait on the network: one after another, a first tick of 1,000
# services spent most of its time waiting. Bounded below the clients' connection pool (50).
STATE_WORKERS = 16
PARALLEL_FROM = 8  # fewer services than this are decided one after another: nothing to gain
# Without an invocation context (tests, a direct call) recovery steps may wait this long.
STEP_WINDOW_SECONDS = 900.0

Prober = Callable[[Mapping[Hashable, tuple[Mapping[str, Any], float]]],
                  dict[Hashable, ProbeResult]]


class Orchestrator(Events):
    """One cold start's worth of configuration, clients and collaborators."""

    def __init__(self, config: LoadedConfig, clients: Clients | None = None, *,
                 store: StateStore | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, logger: Logger | None = None,
                 prober: Prober | None = None,
                 router_factory: Callable[[str, ServiceState], Router] | None = None) -> None:
        self.config = config
        self.clients = clients or Clients(region=config.data.get("region"))
        self._store = store
        self.clock = clock
        self.sleep = sleep
        self.logger = logger or Logger()
        self.logger.context = {"topology": config.topology}
        self._prober = prober
        self._router_factory = router_factory
        self._state_codes: dict[str, int] = {}  # the State metric last emitted this tick
        self._context: Any = None  # the current invocation's (its remaining time bounds steps)
        self._resolver: HeaderResolver | None = None  # probe headers from Secrets Manager/SSM
        self._unreadable: dict[Hashable, str] = {}  # probes not sent: header unreadable
        self.notifier = notify.Notifier(config.data.get("sns_topic_arn"),
                                    lambda: self.clients.get("sns"), self.logger,
                                    events_client=lambda: self.clients.get("events"),
                                    context=self._notify_context,
                                    on_outcome=self._notify_outcome)

    # -- collaborators --

    @property
    def store(self) -> StateStore:
        # Created on first use: a ping needs no DynamoDB client (and no boto3 import).
        if self._store is None:
            self._store = StateStore(str(self.config.data["table"]), self.clients.get("dynamodb"),
                                     self.config.data.get("history_retention_days"))
        return self._store

    def router(self, service: str, state: ServiceState) -> Router:
        if self._router_factory is not None:
            return self._router_factory(service, state)
        return make_router(self.config.services[service]["router"], self.clients,
                           confirmed=state.active,
                           tags=owner_tags(self.config.topology, service))

    def probe_many(self, targets: Mapping[Hashable, tuple[Mapping[str, Any], float]]
                   ) -> dict[Hashable, ProbeResult]:
        if self._prober is not None:
            return self._prober(targets)
        needs_lambda = any(cfg.get("kind") == "lambda" for cfg, _ in targets.values())
        if self._resolver is None and any(cfg.get("headers") for cfg, _ in targets.values()):
            # One per cold start: header values are cached for the container's life (≤ TTL).
            self._resolver = HeaderResolver(self.clients.get)
        return probe_all(targets, self.clients.get("lambda") if needs_lambda else None,
                         resolver=self._resolver)

    def probe_side(self, service: str, side: str) -> ProbeResult:
        cfg = self.config.services[service]
        if self._prober is not None:
            return self._prober({(service, side): (cfg[side], 0.0)})[(service, side)]
        # Through probe_all: bounded by the timeout in wall time even when an invoke hangs.
        return self.probe_many({(service, side): (cfg[side],
                                                  float(cfg["health"]["timeout_seconds"]))}
                               )[(service, side)]

    # -- entry --

    def step_env(self, service: str, st: ServiceState) -> tr.StepEnvFor:
        """The environment of `service`'s recovery steps: probes of the side being switched
        to (a drill's fault flag wins), the clients, and the invocation's end as deadline."""
        pending_to = str((st.pending or {}).get("to") or dc.other(st.active))

        def probe() -> ProbeResult:
            return (dc.forced_failure(st, pending_to, self.clock())
                    or self.probe_side(service, pending_to))

        def build(plan: str, transition_id: str) -> StepEnv:
            remaining = remaining_ms(self._context)
            deadline = (self.clock() + STEP_WINDOW_SECONDS if remaining is None
                        else self.clock() + (remaining - MIN_REMAINING_MS) / 1000)
            return StepEnv(service=service, transition_id=transition_id, plan=plan,
                           clients=self.clients, probe=probe, clock=self.clock,
                           sleep=self.sleep, deadline=deadline, time_scale=time_scale(),
                           poll_people=False)

        return build

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        self._context = context
        if not isinstance(event, dict):
            self.logger.error("ignored: event is not an object", type=type(event).__name__)
            return {"ok": False, "error": "event is not a JSON object"}
        kind = event.get("lambdafail")
        if kind == "ping":
            return {"ok": True, "version": __version__, "config_sha256": self.config.sha256,
                    "topology": self.config.topology}
        if kind == "tick":
            return self.tick(str(event.get("rule", "")), context)
        if event.get("source") == "aws.cloudwatch":
            return self.alarm_event(event, context)
        if event.get("id"):
            return self.failure_event(event, context)
        self.logger.warning("ignored: unrecognised input", keys=sorted(event)[:20])
        return {"ok": False, "error": "unrecognised input"}

    # -- ticks --

    def tick(self, rule: str, context: Any = None) -> dict[str, Any]:
        sched = self.config.data.get("schedules", {}).get(rule)
        if sched is None:
            self.logger.error("tick for an unknown schedule rule", rule=rule)
            return {"ok": False, "error": f"unknown schedule rule {rule!r}"}
        services = [s for s in sched["services"] if s in self.config.services]
        interval = float(sched["interval_seconds"])
        # Rounds fill the first 50 s of the tick whatever the interval: the deployed Lambda
        # timeout and `validate` assume that window (a longer one would outlive the function).
        window = max(min(interval, 60.0) - ROUND_WINDOW_MARGIN, 0.0)
        scale = time_scale()
        # Each service's rounds sit at k * window / probes_per_tick seconds into the tick.
        offsets: dict[float, list[str]] = {}
        for s in services:
            n = int(self.config.services[s]["health"]["probes_per_tick"])
            for k in range(n):
                offsets.setdefault(round(k * window / n / scale, 3), []).append(s)
        start = self.clock()
        self._state_codes.clear()  # each tick's first round reports every service
        results: list[dict[str, Any]] = []
        for i, offset in enumerate(sorted(offsets)):
            if i:
                delay = max(0.0, offset - (self.clock() - start))
                remaining = remaining_ms(context)
                longest = max(float(self.config.services[s]["health"]["timeout_seconds"])
                              for s in offsets[offset])
                # The wait before the round counts too: never sleep into the Lambda timeout.
                if remaining is not None and (remaining - delay * 1000
                                              < MIN_REMAINING_MS + longest * 1000):
                    self.logger.warning("stopping probe rounds early: invocation time short",
                                        remaining_ms=remaining, rounds_done=i)
                    break
                if delay > 0:
                    self.sleep(delay)
            results.append(self.round(offsets[offset], reconcile=(i == 0)))
            if i == 0:
                self._heartbeat(context, rule)
                # What the deployed heartbeat alarm watches (missing = breaching): one EMF
                # value a tick, a log line and no API call (deploy/watch.py).
                self.logger.metrics({HEARTBEAT_METRIC: (1, "Count")},
                                    {"Topology": self.config.topology}, rule=rule)
        return {"ok": True, "rule": rule, "rounds": len(results), "services": services,
                "actions": [a for r in results for a in r["actions"]]}

    def _heartbeat(self, context: Any, rule: str | None = None) -> None:
        version = str(getattr(context, "function_version", "") or
                      os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", ""))
        try:
            self.store.heartbeat(self.clock(), self.config.sha256, version, rule=rule)
        except Exception as e:
            self.logger.error("heartbeat write failed", error=str(e))

    def round(self, services: list[str], reconcile: bool = False) -> dict[str, Any]:
        """One probe round: resume pending switches, reconcile alarms, probe, decide."""
        now = self.clock()
        # DynamoDB orders string sort keys by UTF-8 bytes, which is code point order: the
        # same order as min/max here, so the range holds every service of this round.
        loaded = self.store.load_all((min(services), max(services))) if services else {}
        try:  # a committer that died between its commit and its log write
            for s in self.store.repair_unlogged(loaded):
                self.logger.info("transition log repaired", service=s)
        except Exception as e:
            self.logger.error("transition log repair failed; retried next round", error=str(e))
        missing = [s for s in services if s not in loaded]
        # The strongly consistent query just found no item: seed without reading first (one
        # call); reading back is needed only if someone else seeded it in between.
        seeded = dict(zip(missing, _parallel(
            lambda s: self.store.seed_state(s, now) or self.store.get_or_seed(s, now), missing),
            strict=True))
        states: dict[str, ServiceState | None] = {s: loaded.get(s) or seeded[s]
                                                  for s in services}
        actions: list[dict[str, Any]] = []
        pending_still: set[str] = set()
        # The side traffic goes to as this round starts (for the State metric).
        active = {s: (st.active if st is not None else "primary") for s, st in states.items()}
        for s in services:
            st = states[s]
            if st is not None and st.phase == "switching":
                # Finish the pending switch before anything else; then re-read.
                res = tr.resume(self.store, self.router(s, st), s, st, now=now,
                                notify=self.notifier, logger=self.logger, clock=self.clock,
                                service_cfg=self.config.services[s],
                                step_env=self.step_env(s, st))
                actions.append(self._result(res))
                if res.status == "switched":
                    self._metric_failover(s, res)
                    active[s] = str((st.pending or {}).get("to", active[s]))
                    states[s] = None  # re-read before recording this round's probes
                else:
                    pending_still.add(s)
        for s in services:
            st = states[s]
            if st is not None and s not in pending_still and drill_guard.overdue(st, now):
                actions.append(self._abandoned_drill(s, st))
                states[s] = None  # re-read: faults, counters and maybe the side changed
        alarm_now = self._reconcile_alarms(services) if reconcile else {}
        targets: dict[Hashable, tuple[Mapping[str, Any], float]] = {}
        for s in services:
            cfg = self.config.services[s]
            st = states[s]
            for side in SIDES:
                if st is None or not st.faulted(side, now):
                    targets[(s, side)] = (cfg[side], float(cfg["health"]["timeout_seconds"]))
        probed = self.probe_many(targets)
        self._log_unprobed(probed)
        now = self.clock()
        observed: dict[str, dict[str, ProbeResult]] = {}
        for s in services:
            st = states[s]
            observed[s] = {side: probed.get((s, side))
                           or (st and dc.forced_failure(st, side, now))
                           or ProbeResult(False, 0.0, "forced unhealthy by drill")
                           for side in SIDES}
            self._emit_health(s, observed[s], active[s])
        # Each service's fold/decide/write touches only its own item (conditional on its
        # version), so services are independent and run side by side; actions keep their order.
        deciding = [s for s in services if s not in pending_still]  # pending: next round/tick
        acts = _parallel(lambda s: self.process(s, observations=observed[s],
                                                alarm_states=alarm_now.get(s), state=states[s]),
                         deciding)
        actions.extend(a for a in acts if a)
        return {"actions": actions}

    def _log_unprobed(self, probed: Mapping[Hashable, ProbeResult]) -> None:
        """A probe that could not be sent because a header's secret is unreadable: logged when
        it starts (and again when it changes), not every round; it is no evidence about the
        target, so nothing else happens (runtime/secrets.py)."""
        for key, result in probed.items():
            if result.probed or not result.detail.startswith("header "):
                self._unreadable.pop(key, None)
                continue
            if self._unreadable.get(key) != result.detail:
                self._unreadable[key] = result.detail
                service, side = key if isinstance(key, tuple) else (str(key), "")
                self.logger.error("probe not sent: a header's secret is not readable",
                                  service=service, side=side, detail=result.detail)

    def _abandoned_drill(self, service: str, st: ServiceState) -> dict[str, Any]:
        """A drill past its restore deadline (its machine died): finish its restore here."""
        try:
            res = drill_guard.finish_abandoned(
                self.store, service, st, self.config.services[service],
                router=lambda fresh: self.router(service, fresh),
                probe=lambda side: self.probe_side(service, side), notify=self.notifier,
                logger=self.logger, clock=self.clock, actor=self.actor(),
                step_env=self.step_env(service, st),
                on_switch=lambda res: self._metric_failover(service, res))
        except Exception as e:  # the next tick tries again; this one goes on
            self.logger.error("drill abandoned: restore failed", service=service,
                              error=str(e))
            return {"service": service, "status": "error", "message": str(e)}
        return res

    # -- the per-service step shared by every input --

    def process(self, service: str, *, observations: Mapping[str, ProbeResult] | None = None,
                alarm_states: Mapping[str, str] | None = None,
                trigger: dc.Trigger | None = None, event_id: str | None = None,
                state: ServiceState | None = None) -> dict[str, Any] | None:
        """Fold observations into the state, decide, and save or switch; retry on conflicts."""
        cfg = self.config.services[service]
        for _ in range(MAX_ATTEMPTS):
            now = self.clock()
            st = state if state is not None else self.store.get_or_seed(service, now)
            state = None
            if st.phase == "switching":
                res = tr.resume(self.store, self.router(service, st), service, st, now=now,
                                notify=self.notifier, logger=self.logger, clock=self.clock,
                                service_cfg=cfg, step_env=self.step_env(service, st))
                if res.status == "switched":
                    self._metric_failover(service, res)
                return self._result(res)
            expected = st.version
            old_blocked = st.blocked
            before = st.material()
            verdicts = {side: st.health[side].ok for side in SIDES}
            for side, result in (observations or {}).items():
                # A drill's fault flag overrides what the probe saw (the real detection path).
                dc.record_probe(st, side, dc.forced_failure(st, side, now) or result, now)
            trig = dc.fold_alarms(st, cfg, alarm_states or {}, now, event_id=event_id,
                                  trigger=trigger)
            dc.record_trigger(st, trig, now)
            decision = dc.decide(st, cfg, now, trig)
            if decision.needs_probe:
                side = decision.needs_probe
                dc.record_probe(st, side, dc.forced_failure(st, side, now)
                                or self.probe_side(service, side), now)
                decision = dc.decide(st, cfg, now, trig)
            if decision.switch_to:
                self._log_verdicts(service, st, verdicts)
                res = tr.request_switch(
                    self.store, self.router(service, st), cfg, service, decision.switch_to,
                    reason=decision.reason, actor=self.actor(), evidence=decision.evidence,
                    clock=self.clock, automatic=True, notify=self.notifier, logger=self.logger,
                    state=_with_version(st, expected), step_env=self.step_env(service, st))
                if res.status == "lost_race":
                    continue
                if res.status == "switched":
                    self._metric_failover(service, res)
                return self._result(res)
            st.blocked = decision.blocked
            dc.saturate(st, cfg["health"])
            if st.material() != before:
                try:
                    self.store.save(st, expected)
                except StateConflict:
                    continue
                self._log_verdicts(service, st, verdicts)
            if decision.blocked and decision.blocked != old_blocked:
                self.logger.warning("switch blocked", service=service, blocked=decision.blocked)
            if dc.newly_both_down(old_blocked, decision.blocked):
                self.notifier.publish(f"lambdafail: {service}: both targets down, staying",
                                      {"event": "both_down", "service": service,
                                       "active": st.active, "blocked": decision.blocked,
                                       "health": dc.probe_evidence(st)})
            if decision.blocked:
                return {"service": service, "status": "blocked", "message": decision.blocked}
            return None
        self.logger.warning("gave up after repeated conflicts", service=service)
        return {"service": service, "status": "lost_race", "message": "too many conflicts"}

    # -- output --

    def actor(self) -> str:
        """The orchestrator's identity for the log: free (no API call), from the context."""
        arn = getattr(self._context, "invoked_function_arn", None)
        return str(arn) if arn else f"{ACTOR_PREFIX}{self.config.data.get('function', '')}"

    def _result(self, res: tr.SwitchResult) -> dict[str, Any]:
        return {"service": res.service, "status": res.status, "message": res.message}

    def _notify_context(self) -> dict[str, str]:
        """Topology, region and account for notifications (one STS call, at the first one)."""
        import os

        ident = self.clients.get("sts").get_caller_identity()
        return {"topology": str(self.config.topology),
                "region": str(self.config.data.get("region") or os.environ.get("AWS_REGION", "")),
                "account": str(ident.get("Account", ""))}

    def _notify_outcome(self, errors: list[str]) -> None:
        """Where status reads it: the heartbeat item (only when something was published)."""
        from lambdafail.runtime import notify_health

        notify_health.record(self.store.ddb, self.store.table, self.clock(), errors)

    def _metric_failover(self, service: str, res: tr.SwitchResult) -> None:
        telemetry.metric_failover(self.logger, self.config.topology, service, res.transition)

    def _log_verdicts(self, service: str, st: ServiceState,
                      before: Mapping[str, bool | None]) -> None:
        telemetry.log_verdicts(self.logger, service, st, before)

    def _emit_health(self, service: str, observed: Mapping[str, ProbeResult],
                     active: str) -> None:
        telemetry.emit_health(self.logger, self.config.topology, service,
                              str(self.config.services[service]["health"]["metrics"]),
                              observed, active, self._state_codes)


def _parallel(work: Callable[[str], _T], items: list[str]) -> list[_T]:
    """`work` over `items`, up to STATE_WORKERS at once, results in `items`' order."""
    if len(items) < PARALLEL_FROM:
        return [work(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(STATE_WORKERS, len(items)),
                            thread_name_prefix="lambdafail-state") as pool:
        return list(pool.map(work, items))


def _with_version(st: ServiceState, version: int) -> ServiceState:
    st.version = version
    return st


_orchestrator: Orchestrator | None = None


def orchestrator() -> Orchestrator:
    """The cold start's Orchestrator (config read once, clients created on first use)."""
    global _orchestrator
    if _orchestrator is None:
        _orchestrator = Orchestrator(load_config())
    return _orchestrator


def reset() -> None:
    """Forget the cached Orchestrator (tests, or after the config file changed)."""
    global _orchestrator
    _orchestrator = None


def handle(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point."""
    return orchestrator().handle(event, context)

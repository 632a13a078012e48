"""`status`: gather everything on-call needs to see, in a bounded number of API calls.

Rules: no click, no rich (cli/render.py draws the result, oncall.model); status makes the same
7 calls whatever the number of services (the DLQ's two among them), plus the routers'
read-back, which each router kind batches (runtime/routers/<kind>.py `read_many`:
docs/commands.md gives the formula; `--probe` adds the probes); the independent reads run
concurrently; it never writes.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambdafail.aws import call
from lambdafail.base.errors import AwsError
from lambdafail.deploy.versions import version_info
from lambdafail.model import naming
from lambdafail.oncall.common import (
    age_seconds,
    config_sha256,
    header_resolver,
    iso,
    probe_lambda,
    runtime_guard,
    stale_after_seconds,
    store_for,
    utcnow,
)
from lambdafail.oncall.model import (
    SIDES,
    STATES,
    SWITCH_STUCK_SECONDS,
    DrillInfo,
    LiveProbe,
    OrchestratorStatus,
    PauseInfo,
    RouterReading,
    ServiceStatus,
    SideStatus,
    StatusReport,
    TransitionInfo,
)
from lambdafail.oncall.readiness import cold_services, plan_readiness
from lambdafail.runtime import notify_health

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def _drill_locks(store: Any) -> dict[str, dict[str, Any]]:
    # StateStore reads one drill lock per get_item; status needs them all in ONE query.
    items = store._query(KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": "drill"}})
    return {str(i["sk"]): i for i in items}


def _side_status(h: Any, faults: dict[str, float], side: str, now: datetime,
                 ticked_at: str | None = None) -> SideStatus:
    deadline = faults.get(side)
    fault_until = None
    if deadline is not None and now.timestamp() < float(deadline):
        fault_until = iso(datetime.fromtimestamp(float(deadline), UTC))
    # The orchestrator rewrites a service item only when something changed, so the item's
    # probe time is that of the last change; the heartbeat says when its rule last ticked
    # (every service of a rule is probed before that write). The later of the two is true.
    at = h.at
    if h.ok is not None and ticked_at and (at is None or str(ticked_at) > str(at)):
        at = str(ticked_at)
    return SideStatus(ok=h.ok, at=at, age_seconds=age_seconds(at, now), detail=h.detail,
                      failures=h.failures, successes=h.successes,
                      latency_ms=h.latency_ms if h.ok is not None else None,
                      fault_until=fault_until)


def _list_rules(ctx: AwsContext, bus: str, prefix: str) -> dict[str, str] | None:
    """name -> state of the rules on `bus` whose name starts with `prefix` (the tick rules:
    one page up to 100 of them, 26,400 services at the default probe timeout). None: no bus."""
    events = ctx.client("events")
    out: dict[str, str] = {}
    token: str | None = None
    for _ in range(10):
        kw: dict[str, Any] = {"NamePrefix": prefix, "EventBusName": bus, "Limit": 100}
        if token:
            kw["NextToken"] = token
        try:
            page = call(events, "list_rules", resource=bus, **kw)
        except AwsError as e:
            if e.code == "ResourceNotFoundException":
                return None
            raise
        for r in page.get("Rules", []):
            out[str(r["Name"])] = str(r.get("State", "ENABLED"))
        token = page.get("NextToken")
        if not token:
            break
    return out


def _orchestrator_config(ctx: AwsContext, fn: str) -> dict[str, Any] | None:
    # One call: get_function_configuration on the alias returns the version it points at
    # (Version) and that version's environment, where deploy records the config sha256.
    try:
        cfg: dict[str, Any] = call(ctx.client("lambda"), "get_function_configuration",
                                   resource=f"{fn}:{naming.ALIAS}", FunctionName=fn,
                                   Qualifier=naming.ALIAS)
    except AwsError as e:
        if e.code == "ResourceNotFoundException":
            return None
        raise
    return cfg


def _failed_events(ctx: AwsContext, queue: str) -> int | None:
    """Messages waiting in the topology's DLQ (GetQueueUrl + GetQueueAttributes); None when
    the queue does not exist."""
    sqs = ctx.client("sqs")
    try:
        url = call(sqs, "get_queue_url", resource=queue, QueueName=queue)["QueueUrl"]
        attrs = call(sqs, "get_queue_attributes", resource=queue, QueueUrl=url,
                     AttributeNames=["ApproximateNumberOfMessages"])
    except AwsError as e:
        if e.code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return None
        raise
    return int((attrs.get("Attributes") or {}).get("ApproximateNumberOfMessages", 0))


def gather_status(ctx: AwsContext, compiled: dict[str, Any], *, probe: bool = False,
                  now: datetime | None = None) -> StatusReport:
    """Everything `status` shows: 7 API calls whatever the size (2 of them the DLQ's), plus
    the routers' batched read-back (docs/commands.md gives the formula; `--probe` adds the
    probes themselves; cold standbys add their plans' readiness checks, batched per step
    kind: `oncall.readiness`). The independent reads run concurrently: status answers in about the
    time of its slowest call."""
    from concurrent.futures import ThreadPoolExecutor

    calls_before = len(ctx.calls)
    store = store_for(ctx, compiled)
    topo_name = str(compiled["topology"])
    prefix = naming.rule_prefix(topo_name)
    fn = str(compiled["function"])

    def guarded(f: Any) -> Any:
        with runtime_guard(ctx, compiled):
            return f()

    dlq = naming.dlq_name(topo_name)
    cold = cold_services(compiled)
    for service in ("events", "lambda", "sqs", *(("ecs",) if cold else ())):
        # Clients are made here, before the pool: botocore builds a client from the shared
        # session (its event handlers, its loaders), which is not made for concurrent use.
        ctx.client(service)
    with ThreadPoolExecutor(max_workers=9, thread_name_prefix="status") as pool:
        f_states = pool.submit(guarded, store.load_all)
        f_beat = pool.submit(guarded, store.heartbeat_item)
        f_drills = pool.submit(guarded, lambda: _drill_locks(store))
        # Only the tick rules, by their name prefix: signal rules grow with services (their
        # states are `plan`'s drift), and the watcher itself is the tick.
        f_ticks = pool.submit(_list_rules, ctx, "default", f"{prefix}{naming.TICK_INFIX}")
        f_fn = pool.submit(_orchestrator_config, ctx, fn)
        f_dlq = pool.submit(_failed_events, ctx, dlq)
        f_routers = pool.submit(read_routers, ctx, compiled)
        f_probe = pool.submit(_probe_everything, ctx, compiled) if probe else None
        f_ready = pool.submit(plan_readiness, ctx, compiled) if cold else None
        states = f_states.result()
        beat = f_beat.result()
        drills = f_drills.result()
        rules: dict[str, str] = dict(f_ticks.result() or {})
        fn_cfg = f_fn.result()
        failed = f_dlq.result()
        readings = f_routers.result()
        live = f_probe.result() if f_probe is not None else {}
        ready = f_ready.result() if f_ready is not None else {}

    now = now or utcnow()
    orch = _orchestrator_status(compiled, fn, beat, fn_cfg, now)
    _add_failed_events(orch, dlq, failed)
    services: list[ServiceStatus] = []
    for name in sorted(compiled["services"]):
        services.append(_service_status(name, compiled["services"][name], states.get(name),
                                        drills.get(name), rules, live, compiled, now,
                                        beat=beat, reading=readings.get(name),
                                        plan_problems=ready.get(name)))
    return StatusReport(topology=topo_name, region=str(compiled.get("region") or ctx.region),
                        generated_at=iso(now), orchestrator=orch, services=services,
                        api_calls=len(ctx.calls) - calls_before)


def _probe_everything(ctx: AwsContext, compiled: dict[str, Any]) -> dict[Any, Any]:
    from lambdafail.runtime.probes import probe_all

    targets: dict[Hashable, tuple[Mapping[str, Any], float]] = {
        (name, side): (svc[side], float(svc["health"]["timeout_seconds"]))
               for name, svc in compiled["services"].items() for side in SIDES}
    needs_lambda = any(cfg.get("kind") == "lambda" for cfg, _ in targets.values())
    longest = max(timeout for _, timeout in targets.values())
    return dict(probe_all(targets, lambda_client=probe_lambda(ctx, longest) if needs_lambda
                          else None, resolver=header_resolver(ctx)))


def _orchestrator_status(compiled: dict[str, Any], fn: str, beat: dict[str, Any] | None,
                         fn_cfg: dict[str, Any] | None, now: datetime) -> OrchestratorStatus:
    stale_after = stale_after_seconds(compiled)
    file_sha = config_sha256(compiled)
    last_at = str(beat["last_tick_at"]) if beat and beat.get("last_tick_at") else None
    if beat and last_at is None and beat.get("last_tick_epoch") is not None:
        last_at = iso(datetime.fromtimestamp(float(beat["last_tick_epoch"]), UTC))
    tick_age = age_seconds(last_at, now)
    fresh = tick_age is not None and tick_age <= stale_after
    deployed_sha: str | None = None
    version: str | None = None
    problems: list[str] = []
    if fn_cfg is not None:
        version = str(fn_cfg.get("Version"))
        deployed_sha = version_info(fn_cfg).config_sha256
    else:
        problems.append(f"function {fn} (alias {naming.ALIAS}) not found: the orchestrator is "
                        "not deployed")
    if deployed_sha is None and beat:
        deployed_sha = str(beat.get("config_sha256") or "") or None
    drift = None if deployed_sha is None else deployed_sha != file_sha
    if beat and fn_cfg is not None and beat.get("function_version") and str(
            beat["function_version"]) not in (version, "$LATEST", naming.ALIAS) and fresh:
        problems.append(f"the last tick ran version {beat['function_version']}, the alias "
                        f"points at {version} (a deploy or rollback is taking effect)")
    return OrchestratorStatus(function=fn, deployed_version=version, last_tick_at=last_at,
                              last_tick_age_seconds=tick_age, stale_after_seconds=stale_after,
                              fresh=fresh, drift=drift, deployed_config_sha256=deployed_sha,
                              file_config_sha256=file_sha,
                              heartbeat_version=str(beat.get("function_version") or "") or None
                              if beat else None, problems=problems,
                              notifications_failing=notify_health.failing(beat))


def _add_failed_events(orch: OrchestratorStatus, dlq: str, failed: int | None) -> None:
    orch.failed_events, orch.dlq = failed, dlq
    if failed:
        orch.problems.append(
            f"{failed} failed event(s) in the dead-letter queue {dlq}: alarm changes, failure "
            "events or ticks that were not processed after Lambda's retries — read them, act, "
            "then purge (docs/runbook.md, \"Failed events\")")
    elif failed is None and orch.deployed_version is not None:
        orch.problems.append(f"the dead-letter queue {dlq} does not exist: failed events are "
                             "lost (run `lambdafail deploy`)")


def _service_rules(name: str, svc: dict[str, Any], compiled: dict[str, Any]) -> list[str]:
    """The tick rule that probes `name` (status reads no signal rule: see _list_rules)."""
    return [str(rule) for rule, sched in compiled.get("schedules", {}).items()
            if name in sched.get("services", [])]


def read_routers(ctx: AwsContext, compiled: dict[str, Any]) -> dict[str, RouterReading]:
    """service -> what its router points at now, each kind batched by its runtime module."""
    from lambdafail.oncall.common import clients_for
    from lambdafail.runtime.routers import RouterError, read_all

    routers = {name: dict(svc["router"]) for name, svc in compiled["services"].items()}
    try:
        got = read_all(routers, clients_for(ctx))
    except RouterError as e:
        # Unreadable (e.g. AccessDenied): said per service, never a traceback.
        return {name: RouterReading(kind=str(cfg.get("kind")), side=None, found=True,
                                    readable=False, seen=f"cannot read: {e}"[:300])
                for name, cfg in routers.items()}
    return {name: RouterReading(kind=str(routers[name].get("kind")), side=r.side, found=r.found,
                                readable=r.readable, seen=r.seen) for name, r in got.items()}


def router_problem(st: Any, reading: RouterReading | None) -> str | None:
    """Why the router disagrees with the state, or None. A switch under way is expected to
    disagree; a router with nothing to read (a hook) cannot."""
    if reading is None or st is None or st.phase != "steady" or not reading.readable:
        return None
    if not reading.found:
        return f"router missing: {reading.seen}; the state says {st.active}"
    if reading.side != st.active:
        where = f"the {reading.side}" if reading.side else "neither side"
        return (f"router points at {where} ({reading.seen}); the state says {st.active}")
    return None


def _service_status(name: str, svc: dict[str, Any], st: Any, drill: dict[str, Any] | None,
                    rules: dict[str, str], live: dict[Any, Any], compiled: dict[str, Any],
                    now: datetime, beat: dict[str, Any] | None = None,
                    reading: RouterReading | None = None,
                    plan_problems: list[str] | None = None) -> ServiceStatus:
    my_rules = {r: rules.get(r, "MISSING") for r in _service_rules(name, svc, compiled)}
    drill_info = None
    if drill and float(drill.get("lock_expires_epoch") or 0) > now.timestamp():
        drill_info = DrillInfo(drill_id=str(drill.get("drill_id", "")),
                               owner=str(drill.get("owner", "")),
                               started_at=drill.get("started_at"),
                               age_seconds=age_seconds(drill.get("started_at"), now))
    problems: list[str] = []
    if st is None:
        empty = SideStatus(ok=None, at=None, age_seconds=None, detail="", failures=0,
                           successes=0, latency_ms=None)
        sides = {s: _with_live(empty, live.get((name, s))) for s in SIDES}
        problems.append("no state item: not deployed (run `lambdafail deploy`)")
        return classify(ServiceStatus(name=name, deployed=False, active=None, since=None,
                                      since_age_seconds=None, phase=None, pending=None,
                                      primary=sides["primary"], standby=sides["standby"],
                                      last_transition=None, drill=drill_info, rules=my_rules,
                                      blocked=None, problems=problems, router=reading), svc, now)
    ticked_at = _rule_tick(name, compiled, beat)
    sides = {s: _with_live(_side_status(st.health[s], st.faults, s, now, ticked_at),
                           live.get((name, s)))
             for s in SIDES}
    lt = None
    if st.last_transition:
        t = st.last_transition
        lt = TransitionInfo(id=str(t.get("id", "")), at=t.get("at"),
                            age_seconds=age_seconds(t.get("at"), now),
                            from_=str(t.get("from", "")), to=str(t.get("to", "")),
                            reason=str(t.get("reason", "")), actor=str(t.get("actor", "")))
    if st.phase == "switching":
        p = st.pending or {}
        err = f" (last error: {p['last_error']})" if p.get("last_error") else ""
        waiting = _waiting_for_approval(name, p)
        problems.append(waiting.removeprefix("switching to ") if waiting else
                        f"switch to {p.get('to', '?')} pending: the router has not confirmed"
                        f"{err}")
    elif st.active != "primary":
        problems.append(f"running on the {st.active}")
    prim = sides["primary"]
    if prim.ok is False:
        # Counters stop at their thresholds (the orchestrator does not rewrite a steady item).
        at_cap = prim.failures >= int(svc["health"]["failure_threshold"])
        problems.append(f"primary failing ({'≥' if at_cap else ''}{prim.failures} consecutive): "
                        f"{prim.detail}"[:200])
    if prim.live is not None and not prim.live.ok:
        problems.append(f"primary probe failed just now: {prim.live.detail}"[:200])
    for rule, state in sorted(my_rules.items()):
        if state != "ENABLED":
            problems.append(f"rule {rule} is {state}")
    misrouted = router_problem(st, reading)
    if misrouted:
        problems.append(misrouted)
    pause = None
    until = st.paused_until(now.timestamp())
    if until is not None:
        p = st.paused or {}
        pause = PauseInfo(until=iso(datetime.fromtimestamp(until, UTC)),
                          until_age_seconds=round(until - now.timestamp(), 1),
                          reason=str(p.get("reason", "")), actor=str(p.get("actor", "")),
                          at=p.get("at"))
        problems.append(f"paused until {pause.until}: {pause.reason}")
    return classify(ServiceStatus(name=name, deployed=True, active=st.active, since=st.since,
                                  since_age_seconds=age_seconds(st.since, now),
                                  phase=st.phase, pending=st.pending, primary=sides["primary"],
                                  standby=sides["standby"], last_transition=lt,
                                  drill=drill_info, rules=my_rules, blocked=st.blocked,
                                  problems=problems, paused=pause, router=reading,
                                  misrouted=misrouted, plan_problems=plan_problems),
                    svc, now)


def _waiting_for_approval(name: str, pending: Mapping[str, Any]) -> str:
    """The reason of a switch held at an `approval` step (with the command that lets it go
    on), or ""."""
    from lambdafail.runtime.steps.approval import approve_command, waiting_step

    index = waiting_step(dict(pending))
    if index is None:
        return ""
    progress = pending.get("recovery") or {}
    step = (progress.get("steps") or [])[index]
    until = str(step.get("waiting_until") or "")
    by = f" until {until[11:16]} UTC" if len(until) >= 16 else ""
    return (f"switching to {pending.get('to', '?')}: waiting for approval (step {index + 1}/"
            f"{len(progress.get('steps') or [])}){by}; run: {approve_command(name)}")


def classify(s: ServiceStatus, svc: Mapping[str, Any], now: datetime) -> ServiceStatus:
    """Give `s` its one state (STATES), the reason in words and the severity: the single
    place that decides what table, JSON and exit code say. The first that applies wins."""
    state, reason = _state(s, int(svc["health"]["failure_threshold"]))
    severity = STATES[state]
    if state == "switching":
        # Degraded once the router has failed or the switch has been pending too long.
        p = s.pending or {}
        started = age_seconds(p.get("started_at"), now)
        if _waiting_for_approval(s.name, p):
            pass  # waiting for a human is the plan, not a stuck router (until its timeout)
        elif p.get("last_error") or started is None or started > SWITCH_STUCK_SECONDS:
            severity = "degraded"
    s.state, s.reason, s.severity = state, reason, severity
    return s


def _side_reason(side: str, h: SideStatus, threshold: int) -> str:
    if h.live is not None and not h.live.ok:
        return f"{side} probe failed just now: {h.live.detail}"
    if h.fault_until:
        return f"{side} forced unhealthy by a drill until {h.fault_until}"
    # Counters stop at their thresholds (the orchestrator does not rewrite a steady item).
    import re

    detail = re.sub(r"\[Errno -?\d+\] ", "", h.detail).strip()  # the counts are in the JSON
    if h.failures >= threshold:
        return f"{side} down: {detail}"
    return f"{side} failing ({h.failures} of {threshold}): {detail}"


def _clock(text: str, seconds_left: float) -> str:
    """An ISO time as a reason says it: `10:30 UTC` within a day, else `2024-05-01 10:30 UTC`
    (the JSON keeps the ISO form)."""
    if len(text) < 16:
        return text
    return f"{text[11:16]} UTC" if seconds_left < 86400 else f"{text[:10]} {text[11:16]} UTC"


def _state(s: ServiceStatus, threshold: int) -> tuple[str, str]:
    if not s.deployed:
        return "unknown", "not deployed: no state item (run `lambdafail deploy`)"
    if s.drill is not None:
        return "drill", f"drill {s.drill.drill_id} by {s.drill.owner}"
    if s.phase == "switching":
        p = s.pending or {}
        waiting = _waiting_for_approval(s.name, p)
        if waiting:
            return "switching", waiting
        err = f"; last error: {p['last_error']}" if p.get("last_error") else ""
        return "switching", (f"switching to {p.get('to', '?')} ({p.get('reason', '?')}): the "
                             f"router has not confirmed{err}")
    if s.misrouted:
        return "misrouted", s.misrouted
    if s.blocked:
        if s.blocked.startswith("paused") and s.paused is not None:
            return "blocked", (f"paused until {_clock(s.paused.until, s.paused.until_age_seconds)} ({s.paused.reason}): "
                               f"{s.blocked.split(', ', 1)[0].removeprefix('paused: ')}")
        if not s.blocked.startswith("paused"):
            return "blocked", s.blocked
    if s.active != "primary":
        lt = s.last_transition
        who = _actor_word(lt.actor) if lt else ""
        why = f" ({lt.reason}{' by ' + who if who else ''})" if lt else ""
        return "failed_over", f"on the {s.active}{why}"
    if s.paused is not None:
        return "paused", f"until {_clock(s.paused.until, s.paused.until_age_seconds)}: {s.paused.reason}"
    prim, stby = s.primary, s.standby
    if prim.ok is False and prim.failures >= threshold:
        # Over the threshold and still here: the failover the orchestrator wants has not
        # happened (it records why as `blocked` when it knows; this is the case it does not).
        return "blocked", _side_reason("primary", prim, threshold) + "; no failover yet"
    if prim.ok is False or (prim.live is not None and not prim.live.ok):
        return "failing", _side_reason("primary", prim, threshold)
    if prim.ok is None:
        return "unknown", "primary never probed"
    if s.plan_problems:
        return "at_risk", ("cold standby: plan cannot run: "
                           + "; ".join(s.plan_problems))
    if s.plan_problems is None:
        # A hot standby must answer now; a cold one is judged by its plan (above).
        if stby.ok is False or (stby.live is not None and not stby.live.ok):
            return "at_risk", _side_reason("standby", stby, threshold)
        if stby.ok is None:
            return "at_risk", "standby never probed: a failover could not be checked"
    off = [f"rule {r} is {v}" for r, v in sorted(s.rules.items()) if v != "ENABLED"]
    if off:
        return "at_risk", "; ".join(off) + ": failures may go undetected"
    if s.plan_problems is not None and stby.ok is not True:
        return "healthy", "cold standby: plan ready"
    return "healthy", ""


def _rule_tick(name: str, compiled: dict[str, Any], beat: dict[str, Any] | None) -> str | None:
    """When the schedule rule that probes `name` last ticked (from the heartbeat), if known."""
    from lambdafail.runtime.state import tick_attribute

    if not beat:
        return None
    for rule, sched in compiled.get("schedules", {}).items():
        if name in sched.get("services", []):
            got = beat.get(tick_attribute(str(rule)))
            return str(got) if got else None
    return None


def _with_live(s: SideStatus, result: Any) -> SideStatus:
    if result is None:
        return s
    from dataclasses import replace

    return replace(s, live=LiveProbe(ok=bool(result.ok), detail=str(result.detail),
                                     latency_ms=round(float(result.latency_ms), 1)))


def _actor_word(actor: str) -> str:
    """The actor as the one-line reason says it: "orchestrator" for the function's ARN (its
    log entries name the ARN it was invoked by), a person's STS ARN as it is."""
    if actor.startswith("function:") or (actor.startswith("arn:") and ":lambda:" in actor):
        return "orchestrator"
    return actor

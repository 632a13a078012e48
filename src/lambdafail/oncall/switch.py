"""`failover` / `rollback SERVICE`: a manual switch through the orchestrator's own transition code.

Rules: no click, no rich; the switch runs `lambdafail.runtime.transitions` with the operator's
credentials, so it works when the orchestrator, EventBridge or Lambda is impaired; the target is
probed first (unless forced) and the router read back after; a refusal or a lost race is a
result (`SwitchOutcome`), not an exception — the command decides the words and the exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import UsageError
from lambdafail.oncall.common import (
    clients_for,
    header_resolver,
    probe_lambda,
    runtime_guard,
    store_for,
    utcnow,
)
from lambdafail.oncall.model import SwitchOutcome

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def router_hint(router_cfg: dict[str, Any], side: str) -> str:
    """Where to look by hand to see (or set) which side the router points at — and in which
    region (a router placed outside the control region says so; a global one says that)."""
    from lambdafail.model.kinds import router_kind

    kind = router_kind(str(router_cfg.get("kind")))
    where = ("" if kind.regional else " (a global API, served from us-east-1)") if not \
        router_cfg.get("region") else f" in {router_cfg['region']}"
    return kind.hint(router_cfg, side) + where


def _service_cfg(compiled: dict[str, Any], service: str) -> dict[str, Any]:
    services: dict[str, Any] = compiled["services"]
    if service not in services:
        known = ", ".join(sorted(services))
        raise UsageError(f"no service {service!r} in topology {compiled['topology']!r}",
                         hint=f"services: {known}")
    cfg: dict[str, Any] = services[service]
    return cfg


def _read_state(ctx: AwsContext, compiled: dict[str, Any], store: Any, service: str) -> Any:
    table = str(compiled["table"])
    with runtime_guard(ctx, compiled):
        st = store.get(service)
    if st is None:
        raise UsageError(f"{service} has no state item in {table}: it has not been deployed",
                         hint="run `lambdafail deploy` first (it seeds every service)")
    return st


# Asked once the switch is decided, before any write; raises to cancel.
Confirm = Callable[[str], None] | None


def failover(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
             force: bool = False, actor: str | None = None,
             confirm: Confirm = None, dry_run: bool = False) -> SwitchOutcome:
    """Switch `service` to its standby by hand (reason `manual`)."""
    svc = _service_cfg(compiled, service)
    store = store_for(ctx, compiled)
    st = _read_state(ctx, compiled, store, service)
    if st.phase != "switching" and st.active == "standby":
        return _verify_noop(ctx, svc, service, "failover", st, actor or "", note,
                            "already on the standby; nothing to do (to return to the primary: "
                            "`lambdafail rollback`)")
    return _manual_switch(ctx, compiled, svc, store, st, service, "standby", action="failover",
                          reason="manual", note=note, force=force, actor=actor, confirm=confirm,
                          dry_run=dry_run)


def abandon(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
            actor: str | None = None, confirm: Confirm = None) -> SwitchOutcome:
    """Give up `service`'s switch stuck half-way (`rollback --abandon`): its router is gone or
    keeps refusing, so neither finishing nor cancelling it through the router can work. The
    state goes back to the committed side and the log says the switch was abandoned; the
    router is not touched — the next step names where to check it by hand."""
    from lambdafail.runtime.transitions import abandon_pending

    if not note.strip():
        raise UsageError("rollback --abandon needs a reason", hint="add --reason \"why\"")
    svc = _service_cfg(compiled, service)
    store = store_for(ctx, compiled)
    st = _read_state(ctx, compiled, store, service)
    who = actor or ctx.caller_arn()
    pending = st.pending or {}
    if st.phase == "switching" and pending and confirm is not None:
        confirm(f"abandon the switch of {service} to {pending.get('to')} in account "
                f"{_account(who)}, region {ctx.region}, topology {compiled['topology']} "
                f"(its router is NOT touched; last error: {pending.get('last_error') or '-'})?")
    with runtime_guard(ctx, compiled):
        res = abandon_pending(store, service, st, actor=who, note=note,
                              now=utcnow().timestamp())
    side = str(pending.get("from") or st.active)
    out = SwitchOutcome(action="rollback", service=service, outcome=res.status,
                        from_=str(pending.get("to") or st.active), to=side, active=side,
                        phase="steady" if res.status == "abandoned" else st.phase,
                        transition_id=str(pending.get("id") or "") or None, actor=who,
                        reason=note, forced=False, verified=False, read_back=None,
                        message=res.message)
    if res.status == "abandoned":
        out.next_step = (f"check {router_hint(svc['router'], side)} by hand: lambdafail did "
                         "not touch it")
    return out


def rollback(ctx: AwsContext, compiled: dict[str, Any], service: str, *, note: str,
             force: bool = False, actor: str | None = None,
             confirm: Confirm = None, dry_run: bool = False) -> SwitchOutcome:
    """Fail `service` back to its primary by hand (reason `rollback`).

    On-call reads rollback as "back to the primary", so that is all it ever does: moving to
    the standby is only `failover`, whoever made the last transition. Already on the primary
    (and not mid-switch): it says so and the command exits 0. A switch stuck half-way towards
    the standby is cancelled; one stuck towards the primary is finished.
    """
    svc = _service_cfg(compiled, service)
    store = store_for(ctx, compiled)
    st = _read_state(ctx, compiled, store, service)
    if st.phase != "switching" and st.active == "primary":
        return _verify_noop(ctx, svc, service, "rollback", st, actor or "", note,
                            f"{service} is already on the primary; nothing to do (to move it "
                            "to the standby: `lambdafail failover`)")
    return _manual_switch(ctx, compiled, svc, store, st, service, "primary", action="rollback",
                          reason="rollback", note=note, force=force, actor=actor,
                          confirm=confirm, dry_run=dry_run)


def _account(arn: str) -> str:
    # arn:aws:sts::123456789012:assumed-role/OnCall/alice -> 123456789012
    parts = arn.split(":")
    return parts[4] if arn.startswith("arn:") and len(parts) > 4 and parts[4] else "?"


def _target(target: dict[str, Any]) -> str:
    if target.get("kind") == "lambda":
        return f"Lambda {target.get('function')}"
    return str(target.get("url") or target.get("function") or "?")


def _notifier(ctx: AwsContext, compiled: Mapping[str, Any], caller_arn: str) -> Any:
    """The orchestrator's notifier, from here: a manual switch is published like any other."""
    from lambdafail.runtime.notify import Notifier

    parts = caller_arn.split(":")
    return Notifier(compiled.get("sns_topic_arn"), lambda: ctx.client("sns"), _quiet_logger(),
                    events_client=lambda: ctx.client("events"),
                    context={"topology": str(compiled["topology"]), "region": ctx.region,
                             "account": parts[4] if len(parts) > 4 else ""})


def _quiet_logger() -> Any:
    # The runtime logs JSON lines to stdout (CloudWatch in Lambda); on the CLI stdout belongs
    # to the table or the JSON document, so its lines go to stderr only with --debug.
    import sys

    from lambdafail.base import settings
    from lambdafail.runtime.log import Logger

    if settings.current().debug:  # --debug or LAMBDAFAIL_DEBUG=1
        return Logger(sink=lambda line: print(line, file=sys.stderr))
    return Logger(sink=lambda line: None)


def _router(ctx: AwsContext, svc: dict[str, Any], st: Any, topology: str = "") -> Any:
    from lambdafail.runtime.routers import make_router, owner_tags

    # A switch that recreates what it routes tags it as the topology's (read-backs need none).
    return make_router(svc["router"], clients_for(ctx), confirmed=st.active,
                       tags=owner_tags(topology, str(st.service)) if topology else None)


def _step_env(ctx: AwsContext, svc: dict[str, Any], service: str, st: Any,
              to_side: str) -> Any:
    """Recovery steps run from the operator's machine as in the orchestrator: the target is
    probed from here; the CLI waits as long as the plan's steps may take."""
    import time

    from lambdafail.runtime.clock import time_scale
    from lambdafail.runtime.decisions import forced_failure
    from lambdafail.runtime.probes import probe_all
    from lambdafail.runtime.steps import StepEnv

    timeout = float(svc["health"]["timeout_seconds"])

    def probe() -> Any:
        lam = probe_lambda(ctx, timeout) if svc[to_side].get("kind") == "lambda" else None
        return (forced_failure(st, to_side, time.time())
                or probe_all({to_side: (svc[to_side], timeout)}, lambda_client=lam,
                             resolver=header_resolver(ctx))[to_side])

    def build(plan: str, transition_id: str) -> StepEnv:
        budget = sum(float(s["timeout_seconds"]) * (1 + int(s["retries"]))
                     for s in svc["recovery"][plan])
        return StepEnv(service=service, transition_id=transition_id, plan=plan,
                       clients=clients_for(ctx), probe=probe, clock=time.time,
                       sleep=time.sleep, deadline=time.time() + budget + 5,
                       time_scale=time_scale())

    return build


def _read_back(router: Any) -> tuple[str | None, str]:
    try:
        return router.read_back(), ""
    except Exception as e:
        return None, str(e)


def _verify_noop(ctx: AwsContext, svc: dict[str, Any], service: str, action: str, st: Any,
                 actor: str, note: str, message: str) -> SwitchOutcome:
    seen, err = _read_back(_router(ctx, svc, st))
    verified = seen == st.active
    out = SwitchOutcome(action=action, service=service, outcome="noop", from_=st.active,
                        to=st.active, active=st.active, phase=st.phase, transition_id=None,
                        actor=actor, reason=note, forced=False, verified=verified,
                        read_back=seen, message=message)
    if not verified:
        out.message += (f"; but the router's read-back says {seen or 'neither side'}"
                        + (f" ({err})" if err else "")
                        + f": check {router_hint(svc['router'], st.active)}")
    return out


def _manual_switch(ctx: AwsContext, compiled: dict[str, Any], svc: dict[str, Any], store: Any,
                   st: Any, service: str, to_side: str, *, action: str, reason: str,
                   note: str, force: bool, actor: str | None,
                   confirm: Confirm, dry_run: bool = False) -> SwitchOutcome:
    from lambdafail.runtime.decisions import forced_failure, record_probe
    from lambdafail.runtime.probes import probe_all
    from lambdafail.runtime.recovery import cold_standby
    from lambdafail.runtime.transitions import request_switch

    if not note.strip():
        raise UsageError(f"{action} needs a reason", hint="add --reason \"why you are doing "
                         "this\" (it is recorded in the transition log)")
    who = actor or ctx.caller_arn()
    now = utcnow().timestamp()
    evidence: dict[str, Any] = {"note": note, "operator": who, "via": "lambdafail CLI"}
    if not force and st.active != to_side and not cold_standby(svc, to_side):
        # "Healthy now": a drill's fault flag wins; otherwise probe the target from here.
        # (A cold standby is judged by its recovery plan's `wait` step instead.)
        result = forced_failure(st, to_side, now)
        if result is None:
            timeout = float(svc["health"]["timeout_seconds"])
            lam = (probe_lambda(ctx, timeout) if svc[to_side].get("kind") == "lambda"
                   else None)
            # probe_all bounds the probe in wall time, even a Lambda invoke that hangs.
            result = probe_all({to_side: (svc[to_side], timeout)}, lambda_client=lam,
                               resolver=header_resolver(ctx))[to_side]
        evidence["probe"] = result.to_dict()
        record_probe(st, to_side, result, now)
        if not result.ok:
            return SwitchOutcome(
                action=action, service=service, outcome="refused", from_=st.active, to=to_side,
                active=st.active, phase=st.phase, transition_id=None, actor=who, reason=note,
                forced=False, verified=False, read_back=None,
                message=f"refused: the {to_side} is not healthy now ({result.detail}); "
                        f"{service} stays on {st.active}",
                next_step="fix the target, or re-run with --force to switch anyway (recorded)")
    where = (f"account {_account(who)}, region {ctx.region}, topology "
             f"{compiled['topology']}: switch {service} from {st.active} to {to_side} "
             f"({_target(svc[to_side])})")
    if dry_run:
        checked = "" if force else f"; the {to_side} is healthy now"
        return SwitchOutcome(
            action=action, service=service, outcome="dry_run", from_=st.active, to=to_side,
            active=st.active, phase=st.phase, transition_id=None, actor=who, reason=note,
            forced=force, verified=False, read_back=None,
            message=f"dry run: {action} would, in {where}, with reason {reason}{checked}; "
                    "nothing was written",
            next_step=f"run it again without --dry-run to {action}")
    if confirm is not None:
        confirm(f"{action} in {where}"
                + (" WITHOUT checking its health (--force)" if force else "") + "?")
    router = _router(ctx, svc, st, str(compiled["topology"]))
    with runtime_guard(ctx, compiled):
        res = request_switch(store, router, svc, service, to_side, reason=reason, actor=who,
                             evidence=evidence, force=force, automatic=False,
                             state=st, logger=_quiet_logger(),
                             notify=_notifier(ctx, compiled, who),
                             step_env=_step_env(ctx, svc, service, st, to_side))
        final = res.state if res.state is not None else store.get(service)
    active = final.active if final else None
    phase = final.phase if final else None
    tid = None
    if res.transition:
        tid = str(res.transition.get("transition_id") or res.transition.get("id") or "") or None
    out = SwitchOutcome(action=action, service=service, outcome=res.status, from_=st.active,
                        to=to_side, active=active, phase=phase, transition_id=tid, actor=who,
                        reason=note, forced=force, verified=False, read_back=None,
                        message=res.message)
    if res.status in ("switched", "noop"):
        seen, err = _read_back(router)
        out.read_back = seen
        out.verified = seen == to_side
        if res.status == "noop":
            out.message = (f"nothing to do: {service} is already on {to_side} (another operator "
                           "or the orchestrator got there first)")
        if not out.verified:
            out.message += (f"; but the router's read-back now says {seen or 'neither side'}"
                            + (f" ({err})" if err else ""))
            out.next_step = f"check {router_hint(svc['router'], to_side)}"
    elif res.status == "router_failed":
        seen, _ = _read_back(router)
        out.read_back = seen
        was = st.active
        out.message = (f"router failed midway: state is `switching` to {to_side}; traffic may "
                       f"still point at {was} (read-back: {seen or 'unknown'}). {res.message}")
        out.next_step = f"check {router_hint(svc['router'], to_side)}"
    elif res.status == "lost_race":
        out.message = f"lost a race: {res.message}"
        out.next_step = "run `lambdafail status` to see who won and where traffic points"
    elif res.status == "refused":
        out.next_step = "re-run with --force to switch anyway (recorded)"
    elif res.status == "blocked":
        # A recovery step gave up: the router never moved.
        out.next_step = (f"fix what the failed step needs (`lambdafail status`), then run "
                         f"{action} again: it runs the recovery plan from its first step")
    elif res.status == "recovering":
        out.next_step = ("the recovery steps are still under way: the orchestrator's next tick "
                         "resumes them (`lambdafail status`)")
    return out

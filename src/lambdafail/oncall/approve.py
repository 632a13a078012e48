"""`approve`: record on-call's decision for a recovery plan waiting at an `approval` step.

Rules: no click, no rich. The decision is written once into the pending switch it answers
(`StateStore.record_decision`: conditional on that switch's id and on no decision yet), so it
cannot approve a later switch nor be given twice; the orchestrator's approval step reads it and
the plan goes on (approve) or fails, blocking the service (deny). Each decision is an `approval`
entry of the log (history --kind approval) and is published like the transitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdafail.base.errors import ConflictError, UsageError
from lambdafail.oncall.common import iso, runtime_guard, store_for, utcnow
from lambdafail.oncall.model import ApprovalOutcome

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def approve(ctx: AwsContext, compiled: dict[str, Any], service: str, *, reason: str,
            deny: bool = False, actor: str | None = None) -> ApprovalOutcome:
    """Approve (or deny) the approval step `service`'s pending switch waits at."""
    from lambdafail.runtime.state import StateConflict
    from lambdafail.runtime.steps.approval import APPROVE, DENY, decision_key, waiting_step

    if not reason.strip():
        raise UsageError("approve needs a reason", hint='add --reason "why" (history shows it)')
    if service not in compiled["services"]:
        raise UsageError(f"no service {service!r} in topology {compiled['topology']!r}",
                         hint=f"services: {', '.join(sorted(compiled['services']))}")
    who = actor or ctx.caller_arn()
    store = store_for(ctx, compiled)
    decision = DENY if deny else APPROVE
    with runtime_guard(ctx, compiled):
        st = store.get(service)
        pending = st.pending if st is not None and st.phase == "switching" else None
        index = waiting_step(pending)
        if pending is None or index is None:
            raise UsageError(f"{service} is not waiting for an approval{_where(pending)}",
                             hint="`lambdafail status` says when a switch waits for one")
        progress = pending["recovery"]
        now = utcnow()
        record = {"decision": decision, "actor": who, "reason": reason, "at": iso(now)}
        try:
            store.record_decision(service, str(pending["id"]), decision_key(index), record)
        except StateConflict:
            raise ConflictError(f"{service}: the switch {pending['id']} was decided, completed "
                                "or cancelled meanwhile; nothing recorded",
                                hint="run `lambdafail status` and decide again if it still "
                                "waits") from None
        detail = {"decision": decision, "transition_id": pending["id"], "to": pending["to"],
                  "plan": progress.get("plan"), "step": index + 1,
                  "of": len(progress.get("steps") or [])}
        store.record("approval", actor=who, now=now.timestamp(), service=service,
                     reason=reason, detail=detail)
    _publish(ctx, compiled, who, service, record, detail)
    verb = "denied" if deny else "approved"
    then = ("the plan fails and the service stays blocked on "
            f"{pending['from']}" if deny else "the plan goes on at its next check")
    return ApprovalOutcome(service, decision, str(pending["id"]), index + 1, reason, who,
                           f"{service}: {progress.get('plan')} step {index + 1} {verb}; {then}")


def _where(pending: dict[str, Any] | None) -> str:
    if pending is None:
        return " (no switch is under way)"
    progress = pending.get("recovery") or {}
    n = int(progress.get("step") or 0)
    steps = progress.get("steps") or []
    if 1 <= n <= len(steps):
        return f" (the switch to {pending['to']} is at step {n}/{len(steps)}: {steps[n - 1]['kind']})"
    return f" (the switch to {pending['to']} has no approval step under way)"


def _publish(ctx: AwsContext, compiled: dict[str, Any], who: str, service: str,
             record: dict[str, Any], detail: dict[str, Any]) -> None:
    from lambdafail.oncall.switch import _notifier

    notifier = _notifier(ctx, compiled, who)
    verb = "denied" if record["decision"] == "deny" else "approved"
    notifier.publish(f"lambdafail {compiled['topology']}/{service} [{ctx.region}]: switch to "
                     f"{detail['to']} {verb} by {who.split('/')[-1]}",
                     {"event": "approval", "service": service, **record, **detail,
                      "topology": compiled["topology"], "region": ctx.region})

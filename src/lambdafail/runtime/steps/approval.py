"""Runtime step `approval`: wait until on-call approves (or denies) the switch, or a timeout.

Rule: stdlib + boto3 only; the model and compile of this kind are in
`lambdafail/model/kinds/steps/approval.py`. The decision is not ours to make: `lambdafail
approve` writes it once into the pending switch (`pending.approval_<step>`, conditional on that
switch's id), and this step reads it back through `env.read_pending`. So a decision belongs to one
switch and one step: it leaves with the pending switch (commit or abandon), and a later switch
must be approved again. In the orchestrator the step checks once per probe round and lets the
round go on (OutOfTime: the lease is freed, the next round checks again), so one service
waiting for a human never holds up the others' probes; `lambdafail failover` polls every
`every_seconds`. The timeout counts real seconds from the step's first start.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.clock import iso, parse_iso
from lambdafail.runtime.steps.base import OutOfTime, StepEnv, StepFailed, first_started

APPROVE, DENY = "approve", "deny"


def decision_key(index: int) -> str:
    """The attribute of the pending switch that holds step `index`'s (0-based) decision."""
    return f"approval_{index + 1}"


def approve_command(service: str) -> str:
    return f'lambdafail approve {service} --reason "TEXT"  # or --deny'


class ApprovalStepRunner:
    kind = "approval"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return float(cfg["every_seconds"])

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        every = float(cfg["every_seconds"]) / max(env.time_scale, 1e-9)
        timeout = float(cfg["timeout_seconds"])
        started = first_started(progress, env.clock())
        until = started + timeout  # real seconds, like cooldowns and wait timeouts
        if not progress.get("asked_at"):
            # Said once per step (kept in the progress, which the keepalive writes).
            progress["asked_at"] = iso(env.clock())
            progress["waiting_until"] = iso(until)
            env.notify(f"lambdafail: {env.service}: {env.plan} waits for approval",
                       {"event": "approval_needed", "service": env.service, "plan": env.plan,
                        "transition_id": env.transition_id, "step": index + 1,
                        "message": cfg.get("message", ""), "until": iso(until),
                        "on_timeout": cfg["on_timeout"],
                        "next_command": approve_command(env.service)})
        while True:
            found = env.read_pending().get(decision_key(index))
            if found is not None:
                waited = round(max(0.0, parse_iso(str(found["at"])) - started), 3)
                out = {"decision": str(found["decision"]), "actor": str(found["actor"]),
                       "reason": str(found["reason"]), "at": str(found["at"]),
                       "waited_s": waited}
                if found["decision"] == DENY:
                    raise StepFailed(f"denied by {found['actor']}: {found['reason']}")
                return out
            now = env.clock()
            if now >= until:
                if cfg["on_timeout"] == "proceed":
                    return {"decision": "timeout", "proceeded": True,
                            "waited_s": round(now - started, 3)}
                raise StepFailed(f"no approval within {timeout:g} s (on_timeout: fail); run "
                                 f"`lambdafail failover {env.service}` to try again")
            if not env.poll_people:
                # The orchestrator: checked once a round, the round goes on meanwhile.
                raise OutOfTime("waiting for approval; the next round checks again")
            if now + min(every, until - now) > env.deadline:
                raise OutOfTime("waiting for approval; the next tick checks again")
            env.keepalive(every)
            env.sleep(max(0.0, min(every, until - now)))


def waiting_step(pending: dict[str, Any] | None) -> int | None:
    """The 0-based index of the approval step this pending switch waits at (started, not
    finished, no decision recorded yet), or None."""
    progress = (pending or {}).get("recovery") or {}
    n = int(progress.get("step") or 0)
    steps = progress.get("steps") or []
    if not 1 <= n <= len(steps):
        return None
    step = steps[n - 1]
    if step.get("kind") != "approval" or step.get("status") not in ("running", "retrying"):
        return None
    return None if decision_key(n - 1) in (pending or {}) else n - 1

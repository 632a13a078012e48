"""Recovery plans: the steps a switch runs (failover: before the router moves; failback: after).

Rules: the progress of a plan lives in the pending switch of the service's state item
(`pending.recovery`: step i of n, each step's status, attempts, start, end, output, error),
written with conditional writes under the switch's lease before and after every step — so a
killed invocation is resumed by the next tick at the first unfinished step, and a finished step
never runs again. The sequencing decisions (`next_step`, `begin`, `finish`, `fail`) are pure;
`run_plan` does the I/O. stdlib + boto3 only.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.clock import iso, parse_iso
from lambdafail.runtime.log import Logger
from lambdafail.runtime.state import StateConflict, StateStore
from lambdafail.runtime.steps import STEPS, OutOfTime, StepEnv, step_runner

#: `blocked` starts with this after a failed failover plan; automatic failovers stay blocked
#: until the primary recovers or an operator fails over by hand (which runs the plan again).
RECOVERY_FAILED = "recovery failed"
# Step statuses: todo → running → done | retrying (→ running) | failed.
DONE, FAILED, RUNNING, RETRYING, TODO = "done", "failed", "running", "retrying", "todo"


# --- pure decisions ----------------------------------------------------------------------------

def plan_name(pending: dict[str, Any]) -> str | None:
    """Which plan a switch runs: `failover` to the standby, `failback` back to the primary,
    none for a cancelled switch (from == to)."""
    if pending["from"] == pending["to"]:
        return None
    return "failover" if pending["to"] == "standby" else "failback"


def plan_steps(service_cfg: dict[str, Any], pending: dict[str, Any]) -> list[dict[str, Any]]:
    name = plan_name(pending)
    return list(service_cfg["recovery"][name]) if name else []


def cold_standby(service_cfg: dict[str, Any], to_side: str) -> bool:
    """A standby judged by its failover plan (a `wait` step) rather than by the last probe:
    it may well be down until the plan starts it, so its health does not gate the failover."""
    return to_side == "standby" and any(
        STEPS[s["kind"]].judges_standby for s in service_cfg["recovery"]["failover"]
        if s["kind"] in STEPS)


def new_progress(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"plan": name, "steps": [{"kind": s["kind"], "status": TODO, "attempts": 0}
                                    for s in steps]}


def next_step(progress: dict[str, Any]) -> tuple[str, int]:
    """("run", i): run step i (first time, again after a failed attempt, or resumed after a
    crash); ("done", n) every step finished; ("failed", i) step i gave up."""
    for i, step in enumerate(progress["steps"]):
        if step["status"] == DONE:
            continue
        if step["status"] == FAILED:
            return FAILED, i
        return "run", i
    return DONE, len(progress["steps"])


def begin(progress: dict[str, Any], i: int, now: float) -> None:
    """Mark step i started. A step found `running` was interrupted (the invocation died): it is
    the same attempt, resumed — counted in `resumed`, not in `attempts`."""
    step = progress["steps"][i]
    if step["status"] == RUNNING:
        step["resumed"] = int(step.get("resumed") or 0) + 1
    else:
        step["attempts"] = int(step.get("attempts") or 0) + 1
        step["attempt_started_at"] = iso(now)
    step.setdefault("started_at", iso(now))
    step["status"] = RUNNING
    progress["step"] = i + 1


def finish(progress: dict[str, Any], i: int, output: dict[str, Any], now: float) -> None:
    step = progress["steps"][i]
    step["status"] = DONE
    step["finished_at"] = iso(now)
    step["duration_s"] = round(now - parse_iso(str(step["started_at"])), 3)
    step["output"] = output
    step.pop("error", None)


def fail(progress: dict[str, Any], i: int, error: str, cfg: dict[str, Any], now: float) -> bool:
    """Record a failed attempt of step i; True when it has no retry left (the plan failed)."""
    step = progress["steps"][i]
    step["error"] = error[:1000]
    if int(step["attempts"]) > int(cfg["retries"]):
        step["status"] = FAILED
        step["finished_at"] = iso(now)
        step["duration_s"] = round(now - parse_iso(str(step["started_at"])), 3)
        return True
    step["status"] = RETRYING
    return False


def failure_text(progress: dict[str, Any]) -> str:
    """`blocked` for a failed plan: which step, and why."""
    _, i = next_step(progress)
    steps = progress["steps"]
    step = steps[min(i, len(steps) - 1)]
    return (f"{RECOVERY_FAILED}: {progress['plan']} step {i + 1}/{len(steps)} ({step['kind']}) "
            f"failed after {step.get('attempts', 0)} attempt(s): {step.get('error', '')}")


# --- running a plan ----------------------------------------------------------------------------

def run_plan(store: StateStore, service: str, pending: dict[str, Any],
             steps: list[dict[str, Any]], env: StepEnv, *, lease_seconds: float,
             logger: Logger) -> str:
    """Run the plan's unfinished steps in order, under the pending switch's lease (extended to
    cover each step). Mutates `pending` (its `recovery` and `lease_until`). Returns `done`,
    `failed` (a step gave up), `later` (the invocation ran out of time: lease released, the next
    tick resumes) or `lost` (someone else holds the switch now)."""
    name = plan_name(pending) or ""
    progress = pending.setdefault("recovery", new_progress(name, steps))
    pid = str(pending["id"])

    def write(lease: float) -> bool:
        try:
            store.save_progress(service, pid, progress, lease, float(pending["lease_until"]))
        except StateConflict:
            logger.warning("recovery plan taken over by another actor; stopping",
                           service=service, transition_id=pid)
            return False
        pending["lease_until"] = lease
        return True

    def read_pending() -> dict[str, Any]:
        st = store.get(service)
        if st is None or st.pending is None or str(st.pending.get("id")) != pid:
            raise StateConflict(f"{service}: the pending switch {pid} is gone")
        return dict(st.pending)

    while True:
        action, i = next_step(progress)
        if action != "run":
            return action
        cfg = steps[i]
        now = env.clock()
        runner = step_runner(cfg)
        begin(progress, i, now)
        if not write(now + runner.holds(cfg) + lease_seconds):
            return "lost"

        def keepalive(seconds: float) -> None:
            # Renew the lease while the step waits (raises StateConflict if taken over).
            lease = env.clock() + seconds + lease_seconds
            store.save_progress(service, pid, progress, lease, float(pending["lease_until"]))
            pending["lease_until"] = lease

        env.keepalive = keepalive
        env.read_pending = read_pending
        if progress["steps"][i].get("note") is None:
            # Not for each round that finds a step still waiting (an approval): changes only.
            logger.info("recovery step started", service=service, transition_id=pid,
                        plan=name, step=i + 1, of=len(steps), kind=cfg["kind"],
                        attempt=progress["steps"][i]["attempts"])
        try:
            output = runner.run(cfg, env, progress["steps"][i], i)
        except StateConflict:
            logger.warning("recovery plan taken over by another actor; stopping",
                           service=service, transition_id=pid)
            return "lost"
        except OutOfTime as e:
            progress["steps"][i]["note"] = str(e)[:500]
            # Free the lease at once: the next tick resumes this step.
            return "later" if write(0.0) else "lost"
        except Exception as e:
            now = env.clock()
            gave_up = fail(progress, i, str(e) or type(e).__name__, cfg, now)
            logger.error("recovery step failed", service=service, transition_id=pid,
                         plan=name, step=i + 1, kind=cfg["kind"], error=str(e)[:500],
                         gave_up=gave_up)
            if not write(float(pending["lease_until"])):
                return "lost"
            continue
        finish(progress, i, output, env.clock())
        if not write(float(pending["lease_until"])):
            return "lost"
        logger.info("recovery step finished", service=service, transition_id=pid, plan=name,
                    step=i + 1, of=len(steps), kind=cfg["kind"],
                    duration_s=progress["steps"][i]["duration_s"])

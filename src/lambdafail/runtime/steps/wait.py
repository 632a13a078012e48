"""Runtime step `wait`: probe the standby until it is healthy N times in a row, or time out.

Rule: stdlib + boto3 only; the model and compile of this kind are in
`lambdafail/model/kinds/steps/wait.py`. The standby is judged by real probes (the same prober
as the ticks), never assumed; the streak is kept in memory, so a resumed wait starts a new
streak (it can only be stricter), while its timeout counts from the step's first start.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.base import OutOfTime, StepEnv, StepFailed, first_started


class WaitStepRunner:
    kind = "wait"
    judges_standby = True

    def holds(self, cfg: dict[str, Any]) -> float:
        return float(cfg["every_seconds"])

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        need = int(cfg["healthy"])
        every = float(cfg["every_seconds"]) / max(env.time_scale, 1e-9)
        # The timeout counts real seconds (like cooldowns) from the step's first start.
        until = first_started(progress, env.clock()) + float(cfg["timeout_seconds"])
        streak = probes = 0
        last = ""
        while True:
            result = env.probe()
            probes += 1
            last = result.detail
            streak = streak + 1 if result.ok else 0
            if streak >= need:
                return {"healthy_probes": streak, "probes": probes, "detail": last[:200]}
            now = env.clock()
            if now + every > until:
                raise StepFailed(f"the standby was not healthy {need} time(s) in a row within "
                                 f"{float(cfg['timeout_seconds']):g} s ({probes} probes this "
                                 f"run; last: {last[:200]})")
            if now + every > env.deadline:
                raise OutOfTime(f"{streak}/{need} healthy probes; resumed by the next tick")
            env.keepalive(every)
            env.sleep(every)

"""Runtime step `autoscaling`: UpdateAutoScalingGroup, then wait until `desired` are InService.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/steps/autoscaling.py`. Setting sizes is idempotent, so a resumed step
sets them again. Done when exactly `desired` instances are InService and none is on its way
in or out (`Pending*`, `Terminating*`): AWS launches an instance over a minute or more, and
a scale-in is done only once its instances are gone. The sandbox's moto reports launched
instances InService at once (docs/sandbox.md).
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.base import StepEnv, StepFailed
from lambdafail.runtime.steps.polling import call, holds, poll

_MOVING = ("Pending", "Terminating", "Detaching", "EnteringStandby")


class AutoScalingStepRunner:
    kind = "autoscaling"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return holds(cfg)

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        asg = env.clients.get("autoscaling")
        group, want = str(cfg["group"]), int(cfg["desired"])
        where = f"auto scaling group {group}"
        sizes: dict[str, Any] = {"MinSize": int(cfg["min"]), "DesiredCapacity": want}
        if cfg.get("max") is not None:
            sizes["MaxSize"] = int(cfg["max"])
        call(where, "UpdateAutoScalingGroup",
             lambda: asg.update_auto_scaling_group(AutoScalingGroupName=group, **sizes))

        def check() -> tuple[dict[str, Any] | None, str]:
            resp = call(where, "DescribeAutoScalingGroups", lambda: asg.describe_auto_scaling_groups(
                AutoScalingGroupNames=[group]))
            found = resp.get("AutoScalingGroups") or []
            if not found:
                raise StepFailed(f"{where}: not found")
            states = [str(i.get("LifecycleState", "")) for i in found[0].get("Instances") or []]
            in_service = states.count("InService")
            moving = sum(1 for s in states if s.startswith(_MOVING))
            if in_service == want and moving == 0:
                return {"desired": want, "in_service": in_service}, ""
            return None, f"{in_service} of {want} instances InService ({moving} on the way)"

        return poll(cfg, env, progress, where, check)

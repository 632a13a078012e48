"""Runtime step `ec2`: Start/StopInstances, then DescribeInstances until all are in the state.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/steps/ec2.py`. Starting a running instance (stopping a stopped one)
is harmless, so a resumed step asks again. An instance still on its way the other way (a
`stopping` instance cannot be started yet: IncorrectInstanceState) is asked again at every
check until it settles; a terminated one fails the step. AWS passes through `pending` for
tens of seconds; moto reports `running` at once (docs/sandbox.md).
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.base import StepEnv, StepFailed
from lambdafail.runtime.steps.polling import call, error_code, holds, poll

# The settled state from which an instance must be asked again to reach `want`.
_OTHER = {"running": "stopped", "stopped": "running"}
_GONE = ("shutting-down", "terminated")


class Ec2StepRunner:
    kind = "ec2"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return holds(cfg)

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        ec2 = env.clients.get("ec2")
        ids, want = [str(i) for i in cfg["instances"]], str(cfg["state"])
        where = f"ec2 {', '.join(ids)}"
        operation = "StartInstances" if want == "running" else "StopInstances"

        def ask(which: list[str]) -> None:
            try:
                if want == "running":
                    ec2.start_instances(InstanceIds=which)
                else:
                    ec2.stop_instances(InstanceIds=which)
            except Exception as e:
                # Still stopping (or pending): asked again once it settles.
                if error_code(e) != "IncorrectInstanceState":
                    raise StepFailed(f"{where}: {operation}: {error_code(e)}: {e}") from e

        ask(ids)

        def check() -> tuple[dict[str, Any] | None, str]:
            resp = call(where, "DescribeInstances",
                        lambda: ec2.describe_instances(InstanceIds=ids))
            states = {str(i["InstanceId"]): str(i.get("State", {}).get("Name", ""))
                      for r in resp.get("Reservations") or [] for i in r.get("Instances") or []}
            missing = [i for i in ids if i not in states]
            gone = [i for i in ids if states.get(i) in _GONE]
            if missing or gone:
                raise StepFailed(f"{where}: {', '.join(missing + gone)} "
                                 f"{'not found' if missing else 'terminated'}")
            if all(states[i] == want for i in ids):
                return {"state": want, "instances": len(ids)}, ""
            again = [i for i in ids if states[i] == _OTHER[want]]
            if again:
                ask(again)
            waiting = ", ".join(f"{i} {states[i]}" for i in ids if states[i] != want)
            return None, f"not yet {want}: {waiting}"

        return poll(cfg, env, progress, where, check)

"""Runtime step `aurora`: switch over (or fail over) a global database, wait for the writer.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/steps/aurora.py`. Recognises what is already done: a target that is
the writer with no switch under way is done without a request; a switch already under way to
the target is waited for, not asked again (AWS refuses a second one:
InvalidGlobalClusterStateFault); one under way to another cluster fails the step. Done when
the target is the writer and the global cluster's FailoverState is gone.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.base import StepEnv, StepFailed
from lambdafail.runtime.steps.polling import call, holds, poll


class AuroraStepRunner:
    kind = "aurora"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return holds(cfg)

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        rds = env.clients.get("rds")
        ident, target = str(cfg["global_cluster"]), str(cfg["target"])
        where = f"aurora global cluster {ident}"

        def read() -> tuple[bool, dict[str, Any] | None]:
            resp = call(where, "DescribeGlobalClusters",
                        lambda: rds.describe_global_clusters(GlobalClusterIdentifier=ident))
            found = [g for g in resp.get("GlobalClusters") or []
                     if str(g.get("GlobalClusterIdentifier", "")).lower() == ident.lower()]
            if not found:
                raise StepFailed(f"{where}: not found")
            members = {str(m.get("DBClusterArn")): bool(m.get("IsWriter"))
                       for m in found[0].get("GlobalClusterMembers") or []}
            if target not in members:
                raise StepFailed(f"{where}: {target} is not a member "
                                 f"({', '.join(sorted(members)) or 'no members'})")
            state = found[0].get("FailoverState") or None
            return members[target], state

        writer, state = read()
        if state and str(state.get("ToDbClusterArn")) != target:
            raise StepFailed(f"{where}: a {state.get('Status')} switch to "
                             f"{state.get('ToDbClusterArn')} is under way")
        if not writer and not state:
            if cfg["mode"] == "switchover":
                call(where, "SwitchoverGlobalCluster", lambda: rds.switchover_global_cluster(
                    GlobalClusterIdentifier=ident, TargetDbClusterIdentifier=target))
            else:
                call(where, "FailoverGlobalCluster", lambda: rds.failover_global_cluster(
                    GlobalClusterIdentifier=ident, TargetDbClusterIdentifier=target,
                    AllowDataLoss=True))

        def check() -> tuple[dict[str, Any] | None, str]:
            writer, state = read()
            if writer and not state:
                return {"writer": target, "mode": str(cfg["mode"])}, ""
            if state and str(state.get("ToDbClusterArn")) != target:
                raise StepFailed(f"{where}: the switch now goes to "
                                 f"{state.get('ToDbClusterArn')}")
            return None, (f"{target} not yet the writer (failover state "
                          f"{(state or {}).get('Status', 'none')})")

        return poll(cfg, env, progress, where, check)

"""Runtime step `ecs`: UpdateService(desiredCount), then DescribeServices until that many run.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/steps/ecs.py`. Setting a desired count is idempotent, so a resumed
step sets it again; done when the service's runningCount is the desired count and nothing is
pending (AWS starts tasks over seconds to minutes; moto reports them running at once).
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.base import OutOfTime, StepEnv, StepFailed, first_started

CALL_SECONDS = 15.0  # one UpdateService / DescribeServices call, within the lease


def _code(e: Exception) -> str:
    return str((getattr(e, "response", None) or {}).get("Error", {}).get("Code", "")) \
        or type(e).__name__


class EcsStepRunner:
    kind = "ecs"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return float(cfg["every_seconds"]) + CALL_SECONDS

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        ecs = env.clients.get("ecs")
        cluster, service, want = str(cfg["cluster"]), str(cfg["service"]), int(cfg["desired"])
        where = f"ecs service {cluster}/{service}"
        try:
            ecs.update_service(cluster=cluster, service=service, desiredCount=want)
        except Exception as e:
            raise StepFailed(f"{where}: UpdateService: {_code(e)}: {e}") from e
        every = float(cfg["every_seconds"]) / max(env.time_scale, 1e-9)
        until = first_started(progress, env.clock()) + float(cfg["timeout_seconds"])
        while True:
            try:
                resp = ecs.describe_services(cluster=cluster, services=[service])
            except Exception as e:
                raise StepFailed(f"{where}: DescribeServices: {_code(e)}: {e}") from e
            found = resp.get("services") or []
            if not found:
                why = (resp.get("failures") or [{}])[0].get("reason", "not found")
                raise StepFailed(f"{where}: {why}")
            svc = found[0]
            running, pending = int(svc.get("runningCount", 0)), int(svc.get("pendingCount", 0))
            if running == want and pending == 0:
                return {"desired": want, "running": running}
            now = env.clock()
            if now + every > until:
                raise StepFailed(f"{where}: {running} of {want} tasks running ({pending} "
                                 f"pending) after {float(cfg['timeout_seconds']):g} s")
            if now + every > env.deadline:
                raise OutOfTime(f"{running}/{want} running; resumed by the next tick")
            env.keepalive(every + CALL_SECONDS)
            env.sleep(every)

    def check(self, cfgs: list[dict[str, Any]], clients: Any) -> list[str | None]:
        """Readiness (status, for a cold standby): per step, why its service could not be
        scaled (missing, not ACTIVE) or None — one DescribeServices per cluster and 10
        services (the API's limit)."""
        ecs = clients.get("ecs")
        by_cluster: dict[str, set[str]] = {}
        for c in cfgs:
            by_cluster.setdefault(str(c["cluster"]), set()).add(str(c["service"]))
        problems: dict[tuple[str, str], str | None] = {}
        for cluster, names in sorted(by_cluster.items()):
            ordered = sorted(names)
            for i in range(0, len(ordered), 10):
                chunk = ordered[i:i + 10]
                try:
                    resp = ecs.describe_services(cluster=cluster, services=chunk)
                except Exception as e:
                    why = ("not found" if _code(e) == "ClusterNotFoundException"
                           else f"DescribeServices: {_code(e)}")
                    problems.update({(cluster, n): f"ecs cluster {cluster} {why}"
                                     for n in chunk})
                    continue
                seen = {str(s.get("serviceName")): str(s.get("status"))
                        for s in resp.get("services") or []}
                for name in chunk:
                    status = seen.get(name)
                    problems[(cluster, name)] = (
                        f"ecs service {cluster}/{name} not found" if status is None
                        else None if status == "ACTIVE"
                        else f"ecs service {cluster}/{name} is {status}")
        return [problems[(str(c["cluster"]), str(c["service"]))] for c in cfgs]

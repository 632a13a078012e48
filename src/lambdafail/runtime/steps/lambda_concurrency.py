"""Runtime step `lambda_concurrency`: PutProvisionedConcurrencyConfig, then wait for READY.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/steps/lambda_concurrency.py`. Idempotent: a configuration already
asking for the amount (IN_PROGRESS or READY) is not put again (AWS answers
ResourceConflictException to a put while one is in progress); AWS allocates over a minute or
more (IN_PROGRESS), FAILED fails the step with AWS's StatusReason. `concurrency: 0` deletes the
configuration; one already absent is done.
"""

from __future__ import annotations

from typing import Any

from lambdafail.runtime.steps.base import StepEnv, StepFailed
from lambdafail.runtime.steps.polling import call, error_code, holds, poll

NOT_FOUND = "ProvisionedConcurrencyConfigNotFoundException"


class LambdaConcurrencyStepRunner:
    kind = "lambda_concurrency"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return holds(cfg)

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        lam = env.clients.get("lambda")
        fn, qualifier, want = str(cfg["function"]), str(cfg["qualifier"]), int(cfg["concurrency"])
        where = f"lambda {fn}:{qualifier}"

        def current() -> dict[str, Any] | None:
            try:
                got: dict[str, Any] = lam.get_provisioned_concurrency_config(
                    FunctionName=fn, Qualifier=qualifier)
                return got
            except Exception as e:
                if error_code(e) == NOT_FOUND:
                    return None
                raise StepFailed(f"{where}: GetProvisionedConcurrencyConfig: "
                                 f"{error_code(e)}: {e}") from e

        if want == 0:
            try:
                lam.delete_provisioned_concurrency_config(FunctionName=fn, Qualifier=qualifier)
            except Exception as e:
                if error_code(e) != NOT_FOUND:
                    raise StepFailed(f"{where}: DeleteProvisionedConcurrencyConfig: "
                                     f"{error_code(e)}: {e}") from e

            def removed() -> tuple[dict[str, Any] | None, str]:
                got = current()
                return ({"concurrency": 0}, "") if got is None else (
                    None, f"configuration still {got.get('Status')}")

            return poll(cfg, env, progress, where, removed)

        got = current()
        if not (got and int(got.get("RequestedProvisionedConcurrentExecutions") or 0) == want
                and got.get("Status") in ("IN_PROGRESS", "READY")):
            call(where, "PutProvisionedConcurrencyConfig",
                 lambda: lam.put_provisioned_concurrency_config(
                     FunctionName=fn, Qualifier=qualifier,
                     ProvisionedConcurrentExecutions=want))

        def ready() -> tuple[dict[str, Any] | None, str]:
            got = current()
            if got is None:
                raise StepFailed(f"{where}: the configuration is gone")
            status = str(got.get("Status"))
            allocated = int(got.get("AllocatedProvisionedConcurrentExecutions") or 0)
            if status == "FAILED":
                raise StepFailed(f"{where}: FAILED: {got.get('StatusReason') or 'no reason'}")
            if status == "READY" and allocated >= want:
                return {"concurrency": want, "allocated": allocated}, ""
            return None, f"{status}, {allocated} of {want} allocated"

        return poll(cfg, env, progress, where, ready)

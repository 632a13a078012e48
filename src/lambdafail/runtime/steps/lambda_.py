"""Runtime step `lambda`: invoke the user's function with its payload and an idempotency key.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/steps/lambda_.py`. The invoke is synchronous, on a client that never
retries behind our back (a retry is the plan's, recorded as an attempt). A killed invocation's
step is invoked again with the SAME key (`<transition id>-<step index>`): the function decides
whether that key has been served (the payload also says which attempt this is).
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.runtime.steps.base import StepEnv, StepFailed

OUTPUT_LIMIT = 2000  # characters of the function's answer kept in the state item


class LambdaStepRunner:
    kind = "lambda"
    judges_standby = False

    def holds(self, cfg: dict[str, Any]) -> float:
        return float(cfg["timeout_seconds"])

    def run(self, cfg: dict[str, Any], env: StepEnv, progress: dict[str, Any],
            index: int) -> dict[str, Any]:
        key = f"{env.transition_id}-{index}"
        payload = {**cfg["payload"], "lambdafail": {
            "idempotency_key": key, "service": env.service, "plan": env.plan,
            "step": index + 1, "attempt": int(progress.get("attempts") or 1),
            "transition_id": env.transition_id}}
        lam = env.clients.get_single_shot("lambda", read_timeout=float(cfg["timeout_seconds"]))
        try:
            resp = lam.invoke(FunctionName=str(cfg["function"]),
                              InvocationType="RequestResponse",
                              Payload=json.dumps(payload, default=str).encode())
            body = resp["Payload"].read() if resp.get("Payload") is not None else b""
        except Exception as e:
            code = (getattr(e, "response", None) or {}).get("Error", {}).get("Code", "")
            raise StepFailed(f"lambda Invoke {cfg['function']}: "
                             f"{code or type(e).__name__}: {e}") from e
        text = body[:OUTPUT_LIMIT].decode("utf-8", "replace")
        if resp.get("FunctionError"):
            raise StepFailed(f"function {cfg['function']} failed ({resp['FunctionError']}): "
                             f"{text}")
        try:
            answer: Any = json.loads(body) if body else None
        except ValueError:
            answer = text
        if len(json.dumps(answer, default=str)) > OUTPUT_LIMIT:
            answer = text
        return {"idempotency_key": key, "answer": answer}

    def check(self, cfgs: list[dict[str, Any]], clients: Any) -> list[str | None]:
        """Readiness (status, for a cold standby): per step, why its function could not be
        invoked (missing, Failed) or None — one GetFunctionConfiguration per distinct
        function, however many steps share it."""
        problems: dict[str, str | None] = {}
        lam = clients.get("lambda")
        for fn in sorted({str(c["function"]) for c in cfgs}):
            try:
                state = lam.get_function_configuration(FunctionName=fn).get("State")
            except Exception as e:
                code = (getattr(e, "response", None) or {}).get("Error", {}).get("Code", "")
                problems[fn] = (f"function {fn} not found" if code == "ResourceNotFoundException"
                                else f"function {fn}: {code or type(e).__name__}")
                continue
            problems[fn] = f"function {fn} is in state Failed" if state == "Failed" else None
        return [problems[str(c["function"])] for c in cfgs]

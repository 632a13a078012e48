"""Runtime router `hook`: invoke the user's function with the transition; its answer is the read-back.

Rule: stdlib + boto3 only; the model, compile and IAM of this kind are in
`lambdafail/model/kinds/hook.py`.
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.runtime.config import SIDES, Clients
from lambdafail.runtime.routers.base import Reading, RouterBase, RouterRefused, router_error


class HookSwitch(RouterBase):
    """Invokes the user's Lambda with the transition; its successful answer is the read-back.

    The hook owns the real switch, so nothing in AWS can be read back: the confirmed side is
    what the last successful invoke (or, before any, the committed state) says.
    """

    kind = "hook"
    reads_committed = True

    def __init__(self, cfg: dict[str, Any], lambda_client: Any,
                 confirmed: str | None = None) -> None:
        self.function = str(cfg["function"])
        self.lam = lambda_client
        self.confirmed = confirmed

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None:
        payload = {"lambdafail": "switch", "to": side, **(transition or {})}
        payload["to"] = side
        try:
            resp = self.lam.invoke(FunctionName=self.function, InvocationType="RequestResponse",
                                   Payload=json.dumps(payload, default=str).encode())
            # The answer streams in after the headers: reading it can time out too.
            body = resp["Payload"].read() if resp.get("Payload") is not None else b""
        except Exception as e:
            raise router_error(f"lambda Invoke {self.function} (hook)", e) from e
        if resp.get("FunctionError"):
            # The hook ran and failed — even "Task timed out": Lambda stopped it, so nothing
            # is still running. Its text is the user's and classifies nothing.
            text = body[:1000].decode("utf-8", "replace")
            raise RouterRefused(f"hook {self.function} failed ({resp['FunctionError']}): {text}",
                                operation=f"lambda Invoke {self.function} (hook)",
                                code=str(resp["FunctionError"]))
        answer: Any = None
        try:
            answer = json.loads(body) if body else None
        except ValueError:
            answer = None
        # A hook may answer {"active": "<side>"}; any other successful answer confirms `side`.
        if isinstance(answer, dict) and answer.get("active") in SIDES:
            self.confirmed = str(answer["active"])
        else:
            self.confirmed = side

    def read_back(self) -> str | None:
        return self.confirmed

    def bind(self, committed: str | None) -> None:
        # Before it confirms anything, the committed side is the hook's answer.
        if self.confirmed is None:
            self.confirmed = committed

    @classmethod
    def read_many(cls, cfgs: list[dict[str, Any]], clients: Clients) -> list[Reading]:
        """Nothing to read: the switch is the hook's own (no call)."""
        return [Reading(None, readable=False,
                        seen=f"hook {c['function']}: cannot be read back") for c in cfgs]

    @classmethod
    def build(cls, cfg: dict[str, Any], clients: Clients, confirmed: str | None,
              tags: dict[str, str] | None = None) -> HookSwitch:
        # One attempt: a retried invoke would run the user's switch twice.
        return cls(cfg, clients.get_single_shot("lambda", region=cfg.get("region")), confirmed)

"""The `approval` step kind without I/O: its YAML, compiled shape, plan line, the errors of a
bad one, and that it does not size the orchestrator's timeout (it holds no invocation)."""

from __future__ import annotations

from typing import Any

import pytest

from lambdafail.deploy.planner import function_timeout, recovery_note
from lambdafail.model.topology import Topology, compile_topology


def _compiled(failover: list[dict[str, Any]]) -> dict[str, Any]:
    return compile_topology(Topology.model_validate({"name": "shop", "services": {"checkout": {
        "primary": {"url": "https://a.example.com/health"},
        "standby": {"url": "https://b.example.com/health"},
        "router": {"ssm_parameter": "/shop/checkout/active"},
        "recovery": {"failover": failover}}}}))


def test_an_approval_step_compiles_with_its_defaults_and_shows_in_the_plan() -> None:
    compiled = _compiled([{"approval": {"message": "check the replica"}}])
    (step,) = compiled["services"]["checkout"]["recovery"]["failover"]
    assert step == {"kind": "approval", "on_timeout": "fail", "every_seconds": 5,
                    "message": "check the replica", "timeout_seconds": 900, "retries": 0}
    note = recovery_note(compiled["services"]["checkout"])
    assert "1. approval: wait for `lambdafail approve` (at most 900 s, then fail)" in note


def test_a_long_approval_does_not_grow_the_function_timeout() -> None:
    plain = function_timeout(_compiled([]))
    assert function_timeout(_compiled([{"approval": {"timeout_seconds": 86_400,
                                                     "on_timeout": "proceed"}}])) == plain
    # A step that does run inside the invocation still sizes it.
    assert function_timeout(_compiled([{"lambda": {"function": "f", "starts_standby": False,
                                                   "timeout_seconds": 300}}])) == 310


@pytest.mark.parametrize(("approval", "message"), [
    ({"on_timeout": "wait"}, "on_timeout"),
    ({"timeout_seconds": 90_000}, "less than or equal to 86400"),
    ({"message": "x" * 501}, "at most 500 characters"),
    ({"approver": "ann"}, "approver"),
])
def test_a_bad_approval_step_is_refused_with_its_field(approval: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _compiled([{"approval": approval}])

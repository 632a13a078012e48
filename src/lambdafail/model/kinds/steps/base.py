"""The contract of a recovery-step kind: one thing a recovery plan does before (or after) a switch.

Rule: a kind is one module in this package exporting `KIND`, an instance of a `StepKind`
subclass; nothing outside the module dispatches on its name. Everything here is pure (no AWS
call, no click/rich): the model of the step's mapping, its compile, its IAM statements, whether
it starts the standby (validate's "a `wait` follows it" check), and its plan line. What the
orchestrator does with the compiled step lives in `lambdafail/runtime/steps/<kind>.py`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from lambdafail.model.arns import Where
from lambdafail.model.common import Reference, Strict

#: A step is resumed by the next tick when an invocation ends inside it; its own budget is
#: bounded by the orchestrator's longest run (Lambda's 900 s).
MAX_STEP_SECONDS = 900


class StepSpec(Strict):
    """Fields every step kind has (the mapping under the kind's key)."""

    timeout_seconds: float = Field(default=60, gt=0, le=MAX_STEP_SECONDS,
                                   description="How long one attempt may take.")
    retries: int = Field(default=0, ge=0, le=10, description="Attempts after the first one "
                         "fails, before the plan fails and the service is blocked.")


M = TypeVar("M", bound=StepSpec)


class StepKind(Generic[M]):
    #: The `kind` of the compiled step (the runtime's registry key).
    kind: ClassVar[str]
    #: The YAML key whose presence selects this kind (`- lambda: {...}`).
    key: ClassVar[str]
    #: The pydantic model of the mapping under `key`.
    model: type[M]
    #: Whether a step of this kind judges the standby itself (a cold standby's gate).
    judges_standby: ClassVar[bool] = False
    #: Whether the orchestrator runs the step inside one invocation (its timeout sizes the
    #: function's); False for a step that checks once a round and lets the invocation end.
    holds_invocation: ClassVar[bool] = True

    def compile(self, step: M) -> dict[str, Any]:
        """The compiled step, without `kind`, `timeout_seconds` and `retries` (added once)."""
        raise NotImplementedError

    def starts_standby(self, step: M) -> bool:
        """Whether the step brings the standby up (then a `wait` step must follow it)."""
        return False

    def iam_statements(self, steps: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        """The orchestrator's statements for all compiled steps of this kind (may be [])."""
        return []

    def references(self, step: dict[str, Any]) -> list[Reference]:
        """What the compiled step names but lambdafail does not create (plan's pre-flight)."""
        return []

    def invokes(self, step: dict[str, Any]) -> set[str]:
        """Lambda functions the step invokes (merged into the one InvokeTargets statement)."""
        return set()

    def line(self, step: dict[str, Any]) -> str:
        """The step in one line, for `plan`."""
        raise NotImplementedError

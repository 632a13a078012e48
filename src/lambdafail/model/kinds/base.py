"""The contract of a router kind: everything lambdafail knows about one way of switching traffic.

Rule: a kind is one module in this package exporting `KIND`, an instance of a `RouterKind`
subclass; nothing outside the module dispatches on its name. Everything here is pure (no AWS
call, no click/rich): the compiler, the loader, IAM, the planner, the inventory, on-call and
drills ask the registry (`lambdafail.model.kinds`). What the orchestrator does with the compiled
router lives in the stdlib-only twin module under `lambdafail/runtime/routers/`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field, field_validator

from lambdafail.model import regions
from lambdafail.model.arns import Where
from lambdafail.model.common import Reference, Strict


class RouterSpec(Strict):
    """Base of every router model (the `router:` mapping of a service)."""

    region: str | None = Field(default=None, description="The region the router acts in "
                               "(default: the topology's `region`).")

    _region = field_validator("region")(staticmethod(regions.checked))


M = TypeVar("M", bound=RouterSpec)


class RouterKind(Generic[M]):
    #: The `kind` of the compiled router (the runtime's registry key).
    kind: ClassVar[str]
    #: The YAML key whose presence selects this kind (the discriminator).
    key: ClassVar[str]
    #: The pydantic model of the `router:` mapping.
    model: type[M]
    #: Whether the router acts in a region (Route 53's API is global: it does not).
    regional: ClassVar[bool] = True
    #: Whether the router always acts in the control region (beside the orchestrator):
    #: `region:` is refused and no router-in-the-primary's-region warning applies.
    acts_in_control: ClassVar[bool] = False
    #: How long the runtime router may wait for its read-back after an apply (the deployed
    #: function's timeout makes room for it).
    switch_wait_seconds: ClassVar[float] = 0.0

    def compile(self, router: M, targets: dict[str, str]) -> dict[str, Any]:
        """The compiled router (JSON-ready); `targets`: each side's target URL or function."""
        raise NotImplementedError

    def with_names(self, cfg: dict[str, Any], topology: str, service: str) -> dict[str, Any]:
        """The compiled router with the names it needs that only the topology and service
        give (a router that creates nothing of its own: unchanged)."""
        return cfg

    def route_key(self, router: M) -> str | None:
        """What the router switches, for the check that no two services share it; None when
        sharing cannot be seen offline."""
        return None

    def iam_statements(self, routers: list[dict[str, Any]], where: Where) -> list[dict[str, Any]]:
        """The orchestrator's statements for all compiled routers of this kind (may be [])."""
        return []

    def invokes(self, router: dict[str, Any]) -> set[str]:
        """Lambda functions the orchestrator invokes for this router (merged into the one
        InvokeTargets statement with the Lambda targets)."""
        return set()

    def hint(self, router: dict[str, Any], side: str) -> str:
        """Where on-call looks by hand to see (or set) which side the router points at."""
        raise NotImplementedError

    def seeded_parameters(self, router: dict[str, Any], side: str = "primary") -> dict[str, str]:
        """SSM parameters deploy creates for the router (name → value at `side`: the side the
        state says, the primary for a new service); the inventory observes the same names."""
        return {}

    def references(self, router: dict[str, Any]) -> list[Reference]:
        """What the compiled router names but lambdafail does not create (plan's pre-flight
        looks each one up)."""
        return []

    def adopts(self, router: dict[str, Any]) -> bool:
        """Whether the topology adopts what the router switches although lambdafail did not
        create it (`adopt: true`): deploy tags it instead of refusing it as a conflict."""
        return False

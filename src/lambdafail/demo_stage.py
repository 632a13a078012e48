"""What the demo's acts share with the demo: its constants, its events, and the `Stage` an act
is played on (the running `demo.Demo`).

Rule: the bottom of the demo's modules — `demo` runs the acts (`demo_pilot`, `demo_region`),
the acts see the demo only through `Stage`, so no act imports `demo`. No click, rich or boto3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lambdafail.base.errors import ExitCode, LambdafailError

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.runtime.state import ServiceState
    from lambdafail.sandbox.webservice import WebService

TOPOLOGY_NAME = "demo"
SERVICE = "web"
REGION = "us-east-1"
ROUTER_PARAMETER = "/demo/web/active"
INTERVAL_SECONDS = 60  # rate(1 minute): the schedule floor on AWS
FAILURE_THRESHOLD = 2
# Automatic failovers honour the cooldown in REAL seconds from any transition, the rollback
# included: the drill right after the rollback waits this long.
COOLDOWN_SECONDS = 2
RTO_SECONDS = 30
DEFAULT_TIME_SCALE = 60.0  # rate(1 minute) ticks every second
POLL_SECONDS = 0.1
SANDBOX_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class DemoStepFailed(LambdafailError):
    """A demo step did not end as expected. Exit code: the step's own, else 5 (like a drill)."""

    exit_code = ExitCode.DRILL_FAILED


@dataclass(frozen=True)
class DemoEvent:
    """One thing to show. kind: step | command | wait | waited | info | warning."""

    kind: str
    text: str
    step: int = 0
    elapsed: float = 0.0


class Stage(Protocol):
    """The running demo, as an act uses it."""

    workdir: Path
    result: Any  # demo.DemoResult
    opts: Any  # demo.DemoOptions
    pilot_primary: WebService | None
    pilot_standby: WebService | None

    @property
    def ctx(self) -> AwsContext: ...

    @property
    def step(self) -> int: ...

    def emit(self, event: DemoEvent) -> None: ...

    def info(self, text: str) -> None: ...

    def failed(self, message: str, hint: str = "",
               exit_code: ExitCode | None = None) -> DemoStepFailed: ...

    def command(self, args: list[str], expect: ExitCode = ExitCode.OK,
                file: Path | bool | None = True) -> None: ...

    def wait_for(self, what: str, ok: Callable[[ServiceState], bool], timeout: float,
                 store: Any = None, service: str = ...) -> None: ...

    def wait_for_service(self, service: str, what: str,
                         ok: Callable[[ServiceState], bool], timeout: float = 30) -> None: ...

    def store_get(self, service: str) -> ServiceState | None: ...

    def log(self, service: str) -> list[dict[str, Any]]: ...

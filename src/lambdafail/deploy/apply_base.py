"""What every part of the executor shares: the plan being applied, bounded waits for AWS's
asynchronous provisioning, and the diff helpers.

Rule: every wait here has a deadline and says what it waits for; nothing here calls AWS itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.base.errors import AwsError
from lambdafail.deploy.package import Package
from lambdafail.deploy.resources import Change, Plan, Resource

# status: "start" | "done" | "failed" | "wait: <what is being waited for>"
Progress = Callable[[Change, str], None]

ROLE_PROPAGATION_SECONDS = 90.0


def _wait(check: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
    """Poll until `check()` is true; AWS provisioning is asynchronous."""
    deadline = time.monotonic() + timeout
    delay = 0.5
    while not check():
        if time.monotonic() > deadline:
            raise AwsError(f"timed out after {timeout:.0f}s waiting for {what}",
                           hint="check the resource in the AWS console; re-running deploy "
                                "continues from where it stopped")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _while_propagating(word: str, attempt: Callable[[], Any]) -> None:
    """Run `attempt`, retrying for up to ROLE_PROPAGATION_SECONDS while Lambda refuses it with
    an InvalidParameterValueException about `word` (what IAM has not propagated yet)."""
    deadline = time.monotonic() + ROLE_PROPAGATION_SECONDS
    delay = 1.0
    while True:
        try:
            attempt()
            return
        except AwsError as e:
            propagating = (e.code == "InvalidParameterValueException"
                           and word in e.message.lower())
            if not propagating or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


class ExecutorBase:
    def __init__(self, ctx: AwsContext, plan: Plan, package: Package | None,
                 progress: Progress | None = None):
        self.ctx = ctx
        self.plan = plan
        self.package = package
        self.progress = progress or (lambda c, s: None)
        actual = plan.actual
        self._actual = actual.resources if actual else {}

    def call(self, client: Any, operation: str, *, resource: str = "", **kwargs: Any) -> Any:
        """`aws.call`, lent to the appliers of router kinds (deploy/kinds/)."""
        return call(client, operation, resource=resource, **kwargs)

    # -- helpers ---------------------------------------------------------------------------

    def _want(self, c: Change) -> Resource:
        return c.want

    def _have(self, c: Change) -> Resource:
        return c.have

    @staticmethod
    def _changed(c: Change, *prefixes: str) -> bool:
        return c.changed(*prefixes)

    @staticmethod
    def _tags_changed(c: Change) -> bool:
        return c.tags_changed()

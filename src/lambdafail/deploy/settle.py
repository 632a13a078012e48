"""Bounded retries for AWS's documented eventual consistency at deploy time, said on screen.

Rule: each retry is for one documented refusal that goes away by itself (a queue name SQS
holds for 60 s after deletion; a Lambda update while another is in progress), is bounded by a
deadline, and reports every wait through `say` before sleeping; anything else is raised at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from lambdafail.base.errors import AwsError

T = TypeVar("T")

# SQS: "You must wait 60 seconds after deleting a queue before you can create another queue
# with the same name." A little more, for clocks.
QUEUE_RECREATE_SECONDS = 75.0
QUEUE_DELETED_RECENTLY = frozenset({"AWS.SimpleQueueService.QueueDeletedRecently",
                                    "QueueDeletedRecently"})
# Lambda: ResourceConflictException while the function's LastUpdateStatus is InProgress (or
# its State Pending). Updates take seconds; someone else's deploy may hold it longer.
FUNCTION_CONFLICT_SECONDS = 180.0
FUNCTION_CONFLICT = frozenset({"ResourceConflictException"})


def retry(attempt: Callable[[], T], *, codes: frozenset[str], why: str, timeout: float,
          say: Callable[[str], None], before_retry: Callable[[], None] | None = None,
          first_delay: float = 1.0, max_delay: float = 10.0,
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> T:
    """`attempt()`, again while it fails with one of `codes` and the deadline allows."""
    deadline = clock() + timeout
    delay = first_delay
    tries = 1
    while True:
        try:
            return attempt()
        except AwsError as e:
            if e.code not in codes or clock() + delay > deadline:
                raise
            say(f"{why}; retry {tries} in {delay:.0f}s (at most {timeout:.0f}s in all)")
            sleep(delay)
            if before_retry is not None:
                before_retry()
            delay = min(delay * 2, max_delay)
            tries += 1

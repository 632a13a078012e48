"""What every runtime router shares: the errors, the protocol, the side a value means.

Rules: `apply(side)` may run any number of times with the same result (SSM put with Overwrite,
Route 53 UPSERT, enable/disable rules, hook invoke); `read_back()` answers from what AWS now
holds, never from what we meant to set; failures raise a RouterError subclass that says what
happened — RouterTimeout (no answer: the call may still be in effect), RouterNotFound (the
resource to switch does not exist), RouterRefused (AWS or the hook answered with an error) —
and the transition stays `switching` and is retried. stdlib + boto3 only; clients come from
`config.Clients`. One module per kind next to this one, registered in `__init__.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from lambdafail.runtime.config import SIDES


@dataclass(frozen=True)
class Reading:
    """What one router points at, read back from AWS by `read_many` (status).

    `side`: the side its value means, None when it means neither; `found`: False when what it
    switches does not exist; `readable`: False when nothing in AWS says (a hook); `seen`: the
    value or states read, in words."""

    side: str | None
    found: bool = True
    readable: bool = True
    seen: str = ""


class RouterError(Exception):
    """The router could not apply or confirm a side. `operation`: the AWS call that failed
    (e.g. "ssm PutParameter /shop/web/active"); `code`: AWS's error code, if it answered."""

    def __init__(self, message: str, *, operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


class RouterTimeout(RouterError):
    """No answer in time: the call may have been applied, and a hook may still be running."""


class RouterNotFound(RouterError):
    """What the router switches (zone, rule, function) does not exist."""


class RouterRefused(RouterError):
    """AWS or the hook answered with an error, or the read-back disagrees."""


# Error codes meaning "the thing to switch is not there" (Route 53, EventBridge, Lambda).
_NOT_FOUND = {"NoSuchHostedZone", "ResourceNotFoundException", "ParameterNotFound"}


def router_error(operation: str, e: Exception) -> RouterError:
    """The typed RouterError for exception `e` raised by `operation`."""
    code = error_code(e)
    message = f"{operation}: {code}: {e}"
    if _timed_out(e):
        return RouterTimeout(message, operation=operation)
    if code in _NOT_FOUND:
        return RouterNotFound(message, operation=operation, code=code)
    return RouterRefused(message, operation=operation, code=code)


def _timed_out(e: BaseException) -> bool:
    # botocore's ReadTimeoutError: the request went out, the answer did not come back. A
    # connect timeout never reached AWS, so nothing can be in effect: that is not one.
    from botocore.exceptions import ReadTimeoutError

    return isinstance(e, TimeoutError | ReadTimeoutError)


class Router(Protocol):
    kind: str
    #: True when nothing in AWS says where traffic points (a hook): the read-back is the
    #: committed side, given by `bind()` before the first apply.
    reads_committed: bool

    def apply(self, side: str, transition: dict[str, Any] | None = None) -> None: ...

    def read_back(self) -> str | None: ...

    def bind(self, committed: str | None) -> None: ...


class RouterBase:
    """What most routers share: they read back from AWS, so the committed side is unused."""

    kind: str = ""
    reads_committed = False

    def bind(self, committed: str | None) -> None:
        return None


def error_code(e: Exception) -> str:
    return str((getattr(e, "response", None) or {}).get("Error", {}).get("Code", type(e).__name__))


def side_of(value: str, values: dict[str, str]) -> str | None:
    matches = [s for s in SIDES if values.get(s) == value]
    return matches[0] if len(matches) == 1 else None

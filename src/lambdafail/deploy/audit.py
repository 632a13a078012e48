"""Deploy, destroy and deployment rollback as entries in the topology's log (the state table).

Rule: called after the change succeeded; the actor is the caller's STS identity; an entry that
cannot be written (the table was just deleted by `destroy --delete-state`) is reported back,
never raised — the change itself already happened.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def record(ctx: AwsContext, table: str, kind: str, *, reason: str = "",
           detail: dict[str, Any] | None = None, retention_days: int | None = None) -> bool:
    """Append a `kind` entry (runtime.state.LOG_KINDS) to `table`'s log. False when the table
    does not exist."""
    from lambdafail.aws import translate_exception
    from lambdafail.runtime.state import StateStore

    store = StateStore(table, ctx.client("dynamodb"), retention_days)
    try:
        store.record(kind, actor=ctx.caller_arn(), now=time.time(), reason=reason,
                     detail=detail)
    except Exception as e:
        err = translate_exception(e, operation="PutItem", resource=table)
        if err is None:
            raise
        if getattr(err, "code", "") == "ResourceNotFoundException":
            return False
        raise err from e
    return True

"""What every inventory reader shares: a read that answers None for a missing resource (and,
from deploy/resources.py, AWS's tag lists as a mapping).

Rule: read-only helpers; no resource kind here.
"""

from __future__ import annotations

from typing import Any

from lambdafail.aws import call
from lambdafail.base.errors import AwsError
from lambdafail.deploy.resources import tag_map as tag_map

_MISSING = frozenset({"ResourceNotFoundException", "NoSuchEntity",
                      "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
                      "ParameterNotFound", "ResourceNotFound"})


def get_or_none(client: Any, op: str, *, resource: str, **kw: Any) -> Any:
    """Like aws.call, but None when the resource does not exist."""
    try:
        return call(client, op, resource=resource, **kw)
    except AwsError as e:
        if e.code in _MISSING:
            return None
        raise


"""EventBridge event patterns: validation (what AWS rejects) and matching (what AWS delivers).

Rule: stdlib only. Judged against ../shared/conformance/eventbridge-patterns/cases.json.
PLACEHOLDER: the full implementation replaces this module.
"""

from __future__ import annotations

from typing import Any


class PatternError(ValueError):
    pass


def validate_pattern(pattern: Any) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError("an event pattern must be a non-empty JSON object")


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    raise NotImplementedError

"""EventBridge pattern validation and matching, judged case by case against AWS's own answers.

Rule: data-driven over the whole conformance corpus (156 cases recorded against real AWS); no
case is skipped, any that cannot be matched would be an explicit xfail listed in XFAIL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import CONFORMANCE
from lambdafail.runtime.patterns import (
    MAX_PATTERN_CHARS,
    PatternError,
    matches,
    pattern_json,
    validate_pattern,
)

CASES: list[dict[str, Any]] = json.loads(CONFORMANCE.read_text(encoding="utf-8"))
#: Cases this implementation gets wrong, with the reason (empty: the whole corpus passes).
XFAIL: dict[str, str] = {}


def _params(kinds: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["name"],
            marks=[pytest.mark.xfail(reason=XFAIL[case["name"]], strict=True)]
            if case["name"] in XFAIL
            else [],
        )
        for case in CASES
        if case["expect"] in kinds
    ]


def test_corpus_counts() -> None:
    counts = {kind: sum(c["expect"] == kind for c in CASES) for kind in ("match", "no-match", "invalid")}
    assert counts == {"match": 67, "no-match": 51, "invalid": 38}


@pytest.mark.parametrize("case", _params(("invalid",)))
def test_patterns_invalid_rejected_with_aws_reason(case: dict[str, Any]) -> None:
    with pytest.raises(PatternError) as info:
        validate_pattern(case["pattern"])
    expected = case["aws_error"].removeprefix("Event pattern is not valid. Reason: ")
    assert info.value.reason == expected


@pytest.mark.parametrize("case", _params(("match", "no-match")))
def test_patterns_valid_accepted_and_matched(case: dict[str, Any]) -> None:
    validate_pattern(case["pattern"])
    # Through JSON text, as AWS received it.
    pattern = json.loads(json.dumps(case["pattern"]))
    assert matches(pattern, case["event"]) is (case["expect"] == "match")


def test_patterns_duplicate_key_in_raw_text_keeps_last() -> None:
    case = next(c for c in CASES if c["name"] == "complex_multi_key")
    pattern = json.loads(case["pattern_raw"])  # json keeps the last duplicate, as AWS did
    validate_pattern(pattern)
    assert matches(pattern, case["event"])


def test_patterns_size_limit() -> None:
    ok = {"source": ["x" * (MAX_PATTERN_CHARS - len(pattern_json({"source": [""]})))]}
    assert len(pattern_json(ok)) == MAX_PATTERN_CHARS
    validate_pattern(ok)
    too_big = {"source": ["x" * MAX_PATTERN_CHARS]}
    with pytest.raises(PatternError, match="2048"):
        validate_pattern(too_big)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ([], "Filter is not an object"),
        ({}, "Empty objects are not allowed"),
        ({"detail": {}}, "Empty objects are not allowed"),
        ({"$or": [{"a": [1]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": {"a": [1]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": [1]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        ({"$or": [{"prefix": [1]}, {"b": [1]}]}, "prefix is Ruler reserved fieldName which cannot be used inside $or."),
        ({"a": [[1]]}, "Match value must be String, number, true, false, or null"),
        ({"a": [{}]}, "Match expression name not found"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key allowed in match expression"),
        ({"a": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"numeric": ["=", 1, "<", 3]}]}, "Too many elements in numeric expression"),
        ({"a": [{"numeric": [">", 5, "<", 3]}]}, "Bottom must be less than top"),
        ({"a": [{"numeric": [">", 1, "<", 3, 4]}]}, "Too many terms in numeric range expression"),
        ({"a": [{"numeric": ["!=", 1]}]}, "Unrecognized numeric range operator: !="),
        ({"a": [{"numeric": [1]}]}, "Invalid member in numeric match: 1"),
        ({"a": [{"numeric": ["<", 6e9]}]}, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        ({"a": [{"numeric": ["<", 0.1234567]}]}, "Only values upto 6 decimals are supported"),
        ({"a": [{"numeric": ["<", True]}]}, "Value of < must be numeric"),
        ({"a": [{"anything-but": []}]}, "Inside anything but list, either all values are number or string, mixed type is not supported"),
        ({"a": [{"anything-but": ["x", 1]}]}, "Inside anything but list, either all values are number or string, mixed type is not supported"),
        ({"a": [{"anything-but": True}]}, "Value of anything-but must be an array or single string/number value."),
        ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "Unsupported anything-but pattern: numeric"),
        ({"a": [{"prefix": {"exactly": "x"}}]}, "Unsupported prefix pattern: exactly"),
        ({"a": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
        ({"a": [{"wildcard": "ab**"}]}, "Consecutive wildcard characters at pos 3"),  # at the end
        ({"a": [{"wildcard": "ab\\"}]}, "Invalid escape character at pos 3"),  # a last backslash
        ({"a": [{"cidr": "10.0.0.0/33"}]}, "Malformed CIDR, mask bits must be between 0 and 32"),
        ({"a": [{"exactly": 1}]}, "exact match pattern must be a string"),
        ({"a": [float("nan")]}, "nan is not a JSON number"),
        ({1: ["a"]}, "keys must be strings, not int 1"),
    ],
)
def test_patterns_more_invalid(pattern: Any, reason: str) -> None:
    with pytest.raises(PatternError) as info:
        validate_pattern(pattern)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        # arrays of objects: leaves must come from the same element
        ({"a": {"x": [3], "y": [2]}}, {"a": [{"x": 1, "y": 2}, {"x": 3}]}, False),
        ({"a": {"x": [3], "y": [2]}}, {"a": [{"x": 1, "y": 2}, {"x": 3, "y": 2}]}, True),
        # independent arrays don't constrain each other
        ({"a": {"x": [3]}, "b": [2]}, {"a": [{"x": 3}], "b": [1, 2]}, True),
        # $or at top level, mixed with a plain field
        ({"source": ["s"], "$or": [{"a": [1]}, {"b": [2]}]}, {"source": "s", "b": 2}, True),
        ({"source": ["s"], "$or": [{"a": [1]}, {"b": [2]}]}, {"source": "t", "b": 2}, False),
        # numeric "=" and ranges with open/closed bounds
        ({"n": [{"numeric": ["=", 5]}]}, {"n": 5.0}, True),
        ({"n": [{"numeric": [">=", 5, "<", 6]}]}, {"n": 5}, True),
        ({"n": [{"numeric": [">=", 5, "<", 6]}]}, {"n": 6}, False),
        ({"n": [{"numeric": [">", 5]}]}, {"n": True}, False),
        # null / empty string
        ({"v": [None]}, {"v": None}, True),
        ({"v": [""]}, {"v": None}, False),
        ({"v": [False]}, {"v": 0}, False),
        ({"v": [0]}, {"v": False}, False),
        # wildcard escapes
        ({"v": [{"wildcard": "a\\*b*"}]}, {"v": "a*bcd"}, True),
        ({"v": [{"wildcard": "a\\*b*"}]}, {"v": "axbcd"}, False),
        ({"v": [{"wildcard": "ab\\*"}]}, {"v": "ab*"}, True),  # an escape as the last two
        ({"v": [{"wildcard": "a\\*b"}]}, {"v": "a*b"}, True),  # what follows an escape counts
        ({"v": [{"wildcard": "a\\*b"}]}, {"v": "a*"}, False),
        ({"v": [{"wildcard": "ab\\*"}]}, {"v": "abc"}, False),
        ({"v": [{"wildcard": "a\\\\b*"}]}, {"v": "a\\bc"}, True),  # an escaped backslash
        ({"v": [{"wildcard": "a\\\\b*"}]}, {"v": "abc"}, False),
        # anything-but on each element of an event array
        ({"v": [{"anything-but": "a"}]}, {"v": ["a", "b"]}, True),
        ({"v": [{"anything-but": "a"}]}, {"v": ["a"]}, False),
        # exists false where the path leads to an object
        ({"d": {"k": [{"exists": False}]}}, {"d": {"k": {"x": 1}}}, True),
    ],
)
def test_patterns_matching_semantics(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    validate_pattern(pattern)
    assert matches(pattern, event) is expected


def test_patterns_matches_rejects_invalid_pattern() -> None:
    with pytest.raises(PatternError):
        matches({"a": "b"}, {"a": "b"})

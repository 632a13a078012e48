"""EventBridge event patterns: validation (what AWS rejects) and matching (what AWS delivers).

Rule: stdlib only (this module runs inside the orchestrator Lambda). Behaviour follows AWS's
open-source matcher (aws/event-ruler, ``JsonRuleCompiler`` for validation, ``ArrayMembership``
for arrays of objects) and is judged against the conformance corpus
``tests/data/eventbridge-patterns/cases.json`` (156 cases recorded against AWS):
every ``invalid`` case is rejected with AWS's own reason text, every other case is accepted and
matched as AWS did.

Matching model, in short:

* The event is flattened into leaf paths (``detail.state``); keys are joined with ``.``, so a
  pattern key ``"state.status"`` and a nested ``{"state": {"status": ...}}`` are the same field,
  on either side. Arrays are transparent: every element is a candidate value for the path.
* A pattern is an OR of branches (``$or`` forks branches) of AND-ed fields; a field matches when
  any of its values/operators matches any leaf at its path.
* Leaves coming from the same array of objects must come from the same element (event-ruler's
  array-consistency rule): ``{"a": [{"x": 1, "y": 2}, {"x": 3}]}`` does not match
  ``x = 3 AND y = 2``.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

#: AWS caps the EventPattern string at 2,048 characters.
MAX_PATTERN_CHARS = 2048
#: lambdafail's own cap on the number of branches ``$or`` can fork into (AWS has an unpublished
#: complexity limit; a pattern this large is a mistake, and expanding it costs memory).
MAX_BRANCHES = 1024
#: event-ruler's ComparableNumber range and precision for numeric matching.
NUMERIC_LIMIT = Decimal("5E9")
NUMERIC_DECIMALS = 6
#: Approximation of event-ruler's wildcard complexity evaluator: more wildcards than this in one
#: value is refused ("*:*:*:*:*:event-bus/*", 6 wildcards, is refused by AWS).
MAX_WILDCARDS = 5
_MAX_DEPTH = 64

_OR = "$or"
_ANYTHING_BUT_SETS = ("equals-ignore-case", "prefix", "suffix", "wildcard")
_RESERVED_IN_OR = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard",
        "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
        "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
        "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
    }
)


class PatternError(ValueError):
    """An event pattern AWS would reject (``InvalidEventPatternException``).

    ``reason`` is AWS's reason text where AWS has one; ``path`` locates the offending part of the
    pattern (``detail.state[0].anything-but``), empty for the pattern as a whole.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


# --------------------------------------------------------------------------------------------
# validation


def pattern_json(pattern: Mapping[str, Any]) -> str:
    """The exact text to send as ``EventPattern`` (compact; its length is what AWS limits)."""
    return json.dumps(pattern, separators=(",", ":"), ensure_ascii=False)


def validate_pattern(pattern: Any) -> None:
    """Raise ``PatternError`` for anything EventBridge's ``PutRule`` would refuse."""
    if not isinstance(pattern, dict):
        raise PatternError("Filter is not an object")
    _check_json(pattern, "", 0)
    size = len(pattern_json(pattern))
    if size > MAX_PATTERN_CHARS:
        raise PatternError(
            f"pattern is {size} characters as compact JSON; AWS allows {MAX_PATTERN_CHARS}"
        )
    _validate_object(pattern, "", in_or=False)
    branches = _count_branches(pattern)
    if branches > MAX_BRANCHES:
        raise PatternError(
            f"$or expands into {branches} alternatives (lambdafail allows {MAX_BRANCHES})"
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_json(value: Any, path: str, depth: int) -> None:
    """Only JSON values: YAML can also produce dates, non-string keys, NaN..."""
    if depth > _MAX_DEPTH:
        raise PatternError(f"pattern is nested deeper than {_MAX_DEPTH} levels", path)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PatternError(f"keys must be strings, not {type(key).__name__} {key!r}", path)
            _check_json(item, _join(path, key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PatternError(f"{value!r} is not a JSON number", path)
    elif value is not None and not isinstance(value, (str, int, bool)):
        raise PatternError(f"{type(value).__name__} {value!r} is not a JSON value", path)


def _validate_object(obj: dict[str, Any], path: str, in_or: bool) -> None:
    if not obj:
        raise PatternError("Empty objects are not allowed", path)
    for key, value in obj.items():
        here = _join(path, key)
        if key == _OR:
            _validate_or(value, here)
            continue
        if in_or and key in _RESERVED_IN_OR:
            raise PatternError(
                f"{key} is Ruler reserved fieldName which cannot be used inside $or.", here
            )
        if isinstance(value, dict):
            _validate_object(value, here, in_or)
        elif isinstance(value, list):
            _validate_values(value, here)
        else:
            raise PatternError(f'"{key}" must be an object or an array', here)


def _validate_or(value: Any, path: str) -> None:
    if not isinstance(value, list):
        raise PatternError("It must be an Array followed with $or.", path)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise PatternError(
                "Only JSON object is allowed in array of $or relationship.", f"{path}[{index}]"
            )
        _validate_object(item, f"{path}[{index}]", in_or=True)
    if len(value) < 2:
        raise PatternError("There must have at least 2 Objects in $or relationship.", path)


def _validate_values(values: list[Any], path: str) -> None:
    if not values:
        raise PatternError("Empty arrays are not allowed", path)
    for index, item in enumerate(values):
        here = f"{path}[{index}]"
        if isinstance(item, dict):
            _validate_expression(item, here)
        elif isinstance(item, list):
            raise PatternError("Match value must be String, number, true, false, or null", here)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparable(value: Any, path: str) -> Decimal:
    """event-ruler's ComparableNumber: within +-5e9, at most 6 decimals."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if abs(number) > NUMERIC_LIMIT:
        raise PatternError("Value must be between -5.0E9 and 5.0E9, inclusive", path)
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > NUMERIC_DECIMALS:
        raise PatternError("Only values upto 6 decimals are supported", path)
    return number


def _one_key(expr: dict[str, Any], path: str, message: str) -> None:
    if len(expr) > 1:
        raise PatternError(message, path)


def _validate_expression(expr: dict[str, Any], path: str) -> None:
    if not expr:
        raise PatternError("Match expression name not found", path)
    op, value = next(iter(expr.items()))
    here = _join(path, op)
    only_one = "Only one key allowed in match expression"
    if op == "exactly":
        if not isinstance(value, str):
            raise PatternError("exact match pattern must be a string", here)
    elif op in ("prefix", "suffix"):
        if isinstance(value, dict):
            _validate_affix_ignore_case(op, value, here)
        elif not isinstance(value, str):
            raise PatternError(f"{op} match pattern must be a string", here)
    elif op == "numeric":
        if not isinstance(value, list):
            raise PatternError("Value of numeric must be an array.", here)
        _parse_numeric(value, here)
        _one_key(expr, path, "Too many elements in numeric expression")
        return
    elif op == "anything-but":
        _validate_anything_but(value, here)
        _one_key(expr, path, "Too many elements in numeric expression")
        return
    elif op == "exists":
        if not isinstance(value, bool):
            raise PatternError("exists match pattern must be either true or false.", here)
    elif op == "cidr":
        if not isinstance(value, str):
            # AWS's message really says "prefix" here.
            raise PatternError("prefix match pattern must be a string", here)
        _parse_cidr(value, here)
    elif op == "equals-ignore-case":
        if not isinstance(value, str):
            raise PatternError("equals-ignore-case match pattern must be a string", here)
    elif op == "wildcard":
        if not isinstance(value, str):
            raise PatternError("wildcard match pattern must be a string", here)
        _wildcard_regex(value, here)
    else:
        raise PatternError(f"Unrecognized match type {op}", here)
    _one_key(expr, path, only_one)


def _validate_affix_ignore_case(op: str, value: dict[str, Any], path: str) -> None:
    if not value:
        raise PatternError(f"{op.capitalize()} expression name not found", path)
    inner, text = next(iter(value.items()))
    if inner != "equals-ignore-case":
        raise PatternError(f"Unsupported {op} pattern: {inner}", path)
    if not isinstance(text, str):
        raise PatternError("equals-ignore-case match pattern must be a string", path)
    _one_key(value, path, "Only one key allowed in match expression")


def _validate_anything_but(value: Any, path: str) -> None:
    kind = ""
    if isinstance(value, dict):
        if not value:
            raise PatternError("Anything-But expression name not found", path)
        kind, value = next(iter(value.items()))
        if kind not in _ANYTHING_BUT_SETS:
            raise PatternError(f"Unsupported anything-but pattern: {kind}", path)
        path = _join(path, kind)
    if not (isinstance(value, (list, str)) or _is_number(value)):
        raise PatternError(
            "Value of anything-but must be an array or single string/number value.", path
        )
    items = value if isinstance(value, list) else [value]
    if not kind:
        if not all(isinstance(item, str) or _is_number(item) for item in items):
            raise PatternError("Inside anything but list, start|null|boolean is not supported.", path)
        strings = sum(isinstance(item, str) for item in items)
        if strings not in (0, len(items)) or not items:
            raise PatternError(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported",
                path,
            )
        for item in items:
            if _is_number(item):
                _comparable(item, path)
        return
    for item in items:
        if not isinstance(item, str):
            if kind == "equals-ignore-case":
                raise PatternError(
                    "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported.",
                    path,
                )
            if kind == "wildcard":
                raise PatternError("wildcard match pattern must be a string", path)
            raise PatternError("prefix/suffix match pattern must be a string", path)
        if kind in ("prefix", "suffix") and not item:
            raise PatternError("Null prefix/suffix not allowed", path)
        if kind == "wildcard":
            _wildcard_regex(item, path)


_LOWER_OPS = (">", ">=")
_UPPER_OPS = ("<", "<=")


@dataclass(frozen=True)
class _Range:
    low: Decimal | None = None
    low_open: bool = False
    high: Decimal | None = None
    high_open: bool = False

    def contains(self, number: Decimal) -> bool:
        above_low = self.low is None or number > self.low or (
            not self.low_open and number == self.low
        )
        below_high = self.high is None or number < self.high or (
            not self.high_open and number == self.high
        )
        return above_low and below_high


def _parse_numeric(items: list[Any], path: str) -> _Range:
    """The grammar of ``{"numeric": [...]}``: ``["=", n]``, one bound, or lower then upper."""
    tokens = iter(items)
    end = object()

    def text(token: Any) -> str:
        return "]" if token is end else json.dumps(token)

    first = next(tokens, end)
    if not isinstance(first, str):
        raise PatternError(f"Invalid member in numeric match: {text(first)}", path)
    value = next(tokens, end)
    if first not in ("=", *_LOWER_OPS, *_UPPER_OPS):
        raise PatternError(f"Unrecognized numeric range operator: {first}", path)
    if not _is_number(value):
        name = "equals" if first == "=" else first
        raise PatternError(f"Value of {name} must be numeric", path)
    number = _comparable(value, path)
    follow = next(tokens, end)
    if first == "=":
        result = _Range(number, False, number, False)
    elif first in _UPPER_OPS:
        result = _Range(high=number, high_open=first == "<")
    elif follow is end:
        return _Range(low=number, low_open=first == ">")
    else:
        if not isinstance(follow, str):
            raise PatternError(f"Bad value in numeric range: {text(follow)}", path)
        if follow not in _UPPER_OPS:
            raise PatternError(f"Bad numeric range operator: {follow}", path)
        top = next(tokens, end)
        if not _is_number(top):
            raise PatternError(f"Value of {follow} must be numeric", path)
        top_number = _comparable(top, path)
        if next(tokens, end) is not end:
            raise PatternError("Too many terms in numeric range expression", path)
        if top_number <= number:
            raise PatternError("Bottom must be less than top", path)
        return _Range(number, first == ">", top_number, follow == "<")
    if follow is not end:
        raise PatternError("Too many elements in numeric expression", path)
    return result


def _parse_cidr(text: str, path: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    parts = text.split("/")
    if len(parts) != 2:
        raise PatternError("Malformed CIDR, one '/' required", path)
    address, bits = parts
    if not re.fullmatch(r"[0-9]+", bits):
        raise PatternError("Malformed CIDR, mask bits must be an integer", path)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise PatternError(f"Nonstandard IP address: {address}", path) from None
    if int(bits) > ip.max_prefixlen:
        raise PatternError(f"Malformed CIDR, mask bits must be between 0 and {ip.max_prefixlen}", path)
    return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)


@functools.lru_cache(maxsize=256)
def _wildcard_regex(text: str, path: str) -> re.Pattern[str]:
    """Compile an event-ruler wildcard: ``*`` is any run of characters, ``\\*`` and ``\\\\`` are
    literal. Positions in AWS's messages count UTF-8 bytes of the value with its opening JSON
    quote (event-ruler parses ``'"' + value + '"'``), hence ``i + 1``."""
    raw = text.encode("utf-8")
    out: list[str] = []
    literal = bytearray()
    stars = 0
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x2A:  # *
            if i + 1 < len(raw) and raw[i + 1] == 0x2A:
                raise PatternError(f"Consecutive wildcard characters at pos {i + 1}", path)
            out.append(re.escape(literal.decode("utf-8", "surrogatepass")))
            literal.clear()
            out.append(".*")
            stars += 1
        elif byte == 0x5C:  # backslash
            if i + 1 < len(raw) and raw[i + 1] in (0x2A, 0x5C):
                literal.append(raw[i + 1])
                i += 2
                continue
            raise PatternError(f"Invalid escape character at pos {i + 1}", path)
        else:
            literal.append(byte)
        i += 1
    out.append(re.escape(literal.decode("utf-8", "surrogatepass")))
    if stars > MAX_WILDCARDS:
        raise PatternError(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating "
            "character sequences after a wildcard character",
            path,
        )
    return re.compile("".join(out), re.DOTALL)


def _count_branches(obj: dict[str, Any]) -> int:
    total = 1
    for key, value in obj.items():
        if key == _OR and isinstance(value, list):
            total *= sum(_count_branches(item) for item in value if isinstance(item, dict))
        elif isinstance(value, dict):
            total *= _count_branches(value)
        total = min(total, MAX_BRANCHES + 1)
    return total


# --------------------------------------------------------------------------------------------
# matching

_Membership = tuple[tuple[int, int], ...]
_Leaf = tuple[Any, _Membership]
_Condition = Any  # a literal value or a match-expression dict, as written in the pattern


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether EventBridge would deliver ``event`` to a rule with ``pattern``.

    ``pattern`` must be valid (see ``validate_pattern``); an invalid one raises ``PatternError``.
    """
    validate_pattern(dict(pattern))
    leaves: dict[str, list[_Leaf]] = {}
    _flatten(event, "", (), leaves, itertools.count())
    for branch in _branches(dict(pattern), "", [{}]):
        fields = list(branch.items())
        if _solve(fields, 0, {}, leaves):
            return True
    return False


def _flatten(
    node: Any, path: str, member: _Membership, out: dict[str, list[_Leaf]],
    ids: Iterator[int],
) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(value, _join(path, str(key)), member, out, ids)
    elif isinstance(node, Sequence) and not isinstance(node, (str, bytes)):
        array = next(ids)
        for index, item in enumerate(node):
            _flatten(item, path, (*member, (array, index)), out, ids)
    else:
        out.setdefault(path, []).append((node, member))


def _branches(
    obj: dict[str, Any], path: str, branches: list[dict[str, list[_Condition]]]
) -> list[dict[str, list[_Condition]]]:
    """Expand ``$or`` into alternatives of path -> conditions, the way event-ruler does (a path
    given twice at one level keeps the last)."""
    for key, value in obj.items():
        if key == _OR:
            forked: list[dict[str, list[_Condition]]] = []
            for item in value:
                forked.extend(_branches(item, path, [dict(b) for b in branches]))
            branches = forked
        elif isinstance(value, dict):
            branches = _branches(value, _join(path, key), branches)
        else:
            for branch in branches:
                branch[_join(path, key)] = value
    return branches


def _solve(
    fields: list[tuple[str, list[_Condition]]], index: int, chosen: dict[int, int],
    leaves: dict[str, list[_Leaf]],
) -> bool:
    """Backtracking search for one leaf per field with consistent array elements."""
    if index == len(fields):
        return True
    path, conditions = fields[index]
    candidates = leaves.get(path, [])
    for condition in conditions:
        if isinstance(condition, dict) and condition.get("exists") is False:
            if not candidates and _solve(fields, index + 1, chosen, leaves):
                return True
            continue
        for value, member in candidates:
            if not _consistent(member, chosen) or not _test(condition, value):
                continue
            extended = dict(chosen)
            extended.update(member)
            if _solve(fields, index + 1, extended, leaves):
                return True
    return False


def _consistent(member: _Membership, chosen: dict[int, int]) -> bool:
    return all(chosen.get(array, element) == element for array, element in member)


def _number(value: Any) -> Decimal | None:
    if not _is_number(value):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _same(expected: Any, value: Any) -> bool:
    """Exact match: strings by text (IP addresses by address), numbers by value, null/booleans
    by identity of kind."""
    if isinstance(expected, bool) or expected is None:
        return isinstance(value, bool) is isinstance(expected, bool) and value is expected
    if isinstance(expected, str):
        if not isinstance(value, str):
            return False
        if expected == value:
            return True
        return _ip(expected) is not None and _ip(expected) == _ip(value)
    want, got = _number(expected), _number(value)
    return want is not None and got is not None and want == got


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not any(ch in text for ch in ".:"):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _test(condition: _Condition, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _same(condition, value)
    op, arg = next(iter(condition.items()))
    if op == "exists":
        return True  # exists: true and a leaf is present
    if op == "anything-but":
        return not _excluded(arg, value)
    if op == "numeric":
        number = _number(value)
        return (
            number is not None
            and abs(number) <= NUMERIC_LIMIT
            and _parse_numeric(arg, "").contains(number)
        )
    if not isinstance(value, str):
        return False
    if op == "exactly":
        return bool(value == arg)
    if op == "equals-ignore-case":
        return value.lower() == str(arg).lower()
    if op == "prefix":
        if isinstance(arg, dict):
            return value.lower().startswith(str(arg["equals-ignore-case"]).lower())
        return value.startswith(arg)
    if op == "suffix":
        if isinstance(arg, dict):
            return value.lower().endswith(str(arg["equals-ignore-case"]).lower())
        return value.endswith(arg)
    if op == "wildcard":
        return _wildcard_regex(arg, "").fullmatch(value) is not None
    if op == "cidr":
        ip = _ip(value)
        return ip is not None and ip in _parse_cidr(arg, "")
    return False


def _excluded(arg: Any, value: Any) -> bool:
    """Whether ``value`` is one of the things an ``anything-but`` excludes."""
    if isinstance(arg, dict):
        kind, items = next(iter(arg.items()))
        items = items if isinstance(items, list) else [items]
        if not isinstance(value, str):
            return False
        if kind == "equals-ignore-case":
            return any(value.lower() == item.lower() for item in items)
        if kind == "prefix":
            return any(value.startswith(item) for item in items)
        if kind == "suffix":
            return any(value.endswith(item) for item in items)
        return any(_wildcard_regex(item, "").fullmatch(value) for item in items)
    items = arg if isinstance(arg, list) else [arg]
    return any(_same(item, value) for item in items)

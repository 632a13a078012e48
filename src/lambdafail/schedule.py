"""EventBridge schedule expressions: AWS's exact grammar, checked offline.

Rule: accept exactly what EventBridge accepts for `ScheduleExpression` — `rate(1 minute)`
(singular for 1, plural otherwise) and 6-field `cron(Min Hr DoM Mon DoW Year)` where exactly
one of DoM / DoW is `?` — and explain every rejection with the form that would work.
"""

from __future__ import annotations

import re

_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def _rate(expr: str) -> int:
    m = _RATE.match(expr)
    if not m:
        raise ValueError(f"malformed rate expression {expr!r}: write rate(1 minute) or "
                         "rate(5 minutes)")
    n, unit = int(m.group(1)), m.group(2)
    if n < 1:
        raise ValueError(f"{expr!r}: the rate value must be a positive integer")
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _UNITS:
        raise ValueError(f"{expr!r}: unit must be minute(s), hour(s) or day(s)")
    want = singular if n == 1 else singular + "s"
    if unit != want:
        raise ValueError(f"{expr!r}: AWS requires `rate({n} {want})` (singular unit for 1, "
                         "plural otherwise)")
    return n * _UNITS[singular]


_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _num_field(lo: int, hi: int, names: str = "") -> re.Pattern[str]:
    val = rf"(\d{{1,4}}{'|' + names if names else ''})"
    rng = rf"{val}(-{val})?"
    item = rf"(\*|{rng})(/\d{{1,4}})?"
    return re.compile(rf"^{item}(,{item})*$", re.IGNORECASE)


_FIELDS: list[tuple[str, int, int, str]] = [
    ("minutes", 0, 59, ""),
    ("hours", 0, 23, ""),
    ("day-of-month", 1, 31, ""),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, ""),
]


def _check_numbers(name: str, text: str, lo: int, hi: int) -> None:
    for num in re.findall(r"(?<![/\d])\d+", text):
        if not lo <= int(num) <= hi:
            raise ValueError(f"cron {name} value {num} is outside {lo}-{hi}")


def _cron(expr: str) -> int:
    if not (expr.startswith("cron(") and expr.endswith(")")):
        raise ValueError(f"malformed cron expression {expr!r}")
    fields = expr[5:-1].split()
    if len(fields) == 5:
        raise ValueError(
            f"{expr!r} has 5 fields: EventBridge cron has 6 (minutes hours day-of-month month "
            f"day-of-week year) and one of the day fields must be ?; e.g. "
            f"cron({fields[0]} {fields[1]} {fields[2] if fields[2] != '*' else '*'} {fields[3]} "
            f"{'?' if fields[4] == '*' else fields[4]} *)"
            .replace(f"{fields[2]} {fields[3]} {fields[4]}", f"{fields[2]} {fields[3]} ?")
            if fields[4] == "*" else
            f"{expr!r} has 5 fields: EventBridge cron has 6 (minutes hours day-of-month month "
            f"day-of-week year), e.g. cron({fields[0]} {fields[1]} ? {fields[3]} {fields[4]} *)"
        )
    if len(fields) != 6:
        raise ValueError(f"{expr!r} has {len(fields)} fields; EventBridge cron has 6: "
                         "cron(minutes hours day-of-month month day-of-week year)")
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{expr!r}: exactly one of day-of-month and day-of-week must be ?, "
                         "e.g. cron(0/5 * * * ? *)")
    for (name, lo, hi, names), text in zip(_FIELDS, fields, strict=True):
        if text == "?" and name in ("day-of-month", "day-of-week"):
            continue
        if name == "day-of-month" and re.fullmatch(r"(L|\d{1,2}W|LW)", text):
            continue
        if name == "day-of-week" and re.fullmatch(rf"(\d|{_DAYS})(L|#[1-5])", text, re.I):
            continue
        if not _num_field(lo, hi, names).match(text):
            raise ValueError(f"{expr!r}: invalid {name} field {text!r}")
        _check_numbers(name, text, lo, hi)
    return _cron_interval(fields)


def _cron_interval(fields: list[str]) -> int:
    """The shortest gap between firings, as far as the minutes/hours fields tell."""
    minutes, hours = fields[0], fields[1]
    step = re.fullmatch(r"(\*|\d+)/(\d+)", minutes)
    if minutes == "*":
        return 60
    if step:
        return max(1, int(step.group(2))) * 60
    if "," in minutes:
        vals = sorted(int(v) for v in minutes.split(",") if v.isdigit())
        if len(vals) > 1:
            gaps = [b - a for a, b in zip(vals, vals[1:], strict=False)]
            gaps.append(60 - vals[-1] + vals[0])
            return min(gaps) * 60
    if hours == "*":
        return 3600
    hstep = re.fullmatch(r"(\*|\d+)/(\d+)", hours)
    if hstep:
        return int(hstep.group(2)) * 3600
    return 86400


def validate_schedule(expr: str) -> None:
    """Raise ValueError with a helpful message unless EventBridge would accept `expr`."""
    if not isinstance(expr, str) or not expr:
        raise ValueError("a schedule expression is required, e.g. rate(1 minute)")
    if expr.startswith("rate("):
        _rate(expr)
    elif expr.startswith("cron("):
        _cron(expr)
    else:
        raise ValueError(f"{expr!r} is not a schedule expression: use rate(1 minute), "
                         "rate(5 minutes) or cron(0/5 * * * ? *)")


def interval_seconds(expr: str) -> int:
    """Seconds between firings (the shortest gap for cron)."""
    if expr.startswith("rate("):
        return _rate(expr)
    return _cron(expr)

"""EventBridge schedule expressions: AWS's exact grammar, checked offline.

Rule: accept exactly what EventBridge accepts for `ScheduleExpression` — `rate(1 minute)`
(singular for 1, plural otherwise) and 6-field `cron(Min Hr DoM Mon DoW Year)` where exactly
one of DoM / DoW is `?` — and explain every rejection with the form that would work.
"""

from __future__ import annotations

import itertools
import re


class ScheduleError(ValueError):
    """A schedule expression EventBridge would reject; ``hint`` shows a form that works."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def _rate(expr: str) -> int:
    m = _RATE.match(expr)
    if not m:
        raise ScheduleError(f"malformed rate expression {expr!r}",
                            "write rate(1 minute) or rate(5 minutes) (value, one space, unit)")
    n, unit = int(m.group(1)), m.group(2)
    if n < 1:
        raise ScheduleError(f"{expr!r}: the rate value must be a positive integer",
                            "the shortest schedule is rate(1 minute)")
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _UNITS:
        raise ScheduleError(f"{expr!r}: the unit must be minute(s), hour(s) or day(s)",
                            f"e.g. rate({n} {'minute' if n == 1 else 'minutes'})")
    want = singular if n == 1 else singular + "s"
    if unit != want:
        raise ScheduleError(f"{expr!r}: EventBridge wants the singular unit for 1 and the "
                            "plural otherwise", f"write rate({n} {want})")
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
            raise ScheduleError(f"cron {name} value {num} is outside {lo}-{hi}")


def unix_to_eventbridge(fields: list[str]) -> str:
    """The 6-field EventBridge form of a 5-field unix cron (minute hour dom month dow).

    EventBridge adds a year field, wants ``?`` in one of the two day fields, and numbers the
    days of the week 1-7 from Sunday where unix uses 0-6 (or 7) from Sunday."""
    minute, hour, dom, month, dow = fields
    if dow in ("*", "?"):
        return f"cron({minute} {hour} {'*' if dom == '?' else dom} {month} ? *)"
    aws_dow = re.sub(r"(?<![/\d])\d+", lambda m: str(int(m.group()) % 7 + 1), dow)
    if dom in ("*", "?"):
        return f"cron({minute} {hour} ? {month} {aws_dow} *)"
    # unix fires when either day field matches; EventBridge cannot say that in one rule.
    return (f"cron({minute} {hour} {dom} {month} ? *) and a second schedule for "
            f"cron({minute} {hour} ? {month} {aws_dow} *)")


def _cron(expr: str) -> int:
    if not (expr.startswith("cron(") and expr.endswith(")")):
        raise ScheduleError(f"malformed cron expression {expr!r}",
                            "write cron(minutes hours day-of-month month day-of-week year), "
                            "e.g. cron(0/5 * * * ? *)")
    fields = expr[5:-1].split()
    if len(fields) == 5:
        raise ScheduleError(
            f"{expr!r} is a 5-field unix cron; EventBridge cron has 6 fields (minutes hours "
            "day-of-month month day-of-week year) with ? in one of the day fields",
            f"write {unix_to_eventbridge(fields)}")
    if len(fields) != 6:
        raise ScheduleError(f"{expr!r} has {len(fields)} fields; EventBridge cron has 6",
                            "cron(minutes hours day-of-month month day-of-week year), e.g. "
                            "cron(0/5 * * * ? *)")
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        fixed = [*fields]
        fixed[4 if dom != "?" else 2] = "?" if dom != "?" else "*"
        raise ScheduleError(f"{expr!r}: exactly one of day-of-month and day-of-week must be ?",
                            f"e.g. cron({' '.join(fixed)})")
    for (name, lo, hi, names), text in zip(_FIELDS, fields, strict=True):
        if text == "?" and name in ("day-of-month", "day-of-week"):
            continue
        if name == "day-of-month" and re.fullmatch(r"(L|\d{1,2}W|LW)", text):
            continue
        if name == "day-of-week" and re.fullmatch(rf"(\d|{_DAYS})(L|#[1-5])", text, re.I):
            continue
        if not _num_field(lo, hi, names).match(text):
            raise ScheduleError(f"{expr!r}: invalid {name} field {text!r}",
                                "cron(minutes hours day-of-month month day-of-week year), "
                                "e.g. cron(0/5 * * * ? *)")
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
            gaps = [b - a for a, b in itertools.pairwise(vals)]
            gaps.append(60 - vals[-1] + vals[0])
            return min(gaps) * 60
    if hours == "*":
        return 3600
    hstep = re.fullmatch(r"(\*|\d+)/(\d+)", hours)
    if hstep:
        return int(hstep.group(2)) * 3600
    return 86400


def validate_schedule(expr: str) -> None:
    """Raise ScheduleError (a ValueError) unless EventBridge would accept `expr`."""
    if not isinstance(expr, str) or not expr:
        raise ScheduleError("a schedule expression is required", "e.g. rate(1 minute)")
    if expr.startswith("rate("):
        _rate(expr)
    elif expr.startswith("cron("):
        _cron(expr)
    else:
        raise ScheduleError(f"{expr!r} is not a schedule expression",
                            "use rate(1 minute), rate(5 minutes) or cron(0/5 * * * ? *)")


def interval_seconds(expr: str) -> int:
    """Seconds between firings (the shortest gap for cron)."""
    if expr.startswith("rate("):
        return _rate(expr)
    return _cron(expr)

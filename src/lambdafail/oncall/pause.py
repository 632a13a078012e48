"""`pause` / `resume`: hold a service's automatic switching for a while, and let it go again.

Rules: no click, no rich; a pause is one attribute of the service's state item (`paused`), set
and cleared only here, with a version bump so the orchestrator's next write re-reads it; the
orchestrator keeps probing and recording while paused but makes no automatic switch (runtime
`decisions.decide` answers `blocked: paused`); manual `failover` / `rollback` still work;
`deploy` never writes the attribute, so it never undoes a pause; a pause ends by itself at its
`until` (nothing to clean up).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambdafail.base import durations
from lambdafail.base.errors import UsageError
from lambdafail.oncall.common import iso, runtime_guard, store_for, utcnow
from lambdafail.oncall.model import PauseOutcome

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext

MAX_PAUSE_SECONDS = 7 * 86400
def parse_duration(text: str) -> float:
    """`90s`, `30m`, `2h`, `1d`, `1h30m` → seconds (more than 0, at most 7 days)."""
    return durations.parse(text, what="a pause", max_seconds=MAX_PAUSE_SECONDS,
                           hint="pause again before it ends to extend it")


def _services(compiled: dict[str, Any], service: str | None, all_: bool) -> list[str]:
    names = sorted(compiled["services"])
    if all_ == (service is not None):
        raise UsageError("name one SERVICE or give --all", hint=f"services: {', '.join(names)}")
    if service is not None and service not in compiled["services"]:
        raise UsageError(f"no service {service!r} in topology {compiled['topology']!r}",
                         hint=f"services: {', '.join(names)}")
    return names if all_ else [str(service)]


def pause(ctx: AwsContext, compiled: dict[str, Any], service: str | None, *, all_: bool,
          seconds: float, reason: str, actor: str | None = None) -> list[PauseOutcome]:
    """Pause automatic switching of `service` (or every service) for `seconds`."""
    if not reason.strip():
        raise UsageError("pause needs a reason", hint="add --reason \"why\" (status shows it)")
    names = _services(compiled, service, all_)
    who = actor or ctx.caller_arn()
    now = utcnow()
    until = now.timestamp() + seconds
    record = {"until": until, "reason": reason, "actor": who, "at": iso(now)}
    store = store_for(ctx, compiled)
    out = []
    for name in names:
        with runtime_guard(ctx, compiled):
            _require_item(store, name, compiled)
            store.set_pause(name, record)
            store.record("pause", actor=who, now=now.timestamp(), service=name, reason=reason,
                         detail={"until": iso(datetime.fromtimestamp(until, UTC))})
        when = iso(datetime.fromtimestamp(until, UTC))
        out.append(PauseOutcome("pause", name, True, when, reason, who,
                                f"{name}: automatic switching paused until {when} (probes and "
                                "records go on; `lambdafail failover` still works)"))
    return out


def resume(ctx: AwsContext, compiled: dict[str, Any], service: str | None, *,
           all_: bool, actor: str | None = None) -> list[PauseOutcome]:
    """End the pause of `service` (or every service): the next tick may switch again."""
    names = _services(compiled, service, all_)
    who = actor or ctx.caller_arn()
    store = store_for(ctx, compiled)
    now = utcnow().timestamp()
    out = []
    for name in names:
        with runtime_guard(ctx, compiled):
            st = _require_item(store, name, compiled)
            was = st.paused_until(now)
            if st.paused is not None:
                store.set_pause(name, None)
                store.record("resume", actor=who, now=now, service=name,
                             reason=str(st.paused.get("reason", "")))
        msg = (f"{name}: resumed; the orchestrator may switch it again from its next tick"
               if was is not None else f"{name} was not paused; nothing to do")
        out.append(PauseOutcome("resume", name, was is not None, None,
                                str((st.paused or {}).get("reason", "")), who, msg))
    return out


def _require_item(store: Any, name: str, compiled: dict[str, Any]) -> Any:
    st = store.get(name)
    if st is None:
        raise UsageError(f"{name} has no state item in {compiled['table']}: it has not been "
                         "deployed", hint="run `lambdafail deploy` first (it seeds every service)")
    return st

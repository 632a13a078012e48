"""Turn on-call results into rich renderables (tables for people) or plain dicts (--output json).

Rules: pure — no I/O, no AWS, no clock (ages come precomputed in the results); state is always
said in words and marked with a symbol, colour only reinforces it, so `--no-color` output and a
screen reader lose nothing; the JSON documents are versioned (`"format": 1`) and documented in
docs/commands.md — add fields, never rename or remove them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdafail.oncall.model import (
    ServiceStatus,
    SideStatus,
    StatusReport,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

FORMAT = 1


def human_age(seconds: float | None) -> str:
    """12s ago, 5m ago, 3h ago, 2d ago; "never" when unknown."""
    if seconds is None:
        return "never"
    s = int(seconds)
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s ago" if s < 600 else f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m ago"
    return f"{s // 86400}d{(s % 86400) // 3600}h ago"


# --------------------------------------------------------------------------------------------
# status


def _side_doc(s: SideStatus) -> dict[str, Any]:
    doc: dict[str, Any] = {"ok": s.ok, "at": s.at, "age_seconds": s.age_seconds,
                           "detail": s.detail, "failures": s.failures,
                           "successes": s.successes, "latency_ms": s.latency_ms,
                           "fault_until": s.fault_until}
    if s.live is not None:
        doc["probe"] = {"ok": s.live.ok, "detail": s.live.detail,
                        "latency_ms": s.live.latency_ms}
    return doc


def _service_doc(s: ServiceStatus) -> dict[str, Any]:
    lt = s.last_transition
    return {
        "name": s.name,
        "deployed": s.deployed,
        "active": s.active,
        "since": s.since,
        "since_age_seconds": s.since_age_seconds,
        "phase": s.phase,
        "pending": s.pending,
        "primary": _side_doc(s.primary),
        "standby": _side_doc(s.standby),
        "last_transition": None if lt is None else {
            "id": lt.id, "at": lt.at, "age_seconds": lt.age_seconds, "from": lt.from_,
            "to": lt.to, "reason": lt.reason, "actor": lt.actor},
        "drill": None if s.drill is None else {
            "drill_id": s.drill.drill_id, "owner": s.drill.owner,
            "started_at": s.drill.started_at, "age_seconds": s.drill.age_seconds},
        "rules": dict(s.rules),
        "blocked": s.blocked,
        "problems": list(s.problems),
        "healthy": s.healthy,
        "state": s.state,
        "reason": s.reason,
        "severity": s.severity,
        "paused": None if s.paused is None else {
            "until": s.paused.until, "seconds_left": s.paused.until_age_seconds,
            "reason": s.paused.reason, "actor": s.paused.actor, "at": s.paused.at},
        "router": None if s.router is None else {
            "kind": s.router.kind, "points_at": s.router.side, "found": s.router.found,
            "readable": s.router.readable, "seen": s.router.seen},
        "cold_standby": None if s.plan_problems is None else {
            "ready": not s.plan_problems, "problems": list(s.plan_problems)},
    }


def status_document(r: StatusReport) -> dict[str, Any]:
    """The `status --output json` document (format 1, docs/commands.md)."""
    o = r.orchestrator
    return {
        "format": FORMAT,
        "topology": r.topology,
        "region": r.region,
        "generated_at": r.generated_at,
        "orchestrator": {
            "function": o.function,
            "deployed_version": o.deployed_version,
            "last_tick_at": o.last_tick_at,
            "last_tick_age_seconds": o.last_tick_age_seconds,
            "stale_after_seconds": o.stale_after_seconds,
            "fresh": o.fresh,
            "drift": o.drift,
            "deployed_config_sha256": o.deployed_config_sha256,
            "file_config_sha256": o.file_config_sha256,
            "problems": list(o.problems),
            "notifications": {"failing": o.notifications_failing is not None,
                              "error": o.notifications_failing[0]
                              if o.notifications_failing else None,
                              "since": o.notifications_failing[1]
                              if o.notifications_failing else None},
            "dlq": o.dlq,
            "failed_events": o.failed_events,
        },
        "services": [_service_doc(s) for s in r.services],
        "healthy": r.healthy,
        "verdict": r.verdict,
        "api_calls": r.api_calls,
    }


def _active_cell(s: ServiceStatus) -> str:
    if not s.deployed:
        return "[bold red]✖ NOT DEPLOYED[/]"
    if s.phase == "switching":
        to = (s.pending or {}).get("to", "?")
        return f"[bold magenta]⇄ SWITCHING → {to}[/]"
    if s.active == "primary":
        return "[green]● primary[/]"
    return f"[bold yellow]▲ {str(s.active).upper()}[/]"


def _health_cell(side: SideStatus) -> str:
    if side.ok is None:
        text = "[dim]? unknown[/]"
    elif side.ok:
        text = "[green]ok[/]"
    else:
        text = f"[bold red]FAIL[/] ×{side.failures}" if side.failures else "[bold red]FAIL[/]"
    text += f" [dim]{human_age(side.age_seconds)}[/]" if side.age_seconds is not None else ""
    if side.fault_until:
        text += " [magenta](drill fault)[/]"
    if side.live is not None:
        live = "[green]ok[/]" if side.live.ok else "[bold red]FAIL[/]"
        text += f"\nnow: {live}"
        if not side.live.ok and side.live.detail:
            text += f" [dim]{escape(short_detail(side.live.detail))}[/]"
    elif side.ok is False and side.detail:
        text += f"\n[dim]{escape(short_detail(side.detail))}[/]"
    return text


def short_detail(detail: str, limit: int = 48) -> str:
    """A probe's detail for a table cell: without errno noise, shortened from the front."""
    import re

    return fit(re.sub(r"\[Errno -?\d+\] ", "", detail).strip(), limit)


def _rules_cell(rules: dict[str, str]) -> str:
    if not rules:
        return "[dim]-[/]"
    bad = {k: v for k, v in rules.items() if v != "ENABLED"}
    if not bad:
        return f"[green]{len(rules)} enabled[/]"
    parts = [f"[bold red]{v.lower()}[/] {k}" for k, v in sorted(bad.items())]
    return "\n".join(parts)


def escape(text: str) -> str:
    """Rich markup escaped, and user text stripped of control characters (base/text.py)."""
    from rich.markup import escape

    from lambdafail.base.text import terminal_safe

    return escape(terminal_safe(text))



# Symbol and style of each state: the word is always printed, colour only repeats it.
STATE_MARKS: dict[str, tuple[str, str]] = {
    "healthy": ("✓", "green"), "at_risk": ("▲", "yellow"), "failing": ("!", "yellow"),
    "failed_over": ("✗", "bold red"), "blocked": ("✗", "bold red"),
    "misrouted": ("✗", "bold red"),
    "switching": ("⇄", "bold magenta"), "unknown": ("?", "yellow"), "paused": ("‖", "cyan"),
    "drill": ("◆", "magenta"),
}
VERDICT_MARKS = {"healthy": ("✓ HEALTHY", "bold green"), "at_risk": ("▲ AT RISK", "bold yellow"),
                 "degraded": ("✗ DEGRADED", "bold red")}


def _state_cell(s: ServiceStatus) -> str:
    mark, style = STATE_MARKS.get(s.state, ("?", "yellow"))
    word = s.state if s.severity != "degraded" or s.state != "switching" else "switching (stuck)"
    return f"[{style}]{mark} {word}[/]"


def short_age(seconds: float | None) -> str:
    """12s, 5m, 3h, 2d; "-" when unknown (a table cell: "ago" is in the header)."""
    if seconds is None:
        return "-"
    n = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if n >= size:
            return f"{n // size}{unit}"
    return f"{n}s"


def fit(text: str, width: int) -> str:
    """`text` in at most `width` characters, never breaking a word: a "what: detail" text keeps
    its head and loses the front of the detail (the meaningful end of an error survives)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head, sep, tail = text.partition(": ")
    room = width - len(head) - len(sep) - 1
    if sep and room >= 8:
        return head + sep + "…" + _keep_end(tail, room)
    return _keep_start(text, width - 1) + "…"


def _keep_end(text: str, n: int) -> str:
    cut = text[-n:]
    if len(text) > n and text[-n - 1] != " " and " " in cut:
        cut = cut.split(" ", 1)[1]  # drop the broken word
    return cut


def _keep_start(text: str, n: int) -> str:
    cut = text[:n]
    if len(text) > n and text[n] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" :;,")


def _active_word(s: ServiceStatus) -> str:
    if not s.deployed:
        return "-"
    if s.phase == "switching":
        return "→" + str((s.pending or {}).get("to", "?"))
    return str(s.active)


def _probe_age(s: ServiceStatus) -> float | None:
    side = s.standby if s.active == "standby" else s.primary
    return side.age_seconds


def verdict_line(r: StatusReport) -> str:
    """The first line: the worst state, which services and why, in at most one line."""
    label, style = VERDICT_MARKS[r.verdict]
    n = len(r.services)
    bad = [s for s in r.services if s.state != "healthy"]
    parts = [] if r.orchestrator.fresh else ["orchestrator not running"]
    if r.orchestrator.failed_events:
        parts.append(f"{r.orchestrator.failed_events} failed event(s)")
    if r.orchestrator.notifications_failing:
        parts.append("notifications failing")
    order = ("degraded", "at_risk")
    for s in sorted(bad, key=lambda s: order.index(s.severity) if s.severity in order else 2):
        parts.append(f"{s.name} {s.state}")
    if not parts:
        return f"[{style}]{label}[/] all {n} service(s) on their primary with a working standby"
    return f"[{style}]{label}[/] " + escape(", ".join(parts)) + f" [dim](of {n})[/]"


def _header_line(r: StatusReport) -> str:
    o = r.orchestrator
    ver = o.deployed_version or "not deployed"
    return (f"[bold]{escape(r.topology)}[/] ({escape(r.region)}) · orchestrator v"
            f"{escape(ver)} · last tick {human_age(o.last_tick_age_seconds)} · read "
            f"{r.generated_at[11:19]} UTC")


COMPACT_COLUMNS = ("service", "state", "on", "why", "probe", "moved")


def status_lines(r: StatusReport, width: int = 80) -> list[str]:
    """The compact status (markup lines, none wider than `width`): verdict first, then the
    topology line, the orchestrator's loud flags, and one line per service."""
    lines = [verdict_line(r), _header_line(r)]
    lines += _orchestrator_flags(r)
    rows = [(s.name, _state_cell(s), _active_word(s), s.reason or "-",
             short_age(_probe_age(s)),
             short_age(s.last_transition.age_seconds) if s.last_transition else "never")
            for s in r.services]
    plain = [(n, _plain(st), a, why, p, t) for n, st, a, why, p, t in rows]
    widths = [max([len(h)] + [len(row[i]) for row in plain])
              for i, h in enumerate(COMPACT_COLUMNS)]
    widths[0] = min(widths[0], 24)
    fixed = sum(w for i, w in enumerate(widths) if i != 3) + 2 * (len(widths) - 1)
    widths[3] = max(10, min(widths[3], width - fixed))
    def line(cells: tuple[str, ...], styled: tuple[str, ...] | None = None) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = fit(cell, widths[i])
            pad = " " * (widths[i] - len(text))
            shown = styled[i] if styled and i == 1 else escape(text)
            out.append(shown + pad if i in (0, 1, 2, 3) else pad + escape(text))
        return "  ".join(out).rstrip()
    lines.append("[bold]" + line(COMPACT_COLUMNS) + "[/]")
    for cells, styled in zip(plain, rows, strict=True):
        lines.append(line(cells, styled))
    return lines


def _plain(markup: str) -> str:
    from rich.text import Text

    return Text.from_markup(markup).plain


def status_table_wide(r: StatusReport) -> Table:
    """`-o wide`: every column, cells fold."""
    from rich.table import Table

    t = Table(show_lines=False, header_style="bold", expand=False, pad_edge=False)
    # The drill column only when a drill runs: narrow terminals at 3 a.m. need the room.
    drills = any(s.drill is not None for s in r.services)
    for col in ("service", "active (since)", "primary", "standby", "last transition",
                *(("drill",) if drills else ()), "rules", "state"):
        t.add_column(col, overflow="fold")
    for s in r.services:
        since = f"\n[dim]{human_age(s.since_age_seconds)}[/]" if s.since_age_seconds else ""
        lt = s.last_transition
        last = "[dim]none[/]" if lt is None else (
            f"{lt.from_} → {lt.to} [dim]{human_age(lt.age_seconds)}[/]\n{escape(lt.reason)}"
            + (f" by {escape(short_actor(lt.actor))}" if lt.actor else ""))
        drill = "[dim]-[/]" if s.drill is None else (
            f"[magenta]◆ DRILL[/] {escape(s.drill.drill_id)}\n[dim]{escape(s.drill.owner)}[/]")
        state = _state_cell(s) + (f"\n{escape(s.reason)}" if s.reason else "")
        t.add_row(f"[bold]{escape(s.name)}[/]", _active_cell(s) + since,
                  _health_cell(s.primary), _health_cell(s.standby), last,
                  *((drill,) if drills else ()), _rules_cell(s.rules), state)
    return t


def short_actor(arn: str) -> str:
    # arn:aws:sts::123:assumed-role/OnCall/alice -> assumed-role/OnCall/alice
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _orchestrator_flags(r: StatusReport) -> list[str]:
    o = r.orchestrator
    tick = human_age(o.last_tick_age_seconds)
    lines = []
    if not o.fresh:
        lines.append(f"[bold white on red] ✖ ORCHESTRATOR NOT RUNNING [/] [bold red]"
                     f"no tick for {tick.removesuffix(' ago')} (limit "
                     f"{o.stale_after_seconds}s): failures are NOT being detected[/]"
                     if o.last_tick_at else
                     "[bold white on red] ✖ ORCHESTRATOR NOT RUNNING [/] [bold red]no "
                     "heartbeat ever: failures are NOT being detected[/]")
    if o.drift:
        lines.append("[bold yellow]▲ DRIFT[/] the deployed config differs from the file: "
                     "`lambdafail plan` shows how")
    if o.notifications_failing:
        error, since = o.notifications_failing
        lines.append(f"[bold yellow]▲ NOTIFICATIONS FAILING[/] since {escape(since)}: "
                     f"{escape(error[-160:])} — nobody is told of switches; see the runbook")
    for p in o.problems:
        lines.append(f"[yellow]▲[/] {escape(p)}")
    return lines


def status_renderable(r: StatusReport, width: int = 80, wide: bool = False,
                      stale: str | None = None, every: float | None = None) -> RenderableType:
    """The status screen. `--watch` passes `every` (its interval): a first line then always
    says when the screen was refreshed, or — `stale`: why this (last good) report could not be
    refreshed — that it is stale, in the same place, so the layout never jumps."""
    from rich.console import Group
    from rich.text import Text

    def line(markup: str) -> Text:
        t = Text.from_markup(markup, overflow="ellipsis")
        t.no_wrap = True
        return t

    top = []
    if stale:
        top = [line(f"[bold white on red] STALE [/] [bold red]{escape(stale)}; showing the "
                    f"status read at {r.generated_at[11:19]} UTC[/]")]
    elif every is not None:
        top = [line(f"[dim]↻ refreshed {r.generated_at[11:19]} UTC, every {every:g}s · "
                    "Ctrl-C ends[/]")]
    if wide:
        return Group(*top, Text.from_markup(verdict_line(r)),
                     Text.from_markup(_header_line(r)),
                     *[Text.from_markup(x) for x in _orchestrator_flags(r)],
                     status_table_wide(r))
    return Group(*top, *[line(x) for x in status_lines(r, width)])

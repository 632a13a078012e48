"""`lambdafail status`: one state per service, the verdict first, and an exit code for monitors.

Exit 0 when every service is healthy and the orchestrator fresh, 8 when nothing is degraded but
some service is at risk (no working standby, unknown, failing, paused, drill), 7 when degraded
(failed over, blocked, a stuck switch, the orchestrator stale), 3 on AWS errors — `--fail-on`
narrows what counts. The states are computed once (oncall.status.classify); the reads are
batched (oncall.status.gather_status).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lambdafail.cli.main import global_options, topology_file_option

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext


def _parse_fail_on(ctx: click.Context, param: click.Parameter,
                   value: str | None) -> frozenset[str] | None:
    from lambdafail.base.errors import UsageError
    from lambdafail.oncall.model import FAILED_EVENTS, NOTIFICATIONS, STALE, STATES

    if value is None:
        return None
    words = frozenset(w.strip() for w in value.split(",") if w.strip())
    if words == {"none"}:
        return frozenset()
    known = {*STATES, STALE, FAILED_EVENTS, NOTIFICATIONS} - {"healthy"}
    bad = sorted(words - known)
    if bad or not words:
        raise UsageError(f"--fail-on {value!r}: unknown state {', '.join(bad) or '(empty)'}",
                         hint=f"a comma-separated list of {', '.join(sorted(known))}, or none")
    return words


@click.command("status", help="Show one state per service (healthy, at_risk, failing, "
               "failed_over, misrouted, blocked, switching, unknown, paused, drill), the verdict "
               "first. "
               "Exit 0 healthy, 8 at risk, 7 degraded, 3 AWS error.")
@topology_file_option
@click.option("--watch", "-w", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.option("--probe", is_flag=True,
              help="Also probe every target now, from this machine, concurrently.")
@click.option("--fail-on", "fail_on", metavar="STATES", callback=_parse_fail_on,
              help="Only these states (comma-separated; `stale` = orchestrator not running; "
              "`none`) make the exit code non-zero. Default: all but healthy.")
@global_options
def command(file: str, watch: bool, interval: float, probe: bool,
            fail_on: frozenset[str] | None) -> int:
    from lambdafail.base import settings
    from lambdafail.base.errors import LambdafailError, UsageError
    from lambdafail.cli import render
    from lambdafail.cli.commands.common import console, emit_json, is_json, open_topology
    from lambdafail.oncall import status

    if watch and is_json():
        raise UsageError("--watch draws a live table; it does not stream JSON",
                         hint="for scripts, run `lambdafail status --output json` in a loop")
    _, ctx, compiled = open_topology(file)
    wide = settings.current().resolved_output() == "wide"
    _reconcile_break_glass(ctx, compiled)
    if not watch:
        try:
            report = status.gather_status(ctx, compiled, probe=probe)
        except LambdafailError as e:
            from lambdafail.oncall import breakglass

            note = breakglass.pending_note(str(compiled["topology"]))
            if note:
                e.hint = f"{e.hint}; {note}"
            raise
        if is_json():
            emit_json(render.status_document(report))
        else:
            out = console()
            out.print(render.status_renderable(report, out.width, wide=wide))
        return report.exit_code(fail_on)

    return _watch(ctx, compiled, probe, interval, fail_on, wide)


def _reconcile_break_glass(ctx: AwsContext, compiled: dict[str, Any]) -> None:
    """Break-glass switches made while the table was out go into its log first."""
    from lambdafail.cli import render
    from lambdafail.cli.commands.common import console
    from lambdafail.oncall import breakglass

    for line in breakglass.reconcile(ctx, compiled):
        console(stderr=True).print(f"[bold yellow]▲[/] {render.escape(line)}")


def _watch(ctx: AwsContext, compiled: dict[str, Any], probe: bool, interval: float,
           fail_on: frozenset[str] | None, wide: bool) -> int:
    import threading
    from datetime import UTC, datetime

    from rich.live import Live
    from rich.text import Text

    from lambdafail.base.errors import ExitCode, LambdafailError
    from lambdafail.cli import render
    from lambdafail.cli.commands.common import console
    from lambdafail.oncall import status

    last = int(ExitCode.DEGRADED)
    good = None  # the last report read: kept on screen, marked stale, when a refresh fails
    stop = threading.Event()
    out = console()
    with Live(Text("loading…"), console=out, auto_refresh=False, transient=False) as live:
        try:
            while not stop.is_set():
                try:
                    good = status.gather_status(ctx, compiled, probe=probe)
                    last = good.exit_code(fail_on)
                    live.update(render.status_renderable(good, out.width, wide=wide,
                                                         every=interval), refresh=True)
                except LambdafailError as e:
                    # Keep watching through transient AWS errors; say so above the last table.
                    last = int(e.exit_code)
                    at = datetime.now(UTC).strftime("%H:%M:%S")
                    why = f"refresh failed at {at} UTC: {e.message}"
                    live.update(render.status_renderable(good, out.width, wide=wide,
                                                         stale=why, every=interval)
                                if good is not None else
                                Text(f"✖ cannot read status: {why}\n  {e.hint}",
                                     style="bold red"), refresh=True)
                stop.wait(interval)
        except KeyboardInterrupt:
            pass
    return last

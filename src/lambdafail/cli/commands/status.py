"""`lambdafail status`: active side, health, drills, rules and the orchestrator's heartbeat.

Exit 0 when every service is healthy on its primary and the orchestrator is fresh, 7 (degraded)
otherwise, 3 on AWS errors — monitors rely on it. The reads are batched (oncall.status.gather_status).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from lambdafail.cli.main import global_options, topology_file_option

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.oncall.model import StatusReport


@click.command("status", help="Show the active side and health of every service, drills, "
               "signal rules and the orchestrator's heartbeat. Exit 0 healthy, 7 degraded, "
               "3 AWS error.")
@topology_file_option
@click.option("--watch", "-w", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.option("--probe", is_flag=True,
              help="Also probe every target now, from this machine, concurrently.")
@global_options
def command(file: str, watch: bool, interval: float, probe: bool) -> int:
    from lambdafail.base.errors import ExitCode, UsageError
    from lambdafail.cli import render
    from lambdafail.cli.commands.common import console, emit_json, is_json, open_topology
    from lambdafail.oncall import status

    _, ctx, compiled = open_topology(file)

    def code(report: StatusReport) -> int:
        return int(ExitCode.OK if report.healthy else ExitCode.DEGRADED)

    if not watch:
        report = status.gather_status(ctx, compiled, probe=probe)
        if is_json():
            emit_json(render.status_document(report))
        else:
            console().print(render.status_renderable(report))
        return code(report)

    if is_json():
        raise UsageError("--watch draws a live table; it does not stream JSON",
                         hint="for scripts, run `lambdafail status --output json` in a loop")
    return _watch(ctx, compiled, probe, interval, code)


def _watch(ctx: AwsContext, compiled: dict[str, Any], probe: bool, interval: float,
           code: Callable[[StatusReport], int]) -> int:
    import threading

    from rich.live import Live
    from rich.text import Text

    from lambdafail.base.errors import ExitCode, LambdafailError
    from lambdafail.cli import render
    from lambdafail.cli.commands.common import console
    from lambdafail.oncall import status

    last = int(ExitCode.DEGRADED)
    stop = threading.Event()
    out = console()
    with Live(Text("loading…"), console=out, auto_refresh=False, transient=False) as live:
        try:
            while not stop.is_set():
                try:
                    report = status.gather_status(ctx, compiled, probe=probe)
                    last = code(report)
                    live.update(render.status_renderable(report), refresh=True)
                except LambdafailError as e:
                    # Keep watching through transient AWS errors; say so in place.
                    last = int(e.exit_code)
                    live.update(Text(f"✖ cannot read status: {e.message}\n  {e.hint}",
                                     style="bold red"), refresh=True)
                stop.wait(interval)
        except KeyboardInterrupt:
            pass
    return last

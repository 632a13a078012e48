"""`lambdafail resume SERVICE|--all`: end a pause; the orchestrator may switch again.

Idempotent: a service that is not paused is said so, exit 0. Exit 2 usage, 3 AWS error.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, topology_file_option
from lambdafail.oncall.model import PauseOutcome


@click.command("resume", help="End the pause of SERVICE (or --all): the orchestrator may "
               "switch it again from its next tick.")
@topology_file_option
@click.argument("service", required=False)
@click.option("--all", "all_", is_flag=True, help="Resume every service of the topology.")
@global_options
def command(file: str, service: str | None, all_: bool) -> int:
    from lambdafail.cli.commands.common import open_topology
    from lambdafail.oncall import pause

    _, ctx, compiled = open_topology(file)
    report(pause.resume(ctx, compiled, service, all_=all_))
    return 0


def report(outcomes: list[PauseOutcome]) -> None:
    """Print pause/resume outcomes: the JSON document, or one line each on stderr."""
    from lambdafail.cli import render, render_actions
    from lambdafail.cli.commands.common import console, emit_json, is_json

    if is_json():
        emit_json(render_actions.pause_document(outcomes))
        return
    err = console(stderr=True)
    for o in outcomes:
        mark = "[cyan]‖[/]" if o.action == "pause" else "[green]✓[/]"
        err.print(f"{mark} {render.escape(o.message)}")

"""`lambdafail pause SERVICE|--all --for DURATION --reason TEXT`: hold automatic switching.

The orchestrator keeps probing and recording, status shows `paused` (or `blocked` with the
pause as reason when a failover is wanted) and until when; `failover` / `rollback` by hand still
work; deploy never undoes it; it ends by itself. Exit 0 paused, 2 usage, 3 AWS error.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, require_text, topology_file_option


@click.command("pause", help="Hold the orchestrator's automatic switching of SERVICE (or "
               "--all) for a while; it keeps probing and recording.")
@topology_file_option
@click.argument("service", required=False)
@click.option("--all", "all_", is_flag=True, help="Pause every service of the topology.")
@click.option("--for", "duration", required=True, metavar="DURATION",
              help="How long: 90s, 30m, 2h, 1h30m, 1d (at most 7 days).")
@click.option("--reason", "reason", required=True, metavar="TEXT", callback=require_text,
              help="Why (status shows it with your identity).")
@global_options
def command(file: str, service: str | None, all_: bool, duration: str, reason: str) -> int:
    from lambdafail.cli.commands.common import open_topology
    from lambdafail.cli.commands.resume import report
    from lambdafail.oncall import pause

    seconds = pause.parse_duration(duration)
    _, ctx, compiled = open_topology(file)
    report(pause.pause(ctx, compiled, service, all_=all_, seconds=seconds, reason=reason))
    return 0

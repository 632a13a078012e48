"""`lambdafail approve SERVICE --reason TEXT [--deny]`: decide a plan's `approval` step.

The pending switch of SERVICE must be waiting at an approval step (status says so); the
decision is written once into that switch and the plan goes on (or fails: --deny blocks the
service, the router does not move). Exit 0 recorded, 2 nothing waits, 3 AWS error or the switch
changed meanwhile.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, require_text, topology_file_option


@click.command("approve", help="Let SERVICE's switch go past the approval step it waits at "
               "(--deny: the plan fails and the service stays where it is).")
@topology_file_option
@click.argument("service")
@click.option("--reason", "reason", required=True, metavar="TEXT", callback=require_text,
              help="Why (history shows it with your identity).")
@click.option("--deny", is_flag=True, help="Refuse: the plan fails, the router does not move.")
@global_options
def command(file: str, service: str, reason: str, deny: bool) -> int:
    from lambdafail.cli import render
    from lambdafail.cli.commands.common import console, emit_json, is_json, open_topology
    from lambdafail.oncall import approve

    _, ctx, compiled = open_topology(file)
    o = approve.approve(ctx, compiled, service, reason=reason, deny=deny)
    if is_json():
        emit_json({"format": render.FORMAT, "service": o.service, "decision": o.decision,
                   "transition_id": o.transition_id, "step": o.step, "reason": o.reason,
                   "actor": o.actor, "message": o.message})
    else:
        mark = "[red]✗[/]" if deny else "[green]✓[/]"
        console(stderr=True).print(f"{mark} {render.escape(o.message)}")
    return 0

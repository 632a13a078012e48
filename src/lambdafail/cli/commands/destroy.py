"""`lambdafail destroy`: delete everything the topology owns (tagged), keeping the state table
and seeded router parameters unless --delete-state.

Rule: only what carries the topology's tag is deleted; same confirmation rules as deploy.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, topology_file_option


@click.command("destroy", help="Delete everything the topology owns. The state table (the "
               "audit log) and the router parameters stay unless --delete-state.")
@topology_file_option
@click.option("--yes", "-y", is_flag=True, default=False, help="Do not ask for confirmation.")
@click.option("--delete-state", is_flag=True, default=False,
              help="Also delete the state table and the SSM router parameters lambdafail "
                   "created.")
@click.option("--dry-run", is_flag=True, default=False,
              help="Print what would be deleted and change nothing.")
@global_options
def command(file: str, yes: bool, delete_state: bool, dry_run: bool) -> int:
    from lambdafail.cli.commands.common import (
        aws_for,
        console,
        control_contexts,
        emit_json,
        is_json,
        load_topology,
    )
    from lambdafail.cli.commands.plan import show_confirm_apply
    from lambdafail.deploy.inventory import plan_for

    topo = load_topology(file)
    ctx = aws_for(topo)
    contexts = control_contexts(topo, ctx)
    several = len(contexts) > 1
    docs: list[dict[str, object]] | None = [] if several and is_json() else None
    # The replicas' regions first; the home region (and its global table) last.
    for rctx in reversed(contexts):
        plan, _ = plan_for(rctx, topo, mode="destroy", delete_state=delete_state)
        where = f" in {rctx.region}" if several else ""
        outcome = show_confirm_apply(
            rctx, plan, None, yes=yes, dry_run=dry_run, conflicts_fatal=False, collect=docs,
            question=f"Delete {len(plan.pending)} resource(s) of topology {topo.name!r}"
                     f"{where}?")
        if outcome is not None and not (delete_state and rctx is contexts[0]):
            from lambdafail.deploy.audit import record
            from lambdafail.oncall.common import compiled_for

            # Kept state table: the destroy is in its log. With --delete-state there is no
            # log left (once the home region's table is gone).
            compiled = compiled_for(topo, rctx.region)
            record(rctx, str(compiled["table"]), "destroy",
                   retention_days=compiled.get("history_retention_days"),
                   detail={"deleted": len(outcome.done), "delete_state": delete_state,
                           **({"region": rctx.region} if several else {})})
        if outcome is not None and not is_json():
            kept = "" if delete_state else " (state table and router parameters kept)"
            console().print(f"[bold green]destroyed[/] topology {topo.name!r}{where}: "
                            f"{len(outcome.done)} resource(s) deleted in "
                            f"{outcome.seconds:.1f}s{kept}")
    if docs is not None:
        emit_json({"regions": docs})
    return 0

"""`lambdafail deploy`: show the plan, confirm, apply in dependency order, summarise.

Rule: changes nothing without confirmation (a terminal, or --yes); a re-run converges.
"""

from __future__ import annotations

import click

from lambdafail.cli.commands.plan import FORCE_HELP
from lambdafail.cli.main import global_options, topology_file_option


@click.command("deploy", help="Create or update what watches the topology: shows the plan, "
               "asks for confirmation (--yes skips it), applies, summarises.")
@topology_file_option
@click.option("--yes", "-y", is_flag=True, default=False, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, default=False,
              help="Print the plan and change nothing.")
@click.option("--allow-missing", is_flag=True, default=False,
              help="Deploy even if resources the topology references (alarms, zones, "
              "functions, topic, router rules, ECS services) do not exist.")
@click.option("--force", is_flag=True, default=False, help=FORCE_HELP)
@global_options
def command(file: str, yes: bool, dry_run: bool, allow_missing: bool, force: bool) -> int:
    from lambdafail.cli.commands.common import (
        aws_for,
        console,
        control_contexts,
        emit_json,
        is_json,
        load_topology,
    )
    from lambdafail.cli.commands.plan import show_confirm_apply
    from lambdafail.cli.render_plan import summary_line
    from lambdafail.deploy.inventory import plan_for

    topo = load_topology(file)
    ctx = aws_for(topo)
    contexts = control_contexts(topo, ctx)
    several = len(contexts) > 1
    docs: list[dict[str, object]] | None = [] if several and is_json() else None
    for rctx in contexts:  # the table's home region first: the replicas come with it
        plan, pkg = plan_for(rctx, topo, force=force)
        where = f" in {rctx.region}" if several else ""
        outcome = show_confirm_apply(rctx, plan, pkg, yes=yes, dry_run=dry_run,
                                     allow_missing=allow_missing, collect=docs,
                                     question=f"Deploy topology {topo.name!r}{where} "
                                              f"({summary_line(plan)})?")
        if outcome is not None:
            from lambdafail.deploy.audit import record
            from lambdafail.oncall.common import compiled_for

            n = plan.counts()
            compiled = compiled_for(topo, rctx.region)
            record(rctx, str(compiled["table"]), "deploy",
                   retention_days=compiled.get("history_retention_days"),
                   detail={"created": n["create"], "updated": n["update"],
                           "deleted": n["delete"], "note": summary_line(plan),
                           **({"region": rctx.region} if several else {}),
                           **({"forced": [h.forced for h in plan.hazards]}
                              if plan.hazards else {})})
        if outcome is not None and not is_json():
            n = plan.counts()
            console().print(f"[bold green]deployed[/] topology {topo.name!r}{where}: "
                            f"{n['create']} created, {n['update']} updated, {n['delete']} "
                            f"deleted in {outcome.seconds:.1f}s ({len(ctx.mutating_calls())} "
                            f"changing AWS calls, {len(ctx.calls)} in all)")
    if docs is not None:
        emit_json({"regions": docs})
    return 0

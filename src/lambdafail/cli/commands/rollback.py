"""`lambdafail rollback`: fail a service back to its primary, or move the orchestrator back.

`rollback SERVICE`: back to the primary (never to the standby: that is `failover`), after
checking it is healthy now, verified by the router's read-back; idempotent (already home: exit 0).
`rollback --deployment [--to VERSION]`: point the `live` alias at the previous (or given)
published version — code and compiled topology together — after showing what differs.

Rule: checks the target is healthy first (unless --force), verifies the router after.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, require_text, topology_file_option


@click.command("rollback", help="Fail SERVICE back to its primary (idempotent), or with "
               "--deployment move the orchestrator to an earlier version.")
@topology_file_option
@click.argument("service", required=False)
@click.option("--deployment", is_flag=True,
              help="Roll back the orchestrator (alias `live`) instead of a service.")
@click.option("--to", "to_version", metavar="VERSION",
              help="With --deployment: the published version to go to (default: previous).")
@click.option("--reason", "reason", metavar="TEXT", callback=require_text,
              help="Why (required for a service; recorded in the transition log).")
@click.option("--force", is_flag=True, help="Switch back even if the primary is unhealthy now.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; write nothing.")
@click.option("--abandon", is_flag=True,
              help="Give up a switch stuck half-way whose router is gone or keeps refusing: "
              "the state goes back to the committed side, the router is not touched.")
@global_options
def command(file: str, service: str | None, deployment: bool, to_version: str | None,
            reason: str | None, force: bool, yes: bool, dry_run: bool, abandon: bool) -> int:
    from lambdafail.base.errors import UsageError

    if deployment:
        if service:
            raise UsageError("give either SERVICE or --deployment, not both",
                             hint="`rollback SERVICE` switches traffic; `rollback --deployment` "
                             "moves the orchestrator's code")
        return _deployment(file, to_version, yes, dry_run)
    if to_version:
        raise UsageError("--to only applies with --deployment")
    if not service:
        raise UsageError("name the SERVICE to roll back, or use --deployment",
                         hint="`lambdafail status` lists the services")
    if not reason:
        raise UsageError("rollback needs --reason", hint="e.g. --reason \"primary fixed, "
                         "INC-123\" (recorded in the transition log)")
    from lambdafail.cli.commands.switching import run_abandon, run_switch

    if abandon:
        if force or dry_run:
            raise UsageError("--abandon takes neither --force nor --dry-run",
                             hint="`lambdafail status` shows the stuck switch and its error")
        return run_abandon(file, service, reason, yes)
    return run_switch("rollback", file, service, reason, force, yes, dry_run)


def _deployment(file: str, to_version: str | None, yes: bool, dry_run: bool) -> int:
    from lambdafail.base.errors import RestoreIncomplete
    from lambdafail.cli import render, render_actions
    from lambdafail.cli.commands.common import (
        confirm,
        console,
        emit_json,
        is_json,
        open_topology,
    )
    from lambdafail.deploy import rollback

    _, ctx, compiled = open_topology(file)
    plan = rollback.plan_deployment_rollback(ctx, compiled, to_version)
    err = console(stderr=True)
    if plan.noop:
        if is_json():
            emit_json(render_actions.deployment_rollback_document(plan, False, plan.current.version))
        else:
            err.print(f"nothing to do: alias {plan.alias} of {plan.function} already points at "
                      f"version {plan.current.version}")
        return 0
    if not is_json():
        err.print(render_actions.deployment_diff_table(plan))
        err.print("Only the orchestrator's code and compiled topology move back; rules, table "
                  "and IAM stay as deployed. `lambdafail status` will show DRIFT until the file "
                  "matches or you deploy again.")
    where = f"account {ctx.account_id}, region {ctx.region}, topology {compiled['topology']}"
    question = (f"move alias {plan.alias} of {plan.function} from version "
                f"{plan.current.version} to {plan.target.version} ({where})")
    if dry_run:
        if is_json():
            emit_json(render_actions.deployment_rollback_document(plan, False, plan.current.version))
        else:
            err.print(f"[cyan]○[/] dry run: would {render.escape(question)}; nothing was "
                      "changed")
        return 0
    confirm(question + "?", yes)
    seen = rollback.apply_deployment_rollback(ctx, plan)
    from lambdafail.deploy.audit import record

    record(ctx, str(compiled["table"]), "deployment-rollback",
           retention_days=compiled.get("history_retention_days"),
           detail={"function": plan.function, "alias": plan.alias,
                   "from_version": plan.current.version, "to_version": plan.target.version,
                   "read_back_version": seen})
    if is_json():
        emit_json(render_actions.deployment_rollback_document(plan, True, seen))
    if seen != plan.target.version:
        raise RestoreIncomplete(f"alias {plan.alias} points at version {seen} after the move, "
                                f"not {plan.target.version}",
                                hint="someone else moved it meanwhile; run `lambdafail rollback "
                                "--deployment` again or check the Lambda console")
    if not is_json():
        err.print(f"[green]✓[/] alias {plan.alias} of {plan.function} now points at version "
                  f"{seen} (was {plan.current.version})")
    return 0

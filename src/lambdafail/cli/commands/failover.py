"""`lambdafail failover`: switch a service to its standby by hand.

Runs the orchestrator's own transition code from this machine with the operator's credentials
(no Lambda, EventBridge or orchestrator needed). Exit 0 switched (or already there), 2 refused
(standby unhealthy: --force) or not confirmed, 3 lost a race / AWS error, 6 router failed midway.

Rule: the same transition code as the orchestrator; --reason is required and recorded.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, require_text, topology_file_option


@click.command("failover", help="Switch SERVICE to its standby by hand, with the same code the "
               "orchestrator runs. Refuses an unhealthy standby unless --force.")
@topology_file_option
@click.argument("service")
@click.option("--reason", "reason", required=True, metavar="TEXT", callback=require_text,
              help="Why (recorded in the transition log with your identity).")
@click.option("--force", is_flag=True, help="Switch even if the standby is unhealthy now.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True,
              help="Check the standby and say what would happen; write nothing.")
@click.option("--break-glass", "break_glass", is_flag=True,
              help="Only when the state table cannot be reached (its region is out): switch "
              "the router directly; recorded locally and written into the log once the table "
              "answers.")
@global_options
def command(file: str, service: str, reason: str, force: bool, yes: bool,
            dry_run: bool, break_glass: bool) -> int:
    from lambdafail.cli.commands.switching import run_break_glass, run_switch

    if break_glass:
        return run_break_glass(file, service, reason, force, yes, dry_run)
    return run_switch("failover", file, service, reason, force, yes, dry_run)

"""`lambdafail permissions`: the least-privilege IAM policies operators need for a topology.

Rule: read-only; at most one AWS call (STS GetCallerIdentity, which needs no permission) to
learn the account and partition when `--account` is not given. JSON prints
{"deploy": doc, "oncall": doc, "drill": doc} (`--for` keeps one key); the table form prints
each document with its size and action count.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, topology_file_option


@click.command("permissions", help="Print the least-privilege IAM policies an operator needs "
               "for this topology: deploy (plan/deploy/destroy), oncall (status/history/"
               "failover/rollback) and drill. docs/permissions.md explains each statement.")
@topology_file_option
@click.option("--for", "only", type=click.Choice(["deploy", "oncall", "drill"]),
              help="Print only this policy.")
@click.option("--account", help="The 12-digit account id (default: ask STS, which needs no "
              "permission).")
@global_options
def command(file: str, only: str | None, account: str | None) -> int:
    import json

    from lambdafail.base.errors import UsageError
    from lambdafail.cli.commands.common import aws_for, emit_json, is_json, load_topology
    from lambdafail.deploy import iam, permissions
    from lambdafail.model.topology import compiled_document

    topo = load_topology(file)
    compiled = compiled_document(topo)
    if account is not None:
        if not (len(account) == 12 and account.isdigit()):
            raise UsageError(f"--account {account!r} is not a 12-digit account id",
                             hint="give the account id, e.g. --account 123456789012")
        from lambdafail.aws import partition_for_region

        region = topo.control_region or aws_for(topo).region
        where = iam.Where(partition_for_region(region), region, account)
    else:
        from lambdafail.deploy.inventory import where_of

        where = where_of(aws_for(topo))
    compiled["region"] = where.region
    docs = permissions.all_policies(compiled, where, only)
    if is_json():
        emit_json(docs)
        return 0
    for role, doc in docs.items():
        text = json.dumps(doc, indent=2)
        size = len(json.dumps(doc, separators=(",", ":")))
        click.echo(f"# {role}: {permissions.action_count(doc)} actions, {size} characters")
        click.echo(text)
    return 0

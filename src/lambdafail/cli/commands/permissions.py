"""`lambdafail permissions`: the least-privilege IAM policies operators need for a topology.

Rule: read-only; at most one AWS call (STS GetCallerIdentity, which needs no permission) to
learn the account and partition when `--account` is not given. JSON prints
{"deploy": doc, "oncall": doc, "drill": doc} (`--for` keeps one key; `--managed` makes each
value a list of documents within IAM's 6,144-character managed-policy quota); the table form
prints each document with its size and action count.
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
@click.option("--managed", is_flag=True, default=False,
              help="Split each policy into managed-policy documents of at most 6,144 "
              "characters (IAM's quota): JSON values become lists.")
@global_options
def command(file: str, only: str | None, account: str | None, managed: bool) -> int:
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
    if managed:
        parts = {role: iam.split_managed(doc) for role, doc in docs.items()}
        if is_json():
            emit_json(parts)
            return 0
        for role, pieces in parts.items():
            for i, doc in enumerate(pieces, 1):
                click.echo(f"# {role} {i}/{len(pieces)}: {permissions.action_count(doc)} "
                           f"actions, {iam.policy_size(doc):,} characters")
                click.echo(json.dumps(doc, indent=2))
            if len(pieces) > iam.MANAGED_PER_ROLE:
                click.echo(f"# {role}: {len(pieces)} managed policies; IAM attaches at most "
                           f"{iam.MANAGED_PER_ROLE} to one user, group or role by default "
                           "(20 on request): spread them over a user and its groups, or "
                           "raise the quota", err=True)
        return 0
    if is_json():
        emit_json(docs)
        return 0
    for role, doc in docs.items():
        text = json.dumps(doc, indent=2)
        size = iam.policy_size(doc)
        click.echo(f"# {role}: {permissions.action_count(doc)} actions, {size:,} characters")
        if size > iam.MANAGED_QUOTA:
            click.echo(f"# more than a managed policy holds ({iam.MANAGED_QUOTA:,}): "
                       "`--managed` splits it into documents that fit", err=True)
        click.echo(text)
    return 0

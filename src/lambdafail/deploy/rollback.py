"""Deployment rollback: point the orchestrator's `live` alias at an earlier published version.

Code and compiled topology move back together (one published version holds both). Rules: the
plan is read here and shown before anything moves; the move itself is apply_lambda.move_alias
(executor.py stays the only module that changes infrastructure), conditional on the alias
revision the plan was read from, so a concurrent deploy or rollback is never clobbered.
"""

from __future__ import annotations

import json
from typing import Any

from lambdafail.aws import AwsContext, call
from lambdafail.base.errors import AwsError, UsageError
from lambdafail.deploy.versions import DeploymentRollbackPlan, diff_versions, version_info
from lambdafail.model import naming


def plan_deployment_rollback(ctx: AwsContext, compiled: dict[str, Any],
                             to_version: str | None = None) -> DeploymentRollbackPlan:
    """Find the version `live` points at and the one to go back to (previous, or `to_version`)."""
    fn = str(compiled["function"])
    lam = ctx.client("lambda")
    alias = call(lam, "get_alias", resource=fn, FunctionName=fn, Name=naming.ALIAS)
    current_v = str(alias["FunctionVersion"])
    configs: dict[str, dict[str, Any]] = {}
    marker: str | None = None
    while True:  # paginated; a long-lived function has many versions
        kw: dict[str, Any] = {"FunctionName": fn, "MaxItems": 50}
        if marker:
            kw["Marker"] = marker
        page = call(lam, "list_versions_by_function", resource=fn, **kw)
        for v in page.get("Versions", []):
            if v.get("Version") != "$LATEST":
                configs[str(v["Version"])] = v
        marker = page.get("NextMarker")
        if not marker:
            break
    if current_v not in configs:
        raise AwsError(f"alias {naming.ALIAS} of {fn} points at version {current_v}, which "
                       f"is not listed", hint="re-run; if it persists, check the function in "
                       "the Lambda console")
    if to_version is None:
        earlier = sorted((int(v) for v in configs if v.isdigit() and int(v) < int(current_v)),
                         reverse=True)
        if not earlier:
            raise UsageError(f"{fn}: version {current_v} is the first published version; "
                             "there is nothing to roll back to",
                             hint="`lambdafail deploy` publishes a new version from the file")
        target_v = str(earlier[0])
    else:
        target_v = to_version.strip()
        if target_v not in configs:
            known = ", ".join(sorted(configs, key=lambda v: int(v) if v.isdigit() else 0))
            raise UsageError(f"{fn} has no published version {target_v!r}",
                             hint=f"published versions: {known}")
    current = version_info(configs[current_v])
    target = version_info(configs[target_v])
    differences = diff_versions(current, target)
    if current.config_sha256 and target.config_sha256 and \
            current.config_sha256 != target.config_sha256:
        # The topology fields that move back with the code (deploy keeps each compiled
        # topology by hash in the state table).
        from lambdafail.deploy.inventory import config_items
        from lambdafail.deploy.planner import diff

        shas = {current.config_sha256, target.config_sha256}
        try:
            kept = config_items(ctx, str(compiled["table"]), shas)
        except AwsError:
            kept = {}  # the table may be gone; the hashes above still say what moves
        if shas <= set(kept):
            differences += [(f"config.{d.field}", json.dumps(d.before), json.dumps(d.after))
                            for d in diff(kept[current.config_sha256],
                                          kept[target.config_sha256])]
    return DeploymentRollbackPlan(function=fn, alias=naming.ALIAS, current=current,
                                  target=target, alias_revision=str(alias.get("RevisionId", "")),
                                  differences=differences)


def apply_deployment_rollback(ctx: AwsContext, plan: DeploymentRollbackPlan) -> str:
    """Move the alias (conditional on the revision we planned from); return the read-back."""
    from lambdafail.deploy.apply_lambda import move_alias

    try:
        return move_alias(ctx, plan.function, plan.target.version,
                          revision_id=plan.alias_revision or None)
    except AwsError as e:
        if e.code == "PreconditionFailedException":
            raise UsageError(f"the alias {plan.alias} of {plan.function} changed while we were "
                             "looking (someone deployed or rolled back); nothing was changed",
                             hint="re-run `lambdafail rollback --deployment` to see the new "
                             "state") from e
        raise

"""`lambdafail plan`: show what deploy would change, read-only.

Also holds what `deploy` and `destroy` share: showing a plan, refusing conflicts, running the
executor behind a progress display on stderr.

Rule: plan is read-only (no mutating AWS call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lambdafail.cli.main import global_options, topology_file_option

if TYPE_CHECKING:
    from lambdafail.aws import AwsContext
    from lambdafail.deploy.executor import Outcome
    from lambdafail.deploy.package import Package
    from lambdafail.deploy.planner import Plan


def show_plan(plan: Plan, *, show_noop: bool = False) -> None:
    """Table on stdout (people); JSON mode prints nothing here (the caller emits one doc)."""
    from lambdafail.cli.commands.common import console
    from lambdafail.cli.render_plan import plan_renderable

    console().print(plan_renderable(plan, show_noop=show_noop))


def cost_estimate(topo: Any) -> Any:
    """The topology's steady-state monthly cost at the function size deploy chooses."""
    from lambdafail.deploy import cost, planner
    from lambdafail.model.topology import compiled_document

    compiled = compiled_document(topo)
    return cost.estimate(compiled, cost.memory_for(compiled), planner.ARCHITECTURE)


def refuse_conflicts(plan: Plan) -> None:
    from lambdafail.base.errors import OwnershipError

    if plan.conflicts:
        names = ", ".join(f"{x.kind} {x.name}" + (f" (topology {x.owner!r}'s)" if x.owner else "")
                          for x in plan.conflicts)
        hint = ("lambdafail never takes over untagged resources: rename or delete them, or "
                "choose another topology name")
        params = [x for x in plan.conflicts if x.kind == "parameter"]
        if params:
            hint += ("; a router parameter that lambdafail did not create is taken over only "
                     "with `adopt: true` on the router, and one routed by another topology "
                     "never (route another parameter)")
        raise OwnershipError(
            f"{len(plan.conflicts)} resource name(s) already taken by resources lambdafail does "
            f"not own: {names}", hint=hint)


def refuse_moved_control(plan: Plan) -> None:
    """Exit 2 when the topology is deployed with another control region: a plan here would
    build a second stack and rewrite the (global) role the first one runs on."""
    from lambdafail.base.errors import UsageError

    if plan.control_moved_from:
        raise UsageError(
            f"topology {plan.topology!r} is deployed with its control region in "
            f"{plan.control_moved_from} (its role says so); this is a plan for {plan.region}",
            hint="keep `control:` as deployed, or move it: roll every service back to its "
                 f"primary, `lambdafail destroy` with the file as deployed (in "
                 f"{plan.control_moved_from}), then deploy here (docs/placement.md)")


def refuse_hazards(plan: Plan) -> None:
    """Exit 2 when the plan edits a service that is not steady on its primary (deploy/guard.py),
    unless --force (then the plan shows what deploy will do)."""
    from lambdafail.base.errors import UsageError

    if plan.hazards and not plan.forced:
        firsts = "; ".join(f"{h.service}: {h.first}" for h in plan.hazards)
        raise UsageError(
            " ".join(h.message for h in plan.hazards),
            hint=f"run first, with the file as deployed: {firsts}; or --force to deploy the "
                 "edit anyway (the plan then says what it does)")


FORCE_HELP = ("Edit services that are not steady on their primary (failed over, switching, in "
              "a drill, paused) anyway: the plan says what it does to them.")


def execute(ctx: AwsContext, plan: Plan, pkg: Package | None) -> Outcome:
    """Apply with a rich progress display on stderr; errors say that re-running converges."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from lambdafail.base.errors import AwsError
    from lambdafail.cli.commands.common import console
    from lambdafail.deploy.executor import Executor
    from lambdafail.deploy.planner import Change

    err = console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), console=err, transient=True) as progress:
        task = progress.add_task("applying", total=len(plan.pending))

        def report(c: Change, status: str) -> None:
            label = f"{c.action} {c.kind} {c.name}"
            if status == "start":
                progress.update(task, description=label)
            elif status == "done":
                progress.console.print(f"[green]✓[/] {label}")
                progress.advance(task)
            elif status.startswith("wait:"):
                from rich.markup import escape

                progress.console.print(f"[yellow]…[/] "
                                       f"{escape(status.removeprefix('wait:').strip())}")
            else:
                progress.console.print(f"[red]✗[/] {label}")

        try:
            return Executor(ctx, plan, pkg, progress=report).apply()
        except AwsError as e:
            again = ("fix that first: re-running as is fails the same way"
                     if e.code in _PERMANENT else "re-running the command continues from here")
            e.hint = (f"{e.hint}; " if e.hint else "") + f"nothing is lost: {again}"
            raise


# Refusals of the request itself (size, quota, malformed input, a missing permission): a retry
# meets them again.
_PERMANENT = frozenset({"AccessDenied", "AccessDeniedException", "ValidationException",
                        "ValidationError", "LimitExceeded",
                        "LimitExceededException", "MalformedPolicyDocument",
                        "RequestEntityTooLargeException",
                        "ItemCollectionSizeLimitExceededException"})


def refuse_missing(plan: Plan) -> None:
    """Pre-flight: deploy does not go on while referenced resources do not exist."""
    from lambdafail.base.errors import UsageError

    gone = plan.actual.missing if plan.actual else []
    if gone:
        names = "; ".join(g["message"] for g in gone)
        raise UsageError(f"{len(gone)} resource(s) the topology references do not exist: "
                         f"{names}", hint="create them or fix the topology; `deploy "
                         "--allow-missing` deploys anyway (the orchestrator then fails on "
                         "them when it needs them)")


def show_confirm_apply(ctx: AwsContext, plan: Plan, pkg: Package | None, *, question: str,
                       yes: bool, dry_run: bool, conflicts_fatal: bool = True,
                       allow_missing: bool = True,
                       collect: list[dict[str, Any]] | None = None) -> Outcome | None:
    """What deploy and destroy share: show the plan (or, with -o json, the one document),
    refuse name conflicts (deploy; destroy only leaves foreign resources alone), stop on
    --dry-run or nothing to do, confirm, apply.

    Returns the outcome when something was applied (the caller prints its own summary).
    With `collect` (several control regions) the JSON document is appended there, for the
    caller to emit one document for every region."""
    from lambdafail.cli.commands.common import confirm, emit_json, is_json

    def emit(doc: dict[str, Any]) -> None:
        if collect is None:
            emit_json(doc)
        else:
            collect.append({"region": ctx.region, **doc})

    json_out = is_json()
    if not json_out:
        show_plan(plan)
    refuse_moved_control(plan)
    if conflicts_fatal:
        refuse_conflicts(plan)
    refuse_hazards(plan)
    if dry_run or not plan.pending:
        if json_out:
            emit(outcome_json(plan, None, ctx, applied=False))
        return None
    if not allow_missing:
        refuse_missing(plan)
    confirm(question, yes)
    outcome = execute(ctx, plan, pkg)
    if json_out:
        emit(outcome_json(plan, outcome, ctx, applied=True))
    return outcome


def outcome_json(plan: Plan, outcome: Outcome | None, ctx: AwsContext,
                 applied: bool) -> dict[str, Any]:
    from lambdafail.cli.render_plan import change_to_json, plan_to_json

    return {"plan": plan_to_json(plan), "applied": applied,
            "done": [change_to_json(c) for c in (outcome.done if outcome else [])],
            "seconds": round(outcome.seconds, 3) if outcome else 0.0,
            "aws_calls": {"total": len(ctx.calls), "mutating": len(ctx.mutating_calls())}}


@click.command("plan", help="Show what deploy would change (read-only). With "
               "--detailed-exitcode: exit 4 when changes are pending, 0 when none.")
@topology_file_option
@click.option("--detailed-exitcode", is_flag=True, default=False,
              help="Exit 4 when changes are pending, 0 when there are none.")
@click.option("--show-unchanged", is_flag=True, default=False,
              help="Also list resources that need no change.")
@click.option("--force", is_flag=True, default=False, help=FORCE_HELP)
@global_options
def command(file: str, detailed_exitcode: bool, show_unchanged: bool, force: bool) -> int:
    from lambdafail.base.errors import ExitCode
    from lambdafail.cli.commands.common import (
        aws_for,
        control_contexts,
        emit_json,
        is_json,
        load_topology,
    )
    from lambdafail.cli.render_plan import plan_to_json
    from lambdafail.deploy.inventory import plan_for

    topo = load_topology(file)
    ctx = aws_for(topo)
    contexts = control_contexts(topo, ctx)
    plans = [(rctx.region, plan_for(rctx, topo, force=force)[0]) for rctx in contexts]
    estimate = cost_estimate(topo)
    if is_json():
        if len(plans) == 1:
            emit_json({**plan_to_json(plans[0][1]), "cost": estimate.to_json()})
        else:
            emit_json({"regions": [{"region": r, **plan_to_json(p)} for r, p in plans],
                       "cost": estimate.to_json()})
    else:
        from lambdafail.cli.commands.common import console

        for region, plan in plans:
            if len(plans) > 1:
                console().print(f"[bold]control region {region}[/]")
            show_plan(plan, show_noop=show_unchanged)
        console().print(estimate.line(), style="dim", soft_wrap=True)
    for _, plan in plans:
        refuse_moved_control(plan)
        refuse_conflicts(plan)
        refuse_hazards(plan)
    if detailed_exitcode and any(plan.pending for _, plan in plans):
        return int(ExitCode.CHANGES_PENDING)
    return 0

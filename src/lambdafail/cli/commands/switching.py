"""What `failover` and `rollback SERVICE` share: run the switch, print it, pick the exit code.

Rule: the words are plain and end with what to run next; the exit code follows the outcome
(switched/noop/dry run 0 · refused 2 · lost race 3 · router failed midway 6).
"""

from __future__ import annotations

from lambdafail.base.errors import (
    AwsError,
    ConflictError,
    ExitCode,
    RestoreIncomplete,
    UsageError,
)


def run_switch(action: str, file: str, service: str, reason: str, force: bool,
               yes: bool, dry_run: bool = False) -> int:
    from lambdafail.cli import render, render_actions
    from lambdafail.cli.commands.common import (
        confirm,
        console,
        emit_json,
        is_json,
        open_topology,
    )
    from lambdafail.oncall import switch

    _, ctx, compiled = open_topology(file)
    core = switch.failover if action == "failover" else switch.rollback
    try:
        outcome = core(ctx, compiled, service, note=reason, force=force,
                       confirm=lambda q: confirm(q, yes), dry_run=dry_run)
    except AwsError as e:
        if e.code == "Connection" and action == "failover":
            e.hint = (f"{e.hint}; if the control region {ctx.region} is out: `lambdafail "
                      f"failover -f {file} {service} --break-glass --reason …` switches the "
                      "router without the state table (docs/runbook.md, 4b)")
        raise
    if outcome.outcome == "router_failed":
        again = (f"lambdafail {action} -f {file} {service} --yes --reason "
                 f"{_quote(reason)}")
        outcome.next_step = (f"run `{again}` again to retry (it resumes the pending switch), "
                             f"or {outcome.next_step} by hand")
    if is_json():
        emit_json(render_actions.switch_document(outcome))
    err = console(stderr=True)
    if outcome.outcome == "dry_run":
        if not is_json():
            err.print(f"[cyan]○[/] {render.escape(outcome.message)}")
        return int(ExitCode.OK)
    if outcome.outcome in ("switched", "noop"):
        if not is_json():
            mark = "[green]✓[/]" if outcome.verified else "[bold yellow]▲[/]"
            err.print(f"{mark} {render.escape(outcome.message)}")
            if outcome.verified:
                err.print(f"  router read-back: traffic points at {outcome.read_back}")
            if outcome.transition_id:
                err.print(f"  transition {outcome.transition_id}, recorded as "
                          f"{render.escape(outcome.actor)}")
        if not outcome.verified:
            raise RestoreIncomplete(outcome.message, hint=outcome.next_step)
        return int(ExitCode.OK)
    if outcome.outcome == "refused":
        raise UsageError(outcome.message, hint=outcome.next_step)
    if outcome.outcome == "lost_race":
        raise ConflictError(outcome.message, hint=outcome.next_step)
    if outcome.outcome in ("router_failed", "blocked", "recovering"):
        raise RestoreIncomplete(outcome.message, hint=outcome.next_step)
    raise RestoreIncomplete(f"unexpected outcome {outcome.outcome}: {outcome.message}",
                            hint="run `lambdafail status`")


def run_break_glass(file: str, service: str, reason: str, force: bool, yes: bool,
                    dry_run: bool) -> int:
    """`failover --break-glass`: 0 switched and read back, 2 refused, 6 router failed."""
    from lambdafail.cli import render, render_actions
    from lambdafail.cli.commands.common import confirm, console, emit_json, is_json, open_topology
    from lambdafail.oncall import breakglass

    if dry_run:
        raise UsageError("--break-glass has no --dry-run", hint="check the router by hand; "
                         "break-glass switches it as soon as it is confirmed")
    _, ctx, compiled = open_topology(file)
    outcome = breakglass.failover(ctx, compiled, service, note=reason, force=force,
                                  confirm=lambda q: confirm(q, yes))
    if is_json():
        emit_json(render_actions.switch_document(outcome))
    if outcome.outcome == "refused":
        raise UsageError(outcome.message, hint=outcome.next_step)
    if outcome.outcome != "switched" or not outcome.verified:
        raise RestoreIncomplete(outcome.message, hint=outcome.next_step)
    if not is_json():
        err = console(stderr=True)
        err.print(f"[bold yellow]▲[/] {render.escape(outcome.message)}")
        err.print(f"  {render.escape(outcome.next_step)}")
    return int(ExitCode.OK)


def run_abandon(file: str, service: str, reason: str, yes: bool) -> int:
    """`rollback SERVICE --abandon`: 0 when abandoned or nothing was pending, 3 on a race."""
    from lambdafail.cli import render, render_actions
    from lambdafail.cli.commands.common import confirm, console, emit_json, is_json, open_topology
    from lambdafail.oncall import switch

    _, ctx, compiled = open_topology(file)
    outcome = switch.abandon(ctx, compiled, service, note=reason,
                             confirm=lambda q: confirm(q, yes))
    if is_json():
        emit_json(render_actions.switch_document(outcome))
    if outcome.outcome == "lost_race":
        raise ConflictError(outcome.message, hint="run `lambdafail status` and try again")
    if not is_json():
        err = console(stderr=True)
        mark = "[bold yellow]▲[/]" if outcome.outcome == "abandoned" else "[green]✓[/]"
        err.print(f"{mark} {render.escape(outcome.message)}")
        if outcome.next_step:
            err.print(f"  {render.escape(outcome.next_step)}")
    return int(ExitCode.OK)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)

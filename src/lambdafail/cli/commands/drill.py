"""`lambdafail drill`: rehearse an outage of one service and grade it against its RTO.

Thin: confirmation, live phase progress on stderr, the four report files, the exit code (0 pass,
5 fail, 6 restore incomplete, 130 interrupted and restored). `--abort` undoes what a drill left. The drill itself is `lambdafail.drill.runner`; the
reports are `lambdafail.drill.report`. `--output json` prints report.json's document
alone on stdout.

Rule: the restore always runs (finally), and a pass is only reported when earned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lambdafail.cli.main import (
    global_options,
    require_finite,
    require_text,
    topology_file_option,
)
from lambdafail.drill.scenarios import SCENARIOS

if TYPE_CHECKING:
    from rich.console import Console


@click.command("drill", help="Rehearse an outage of SERVICE: check the steady state, inject a "
               "fault, watch the orchestrator detect it and switch, verify, restore, and grade "
               "the time against the service's rto_seconds. Exit 0 pass, 5 fail, 6 restore "
               "incomplete (act by hand), 130 interrupted (restored). `--abort --reason TEXT` "
               "undoes what a drill left, from any machine.")
@topology_file_option
@click.argument("service")
@click.option("--scenario", type=click.Choice(list(SCENARIOS)),
              default="primary-down", show_default=True,
              help="primary-down: force the primary's probes to fail; event: put a failure "
              "event on the bus; alarm: set one of the service's alarms to ALARM; command: run "
              "--inject-cmd.")
@click.option("--timeout", type=click.FloatRange(min=0.1), callback=require_finite, default=300.0, show_default=True,
              help="Seconds to wait for the switch after injecting (and for the restore).")
@click.option("--no-restore", is_flag=True, help="Leave the service FAILED OVER on purpose.")
@click.option("--report-dir", type=click.Path(file_okay=False),
              help="Where to write the reports [default: ./drill-reports/<service>-<time>/].")
@click.option("--inject-cmd", help="Shell command that causes a real outage (--scenario "
              "command).")
@click.option("--restore-cmd", help="Shell command that undoes --inject-cmd.")
@click.option("--check-url", help="After the switch, GET this URL through the routed endpoint "
              "(2xx/3xx = ok).")
@click.option("--dry-run", is_flag=True, help="Run the read-only pre-check and show what would "
              "be injected and checked; change nothing.")
@click.option("--abort", is_flag=True, help="Undo what a drill left on SERVICE (from any "
              "machine): clear its fault flags, reset alarms a drill set, fail back to the "
              "primary, release the drill lock. Needs --reason.")
@click.option("--reason", metavar="TEXT", callback=require_text,
              help="With --abort: why (recorded in the transition log).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options
def command(file: str, service: str, scenario: str, timeout: float, no_restore: bool,
            report_dir: str | None, inject_cmd: str | None, restore_cmd: str | None,
            check_url: str | None, dry_run: bool, abort: bool, reason: str | None,
            yes: bool) -> int:
    from lambdafail.base.errors import UsageError
    from lambdafail.cli.commands.common import (
        confirm,
        connection_flags,
        console,
        emit_json,
        is_json,
        open_topology,
    )
    from lambdafail.drill import report
    from lambdafail.drill.runner import Drill, DrillOptions

    if abort and not reason:
        raise UsageError("--abort needs --reason", hint="e.g. --reason \"drill over, INC-123\" "
                         "(recorded in the transition log)")
    if reason and not abort:
        raise UsageError("--reason only applies with --abort")
    topo, ctx, compiled = open_topology(file)
    operator = ctx.caller_arn()
    opts = DrillOptions(service=service, scenario=scenario, timeout=timeout,
                        restore=not no_restore, report_dir=report_dir, inject_cmd=inject_cmd,
                        restore_cmd=restore_cmd, check_url=check_url, dry_run=dry_run,
                        operator=operator, topology_file=file,
                        connection=connection_flags(ctx), region=ctx.region,
                        environment=_environment(operator))
    err = console(stderr=True)
    view = _Progress(err)
    drill = Drill(compiled, ctx, opts, listener=view)
    if abort:
        assert reason is not None
        return _abort(err, drill, reason)
    warning = drill.warning()
    if not dry_run:
        confirm(f"Drill {scenario} on {topo.name}/{service} in {ctx.region}: this causes a REAL "
                f"failover{' and leaves it failed over (--no-restore)' if no_restore else ''}"
                f"{'; ' + warning if warning else ''}. Go?", yes)
    doc = drill.run()
    if dry_run:
        _show_plan(err, doc)
        if warning:
            err.print(f"[yellow]warning: {escape(warning)}[/yellow]")
    else:
        paths = report.write_all(doc, drill.report_dir or ".")
        _show_grade(err, doc, paths)
    if is_json():
        emit_json(doc)
    return int(doc["grade"]["exit_code"])


def _environment(caller_arn: str) -> str:
    """Where the drill ran, for the report: the sandbox, an emulator's endpoint, or the AWS
    account (from the caller's ARN)."""
    from lambdafail.base import settings

    s = settings.current()
    if s.sandbox:
        return "sandbox"
    if s.endpoint_url:
        return f"endpoint {s.endpoint_url}"
    parts = caller_arn.split(":")
    return f"AWS account {parts[4]}" if len(parts) > 4 and parts[4] else "AWS"


def escape(text: str) -> str:
    """Rich markup escaped; control characters (from state, notes, commands) removed."""
    from rich.markup import escape as rich_escape

    from lambdafail.base.text import terminal_safe

    return rich_escape(terminal_safe(text))


_STYLE = {"passed": "green", "failed": "bold red", "skipped": "dim", "interrupted": "yellow"}


class _Progress:
    """Live phase progress, one line per event, on stderr (stdout stays for --output json)."""

    def __init__(self, out: Console) -> None:
        self.out = out

    def __call__(self, rec: dict[str, Any]) -> None:
        kind = rec["kind"]
        t = f"[dim]+{rec['offset_s']:7.2f}s[/dim]"
        if kind == "phase-start":
            self.out.print(f"{t} [bold]▶ {rec['phase']}[/bold]")
        elif kind == "phase-end":
            style = _STYLE.get(rec["status"], "")
            detail = f" — {escape(rec['detail'])}" if rec.get("detail") else ""
            self.out.print(f"{t} [{style}]■ {rec['phase']} {rec['status']}[/{style}]{detail}")
        elif kind == "check":
            mark = "[green]✓[/green]" if rec["ok"] else "[red]✗[/red]"
            self.out.print(f"{t}   {mark} {escape(rec['name'])}"
                           + (f" [dim]({escape(rec['detail'])})[/dim]" if rec["detail"] else ""))
        elif kind == "milestone":
            self.out.print(f"{t}   [cyan]◆ {rec['name'].replace('_', ' ')}[/cyan] "
                           f"[dim]at +{rec['milestone_offset_s']:.2f}s[/dim]")
        elif kind == "note":
            style = {"warning": "yellow", "error": "red"}.get(rec.get("level", ""), "")
            text = escape(rec["text"])
            self.out.print(f"{t}   [{style}]{text}[/{style}]" if style else f"{t}   {text}")


def _abort(err: Console, drill: Any, reason: str) -> int:
    from lambdafail.base.errors import ExitCode
    from lambdafail.cli.commands.common import emit_json, is_json
    from lambdafail.drill.restore import abort

    r = abort(drill, reason)
    code = ExitCode.OK if r.ok else ExitCode.RESTORE_INCOMPLETE
    if is_json():
        emit_json({"service": drill.opts.service, "drill_id": drill.drill_id,
                   "restore": r.to_dict(), "exit_code": int(code)})
    if r.ok:
        err.print(f"[green]drill on {escape(drill.opts.service)} aborted: nothing of it is left"
                  "[/green]")
    else:
        _show_left(err, r.to_dict())
    return int(code)


def _show_left(out: Console, r: dict[str, Any]) -> None:
    out.print("[bold red reverse] RESTORE INCOMPLETE — act by hand [/bold red reverse]")
    out.print("Left over:")
    for line in r["left"]:
        out.print(f"  - {escape(line)}")
    out.print("To finish:")
    for i, line in enumerate(r["instructions"], 1):
        # soft_wrap: a command folded onto two lines would not work when pasted.
        out.print(f"  {i}. {escape(line)}", soft_wrap=True)


def _show_plan(out: Console, doc: dict[str, Any]) -> None:
    out.print("[bold]Dry run — nothing was changed. The drill would:[/bold]")
    for step, text in doc.get("plan", {}).items():
        out.print(f"  [bold]{step}[/bold]: {escape(text)}")
    g = doc["grade"]
    out.print("Steady state: " + ("[green]met[/green]" if g["passed"]
                                  else "[red]NOT met — the drill would stop here[/red]"))


def _show_grade(out: Console, doc: dict[str, Any], paths: dict[str, str]) -> None:
    g = doc["grade"]
    t = doc["timings"]
    r = doc["restore"]

    def s(v: Any) -> str:
        return "—" if v is None else f"{v:.2f} s"

    out.print()
    out.print(f"time to detect {s(t['time_to_detect_s'])} · time to switch "
              f"{s(t['time_to_switch_s'])} · total {s(t['total_s'])} · RTO "
              f"{doc['rto_seconds']:g} s")
    style = {"pass": "bold green", "fail": "bold red"}.get(g["result"], "bold red reverse")
    out.print(f"[{style}]DRILL {g['result'].upper()}[/{style}] (exit {g['exit_code']})")
    for reason in g["reasons"]:
        out.print(f"  - {escape(reason)}")
    if not r["requested"] and r["left"]:
        out.print("[bold yellow reverse] --no-restore: the service is LEFT FAILED OVER to its "
                  "standby on purpose [/bold yellow reverse]")
        for line in r["instructions"]:
            out.print(f"  {escape(line)}", soft_wrap=True)
    elif r["ok"] is False:
        _show_left(out, r)
    out.print(f"Reports: {escape(str(paths.get('report.md', '')))} (and report.json, junit.xml, "
              "timeline.svg alongside)")

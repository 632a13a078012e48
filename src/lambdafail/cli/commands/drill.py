"""`lambdafail drill`: rehearse an outage of one service — or, with `--scenario region-outage
--outage-region REGION`, of every service whose primary is in REGION at once
(drill/region.py) — and grade each against its RTO.

Thin: confirmation, live phase progress on stderr, the four report files, the exit code (0 pass,
5 fail, 6 restore incomplete, 130 interrupted and restored). `--abort` undoes what a drill left. The drill itself is `lambdafail.drill.runner`; the
reports are `lambdafail.drill.report`. `--output json` prints report.json's document
alone on stdout (for a region: region.json's, with every service's report under `drills`).

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
               "undoes what a drill left, from any machine. `--scenario region-outage "
               "--outage-region REGION` (no SERVICE) drills every service whose primary is "
               "in REGION at once.")
@topology_file_option
@click.argument("service", required=False)
@click.option("--scenario", type=click.Choice(list(SCENARIOS)),
              default="primary-down", show_default=True,
              help="primary-down: force the primary's probes to fail; event: put a failure "
              "event on the bus; alarm: set one of the service's alarms to ALARM; command: run "
              "--inject-cmd.")
@click.option("--outage-region", metavar="REGION",
              help="With --scenario region-outage and no SERVICE: drill every service whose "
              "primary is in REGION at once (one outage of the region; each graded against "
              "its own RTO). Not --region: that is the AWS region of the control plane.")
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
def command(file: str, service: str | None, scenario: str, outage_region: str | None,
            timeout: float, no_restore: bool, report_dir: str | None, inject_cmd: str | None,
            restore_cmd: str | None, check_url: str | None, dry_run: bool, abort: bool,
            reason: str | None, yes: bool) -> int:
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

    if outage_region is not None or service is None:
        typed = click.get_current_context().get_parameter_source("scenario")
        _region_usage(service, outage_region, scenario,
                      typed is click.core.ParameterSource.COMMANDLINE,
                      {"--no-restore": no_restore, "--inject-cmd": inject_cmd,
                       "--restore-cmd": restore_cmd, "--check-url": check_url,
                       "--abort": abort, "--reason": reason})
        assert outage_region is not None
        return _region(file, outage_region, timeout, report_dir, dry_run, yes)
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


def _region_usage(service: str | None, outage_region: str | None, scenario: str,
                  scenario_typed: bool, others: dict[str, Any]) -> None:
    """A drill of a whole region: SERVICE or --outage-region (not both), the region-outage
    scenario, a known region, none of the options that belong to one service."""
    from lambdafail.base.errors import UsageError
    from lambdafail.model import regions

    example = "lambdafail drill -f FILE --scenario region-outage --outage-region us-east-1"
    if outage_region is None:
        raise UsageError("give SERVICE (or --scenario region-outage --outage-region REGION for "
                         "every service whose primary is in REGION)",
                         hint="lambdafail drill -f FILE checkout")
    if service is not None:
        raise UsageError(f"give SERVICE or --outage-region, not both (got {service!r} and "
                         f"--outage-region {outage_region})",
                         hint=f"{example}  # every service of the region; or drop "
                         "--outage-region to drill one service")
    if scenario_typed and scenario != "region-outage":
        raise UsageError(f"--outage-region drills a region outage, not --scenario {scenario}",
                         hint=example)
    given = [flag for flag, value in others.items() if value]
    if given:
        raise UsageError(f"{', '.join(given)} apply to the drill of one SERVICE, not to "
                         "--outage-region", hint="a region drill always restores every "
                         "service; abort a service's drill with `lambdafail drill -f FILE "
                         "SERVICE --abort --reason TEXT`")
    if regions.partition_of(outage_region) is None:
        raise UsageError(f"not an AWS region: {outage_region!r}",
                         hint=regions.unknown_region_hint(outage_region))


def _region(file: str, outage_region: str, timeout: float, report_dir: str | None,
            dry_run: bool, yes: bool) -> int:
    """`drill --scenario region-outage --outage-region REGION`: drill/region.py."""
    from lambdafail.base import settings
    from lambdafail.cli.commands.common import (
        confirm,
        connection_flags,
        console,
        emit_json,
        is_json,
        open_topology,
    )
    from lambdafail.drill import report
    from lambdafail.drill.region import RegionDrill, services_in, write_region
    from lambdafail.drill.runner import DrillOptions

    topo, ctx, compiled = open_topology(file)
    services_in(compiled, outage_region)  # none there: a usage error before any AWS call
    operator = ctx.caller_arn()
    opts = DrillOptions(service="", scenario="region-outage", timeout=timeout,
                        report_dir=report_dir, dry_run=dry_run, operator=operator,
                        topology_file=file, connection=connection_flags(ctx),
                        region=ctx.region, environment=_environment(operator))
    err = console(stderr=True)
    drill = RegionDrill(compiled, ctx, outage_region, opts,
                        listener=lambda name: _Progress(err, prefix=name),
                        sandbox=settings.current().sandbox)
    names = ", ".join(drill.services)
    warning = drill.warning()
    if not dry_run:
        confirm(f"Drill region-outage of {outage_region} on {topo.name}: {len(drill.services)} "
                f"service(s) ({names}) fail over for REAL at once, watched from "
                f"{compiled['region']}{'; ' + warning if warning else ''}. Go?", yes)
    doc = drill.run()
    if dry_run:
        for name, one in doc["drills"].items():
            err.print(f"[bold]{escape(name)}[/bold]")
            _show_plan(err, one)
    else:
        for d in drill.drills:
            if d.report is not None:
                report.write_all(d.report, d.report_dir or ".")
        write_region(doc, drill.report_dir)
        _show_region(err, doc)
    if is_json():
        emit_json(doc)
    return int(doc["grade"]["exit_code"])


def _show_region(out: Console, doc: dict[str, Any]) -> None:
    def s(v: Any) -> str:
        return "—" if v is None else f"{v:.2f} s"

    out.print()
    o = doc["outage"]
    out.print(f"region {doc['region']}: " + (
        "blacked out once" + (", lit again" if o["lit_again"] else
                              ", [bold red]STILL DARK[/bold red]" if o["lit_again"] is False
                              else "")
        if o["blacked_out"] else "not blacked out (on AWS: every primary forced unhealthy)"
        if not o["sandbox"] else "not blacked out"))
    for row in doc["services"]:
        style = {"pass": "green", "fail": "red"}.get(row["result"], "bold red reverse")
        switched = "switched" if row["switched"] else "NOT switched"
        restored = {True: "restored", False: "NOT RESTORED", None: "nothing to restore"}[
            row["restored"]]
        out.print(f"  [{style}]{row['result']:<18}[/{style}] {escape(row['service'])}: "
                  f"{switched}, total {s(row['total_s'])} (switch {s(row['time_to_switch_s'])}) "
                  f"vs RTO {row['rto_seconds']:g} s, {restored}")
    g = doc["grade"]
    style = {"pass": "bold green", "fail": "bold red"}.get(g["result"], "bold red reverse")
    out.print(f"[{style}]REGION DRILL {g['result'].upper()}[/{style}] (exit {g['exit_code']})")
    for reason in g["reasons"]:
        out.print(f"  - {escape(reason)}")
    for row in doc["services"]:
        if row["restored"] is False and row["service"] in doc["drills"]:
            _show_left(out, doc["drills"][row["service"]]["restore"])
    out.print(f"Reports: {escape(str(doc['report_dir']))}/region.json and one directory per "
              "service (report.md, report.json, junit.xml, timeline.svg)")


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

    def __init__(self, out: Console, prefix: str = "") -> None:
        self.out = out
        self.prefix = f"[bold]{escape(prefix)}[/bold] " if prefix else ""

    def __call__(self, rec: dict[str, Any]) -> None:
        kind = rec["kind"]
        t = f"{self.prefix}[dim]+{rec['offset_s']:7.2f}s[/dim]"
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

"""`lambdafail --sandbox outage REGION [--for DURATION] | --end`, and `outage` alone to list.

Rule: thin — the sandbox does the work (sandbox/outages.py); only the sandbox can black a region
out, so without `--sandbox` (or an `--endpoint-url` of a sandbox) this is a usage error. Exit 0,
2 usage.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options


@click.command("outage", help="Sandbox only: black REGION out (every request for it is cut "
               "off, its schedules stop, nothing is delivered into it) for --for DURATION or "
               "until --end. Without REGION: list the dark regions.")
@click.argument("dark_region", metavar="REGION", required=False)
@click.option("--for", "duration", metavar="DURATION",
              help="How long, in sandbox time (divided by its time scale): 90s, 30m, 2h.")
@click.option("--end", is_flag=True, help="Light REGION again.")
@global_options
def command(dark_region: str | None, duration: str | None, end: bool) -> int:
    from lambdafail.base import durations
    from lambdafail.base.errors import UsageError
    from lambdafail.cli.commands.common import console, emit_json, is_json
    from lambdafail.sandbox import control
    from lambdafail.sandbox.outages import MAX_SECONDS

    endpoint = control.endpoint_from_settings(
        "region outages", "run `lambdafail sandbox`, then `lambdafail --sandbox outage REGION`; "
        "on AWS, rehearse with `lambdafail drill`")
    region = dark_region
    if region is not None:
        from lambdafail.model import regions

        if regions.partition_of(region) is None:
            raise UsageError(f"not an AWS region: {region!r}",
                             hint=regions.unknown_region_hint(region))
    if region is None:
        if duration or end:
            raise UsageError("--for and --end need a REGION", hint="lambdafail --sandbox "
                             "outage us-east-1 --for 5m")
        body = None
    elif end:
        if duration:
            raise UsageError("give --for or --end, not both", hint="--end lights the region "
                             "now")
        body = {"region": region, "end": True}
    else:
        seconds = None if duration is None else durations.parse(
            duration, what="an outage", max_seconds=MAX_SECONDS,
            hint="e.g. --for 30m; leave --for out for an outage that lasts until --end")
        body = {"region": region, "seconds": seconds}
    answer = control.outages(endpoint, body)
    dark = answer["outages"]
    if is_json():
        emit_json(answer)
        return 0
    out = console(stderr=True)
    if end and region is not None:
        out.print(f"{region} lit again" if answer.get("ended") else f"{region} was not dark")
    if not dark:
        out.print("no region is dark")
    for o in dark:
        left = ("until --end" if o["seconds_left"] is None
                else f"{o['seconds_left']:g} s left")
        out.print(f"[red]●[/] {o['region']} dark for {o['seconds_dark']:g} s ({left}), "
                  f"{o['refused']} request(s) cut off")
    return 0

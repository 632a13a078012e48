"""`lambdafail --sandbox web [REGION NAME [--status N | --healthy]]`: regional web endpoints.

Rule: thin — the sandbox does the work (sandbox/regional_web.py): REGION NAME prints the
endpoint's health URL (for a topology's `url:`; it fails with REGION's outage), `--status`
/ `--healthy` set what it answers; without REGION the endpoints are listed. Sandbox only:
without `--sandbox` (or an `--endpoint-url` of a sandbox) a usage error. Exit 0, 2 usage.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options


@click.command("web", help="Sandbox only: the health URL of web endpoint NAME in REGION, "
               "served by the sandbox (200 ok; its connections are cut off while REGION is "
               "dark, like AWS's endpoints there). --status N makes it answer N, --healthy "
               "200 again. Without REGION: list the endpoints.")
@click.argument("web_region", metavar="REGION", required=False)
@click.argument("name", metavar="NAME", required=False)
@click.option("--status", type=int, metavar="N", help="Answer HTTP N (200-599) from now on.")
@click.option("--healthy", is_flag=True, help="Answer 200 ok again (= --status 200).")
@global_options
def command(web_region: str | None, name: str | None, status: int | None,
            healthy: bool) -> int:
    from lambdafail.base.errors import UsageError
    from lambdafail.cli.commands.common import console, emit_json, is_json
    from lambdafail.model import regions
    from lambdafail.sandbox import control, regional_web

    endpoint = control.endpoint_from_settings(
        "regional web endpoints", "run `lambdafail sandbox`, then `lambdafail --sandbox web "
        "REGION NAME`")
    if web_region is not None and name is None:
        raise UsageError("give REGION and NAME", hint="lambdafail --sandbox web us-east-1 "
                         "checkout")
    if healthy and status is not None:
        raise UsageError("give --status or --healthy, not both", hint="--healthy is --status "
                         "200")
    if healthy:
        status = 200
    if web_region is None or name is None:
        if status is not None:
            raise UsageError("--status and --healthy need REGION and NAME",
                             hint="lambdafail --sandbox web us-east-1 checkout --status 503")
        answer = control.web(endpoint)
        if is_json():
            emit_json(answer)
            return 0
        out = console(stderr=True)
        if not answer["endpoints"]:
            out.print("no regional web endpoint yet (`lambdafail --sandbox web REGION NAME` "
                      "prints one's URL)")
        for e in answer["endpoints"]:
            out.print(f"{e['region']}/{e['name']}: answers {e['status']}, {e['requests']} "
                      f"request(s) — {regional_web.url(endpoint, e['region'], e['name'])}",
                      soft_wrap=True)
        return 0
    if regions.partition_of(web_region) is None:
        raise UsageError(f"not an AWS region: {web_region!r}",
                         hint=regions.unknown_region_hint(web_region))
    try:
        regional_web.check_name(name)
        if status is not None:
            regional_web.check_status(status)
    except ValueError as bad:
        raise UsageError(str(bad), hint="lambdafail --sandbox web us-east-1 checkout "
                         "--status 503") from None
    answer = control.web(endpoint, web_region, name, status)
    if is_json():
        emit_json(answer)
        return 0
    e = answer["endpoint"]
    click.echo(answer["url"])  # stdout: the URL alone, for a topology's `url:`
    console(stderr=True).print(f"{e['region']}/{e['name']} answers {e['status']} "
                               f"({e['requests']} request(s) so far); cut off while "
                               f"{e['region']} is dark")
    return 0

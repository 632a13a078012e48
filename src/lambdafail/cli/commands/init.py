"""`lambdafail init [PATH]`: write an annotated starter topology that validates as written.

Rule: never overwrite an existing file without --force; the written text is checked with the
real loader before it is written, so a starter file that does not validate is a bug (exit 1).
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options

STARTER = """\
# lambdafail topology — written by `lambdafail init`.
# Check it offline with `lambdafail validate -f {path}`; `lambdafail schema` prints every key.
# Reference: docs/topology.md
version: 1
name: {name}                      # prefixes every AWS name: lambdafail-{name}-... (a-z 0-9 -, <= 32)
region: us-east-1                # or --region / AWS_REGION

# Defaults for every service; each service may override any of them under its own
# `health:` / `policy:`.
defaults:
  health:
    interval: rate(1 minute)     # probe tick: rate(1 minute), rate(5 minutes), cron(0/5 * * * ? *)
    timeout_seconds: 3           # per probe; must fit in the interval
    failure_threshold: 3         # consecutive primary failures before failing over (>= 1)
    recovery_threshold: 3        # consecutive successes before an automatic failback (>= 1)
    probes_per_tick: 1           # up to 6 probe rounds per tick, for detection under a minute
  policy:
    cooldown_seconds: 300        # no second transition within 5 minutes (no flapping)
    failback: manual             # manual: `lambdafail rollback`; auto: after recovery_threshold
    rto_seconds: 180             # what `lambdafail drill` grades against

services:
  web:                           # service names: a-z 0-9 - _, <= 40 characters
    # A target is probed: {{url: ...}} with GET (expect_status, body_contains) or
    # {{lambda: function-name-or-arn}} invoked with a ping payload.
    primary: {{url: "https://web.example.com/healthz"}}
    standby: {{url: "https://web-dr.example.com/healthz"}}
    # Signals fail over without waiting for probes (mode: failover), or count as one
    # failed probe (mode: failure).
    signals:
      - alarm: web-5xx-high      # CloudWatch alarm name: ALARM fails over
      - event:                   # EventBridge pattern, matched on the topology's bus
          source: [{name}.web]
          detail-type: [Server failure]
    # The router switches traffic. Here an SSM parameter holds the active endpoint; other
    # kinds: route53: {{...}}, rules: {{primary: [...], standby: [...]}}, hook: function.
    router: {{ssm_parameter: /{name}/web/active}}
"""


@click.command("init", help="Write an annotated starter topology file (default: lambdafail.yaml; "
               "`-` prints it on stdout).")
@click.argument("path", required=False, type=click.Path(dir_okay=False), envvar="LAMBDAFAIL_FILE")
@click.option("--name", default="myapp", show_default=True,
              help="Topology name (prefixes every AWS name lambdafail creates).")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@global_options
def command(path: str | None, name: str, force: bool) -> int:
    import re
    from pathlib import Path

    from lambdafail.base.errors import UsageError
    from lambdafail.model.loader import load_text
    from lambdafail.model.topology import NAME_RE

    if not re.match(NAME_RE, name):
        raise UsageError(f"topology name {name!r} is not valid",
                         hint="lowercase letters, digits and -, 1-32 characters")
    if path == "-":  # the usual meaning: standard output (`lambdafail init - | less`)
        text = STARTER.format(name=name, path="lambdafail.yaml")
        load_text(text, "<stdout>")
        click.echo(text, nl=False)
        return 0
    target = Path(path or "lambdafail.yaml")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; nothing was written",
                         hint="pass --force to overwrite it")
    text = STARTER.format(name=name, path=target)
    load_text(text, str(target))  # a starter that does not validate is a bug, caught here
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
    click.echo(f"wrote {target}; check it with `lambdafail validate -f {target}`", err=True)
    return 0

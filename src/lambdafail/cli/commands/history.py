"""`lambdafail history`: the transition log, newest first (one Query on the state table).

Rule: read-only; newest first; `--output json` prints the documented document alone on stdout.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options, topology_file_option
from lambdafail.runtime.state import LOG_KINDS


def _parse_since(text: str | None) -> object:
    """`--since` takes an ISO time (2024-05-01T10:00Z) or a duration back from now (90m, 2h, 7d)."""
    import re
    from datetime import timedelta

    from lambdafail.base.errors import UsageError
    from lambdafail.oncall import common

    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        try:
            return common.utcnow() - timedelta(**{unit: int(m.group(1))})
        except (OverflowError, ValueError):
            raise UsageError(f"--since {text!r} reaches before the year 1",
                             hint="e.g. --since 2h, --since 7d") from None
    t = common.parse_iso(text.strip())
    if t is None:
        raise UsageError(f"--since {text!r} is neither a duration nor an ISO time",
                         hint="e.g. --since 2h, --since 7d, --since 2024-05-01T10:00:00Z")
    return t


@click.command("history", help="Show the log, newest first: time, service, from → to, "
               "reason, actor, evidence. Transitions by default; --kind for deploys, destroys, "
               "deployment rollbacks, pauses.")
@topology_file_option
@click.argument("service", required=False)
@click.option("--since", "since", metavar="WHEN",
              help="Only transitions since then: a duration (30m, 2h, 7d) or an ISO time.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many entries.")
@click.option("--kind", type=click.Choice([*LOG_KINDS, "all"]), default="transition",
              show_default=True, help="Which entries: transitions (traffic moved), deploy, "
              "destroy, deployment-rollback, pause, resume, or all of them.")
@global_options
def command(file: str, service: str | None, since: str | None, limit: int, kind: str) -> int:
    from datetime import datetime

    from lambdafail.cli import render_actions
    from lambdafail.cli.commands.common import console, emit_json, is_json, open_topology
    from lambdafail.oncall import history

    when = _parse_since(since)
    assert when is None or isinstance(when, datetime)
    _, ctx, compiled = open_topology(file)
    entries = history.history(ctx, compiled, service, since=when, limit=limit,
                              kind=None if kind == "all" else kind)
    if is_json():
        emit_json(render_actions.history_document(entries, str(compiled["topology"])))
        return 0
    out = console()
    if not entries:
        what = f" for {service}" if service else ""
        noun = "entries" if kind == "all" else "transitions" if kind == "transition" else \
            f"{kind} entries"
        out.print(f"no {noun} recorded{what}" + (f" since {since}" if since else ""))
        return 0
    out.print(render_actions.history_table(entries))
    return 0

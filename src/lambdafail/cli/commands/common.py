"""Helpers every command shares: loading the topology, consoles, confirmation, JSON output.

Rule: no heavy import at module level; the core never imports this (it is CLI-only).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from lambdafail.base import settings
from lambdafail.base.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from lambdafail.aws import AwsContext
    from lambdafail.model.topology import Topology


def load_topology(path: str) -> Topology:
    from lambdafail.model.loader import load

    return load(path)


def aws_for(topo: Topology | None) -> AwsContext:
    """Where the topology's state is. With several control regions: the one --region names
    (it must be one of them), else the first whose state table answers — so on-call works
    from a surviving region while another is out."""
    from lambdafail.aws import AwsContext

    regions = topo.control_regions if topo else []
    if topo is None or len(regions) < 2:
        return AwsContext.from_settings(default_region=topo.control_region if topo else None)
    from lambdafail.base import settings as settings_mod
    from lambdafail.base.errors import UsageError
    from lambdafail.model import naming

    chosen = settings_mod.current().region
    if chosen is not None:
        if chosen not in regions:
            raise UsageError(f"--region {chosen} is not one of the topology's control regions "
                             f"({', '.join(regions)})", hint="drop --region, or name one of them")
        return AwsContext.from_settings(default_region=chosen)
    home = AwsContext.from_settings(default_region=regions[0])
    return home.answering(regions, naming.table_name(topo.name))


def control_contexts(topo: Topology, ctx: AwsContext) -> list[AwsContext]:
    """One context per control region, the table's home first (deploy, plan and destroy
    walk them in this order; destroy in reverse)."""
    regions = topo.control_regions if len(topo.control_regions) > 1 else [ctx.region]
    return [ctx.in_region(r) for r in regions]


def open_topology(path: str) -> tuple[Topology, AwsContext, dict[str, Any]]:
    """What every on-call command starts from: the topology, where its AWS is, and the
    compiled form the orchestrator runs (region filled in from the session when unset)."""
    from lambdafail.oncall.common import compiled_for

    topo = load_topology(path)
    ctx = aws_for(topo)
    return topo, ctx, compiled_for(topo, ctx.region)


def connection_flags(ctx: AwsContext) -> list[str]:
    """The global flags that reach the AWS `ctx` talks to, for commands printed to paste."""
    s = settings.current()
    flags = ["--region", ctx.region]
    if s.sandbox:
        flags.append("--sandbox")
    elif s.endpoint_url:
        flags += ["--endpoint-url", s.endpoint_url]
    if s.profile:
        flags += ["--profile", s.profile]
    return flags


def console(stderr: bool = False) -> Console:
    """A rich console honouring --no-color / NO_COLOR. Tables go to stdout, the rest to stderr."""
    from rich.console import Console

    s = settings.current()
    stream = sys.stderr if stderr else sys.stdout
    # Piped or captured output has no terminal width; rich would assume 80 columns and fold
    # the status table into an unreadable column of fragments. COLUMNS still wins.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 120
    return Console(stderr=stderr, no_color=not s.color_enabled(),
                   highlight=False, soft_wrap=False, width=width)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def is_json() -> bool:
    return settings.current().json


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; refuse (exit 2) without one unless --yes was given."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question} needs confirmation and stdin is not a terminal",
                         hint="re-run with --yes to confirm non-interactively")
    import click

    if not click.confirm(question, default=False, err=True):
        raise UsageError("cancelled; nothing was changed")

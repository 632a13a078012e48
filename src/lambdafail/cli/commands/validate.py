"""`lambdafail validate`: check a topology file offline and list every problem.

Rule: no AWS call (botocore's bundled region data only); exit 0 with a one-line summary when valid, exit 2 listing every problem
(file:line:col, YAML path, message, hint) otherwise. With --output json the same result is also
a JSON document on stdout (`valid`, `problems`), so CI can read it.
"""

from __future__ import annotations

from typing import Any

import click

from lambdafail.cli.main import global_options, topology_file_option


@click.command("validate", help="Check a topology file offline; list every problem at once.")
@topology_file_option
@global_options
def command(file: str) -> int:
    from dataclasses import asdict

    from lambdafail.base.errors import TopologyError
    from lambdafail.cli.commands.common import emit_json, is_json, load_topology

    try:
        topo = load_topology(file)
        _check_quotas(topo, file)
    except TopologyError as err:
        if is_json():
            emit_json({"valid": False, "file": file,
                       "problems": [asdict(p) for p in err.problems]})
        raise
    from lambdafail.model.checks import placement_warnings

    warnings = [{"path": ".".join(map(str, w.path)), "message": w.message, "hint": w.hint}
                for w in placement_warnings(topo)]
    names = sorted(topo.services)
    n = len(names)
    signals = sum(len(s.signals) for s in topo.services.values())
    if is_json():
        emit_json({"valid": True, "file": file, "topology": topo.name, "region": topo.region,
                   "control_region": topo.control_region,
                   "control_regions": topo.control_regions, "services": names,
                   "signals": signals, "warnings": warnings})
    else:
        click.echo(f"{file}: valid — topology {topo.name!r}, {n} service{'s' if n != 1 else ''}"
                   f" ({', '.join(names)}), {signals} signal{'s' if signals != 1 else ''}")
        for w in warnings:
            click.echo(f"lambdafail: warning: {file}: {w['path']}: {w['message']}", err=True)
            click.echo(f"lambdafail: hint: {w['hint']}", err=True)
    return 0


def _check_quotas(topo: Any, file: str) -> None:
    """What no deploy could fit (IAM's policy quotas), offline: the account id is a placeholder
    of the real length, the region the topology's (or the longest botocore knows)."""
    from lambdafail.aws import known_regions, partition_for_region
    from lambdafail.deploy import iam
    from lambdafail.model.topology import compiled_document

    for region in topo.control_regions or [max((r for rs in known_regions().values()
                                                 for r in rs), key=len)]:
        compiled = compiled_document(topo, region)
        iam.check_quotas(compiled, iam.Where(partition_for_region(region), region, "0" * 12),
                         file)

"""`lambdafail validate`: check a topology file offline and list every problem."""

from __future__ import annotations

import click

from lambdafail.cli import global_options, topology_file_option


@click.command("validate", help="Check a topology file offline; list every problem at once.")
@topology_file_option
@global_options
def command(file: str) -> int:
    from lambdafail.commands.common import emit_json, is_json, load_topology

    topo = load_topology(file)
    n = len(topo.services)
    if is_json():
        emit_json({"valid": True, "file": file, "topology": topo.name,
                   "services": sorted(topo.services)})
    else:
        click.echo(f"{file}: valid — topology {topo.name!r}, {n} service{'s' if n != 1 else ''}"
                   f" ({', '.join(sorted(topo.services))})")
    return 0

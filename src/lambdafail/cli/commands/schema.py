"""`lambdafail schema`: print the topology's JSON Schema for editors and CI checks.

Rule: the schema comes from the pydantic models, never written by hand.
"""

from __future__ import annotations

import click

from lambdafail.cli.main import global_options


@click.command("schema", help="Print the topology's JSON Schema (for editor completion).")
@global_options
def command() -> int:
    import json

    from lambdafail.model.topology import Topology

    schema = Topology.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lambdafail topology"
    click.echo(json.dumps(schema, indent=2))
    return 0

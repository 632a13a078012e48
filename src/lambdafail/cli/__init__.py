"""CLI layer: the click group, global options, thin commands and pure renderers."""

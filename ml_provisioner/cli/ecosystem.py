"""Commands for the tools around the CLI: editors (the config's JSON Schema)."""

from __future__ import annotations

import typer


def print_config_schema() -> None:
    """Print the JSON Schema of a config file (for editors: every field, type and allowed value).

    Save it as schema/ml-provisioner-config.schema.json beside configs/: the example configs
    point at it with a `# yaml-language-server: $schema=...` first line.
    """
    from ml_provisioner.schema import config_schema, render

    typer.echo(render(config_schema()), nl=False)

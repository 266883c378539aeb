"""The options that say how a command reaches the product's account (aws.access)."""

from __future__ import annotations

from typing import Annotated

import typer

from ml_provisioner.config.models import EXTERNAL_ID_ENV, ROLE_ENV

RoleArnOption = Annotated[
    str | None,
    typer.Option(
        "--role-arn",
        help=f"Act through this role of the config's account, assumed from your credentials ({{account}} and "
        f"{{region}} stand for the config's). Default: {ROLE_ENV}, else the config's deployment.role_arn, else "
        "your credentials.",
    ),
]
ExternalIdOption = Annotated[
    str | None,
    typer.Option(
        "--external-id", help=f"The external id the role's trust policy requires (default: {EXTERNAL_ID_ENV})."
    ),
]

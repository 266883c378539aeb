"""The options that say how a command reaches the product's account (aws.access), and reaching it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ml_provisioner import deployments
from ml_provisioner.cli._common import EndpointOption, options_as
from ml_provisioner.config.models import EXTERNAL_ID_ENV, ROLE_ENV

if TYPE_CHECKING:
    from ml_provisioner.cli._common import Run
    from ml_provisioner.config.loader import LoadedConfig

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
ServiceRoleOption = Annotated[
    bool,
    typer.Option(
        "--service-role",
        help="Let CloudFormation act with the product's execution role (create-policy --service-role), not with "
        "your credentials.",
    ),
]


def reach_deployment(
    run: Run, loaded: LoadedConfig, reach: deployments.Reach, what: str, stack_name: str | None = None
) -> deployments.Deployment:
    """The config's deployment, reached in its account; the execution log records who acts where."""
    deployment = deployments.connect(loaded, reach, what, stack_name)
    run.where = deployment.where
    return deployment


# An AWS command takes the options every one of them shares, handed to it as one ``reach: Reach``.
reaching_aws = options_as(
    "reach",
    deployments.Reach,
    [
        ("endpoint_url", EndpointOption, None),
        ("service_role", ServiceRoleOption, False),
        ("role_arn", RoleArnOption, None),
        ("external_id", ExternalIdOption, None),
    ],
)

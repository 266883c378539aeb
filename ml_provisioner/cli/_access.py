"""The options that say how a command reaches the product's account (aws.access), and reaching it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ml_provisioner import deployments
from ml_provisioner.cli._common import EndpointOption
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


def reaching_aws(command: Callable[..., None]) -> Callable[..., None]:
    """An AWS command: it takes the options every one of them shares (--endpoint-url,
    --service-role, --role-arn, --external-id), handed to it as one ``reach: Reach``. Typer
    declares an option per parameter, so these are declared here, once, and the command's
    parameter ``reach`` is replaced by them in the signature typer reads."""
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        for name, annotation, default in (
            ("endpoint_url", EndpointOption, None),
            ("service_role", ServiceRoleOption, False),
            ("role_arn", RoleArnOption, None),
            ("external_id", ExternalIdOption, None),
        )
    ]
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "reach"]

    @functools.wraps(command)
    def with_reach(
        *args: Any,
        endpoint_url: str | None,
        service_role: bool,
        role_arn: str | None,
        external_id: str | None,
        **kw: Any,
    ) -> None:
        command(*args, reach=deployments.Reach(endpoint_url, service_role, role_arn, external_id), **kw)

    signature = inspect.Signature([*own, *shared])
    with_reach.__signature__ = signature  # type: ignore[attr-defined]
    with_reach.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return with_reach

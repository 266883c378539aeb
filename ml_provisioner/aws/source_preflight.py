"""Read-only checks, before any change set, that the config's source can work in the account.

- codecommit: AWS restricted CodeCommit to existing customers in July 2024 and announced its return
  to general availability in November 2025. Where AWS refuses it, its answer is
  OperationNotAllowedException: refused here when ListRepositories answers it, and turned into the
  same clear message when CloudFormation's CreateRepository does (aws.stack.execute). An
  account with no repository is not taken as closed: only AWS says so.
- codeconnections: the connection must exist in the account and region and be AVAILABLE (a new
  connection stays PENDING until its handshake is completed in the console).
"""

from __future__ import annotations

import botocore.exceptions

from ml_provisioner.aws.session import AwsSession
from ml_provisioner.config.models import CONNECTION_ARN, SourceControl
from ml_provisioner.errors import BadInput
from ml_provisioner.naming import Names

SOURCE_ALTERNATIVES = (
    "use source_control: s3 (source archives in the artifacts bucket) or codeconnections (GitHub, GitLab, "
    "Bitbucket through a CodeConnections connection); see docs/configuration.md"
)
CODECOMMIT_REFUSED = "OperationNotAllowedException"


def check_source(aws: AwsSession, names: Names) -> None:
    """Refuse (exit 2) a deploy whose source cannot work in the account; does nothing else."""
    source = names.config.ml_product
    if source.source_control is SourceControl.CODECOMMIT:
        _check_codecommit(aws, names)
    elif source.source_control is SourceControl.CODECONNECTIONS and source.connection_arn:
        _check_connection(aws, names, source.connection_arn)


def _check_codecommit(aws: AwsSession, names: Names) -> None:
    where = f"account {names.account} ({names.region})"
    try:
        aws.client("codecommit").list_repositories()
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != CODECOMMIT_REFUSED:
            raise
        raise BadInput(
            f"AWS CodeCommit is not available to {where}: {CODECOMMIT_REFUSED}", SOURCE_ALTERNATIVES
        ) from None


def _check_connection(aws: AwsSession, names: Names, arn: str) -> None:
    match = CONNECTION_ARN.match(arn)
    client = aws.client(match.group("service") if match else "codeconnections")
    field = "ml_product.connection_arn"
    try:
        connection = client.get_connection(ConnectionArn=arn)["Connection"]
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise BadInput(
            f"{field}: no connection {arn} in account {names.account} ({names.region})",
            "create it in the console (Developer Tools > Settings > Connections) or with "
            "`aws codeconnections create-connection`, complete its handshake, and put its ARN in the config",
        ) from None
    status = connection.get("ConnectionStatus")
    if status != "AVAILABLE":
        raise BadInput(
            f"{field}: connection {connection.get('ConnectionName', arn)} is {status}, not AVAILABLE: "
            "the pipelines could not read their source",
            "complete the connection in the console (Developer Tools > Settings > Connections > "
            "Update pending connection), then deploy again",
        )

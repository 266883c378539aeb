"""The staging bucket contract shared by create-policy and the lifecycle commands.

CloudFormation accepts at most 51,200 bytes of TemplateBody; a larger template is uploaded to
the account's staging bucket and passed as TemplateURL. The deployer policy grants exactly this
bucket and this key prefix, so the lifecycle code must use these functions to name them.
"""

from __future__ import annotations

from constructs_lib.names import Kind
from ml_provisioner.naming import TOOL, Names

TEMPLATE_BODY_LIMIT = 51_200  # bytes
STAGING_BUCKET_FORMAT = TOOL + "-staging-{account}-{region}"


def staging_bucket(names: Names) -> str:
    return STAGING_BUCKET_FORMAT.format(account=names.account, region=names.region)


def staging_prefix(names: Names) -> str:
    """Templates of a stack are staged under ``templates/<stack name>/`` (a test stack's name
    has its suffix), and expire after a few days."""
    return f"templates/{names.stack_name}/"


def seed_archive_key(names: Names, kind: Kind) -> str:
    """Where a codecommit product's seed code waits for CloudFormation to create the repository
    with it (the repository's Code): beside the stack's staged templates."""
    return f"{staging_prefix(names)}seed/model-{kind}.zip"


def needs_staging(template_body: str) -> bool:
    return len(template_body.encode("utf-8")) > TEMPLATE_BODY_LIMIT

"""The staging bucket contract shared by create-policy and the lifecycle commands.

CloudFormation accepts at most 51,200 bytes of TemplateBody; a larger template is uploaded to
the account's staging bucket and passed as TemplateURL. The deployer policy grants exactly this
bucket and this key prefix, so the lifecycle code must use these functions to name them.
"""

from __future__ import annotations

import hashlib

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


def seed_prefix(names: Names) -> str:
    """Where a codecommit product's seed code waits for CloudFormation to create the repositories
    with it (their Code). Never expires and is written create-only: what the key names is what
    CloudFormation reads, whoever executes the change set."""
    return f"seed/{names.stack_name}/"


def seed_archive_key(names: Names, kind: Kind, archive: bytes) -> str:
    """The key of one archive, named by its content (the template names exactly the code)."""
    return f"{seed_prefix(names)}model-{kind}-{hashlib.sha256(archive).hexdigest()[:16]}.zip"


def needs_staging(template_body: str) -> bool:
    return len(template_body.encode("utf-8")) > TEMPLATE_BODY_LIMIT

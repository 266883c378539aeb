"""Delivering the seed code (ml_provisioner/seed) where a new product's source is.

codecommit: CloudFormation creates each repository with its first commit from an archive in the
staging bucket (the repository's Code), so the archives are staged before every change set (for
an existing product they change nothing: CodeCommit reads Code only when it creates a repository).
s3: once the stack has created the artifacts bucket, the two archives go where the pipelines read
them, only if nothing is there (S3 refuses the write otherwise: a team's own source is never
replaced); an existing product gets none.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from constructs_lib.names import KINDS
from ml_provisioner import seed, staging
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.config.models import SourceControl
from ml_provisioner.errors import OperationFailed
from ml_provisioner.naming import Names, config_file_name


def stage_initial_commits(aws: AwsSession, names: Names, template: dict[str, Any]) -> list[str]:
    """Make sure each archive the template's repositories are created from (their Code) holds this
    product's seed code, byte for byte: written where it is missing (create-only: S3 refuses to
    replace an object), read back and compared where it is there. Before a change set is created,
    and again before a saved plan is executed: the bytes CloudFormation reads are the ones checked."""
    s3 = aws.client("s3")
    archives = seed.archives(names)
    staged = []
    for location in seed.initial_commit_locations(template):
        bucket, key = location["Bucket"], location["Key"]
        expected = next((a for k, a in archives.items() if staging.seed_archive_key(names, k, a) == key), None)
        where = f"s3://{bucket}/{key}"
        if expected is None:
            raise OperationFailed(
                f"the template creates a repository from {where}, which is not this product's seed code",
                "synthesize the template again (create-prov-template --fresh)",
            )
        if not _created(s3, bucket, key, expected, names.account, ServerSideEncryption="AES256"):
            there = s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=names.account)["Body"].read()
            if there != expected:
                raise OperationFailed(
                    f"{where} is not this product's seed code: something else was written there, and a repository "
                    "created from it would start with that code; nothing was changed",
                    "an administrator of the staging bucket deletes the object; then run the command again",
                ) from None
        staged.append(key)
    return staged


def deliver_seed_code(aws: AwsSession, names: Names) -> list[str]:
    """After the product's stack was created: an s3 product's seed archives, at the keys its
    pipelines read, where no object is yet. What became of the seed code, for the deploy's report."""
    product = names.config.ml_product
    if not product.seed_code:
        return []
    if product.source_control is SourceControl.CODECOMMIT:
        return [f"seed code: the first commit of {names.repository(kind)} (branch main)" for kind in KINDS]
    if product.source_control is not SourceControl.S3:
        return []
    s3 = aws.client("s3")
    said = []
    for kind, body in seed.archives(names).items():
        key = names.source_object_key(kind)
        where = f"s3://{names.artifacts_bucket}/{key}"
        try:
            created = _created(s3, names.artifacts_bucket, key, body, names.account)
        except botocore.exceptions.ClientError as error:  # the product is deployed: its seed can follow by hand
            said.append(
                f"seed code: not delivered to {where} ({error.response.get('Error', {}).get('Code')}); "
                f"ml-provisioner seed-code --config {config_file_name(names.config)} prints how to deliver it"
            )
            continue
        said.append(
            f"seed code: {where} (model-{kind})" if created else f"seed code: {where} exists already, kept as it is"
        )
    return said


def _created(s3: Any, bucket: str, key: str, body: bytes, account: str, **extra: str) -> bool:
    """Write the object only where none is (If-None-Match: *, S3's conditional write: S3 itself
    refuses to replace one): True when written, False when an object was there already."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ExpectedBucketOwner=account, **extra)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise
        return False
    return True

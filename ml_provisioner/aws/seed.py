"""Delivering the seed code (ml_provisioner/seed) where a new product's source is.

codecommit: CloudFormation creates each repository with its first commit from an archive in the
staging bucket (the repository's Code), so the archives are staged before any change set that may
create the repositories. s3: once the stack has created the artifacts bucket, the two archives go
where the pipelines read them, only if nothing is there (S3 refuses the write otherwise: a team's
own source is never replaced). Nothing here runs for an existing product.
"""

from __future__ import annotations

import botocore.exceptions

from constructs_lib.names import KINDS
from ml_provisioner import seed, staging
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.config.models import SourceControl
from ml_provisioner.naming import Names


def stage_initial_commits(aws: AwsSession, names: Names, bucket: str) -> list[str]:
    """Put both seed archives where the template's repositories read them (the bucket exists)."""
    s3 = aws.client("s3")
    staged = []
    for kind, body in seed.archives(names).items():
        key = staging.seed_archive_key(names, kind)
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256", ExpectedBucketOwner=names.account
        )
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
            # IfNoneMatch: S3 itself refuses to replace an object that exists (conditional write)
            s3.put_object(
                Bucket=names.artifacts_bucket, Key=key, Body=body, IfNoneMatch="*", ExpectedBucketOwner=names.account
            )
            said.append(f"seed code: {where} (model-{kind})")
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            said.append(f"seed code: {where} exists already, kept as it is")
    return said

"""StarterCore's data: the artifacts bucket (TLS only), the model registry, the CodeCommit repositories."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib._iam import acknowledge
from constructs_lib.names import KINDS, Kind, ProductNames
from constructs_lib.starter_core.props import InitialCommit

SOURCE_BRANCH = "main"  # of the CodeCommit repositories


def build_artifacts_bucket(
    scope: Construct,
    names: ProductNames,
    *,
    removal: RemovalPolicy,
    kms_key_arn: str | None,
    build_log_retention_days: int | None,
) -> s3.CfnBucket:
    """The versioned, private bucket of pipeline artifacts (and S3 build logs), plus its TLS-only policy."""
    lifecycle_rules = [
        s3.CfnBucket.RuleProperty(
            id="expire-old-artifact-versions",
            status="Enabled",
            noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(noncurrent_days=90),
            abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                days_after_initiation=7
            ),
        )
    ]
    if build_log_retention_days:
        lifecycle_rules.append(
            s3.CfnBucket.RuleProperty(
                id="expire-build-logs",
                status="Enabled",
                prefix="build-logs/",
                expiration_in_days=build_log_retention_days,
            )
        )
    bucket = s3.CfnBucket(
        scope,
        "ArtifactsBucket",
        bucket_name=names.artifacts_bucket,
        versioning_configuration=s3.CfnBucket.VersioningConfigurationProperty(status="Enabled"),
        bucket_encryption=bucket_encryption(kms_key_arn),
        public_access_block_configuration=s3.CfnBucket.PublicAccessBlockConfigurationProperty(
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        ownership_controls=s3.CfnBucket.OwnershipControlsProperty(
            rules=[s3.CfnBucket.OwnershipControlsRuleProperty(object_ownership="BucketOwnerEnforced")]
        ),
        lifecycle_configuration=s3.CfnBucket.LifecycleConfigurationProperty(rules=lifecycle_rules),
    )
    bucket.apply_removal_policy(removal)
    acknowledge(
        bucket,
        (
            "AwsSolutions-S1",
            "Server access logs would need a second bucket outside the tier's audited inventory; "
            "object-level access is recorded by CloudTrail data events in the account's trail.",
        ),
    )
    s3.CfnBucketPolicy(
        scope,
        "ArtifactsBucketTlsOnly",
        bucket=bucket.ref,
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "Resource": [bucket.attr_arn, Fn.join("", [bucket.attr_arn, "/*"])],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
    )
    return bucket


def bucket_encryption(kms_key_arn: str | None) -> s3.CfnBucket.BucketEncryptionProperty:
    """The customer-managed key when there is one, else S3-managed keys."""
    default = s3.CfnBucket.ServerSideEncryptionByDefaultProperty(
        sse_algorithm="aws:kms" if kms_key_arn else "AES256", kms_master_key_id=kms_key_arn
    )
    return s3.CfnBucket.BucketEncryptionProperty(
        server_side_encryption_configuration=[
            s3.CfnBucket.ServerSideEncryptionRuleProperty(
                server_side_encryption_by_default=default, bucket_key_enabled=bool(kms_key_arn)
            )
        ]
    )


def build_model_registry(
    scope: Construct, names: ProductNames, *, removal: RemovalPolicy
) -> sagemaker.CfnModelPackageGroup:
    group = sagemaker.CfnModelPackageGroup(
        scope,
        "ModelPackageGroup",
        model_package_group_name=names.model_package_group,
        model_package_group_description=f"Model registry of ML product {names.deployment_id}",
    )
    group.apply_removal_policy(removal)  # registered model versions are data
    return group


def build_repositories(
    scope: Construct, names: ProductNames, *, removal: RemovalPolicy, initial_commits: Mapping[Kind, InitialCommit]
) -> dict[Kind, codecommit.CfnRepository]:
    repositories = {}
    for kind in KINDS:
        commit = initial_commits.get(kind)
        repository = codecommit.CfnRepository(
            scope,
            f"Model{kind.title()}Repository",
            repository_name=names.repository(kind),
            repository_description=f"Model {kind} code of ML product {names.deployment_id}",
            # CodeCommit reads Code only when it creates the repository: later changes never touch it.
            code=codecommit.CfnRepository.CodeProperty(
                s3=codecommit.CfnRepository.S3Property(bucket=commit.bucket, key=commit.key),
                branch_name=SOURCE_BRANCH,
            )
            if commit
            else None,
        )
        repository.apply_removal_policy(removal)  # source code is data
        repositories[kind] = repository
    return repositories

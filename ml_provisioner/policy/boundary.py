"""The permission boundary of one product: the most any of its roles may ever do.

An administrator creates it (``ml-provisioner bootstrap``, or by hand from the file
``create-policy`` writes), at a fixed ARN outside every path the deployer or the product may
write (Names.permission_boundary_arn). Every role of the product and of its test deployments
carries it (the CDK's PermissionsBoundary Aspect, which StarterCore applies to its stack), and the
deployer may create or change a role only with exactly it (delegation.py). So whatever template the
deployer writes, a role it makes or widens reaches the product's own resources and nothing else.

It allows the calls the product's roles make at run time (tests/runtime_contracts.py), on the
product's names in its real and its test deployments, and denies identity changes, sessions and
the destruction of keys and logs outright. The exceptions are where AWS gives no product name:
SageMaker Pipelines names its jobs and models ``pipelines-*``, SageMaker writes to the log groups
``/aws/sagemaker/*``, images are pulled from other accounts' ECR repositories (AWS's algorithm
images live in AWS's accounts), and CloudWatch metrics are allowed only in SageMaker's namespaces.
"""

from __future__ import annotations

from typing import Any

from constructs_lib.starter_core.policies import (
    JOB_NETWORK_ACTIONS,
    PIPELINE_JOBS,
    PIPELINE_STEP_PREFIX,
    PRODUCT_KEY_ACTIONS,
    SERVING_STACK_ACTIONS,
    SOURCE_READ_ACTIONS,
    job_network_arns,
    serving_stack_arn,
)
from ml_provisioner.config.models import CONNECTION_ARN, EnterpriseConfig, SourceControl
from ml_provisioner.naming import PRODUCT_TAG, TOOL, Names
from ml_provisioner.policy import scopes

S3_BUCKET_ACTIONS = ("s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:ListBucket")
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
CODEBUILD_ACTIONS = (
    "codebuild:BatchGetBuilds",
    "codebuild:BatchPutCodeCoverages",
    "codebuild:BatchPutTestCases",
    "codebuild:CreateReport",
    "codebuild:CreateReportGroup",
    "codebuild:StartBuild",
    "codebuild:UpdateReport",
)
SAGEMAKER_ACTIONS = (
    "sagemaker:AddTags",
    "sagemaker:CreateEndpoint",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateModel",
    "sagemaker:CreateModelPackage",
    "sagemaker:CreatePipeline",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:DeleteEndpoint",
    "sagemaker:DeleteEndpointConfig",
    "sagemaker:DeleteModel",
    "sagemaker:DeleteTags",
    "sagemaker:Describe*",
    "sagemaker:InvokeEndpoint",
    "sagemaker:ListModelPackages",
    "sagemaker:ListTags",
    "sagemaker:ListPipelineExecutionSteps",
    "sagemaker:StartPipelineExecution",
    "sagemaker:StopProcessingJob",
    "sagemaker:StopTrainingJob",
    "sagemaker:StopTransformJob",
    "sagemaker:UpdateEndpoint",
    "sagemaker:UpdatePipeline",
)
# What SageMaker Pipelines names itself: the one documented exception to the product's names.
SAGEMAKER_PIPELINE_NAMED = (*PIPELINE_JOBS, "model")
IMAGE_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

# Denied whatever a role's own policy says: changing identities (users, groups, logins, access
# keys, roles, policies, boundaries), taking another role's session, destroying keys and logs.
IDENTITY_WRITES = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Enable*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Resync*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:GetFederationToken",
)
DESTRUCTION = (
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "logs:DeleteDataProtectionPolicy",
    "logs:DeleteLogGroup",
    "logs:DeleteRetentionPolicy",
    "logs:PutDataProtectionPolicy",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPolicy",
)


def boundary_document(names: Names) -> dict[str, Any]:
    """The boundary of names' product (the same for its test deployments)."""
    config = names.config
    product = Names(config)  # the real deployment's names, whichever deployment's were given
    deployments = scopes.deployments(product)
    sources = SOURCE_READ_ACTIONS if config.ml_product.source_control is SourceControl.CODECOMMIT else ()
    statements = [
        # One statement for everything named under the product (IAM's limit on a managed policy's
        # size is what keeps it one): a request's ARN names its own service, so an action never
        # matches another service's ARN, and every pattern is anchored at the product's name.
        _allow(
            "ProductResources",
            (
                *S3_BUCKET_ACTIONS,
                *S3_OBJECT_ACTIONS,
                *LOG_ACTIONS,
                *CODEBUILD_ACTIONS,
                "codepipeline:StartPipelineExecution",
                *SAGEMAKER_ACTIONS,
                *IMAGE_PULL_ACTIONS,
                *sources,
            ),
            [arn for d in deployments for arn in _product_named(d)] + _aws_named(product),
        ),
        # model-deploy's serving stack, with the deploy build's credentials (none other: the product's
        # own stack is the deployer's)
        _allow("ServingStack", SERVING_STACK_ACTIONS, [serving_stack_arn(d) for d in deployments]),
        _allow(
            "PassProductRolesToSageMaker",
            ["iam:PassRole"],
            scopes.product_arns(("iam", "role"), product),
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        # images of another account (SageMaker's algorithm images are in AWS's accounts); in this
        # account only the product's own repositories (above)
        _allow(
            "PullImagesOfOtherAccounts",
            IMAGE_PULL_ACTIONS,
            [f"arn:{product.partition}:ecr:{product.region}:*:repository/*"],
            {"StringNotEquals": {"aws:ResourceAccount": product.account}},
        ),
        _allow("ImageRegistryLogin", ["ecr:GetAuthorizationToken"], ["*"]),
        _allow(
            "SageMakerMetrics",
            ["cloudwatch:PutMetricData"],
            ["*"],
            {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
        ),
    ]
    connection = CONNECTION_ARN.match(config.ml_product.connection_arn or "")
    if connection:
        # the connection reaches whatever its app may read: only the product's two repositories
        service = connection.group("service")
        repositories = [r for r in (config.ml_product.build_repository, config.ml_product.deploy_repository) if r]
        statements.append(
            _allow(
                "TheSourceConnection",
                [f"{service}:UseConnection"],
                [connection.group(0)],
                {"StringEquals": {f"{service}:FullRepositoryId": repositories}},
            )
        )
    if isinstance(config, EnterpriseConfig):
        # The key's id is generated: it is the product's by the tag every resource of the stack carries.
        statements.append(
            _allow(
                "ProductKey",
                (*PRODUCT_KEY_ACTIONS, "kms:CreateGrant"),
                [product.arn("kms", "key/*")],
                {"StringEquals": {f"aws:ResourceTag/{PRODUCT_TAG}": product.product}},
            )
        )
        # SageMaker jobs and models in the VPC: their interfaces, in this account and region (the
        # SageMaker role's own policy names the product's subnets; the boundary keeps within IAM's size)
        statements.append(_allow("JobNetwork", JOB_NETWORK_ACTIONS, job_network_arns(product, ["*"])))
        statements.append(_allow("JobNetworkReads", ["ec2:Describe*"], ["*"]))
    statements += [
        {"Sid": "NoIdentityChangesOrSessions", "Effect": "Deny", "Action": list(IDENTITY_WRITES), "Resource": "*"},
        {"Sid": "NoKeyOrLogDestruction", "Effect": "Deny", "Action": list(DESTRUCTION), "Resource": "*"},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def _allow(
    sid: str, actions: tuple[str, ...] | list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(dict.fromkeys(resources)),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _product_named(n: Names) -> list[str]:
    """Every resource named under the deployment: the bucket and its objects; in any service,
    names without a resource type (pipelines, repositories) and with one (projects, report groups,
    SageMaker's resources, image repositories); its log groups."""
    bucket = scopes.artifacts_bucket_arn(n)
    anywhere = f"arn:{n.partition}:*:{n.region}:{n.account}"
    return [
        bucket,
        f"{bucket}/*",
        f"{anywhere}:{n.name('*')}",
        f"{anywhere}:*/{n.name('*')}",
        n.arn("logs", f"log-group:/aws/codebuild/{n.name('*')}"),
        n.arn("logs", f"log-group:/{TOOL}/{n.deployment_id}/*"),
    ]


def _aws_named(n: Names) -> list[str]:
    """Where AWS names what the product's roles use: SageMaker Pipelines' jobs and models, and
    SageMaker's log groups."""
    steps = [n.arn("sagemaker", f"{kind}/{PIPELINE_STEP_PREFIX}*") for kind in SAGEMAKER_PIPELINE_NAMED]
    return [*steps, n.arn("logs", "log-group:/aws/sagemaker/*")]

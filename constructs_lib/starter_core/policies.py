"""The IAM documents of StarterCore's three roles, as pure functions of the product's names.

No CDK here: every function returns plain JSON (or a PolicyDocument, whose to_json() is what the
template carries), so a test can read a role's permissions without synthesizing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from constructs_lib.names import KINDS, Kind, ProductNames
from constructs_lib.policy_document import Grant, Json, PolicyDocument, trust_policy
from constructs_lib.starter_core.props import LogDestination, Source

# SageMaker Pipelines name what a step creates pipelines-<execution id>-<step>-<suffix>.
PIPELINE_STEP_PREFIX = "pipelines-"
# The SageMaker jobs a pipeline step runs: IAM resource type -> API name.
PIPELINE_JOBS = {"processing-job": "ProcessingJob", "training-job": "TrainingJob", "transform-job": "TransformJob"}
PRODUCT_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# A job or model in a VPC: SageMaker makes its network interfaces as the execution role (SageMaker
# Developer Guide, "Give SageMaker AI access to resources in your Amazon VPC").
JOB_NETWORK_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
)
JOB_NETWORK_READS = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
# A job's volume encrypted with the product's key: SageMaker asks for a grant as the execution role.
KEY_GRANT_CONDITION = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
# The model-deploy code serves a model through a CloudFormation stack of its own (the seed's
# serving.yml), made with the deploy build's own credentials: no role is passed to CloudFormation.
SERVING_STACK = "serving"
SERVING_STACK_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DeleteStack",  # a first creation that failed (ROLLBACK_COMPLETE) is made again
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:UpdateStack",
)
# What the pipeline role reads of a CodeCommit source (CodePipeline's CodeCommit source action).
SOURCE_READ_ACTIONS = (
    "codecommit:CancelUploadArchive",
    "codecommit:GetBranch",
    "codecommit:GetCommit",
    "codecommit:GetRepository",
    "codecommit:GetUploadArchiveStatus",
    "codecommit:UploadArchive",
)
_MODEL_PACKAGES_REASON = "Model package versions are created at run time inside the product's group."


# -- trust ------------------------------------------------------------------------------------
def sagemaker_trust(names: ProductNames) -> Json:
    return trust_policy({"sagemaker.amazonaws.com": None}, names.account)


def codebuild_trust(names: ProductNames) -> Json:
    return trust_policy(
        {"codebuild.amazonaws.com": names.arn("codebuild", f"project/{names.name('*')}")}, names.account
    )


def pipeline_trust(names: ProductNames, extra: Sequence[Mapping[str, Any]] = ()) -> Json:
    trust = trust_policy({"codepipeline.amazonaws.com": names.arn("codepipeline", names.name("*"))}, names.account)
    trust["Statement"] += [dict(statement) for statement in extra]
    return trust


# -- permissions --------------------------------------------------------------------------------
def sagemaker_policy(
    names: ProductNames, *, kms_key_arn: str | None = None, job_subnets: Sequence[str] = ()
) -> PolicyDocument:
    """The role SageMaker Pipelines run with (the only role the builds may pass to SageMaker):
    each step starts a job or creates a model as this role, the RegisterModel step adds a version
    to the product's registry, and every job is handed this role again. With job_subnets (the
    enterprise tier), jobs and models run in those subnets."""
    n = names
    policy = PolicyDocument()
    if job_subnets:
        policy.allow(
            "JobNetworkInterfaces",
            list(JOB_NETWORK_ACTIONS),
            job_network_arns(n, job_subnets),
            why_wildcard="SageMaker creates an interface per job instance in the product's subnets; "
            "interface ids are generated, and the security group may be the SG-provisioner's.",
        )
        policy.allow(
            "JobNetworkReads",
            list(JOB_NETWORK_READS),
            ["*"],
            why_wildcard="EC2's Describe actions support no resource-level scoping.",
        )
    _allow_artifacts(policy, n, "ArtifactsReadWrite")
    policy.allow(
        "SageMakerLogs",
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        [n.arn("logs", "log-group:/aws/sagemaker/*")],
        why_wildcard="SageMaker jobs write to log groups it names per job under /aws/sagemaker/.",
    )
    policy.allow(
        "SageMakerMetrics",
        ["cloudwatch:PutMetricData"],
        ["*"],
        why_wildcard="cloudwatch:PutMetricData supports no resource-level scoping; the condition "
        "limits it to SageMaker's namespaces.",
        condition={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
    )
    policy.allow(
        "PullContainerImages",
        ["ecr:GetAuthorizationToken"],
        ["*"],
        why_wildcard="ecr:GetAuthorizationToken supports no resource-level scoping.",
    )
    policy.allow(
        "PullSageMakerImages",
        ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        [f"arn:{n.partition}:ecr:{n.region}:*:repository/*"],
        why_wildcard="SageMaker's built-in algorithm and framework images live in AWS-owned "
        "accounts that differ per region and image.",
    )
    policy.allow(
        "RunPipelineSteps",
        [f"sagemaker:{verb}{job}" for job in PIPELINE_JOBS.values() for verb in ("Create", "Describe", "Stop")]
        + ["sagemaker:AddTags"],
        _pipeline_step_arns(n, [*PIPELINE_JOBS, "model"]),
        why_wildcard="SageMaker Pipelines name the jobs and models of a step after the execution "
        "(pipelines-*); jobs the build code starts itself carry the product's name prefix.",
    )
    policy.allow(
        "CreateStepModels",
        ["sagemaker:CreateModel", "sagemaker:DescribeModel"],
        _pipeline_step_arns(n, ["model"]),
        why_wildcard="Model steps create models named by SageMaker Pipelines or with the product's prefix.",
    )
    _allow_registering_models(policy, n)
    policy.allow(
        "PassItselfToSageMakerJobs",
        ["iam:PassRole"],
        [sagemaker_role_arn_pattern(n)],
        why_wildcard="The role's name is generated by CloudFormation under the product's IAM path; of "
        "the product's roles only this one trusts SageMaker.",
        condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )
    if kms_key_arn:
        policy.allow("GrantProductKeyToSageMaker", ["kms:CreateGrant"], [kms_key_arn], condition=KEY_GRANT_CONDITION)
    return _with_product_key(policy, kms_key_arn)


def job_network_arns(names: ProductNames, subnets: Sequence[str]) -> list[str]:
    return [
        names.arn("ec2", "network-interface/*"),
        names.arn("ec2", "security-group/*"),
        *(names.arn("ec2", f"subnet/{subnet}") for subnet in subnets),
    ]


def codebuild_policies(
    names: ProductNames, *, kms_key_arn: str | None = None, build_logs: LogDestination | None = None
) -> tuple[PolicyDocument, PolicyDocument]:
    """What the build project and the deploy project need: (build, deploy)."""
    n = names
    build, deploy = PolicyDocument(), PolicyDocument()
    for kind, policy in zip(KINDS, (build, deploy), strict=True):
        _allow_build_logs(policy, n, kind, f"/aws/codebuild/{n.codebuild_project(kind)}", None)
        policy.allow(
            f"{kind.title()}Reports",
            [
                "codebuild:BatchPutCodeCoverages",
                "codebuild:BatchPutTestCases",
                "codebuild:CreateReport",
                "codebuild:CreateReportGroup",
                "codebuild:UpdateReport",
            ],
            [n.arn("codebuild", f"report-group/{n.codebuild_project(kind)}-*")],
            why_wildcard="Test report groups are named by the buildspec after the project.",
        )
        # CodeBuild reads the bucket's ACL before it writes artifacts or S3 logs there.
        _allow_artifacts(policy, n, f"{kind.title()}Artifacts", extra_actions=["s3:GetBucketAcl"])
    build.allow(
        "RunSageMakerPipelines",
        [
            "sagemaker:CreatePipeline",
            "sagemaker:DescribePipeline",
            "sagemaker:DescribePipelineExecution",
            "sagemaker:ListPipelineExecutionSteps",
            "sagemaker:StartPipelineExecution",
            "sagemaker:UpdatePipeline",
            "sagemaker:AddTags",
            "sagemaker:ListTags",
        ],
        [n.arn("sagemaker", f"pipeline/{n.name('*')}"), n.arn("sagemaker", f"pipeline/{n.name('*')}/execution/*")],
        why_wildcard="The model-build code names its SageMaker pipelines after the product; "
        "executions get ids at run time.",
    )
    _allow_registering_models(build, n)
    deploy.allow(
        "ReadApprovedModels",
        ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
        _model_package_arns(n),
        why_wildcard=_MODEL_PACKAGES_REASON,
    )
    deploy.allow(
        "DeployEndpoints",
        [
            "sagemaker:AddTags",
            "sagemaker:CreateEndpoint",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:CreateModel",
            "sagemaker:DeleteEndpoint",
            "sagemaker:DeleteEndpointConfig",
            "sagemaker:DeleteModel",
            "sagemaker:DescribeEndpoint",
            "sagemaker:DescribeEndpointConfig",
            "sagemaker:DescribeModel",
            "sagemaker:UpdateEndpoint",
            "sagemaker:ListTags",
            "sagemaker:DeleteTags",
        ],
        [n.arn("sagemaker", f"{rtype}/{n.name('*')}") for rtype in ("endpoint", "endpoint-config", "model")],
        why_wildcard="Endpoints, endpoint configs and models are versioned per deployment under "
        "the product's name prefix.",
    )
    deploy.allow(
        "ServeModels",
        ["sagemaker:InvokeEndpoint", "sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob"],
        [n.arn("sagemaker", f"{rtype}/{n.name('*')}") for rtype in ("endpoint", "transform-job")],
        why_wildcard="The smoke test invokes the product's endpoint; batch transforms are named per run.",
    )
    deploy.allow(
        "ServingStack",
        list(SERVING_STACK_ACTIONS),
        [serving_stack_arn(n)],
        why_wildcard="CloudFormation gives each stack an id after its name.",
    )
    for policy in (build, deploy):
        policy.allow(
            "PassSageMakerRole",
            ["iam:PassRole"],
            [sagemaker_role_arn_pattern(n)],
            why_wildcard="The SageMaker role's name is generated by CloudFormation under the product's IAM path.",
            condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        _with_product_key(policy, kms_key_arn)
    if build_logs:  # each project writes to its own streams of the one group, and nowhere else
        _allow_build_logs(build, n, "build", build_logs.group_name, "build", replace=True)
        _allow_build_logs(deploy, n, "deploy", build_logs.group_name, "deploy", replace=True)
    return build, deploy


def pipeline_policy(
    names: ProductNames, source: Source, *, grants: Sequence[Grant] = (), kms_key_arn: str | None = None
) -> PolicyDocument:
    """The pipelines' role: read the source, run the two projects, keep artifacts in the bucket."""
    n = names
    policy = PolicyDocument()
    _allow_artifacts(policy, n, "PipelineArtifacts", extra_actions=["s3:GetBucketVersioning"])
    if source.uses_codecommit:
        policy.allow(
            "ReadSourceRepositories",
            list(SOURCE_READ_ACTIONS),
            [n.arn("codecommit", n.repository(kind)) for kind in KINDS],
        )
    if source.connection:
        policy.allow("UseSourceConnection", [source.connection.use_action], [source.connection.arn])
    policy.allow(
        "RunBuilds",
        ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
        [n.arn("codebuild", f"project/{n.codebuild_project(kind)}") for kind in KINDS],
    )
    for grant in grants:
        policy.grant(grant)
    return _with_product_key(policy, kms_key_arn)


# -- ARNs the documents share -------------------------------------------------------------------
def artifacts_bucket_arn(names: ProductNames) -> str:
    return names.arn("s3", names.artifacts_bucket, region=False, account=False)


def serving_stack_arn(names: ProductNames) -> str:
    return names.arn("cloudformation", f"stack/{names.name(SERVING_STACK)}/*")


def sagemaker_role_arn_pattern(names: ProductNames) -> str:
    """Any role under the product's IAM path (CloudFormation generates the role names)."""
    return names.arn("iam", f"role{names.iam_path}*", region=False)


def _allow_registering_models(policy: PolicyDocument, n: ProductNames) -> None:
    """Model steps and the model-build code register versions in the product's model registry."""
    policy.allow(
        "RegisterModels",
        [
            "sagemaker:CreateModelPackage",
            "sagemaker:DescribeModelPackage",
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:ListModelPackages",
        ],
        _model_package_arns(n),
        why_wildcard=_MODEL_PACKAGES_REASON,
    )


def _model_package_arns(n: ProductNames) -> list[str]:
    return [
        n.arn("sagemaker", f"model-package-group/{n.model_package_group}"),
        n.arn("sagemaker", f"model-package/{n.model_package_group}/*"),
    ]


def _pipeline_step_arns(n: ProductNames, resource_types: Sequence[str]) -> list[str]:
    return [
        n.arn("sagemaker", f"{rtype}/{prefix}*")
        for rtype in resource_types
        for prefix in (PIPELINE_STEP_PREFIX, n.name(""))
    ]


def _allow_artifacts(policy: PolicyDocument, n: ProductNames, sid: str, extra_actions: Sequence[str] = ()) -> None:
    """Bucket-level and object-level actions apply to different ARNs: one statement each."""
    bucket = artifacts_bucket_arn(n)
    policy.allow(f"{sid}Bucket", ["s3:GetBucketLocation", "s3:ListBucket", *extra_actions], [bucket])
    policy.allow(
        f"{sid}Objects",
        ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
        [f"{bucket}/*"],
        why_wildcard="Objects in the product's own artifacts bucket are created per pipeline run.",
    )


def _allow_build_logs(
    policy: PolicyDocument, n: ProductNames, kind: Kind, log_group: str, stream: str | None, *, replace: bool = False
) -> None:
    """CodeBuild writes a build's log as the project's service role: it creates the group when
    missing and one stream per build, ``<stream name>/<build id>`` (or the build id alone)."""
    group = n.arn("logs", f"log-group:{log_group}")
    policy.allow(
        f"{kind.title()}Logs",
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [group, f"{group}:log-stream:{stream + '/' if stream else ''}*"],
        why_wildcard="CodeBuild creates one log stream per build, named after the build id.",
        replace=replace,
    )


def _with_product_key(policy: PolicyDocument, kms_key_arn: str | None) -> PolicyDocument:
    """Every role of the product may use the product's key (and only that key)."""
    if kms_key_arn:
        policy.allow("UseProductKey", list(PRODUCT_KEY_ACTIONS), [kms_key_arn])
    return policy

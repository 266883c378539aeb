"""StarterCore: the resources every tier has.

Model registry, source (two CodeCommit repositories, archives in the artifacts bucket, or two
repositories on GitHub/GitLab/Bitbucket reached through an existing CodeConnections connection), the
build and deploy CodeBuild projects and CodePipeline pipelines, their three IAM roles, the
artifacts bucket with its TLS-only policy, and the SSM outputs ModelPackageGroupArn and
RepositoryUrl. L1 resources only: CDK's L2 pipeline and grants would add roles, policies, keys and
buckets of their own, and the tier's inventory is a contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib._iam import PolicyDocument, acknowledge, trust_policy
from ml_provisioner.config.models import MlProduct, SourceControl
from ml_provisioner.naming import Names

KINDS = ("build", "deploy")  # model-build and model-deploy: one repository, project, pipeline each
CODEBUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
SOURCE_BRANCH = "main"
# SageMaker Pipelines name what a step creates pipelines-<execution id>-<step>-<suffix>.
PIPELINE_STEP_PREFIX = "pipelines-"
# The SageMaker jobs a pipeline step runs: IAM resource type -> API name.
_PIPELINE_JOBS = {"processing-job": "ProcessingJob", "training-job": "TrainingJob", "transform-job": "TransformJob"}


@dataclass(frozen=True, kw_only=True)
class StarterCoreProps:
    names: Names
    source: MlProduct  # source_control and, for codeconnections, the connection and repositories
    # Professional and up move the CodeBuild permissions into named managed policies.
    codebuild_policies_managed: bool = False
    # Days to keep build logs written to the artifacts bucket; None: no S3 build logs (starter).
    build_log_retention_days: int | None = None


class StarterCore(Construct):
    """Exposes every resource it creates; the tier stacks wire the higher tiers onto them."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StarterCoreProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.names = props.names
        self._removal = RemovalPolicy.DESTROY if props.names.is_test else RemovalPolicy.RETAIN
        self.role_policies: list[PolicyDocument] = []  # every document a role uses, inline or managed

        self.artifacts_bucket = self._build_artifacts_bucket()
        self.model_package_group = self._build_model_registry()
        self.repositories = self._build_repositories() if self.uses_codecommit else {}
        self.sagemaker_role = self._build_sagemaker_role()
        self.build_policy, self.deploy_policy = self._codebuild_permissions()
        self.codebuild_role = self._build_codebuild_role()
        self.projects = {kind: self._build_project(kind) for kind in KINDS}
        self.pipeline_policy = self._pipeline_permissions()
        self.pipeline_role = self._build_pipeline_role()
        self.pipelines = {kind: self._build_pipeline(kind) for kind in KINDS}
        self.outputs: dict[str, ssm.CfnParameter] = {}
        self.publish("ModelPackageGroupArn", self.model_package_group.attr_model_package_group_arn)
        if self.uses_codecommit:
            self.publish("RepositoryUrl", self.repositories["build"].attr_clone_url_http)

    @property
    def uses_codecommit(self) -> bool:
        return self.props.source.source_control is SourceControl.CODECOMMIT

    @property
    def connection_arn(self) -> str | None:
        """The CodeConnections connection the pipelines read their source through, if any."""
        return self.props.source.connection_arn

    @property
    def use_connection_action(self) -> str:
        """UseConnection under the connection ARN's own service prefix (IAM matches them)."""
        return f"{self.props.source.connection_service}:UseConnection"

    # -- outputs ------------------------------------------------------------------------------
    def publish(self, output: str, value: str) -> ssm.CfnParameter:
        """Publish one SSM output under the product's path (the tiers above add theirs here)."""
        parameter = ssm.CfnParameter(
            self,
            f"Output{output}",
            name=self.names.ssm_parameter(output),
            type="String",
            value=value,
            description=f"{output} of ML product {self.names.deployment_id}",
        )
        self.outputs[output] = parameter
        return parameter

    # -- storage ------------------------------------------------------------------------------
    def _build_artifacts_bucket(self) -> s3.CfnBucket:
        names = self.names
        lifecycle_rules: list[Any] = [
            s3.CfnBucket.RuleProperty(
                id="expire-old-artifact-versions",
                status="Enabled",
                noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(noncurrent_days=90),
                abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                    days_after_initiation=7
                ),
            )
        ]
        if self.props.build_log_retention_days:
            lifecycle_rules.append(
                s3.CfnBucket.RuleProperty(
                    id="expire-build-logs",
                    status="Enabled",
                    prefix="build-logs/",
                    expiration_in_days=self.props.build_log_retention_days,
                )
            )
        bucket = s3.CfnBucket(
            self,
            "ArtifactsBucket",
            bucket_name=names.artifacts_bucket,
            versioning_configuration=s3.CfnBucket.VersioningConfigurationProperty(status="Enabled"),
            bucket_encryption=self._bucket_encryption(None),
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
        bucket.apply_removal_policy(self._removal)
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "Server access logs would need a second bucket outside the tier's audited inventory; "
            "object-level access is recorded by CloudTrail data events in the account's trail.",
        )
        s3.CfnBucketPolicy(
            self,
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

    def _bucket_encryption(self, kms_key_arn: str | None) -> s3.CfnBucket.BucketEncryptionProperty:
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

    @property
    def _bucket_arn(self) -> str:
        return self.names.arn("s3", self.names.artifacts_bucket, region=False, account=False)

    def _build_model_registry(self) -> sagemaker.CfnModelPackageGroup:
        group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=self.names.model_package_group,
            model_package_group_description=f"Model registry of ML product {self.names.deployment_id}",
        )
        group.apply_removal_policy(self._removal)  # registered model versions are data
        return group

    def _build_repositories(self) -> dict[str, codecommit.CfnRepository]:
        repositories = {}
        for kind in KINDS:
            repository = codecommit.CfnRepository(
                self,
                f"Model{kind.title()}Repository",
                repository_name=self.names.repository(kind),
                repository_description=f"Model {kind} code of ML product {self.names.deployment_id}",
            )
            repository.apply_removal_policy(self._removal)  # source code is data
            repositories[kind] = repository
        return repositories

    # -- IAM ----------------------------------------------------------------------------------
    def _role(self, construct_id: str, purpose: str, trust: dict, policies: dict[str, PolicyDocument]) -> iam.CfnRole:
        role = iam.CfnRole(
            self,
            construct_id,
            path=self.names.iam_path,
            description=f"{purpose} of ML product {self.names.deployment_id}",
            assume_role_policy_document=trust,
            max_session_duration=3600,
        )
        if policies:
            role.policies = [
                iam.CfnRole.PolicyProperty(policy_name=name, policy_document=document.lazy())
                for name, document in policies.items()
            ]
            for document in policies.values():
                document.reported_on(role)
        self.role_policies.extend(policies.values())
        return role

    def _build_sagemaker_role(self) -> iam.CfnRole:
        n = self.names
        policy = PolicyDocument()
        self._allow_artifacts(policy, "ArtifactsReadWrite")
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
        # The role SageMaker Pipelines run with (the only role the builds may pass to SageMaker):
        # each step starts a job or creates a model as this role, the RegisterModel step adds a
        # version to the product's registry, and every job is handed this role again.
        policy.allow(
            "RunPipelineSteps",
            [f"sagemaker:{verb}{job}" for job in _PIPELINE_JOBS.values() for verb in ("Create", "Describe", "Stop")]
            + ["sagemaker:AddTags"],
            self._pipeline_step_arns([*_PIPELINE_JOBS, "model"]),
            why_wildcard="SageMaker Pipelines name the jobs and models of a step after the execution "
            "(pipelines-*); jobs the build code starts itself carry the product's name prefix.",
        )
        policy.allow(
            "CreateStepModels",
            ["sagemaker:CreateModel", "sagemaker:DescribeModel"],
            self._pipeline_step_arns(["model"]),
            why_wildcard="Model steps create models named by SageMaker Pipelines or with the product's prefix.",
        )
        policy.allow(
            "RegisterModels",
            [
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:ListModelPackages",
            ],
            [self._model_package_group_arn, self._model_packages_arn],
            why_wildcard="Model package versions are created at run time inside the product's group.",
        )
        policy.allow(
            "PassItselfToSageMakerJobs",
            ["iam:PassRole"],
            [self._sagemaker_role_arn_pattern],
            why_wildcard="The role's name is generated by CloudFormation under the product's IAM path; of "
            "the product's roles only this one trusts SageMaker.",
            condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        return self._role(
            "SageMakerExecutionRole",
            "SageMaker execution role",
            trust_policy({"sagemaker.amazonaws.com": None}, n.account),
            {"sagemaker-execution": policy},
        )

    def _codebuild_permissions(self) -> tuple[PolicyDocument, PolicyDocument]:
        """What the build project and the deploy project need, as two documents."""
        n = self.names
        build, deploy = PolicyDocument(), PolicyDocument()
        for kind, policy in (("build", build), ("deploy", deploy)):
            self._allow_build_logs(policy, kind, f"/aws/codebuild/{n.codebuild_project(kind)}", None)
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
            self._allow_artifacts(policy, f"{kind.title()}Artifacts", extra_actions=["s3:GetBucketAcl"])
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
            ],
            [n.arn("sagemaker", f"pipeline/{n.name('*')}"), n.arn("sagemaker", f"pipeline/{n.name('*')}/execution/*")],
            why_wildcard="The model-build code names its SageMaker pipelines after the product; "
            "executions get ids at run time.",
        )
        build.allow(
            "RegisterModels",
            [
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:ListModelPackages",
            ],
            [self._model_package_group_arn, self._model_packages_arn],
            why_wildcard="Model package versions are created at run time inside the product's group.",
        )
        deploy.allow(
            "ReadApprovedModels",
            ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
            [self._model_package_group_arn, self._model_packages_arn],
            why_wildcard="Model package versions are created at run time inside the product's group.",
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
            ],
            [n.arn("sagemaker", f"{kind}/{n.name('*')}") for kind in ("endpoint", "endpoint-config", "model")],
            why_wildcard="Endpoints, endpoint configs and models are versioned per deployment under "
            "the product's name prefix.",
        )
        for policy in (build, deploy):
            policy.allow(
                "PassSageMakerRole",
                ["iam:PassRole"],
                [self._sagemaker_role_arn_pattern],
                why_wildcard="The SageMaker role's name is generated by CloudFormation under the product's IAM path.",
                condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        return build, deploy

    def _allow_build_logs(self, policy: PolicyDocument, kind: str, log_group: str, stream: str | None) -> None:
        """CodeBuild writes a build's log as the project's service role: it creates the group when
        missing and one stream per build, ``<stream name>/<build id>`` (or the build id alone)."""
        group = self.names.arn("logs", f"log-group:{log_group}")
        policy.allow(
            f"{kind.title()}Logs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [group, f"{group}:log-stream:{stream + '/' if stream else ''}*"],
            why_wildcard="CodeBuild creates one log stream per build, named after the build id.",
            replace=True,
        )

    def _build_codebuild_role(self) -> iam.CfnRole:
        n = self.names
        inline = (
            {} if self.props.codebuild_policies_managed else {"build": self.build_policy, "deploy": self.deploy_policy}
        )
        role = self._role(
            "CodeBuildRole",
            "CodeBuild service role",
            trust_policy({"codebuild.amazonaws.com": n.arn("codebuild", f"project/{n.name('*')}")}, n.account),
            inline,
        )
        if self.props.codebuild_policies_managed:
            self.role_policies += [self.build_policy, self.deploy_policy]
        return role

    def _pipeline_permissions(self) -> PolicyDocument:
        n = self.names
        policy = PolicyDocument()
        self._allow_artifacts(policy, "PipelineArtifacts", extra_actions=["s3:GetBucketVersioning"])
        if self.uses_codecommit:
            policy.allow(
                "ReadSourceRepositories",
                [
                    "codecommit:CancelUploadArchive",
                    "codecommit:GetBranch",
                    "codecommit:GetCommit",
                    "codecommit:GetRepository",
                    "codecommit:GetUploadArchiveStatus",
                    "codecommit:UploadArchive",
                ],
                [n.arn("codecommit", n.repository(kind)) for kind in KINDS],
            )
        if self.connection_arn:
            policy.allow("UseSourceConnection", [self.use_connection_action], [self.connection_arn])
        policy.allow(
            "RunBuilds",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            [n.arn("codebuild", f"project/{n.codebuild_project(kind)}") for kind in KINDS],
        )
        return policy

    def _build_pipeline_role(self) -> iam.CfnRole:
        n = self.names
        return self._role(
            "PipelineRole",
            "CodePipeline service role",
            trust_policy({"codepipeline.amazonaws.com": n.arn("codepipeline", n.name("*"))}, n.account),
            {"pipeline": self.pipeline_policy},
        )

    def _allow_artifacts(self, policy: PolicyDocument, sid: str, extra_actions: Sequence[str] = ()) -> None:
        """Bucket-level and object-level actions apply to different ARNs: one statement each."""
        policy.allow(f"{sid}Bucket", ["s3:GetBucketLocation", "s3:ListBucket", *extra_actions], [self._bucket_arn])
        policy.allow(
            f"{sid}Objects",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [f"{self._bucket_arn}/*"],
            why_wildcard="Objects in the product's own artifacts bucket are created per pipeline run.",
        )

    def _pipeline_step_arns(self, resource_types: Sequence[str]) -> list[str]:
        n = self.names
        return [
            n.arn("sagemaker", f"{rtype}/{prefix}*")
            for rtype in resource_types
            for prefix in (PIPELINE_STEP_PREFIX, n.name(""))
        ]

    @property
    def _model_package_group_arn(self) -> str:
        return self.names.arn("sagemaker", f"model-package-group/{self.names.model_package_group}")

    @property
    def _model_packages_arn(self) -> str:
        return self.names.arn("sagemaker", f"model-package/{self.names.model_package_group}/*")

    @property
    def _sagemaker_role_arn_pattern(self) -> str:
        return self.names.arn("iam", f"role{self.names.iam_path}*", region=False)

    # -- build and pipelines ------------------------------------------------------------------
    def _build_project(self, kind: str) -> codebuild.CfnProject:
        n = self.names
        environment_variables = [
            codebuild.CfnProject.EnvironmentVariableProperty(name=name, value=value, type="PLAINTEXT")
            for name, value in (
                ("ARTIFACTS_BUCKET", n.artifacts_bucket),
                ("MODEL_PACKAGE_GROUP_NAME", n.model_package_group),
                ("PRODUCT_ID", n.deployment_id),
                # SageMaker pipelines, models and endpoints the build code creates must start with
                # this prefix: the roles may only touch names that do.
                ("RESOURCE_NAME_PREFIX", n.name("")),
                ("SAGEMAKER_EXECUTION_ROLE_ARN", self.sagemaker_role.attr_arn),
            )
        ]
        logs = codebuild.CfnProject.LogsConfigProperty(
            cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(status="ENABLED"),
            s3_logs=codebuild.CfnProject.S3LogsConfigProperty(
                status="ENABLED", location=f"{n.artifacts_bucket}/build-logs/{kind}", encryption_disabled=False
            )
            if self.props.build_log_retention_days
            else None,
        )
        project = codebuild.CfnProject(
            self,
            f"{kind.title()}Project",
            name=n.codebuild_project(kind),
            description=f"Model {kind} of ML product {n.deployment_id} (buildspec.yml in the {kind} source)",
            service_role=self.codebuild_role.attr_arn,
            source=codebuild.CfnProject.SourceProperty(type="CODEPIPELINE"),
            artifacts=codebuild.CfnProject.ArtifactsProperty(type="CODEPIPELINE"),
            environment=codebuild.CfnProject.EnvironmentProperty(
                type="LINUX_CONTAINER",
                compute_type="BUILD_GENERAL1_SMALL",
                image=CODEBUILD_IMAGE,
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=False,
                environment_variables=environment_variables,
            ),
            logs_config=logs,
            timeout_in_minutes=60,
            queued_timeout_in_minutes=120,
        )
        acknowledge(
            project,
            "AwsSolutions-CB4",
            "Below the enterprise tier build artifacts are encrypted with the AWS managed S3 key; "
            "the enterprise tier sets the product's customer-managed KMS key here.",
        )
        acknowledge(
            project,
            "CloudFormation-Validate::E3050",
            "False positive: ServiceRole is Fn::GetAtt of the role's Arn, which carries its IAM path.",
        )
        return project

    def _build_pipeline(self, kind: str) -> codepipeline.CfnPipeline:
        n = self.names
        if self.uses_codecommit:
            source_action = _action(
                "Source",
                "Source",
                "CodeCommit",
                {
                    "RepositoryName": n.repository(kind),
                    "BranchName": SOURCE_BRANCH,
                    "PollForSourceChanges": "true",
                    "OutputArtifactFormat": "CODE_ZIP",
                },
                outputs=["SourceOutput"],
            )
        elif self.connection_arn:
            source = self.props.source
            source_action = _action(
                "Source",
                "Source",
                "CodeStarSourceConnection",
                {
                    "ConnectionArn": self.connection_arn,
                    "FullRepositoryId": source.repository(kind),
                    "BranchName": str(source.branch),
                    "OutputArtifactFormat": "CODE_ZIP",
                    "DetectChanges": "true",
                },
                outputs=["SourceOutput"],
            )
        else:
            source_action = _action(
                "Source",
                "Source",
                "S3",
                {
                    "S3Bucket": n.artifacts_bucket,
                    "S3ObjectKey": n.source_object_key(kind),
                    "PollForSourceChanges": "true",
                },
                outputs=["SourceOutput"],
            )
        run_action = _action(
            kind.title(), "Build", "CodeBuild", {"ProjectName": n.codebuild_project(kind)}, inputs=["SourceOutput"]
        )
        pipeline = codepipeline.CfnPipeline(
            self,
            f"{kind.title()}Pipeline",
            name=n.pipeline(kind),
            role_arn=self.pipeline_role.attr_arn,
            pipeline_type="V2",
            execution_mode="QUEUED" if kind == "deploy" else "SUPERSEDED",
            restart_execution_on_update=False,
            artifact_store=codepipeline.CfnPipeline.ArtifactStoreProperty(
                type="S3", location=self.artifacts_bucket.ref
            ),
            stages=[
                codepipeline.CfnPipeline.StageDeclarationProperty(name="Source", actions=[source_action]),
                codepipeline.CfnPipeline.StageDeclarationProperty(name=kind.title(), actions=[run_action]),
            ],
        )
        pipeline.add_resource_dependency(self.projects[kind])
        return pipeline

    # -- hooks for the higher tiers ------------------------------------------------------------
    def encrypt_with(self, kms_key_arn: str) -> None:
        """Encrypt the bucket, the builds and the pipeline artifacts with a customer-managed key,
        and let every role of the product use that key (and only that key)."""
        for document in self.role_policies:
            document.allow(
                "UseProductKey",
                ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                [kms_key_arn],
            )
        self.artifacts_bucket.bucket_encryption = self._bucket_encryption(kms_key_arn)
        for project in self.projects.values():
            project.encryption_key = kms_key_arn
        for pipeline in self.pipelines.values():
            pipeline.artifact_store = codepipeline.CfnPipeline.ArtifactStoreProperty(
                type="S3",
                location=self.artifacts_bucket.ref,
                encryption_key=codepipeline.CfnPipeline.EncryptionKeyProperty(id=kms_key_arn, type="KMS"),
            )

    def send_build_logs_to(self, log_group_ref: str, log_group_name: str) -> None:
        """Write the CloudWatch logs of both projects into one (compliance) log group, each project
        to its own streams, and let each write there and nowhere else."""
        for kind, policy in (("build", self.build_policy), ("deploy", self.deploy_policy)):
            self._allow_build_logs(policy, kind, log_group_name, kind)
        for kind, project in self.projects.items():
            logs: Any = project.logs_config  # the LogsConfigProperty this construct set
            project.logs_config = codebuild.CfnProject.LogsConfigProperty(
                cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
                    status="ENABLED", group_name=log_group_ref, stream_name=kind
                ),
                s3_logs=logs.s3_logs if logs else None,
            )


def _action(
    name: str,
    category: str,
    provider: str,
    configuration: dict[str, str],
    *,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
) -> codepipeline.CfnPipeline.ActionDeclarationProperty:
    return codepipeline.CfnPipeline.ActionDeclarationProperty(
        name=name,
        action_type_id=codepipeline.CfnPipeline.ActionTypeIdProperty(
            category=category, owner="AWS", provider=provider, version="1"
        ),
        configuration=configuration,
        input_artifacts=[codepipeline.CfnPipeline.InputArtifactProperty(name=i) for i in inputs] or None,
        output_artifacts=[codepipeline.CfnPipeline.OutputArtifactProperty(name=o) for o in outputs] or None,
        run_order=1,
    )


__all__ = ["KINDS", "StarterCore", "StarterCoreProps"]

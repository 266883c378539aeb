"""StarterCore: the resources every tier has.

Model registry, source (two CodeCommit repositories, archives in the artifacts bucket, or two
repositories on GitHub/GitLab/Bitbucket reached through an existing CodeConnections connection), the
build and deploy CodeBuild projects and CodePipeline pipelines, their three IAM roles (each capped
by the permission boundary ``ml-provisioner bootstrap`` creates outside the stack), the
artifacts bucket with its TLS-only policy, and the SSM outputs ModelPackageGroupArn and
RepositoryUrl. L1 resources only: CDK's L2 pipeline and grants would add roles, policies, keys and
buckets of their own, and the tier's inventory is a contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib._iam import report_wildcards
from constructs_lib.names import KINDS, Kind, ProductNames
from constructs_lib.policy_document import Json, PolicyDocument
from constructs_lib.starter_core import policies
from constructs_lib.starter_core.pipelines import build_pipeline, build_project
from constructs_lib.starter_core.props import StarterCoreProps
from constructs_lib.starter_core.storage import build_artifacts_bucket, build_model_registry, build_repositories


class StarterCore(Construct):
    """Exposes every resource it creates; what the higher tiers add comes in through props."""

    def __init__(self, scope: Construct, construct_id: str, *, props: StarterCoreProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        names, source, key = props.names, props.source, props.kms_key_arn
        removal = RemovalPolicy.DESTROY if names.is_test else RemovalPolicy.RETAIN
        # Every role of the stack, whichever tier adds it, is capped by the administrator's boundary
        # (the CDK's own Aspect: it visits the tree without a round trip to Python per construct).
        iam.PermissionsBoundary.of(Stack.of(self)).apply(
            iam.ManagedPolicy.from_managed_policy_arn(self, "PermissionBoundary", names.permission_boundary_arn)
        )

        self.artifacts_bucket = build_artifacts_bucket(
            self, names, removal=removal, kms_key_arn=key, build_log_retention_days=props.build_log_retention_days
        )
        self.model_package_group = build_model_registry(self, names, removal=removal)
        self.repositories = (
            build_repositories(self, names, removal=removal, initial_commits=props.initial_commits)
            if source.uses_codecommit
            else {}
        )

        self.sagemaker_policy = policies.sagemaker_policy(names, kms_key_arn=key, job_subnets=props.job_subnets)
        self.sagemaker_role = build_role(
            self,
            names,
            "SageMakerExecutionRole",
            "SageMaker execution role",
            policies.sagemaker_trust(names),
            {"sagemaker-execution": self.sagemaker_policy},
        )
        self.build_policy, self.deploy_policy = policies.codebuild_policies(
            names, kms_key_arn=key, build_logs=props.build_logs
        )
        self.codebuild_role = build_role(
            self,
            names,
            "CodeBuildRole",
            "CodeBuild service role",
            policies.codebuild_trust(names),
            {} if props.codebuild_policies_managed else {"build": self.build_policy, "deploy": self.deploy_policy},
        )
        self.projects = {
            kind: build_project(
                self,
                names,
                kind,
                role_arn=self.codebuild_role.attr_arn,
                sagemaker_role_arn=self.sagemaker_role.attr_arn,
                kms_key_arn=key,
                build_logs=props.build_logs,
                s3_logs=bool(props.build_log_retention_days),
                extra_variables=props.build_variables,
            )
            for kind in KINDS
        }
        self.pipeline_policy = policies.pipeline_policy(names, source, grants=props.pipeline_grants, kms_key_arn=key)
        self.pipeline_role = build_role(
            self,
            names,
            "PipelineRole",
            "CodePipeline service role",
            policies.pipeline_trust(names, props.pipeline_trust),
            {"pipeline": self.pipeline_policy},
        )
        self.pipelines = {
            kind: build_pipeline(
                self,
                names,
                kind,
                source=source,
                role_arn=self.pipeline_role.attr_arn,
                artifacts_bucket_ref=self.artifacts_bucket.ref,
                kms_key_arn=key,
                project=self.projects[kind],
            )
            for kind in KINDS
        }

        outputs = {"ModelPackageGroupArn": self.model_package_group.attr_model_package_group_arn}
        if source.uses_codecommit:
            outputs["RepositoryUrl"] = self.repositories["build"].attr_clone_url_http
        self.outputs = publish_outputs(self, names, {**outputs, **props.outputs})

    @property
    def codebuild_policies(self) -> dict[Kind, PolicyDocument]:
        """The build and deploy projects' permissions (inline, or a higher tier's managed policies)."""
        return {"build": self.build_policy, "deploy": self.deploy_policy}


def build_role(
    scope: Construct,
    names: ProductNames,
    construct_id: str,
    purpose: str,
    trust: Json,
    policies: Mapping[str, PolicyDocument],
) -> iam.CfnRole:
    """A role under the product's IAM path, with its inline policies (their wildcards acknowledged)."""
    role = iam.CfnRole(
        scope,
        construct_id,
        path=names.iam_path,
        description=f"{purpose} of ML product {names.deployment_id}",
        assume_role_policy_document=trust,
        max_session_duration=3600,
        policies=[
            iam.CfnRole.PolicyProperty(policy_name=name, policy_document=document.to_json())
            for name, document in policies.items()
        ]
        or None,
    )
    report_wildcards(role, *policies.values())
    return role


@dataclass(frozen=True)
class PublishedOutput:
    """An output's SSM parameter, with the name and value it was given (kept here: reading them back
    from the parameter is a round trip to jsii each)."""

    parameter: ssm.CfnParameter
    name: str
    value: str


def publish_outputs(scope: Construct, names: ProductNames, outputs: Mapping[str, str]) -> dict[str, PublishedOutput]:
    """One SSM parameter per output under the product's path, in the order given."""
    published = {}
    for output, value in outputs.items():
        name = names.ssm_parameter(output)
        parameter = ssm.CfnParameter(
            scope,
            f"Output{output}",
            name=name,
            type="String",
            value=value,
            description=f"{output} of ML product {names.deployment_id}",
        )
        published[output] = PublishedOutput(parameter, name, value)
    return published

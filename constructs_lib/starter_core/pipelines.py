"""StarterCore's build and deploy: one CodeBuild project and one CodePipeline pipeline per kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from constructs import Construct

from constructs_lib._iam import acknowledge
from constructs_lib.names import Kind, ProductNames
from constructs_lib.starter_core.props import LogDestination, Source
from constructs_lib.starter_core.storage import SOURCE_BRANCH

CODEBUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"


def build_project(
    scope: Construct,
    names: ProductNames,
    kind: Kind,
    *,
    role_arn: str,
    sagemaker_role_arn: str,
    kms_key_arn: str | None,
    build_logs: LogDestination | None,
    s3_logs: bool,
    extra_variables: Mapping[str, str],
) -> codebuild.CfnProject:
    """The project that runs the buildspec of the kind's source, as the CodeBuild role."""
    n = names
    environment_variables = [
        codebuild.CfnProject.EnvironmentVariableProperty(name=name, value=value, type="PLAINTEXT")
        for name, value in (
            ("ARTIFACTS_BUCKET", n.artifacts_bucket),
            ("MODEL_PACKAGE_GROUP_NAME", n.model_package_group),
            ("PRODUCT_ID", n.deployment_id),
            # SageMaker pipelines, models and endpoints the build code creates must start with
            # this prefix: the roles may only touch names that do.
            ("RESOURCE_NAME_PREFIX", n.name("")),
            ("SAGEMAKER_EXECUTION_ROLE_ARN", sagemaker_role_arn),
            *extra_variables.items(),
        )
    ]
    cloud_watch_logs = (
        codebuild.CfnProject.CloudWatchLogsConfigProperty(
            status="ENABLED", group_name=build_logs.group_ref, stream_name=kind
        )
        if build_logs
        else codebuild.CfnProject.CloudWatchLogsConfigProperty(status="ENABLED")
    )
    logs = codebuild.CfnProject.LogsConfigProperty(
        cloud_watch_logs=cloud_watch_logs,
        s3_logs=codebuild.CfnProject.S3LogsConfigProperty(
            status="ENABLED", location=f"{n.artifacts_bucket}/build-logs/{kind}", encryption_disabled=False
        )
        if s3_logs
        else None,
    )
    project = codebuild.CfnProject(
        scope,
        f"{kind.title()}Project",
        name=n.codebuild_project(kind),
        description=f"Model {kind} of ML product {n.deployment_id} (buildspec.yml in the {kind} source)",
        service_role=role_arn,
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
        encryption_key=kms_key_arn,
        timeout_in_minutes=60,
        queued_timeout_in_minutes=120,
    )
    acknowledge(
        project,
        (
            "AwsSolutions-CB4",
            "Below the enterprise tier build artifacts are encrypted with the AWS managed S3 key; "
            "the enterprise tier sets the product's customer-managed KMS key here.",
        ),
        (
            "CloudFormation-Validate::E3050",
            "False positive: ServiceRole is Fn::GetAtt of the role's Arn, which carries its IAM path.",
        ),
    )
    return project


def build_pipeline(
    scope: Construct,
    names: ProductNames,
    kind: Kind,
    *,
    source: Source,
    role_arn: str,
    artifacts_bucket_ref: str,
    kms_key_arn: str | None,
    project: codebuild.CfnProject,
) -> codepipeline.CfnPipeline:
    """Source (CodeCommit, a connection, or an archive in the bucket), then the kind's project."""
    n = names
    run_action = _action(
        kind.title(), "Build", "CodeBuild", {"ProjectName": n.codebuild_project(kind)}, inputs=["SourceOutput"]
    )
    pipeline = codepipeline.CfnPipeline(
        scope,
        f"{kind.title()}Pipeline",
        name=n.pipeline(kind),
        role_arn=role_arn,
        pipeline_type="V2",
        # Each run builds, or deploys, the newest state (the deploy build looks up the latest approved
        # model version): a newer run makes a waiting one pointless. EventBridge may deliver an approval
        # more than once; SUPERSEDED collapses the duplicates instead of queueing a full deploy for each.
        execution_mode="SUPERSEDED",
        restart_execution_on_update=False,
        artifact_store=codepipeline.CfnPipeline.ArtifactStoreProperty(
            type="S3",
            location=artifacts_bucket_ref,
            encryption_key=codepipeline.CfnPipeline.EncryptionKeyProperty(id=kms_key_arn, type="KMS")
            if kms_key_arn
            else None,
        ),
        stages=[
            codepipeline.CfnPipeline.StageDeclarationProperty(name="Source", actions=[_source_action(n, kind, source)]),
            codepipeline.CfnPipeline.StageDeclarationProperty(name=kind.title(), actions=[run_action]),
        ],
    )
    pipeline.add_resource_dependency(project)
    return pipeline


def _source_action(n: ProductNames, kind: Kind, source: Source) -> codepipeline.CfnPipeline.ActionDeclarationProperty:
    if source.uses_codecommit:
        provider = "CodeCommit"
        configuration = {
            "RepositoryName": n.repository(kind),
            "BranchName": SOURCE_BRANCH,
            "PollForSourceChanges": "true",
            "OutputArtifactFormat": "CODE_ZIP",
        }
    elif source.connection:
        provider = "CodeStarSourceConnection"
        configuration = {
            "ConnectionArn": source.connection.arn,
            "FullRepositoryId": source.connection.repositories[kind],
            "BranchName": source.connection.branch,
            "OutputArtifactFormat": "CODE_ZIP",
            "DetectChanges": "true",
        }
    else:
        provider = "S3"
        configuration = {
            "S3Bucket": n.artifacts_bucket,
            "S3ObjectKey": n.source_object_key(kind),
            "PollForSourceChanges": "true",
        }
    return _action("Source", "Source", provider, configuration, outputs=["SourceOutput"])


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

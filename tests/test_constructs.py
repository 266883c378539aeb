"""Each L3 construct on its own, on a bare Stack: what it creates, and what its props change.

The tier stacks (test_stacks.py) check the composed products; here each construct is built with
only its props, so a construct's contract is seen without the others.
"""

from __future__ import annotations

from typing import Any

import pytest

from constructs_lib.enterprise_security.props import EndpointNetwork, EnterpriseSecurityProps
from constructs_lib.policy_document import Grant
from constructs_lib.starter_core.policies import codebuild_policies
from constructs_lib.starter_core.props import LogDestination, Source, StarterCoreProps
from ml_provisioner.config.loader import load_config
from ml_provisioner.naming import Names
from tests.conftest import example

pytestmark = pytest.mark.synth

KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRUSTED = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}


@pytest.fixture(scope="module")
def cdk() -> Any:
    from ml_provisioner.synth import ensure_node

    ensure_node()  # a supported Node.js before the jsii kernel starts
    import aws_cdk

    return aws_cdk


@pytest.fixture(scope="module")
def names() -> Names:
    return Names(load_config(example("techcorp codecommit")).config)


def template_of(stack: Any) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)


def core_on_a_bare_stack(cdk: Any, props: StarterCoreProps) -> tuple[Any, Any]:
    from constructs_lib.starter_core import StarterCore

    stack = cdk.Stack(cdk.App(), "Bare")
    return stack, StarterCore(stack, "StarterCore", props=props)


def test_starter_core_creates_bucket_registry_repositories_roles_projects_pipelines_and_outputs(cdk, names):
    stack, _ = core_on_a_bare_stack(cdk, StarterCoreProps(names=names, source=Source(control="codecommit")))
    template = template_of(stack)
    for resource_type, count in {
        "AWS::S3::Bucket": 1,
        "AWS::S3::BucketPolicy": 1,
        "AWS::SageMaker::ModelPackageGroup": 1,
        "AWS::CodeCommit::Repository": 2,
        "AWS::IAM::Role": 3,
        "AWS::CodeBuild::Project": 2,
        "AWS::CodePipeline::Pipeline": 2,
        "AWS::SSM::Parameter": 2,
    }.items():
        template.resource_count_is(resource_type, count)
    assert len(template.to_json()["Resources"]) == 14
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": names.artifacts_bucket,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"BucketKeyEnabled": False, "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
        },
    )
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    template.has_resource_properties("AWS::SSM::Parameter", {"Name": names.ssm_parameter("RepositoryUrl")})


def test_starter_core_carries_its_codebuild_policies_inline_exactly_as_the_pure_documents(cdk, names):
    stack, _ = core_on_a_bare_stack(cdk, StarterCoreProps(names=names, source=Source(control="s3")))
    build, deploy = codebuild_policies(names)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "Policies": [
                {"PolicyName": "build", "PolicyDocument": build.to_json()},
                {"PolicyName": "deploy", "PolicyDocument": deploy.to_json()},
            ]
        },
    )
    # What the documents must say, written out by hand for techcorp's starter product (not read from
    # codebuild_policies): the CodeBuild User Guide's service-role permissions, scoped to the product.
    [policies] = [
        {p["PolicyName"]: p["PolicyDocument"]["Statement"] for p in r["Properties"].get("Policies", [])}
        for r in template.to_json()["Resources"].values()
        if r["Type"] == "AWS::IAM::Role" and "build" in {p["PolicyName"] for p in r["Properties"].get("Policies", [])}
    ]
    for kind, statements in policies.items():
        project = f"techcorp-prod-a001-customer-churn--{kind}"
        # the artifacts bucket and its objects, nothing else of S3 (CodeBuild reads the bucket's ACL
        # and location before it writes artifacts or S3 logs)
        assert _actions_on(statements, BUCKET) == {"s3:GetBucketAcl", "s3:GetBucketLocation", "s3:ListBucket"}
        assert _actions_on(statements, f"{BUCKET}/*") == {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}
        # the project's default log group /aws/codebuild/<project> and its streams
        group = f"arn:aws:logs:us-west-2:123456789012:log-group:/aws/codebuild/{project}"
        assert _actions_on(statements, group) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
        assert _actions_on(statements, f"{group}:log-stream:*") == _actions_on(statements, group)
        # test reports go to report groups CodeBuild names <project>-<report name>
        assert "codebuild:CreateReport" in _actions_on(
            statements, f"arn:aws:codebuild:us-west-2:123456789012:report-group/{project}-*"
        )
        # the SageMaker role is passed to SageMaker only
        assert {
            "Sid": "PassSageMakerRole",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": "arn:aws:iam::123456789012:role/ml-provisioner/techcorp-prod-a001-customer-churn--usw2/*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        } in statements
        # ... and what they must not say
        for statement in statements:
            actions, resources = statement["Action"], _listed(statement["Resource"])
            assert statement["Effect"] == "Allow" and not any("*" in a for a in actions), statement
            assert "*" not in resources, f"{kind}: no action on every resource: {statement}"
            assert [a for a in actions if a.startswith("iam:")] in ([], ["iam:PassRole"]), statement
            if "iam:PassRole" in actions:
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
            for resource in resources:
                assert resource in (BUCKET, f"{BUCKET}/*") or not resource.startswith("arn:aws:s3:"), resource
                assert "techcorp-prod-a001-customer-churn--" in resource, f"only the product's own: {resource}"
    assert "sagemaker:StartPipelineExecution" in _actions_on(
        policies["build"], "arn:aws:sagemaker:us-west-2:123456789012:pipeline/techcorp-prod-a001-customer-churn--*"
    )
    assert "sagemaker:StartPipelineExecution" not in {a for s in policies["deploy"] for a in s["Action"]}
    assert _actions_on(
        policies["deploy"], "arn:aws:sagemaker:us-west-2:123456789012:endpoint/techcorp-prod-a001-customer-churn--*"
    ) >= {"sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint"}
    assert not any(a.startswith("sagemaker:CreateEndpoint") for s in policies["build"] for a in s["Action"])


# techcorp's artifacts bucket: <product id>--<region code>-<first 4 hex of sha256(account id)>
BUCKET = "arn:aws:s3:::techcorp-prod-a001-customer-churn--usw2-2a33"


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _actions_on(statements: list[dict[str, Any]], resource: str) -> set[str]:
    """The actions of the Allow statements that name exactly this resource."""
    return {a for s in statements if s["Effect"] == "Allow" and resource in _listed(s["Resource"]) for a in s["Action"]}


def test_what_a_higher_tier_adds_comes_in_through_starter_cores_props(cdk, names):
    from aws_cdk.assertions import Match

    props = StarterCoreProps(
        names=names,
        source=Source(control="s3"),
        codebuild_policies_managed=True,
        build_log_retention_days=90,
        kms_key_arn=KEY,
        build_logs=LogDestination(group_ref="compliance-group", group_name="/compliance"),
        pipeline_trust=(TRUSTED,),
        pipeline_grants=(Grant(sid="Extra", actions=("codepipeline:StartPipelineExecution",), resources=("arn",)),),
        outputs={"Extra": "value"},
    )
    stack, core = core_on_a_bare_stack(cdk, props)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY},
                    }
                ]
            }
        },
    )
    for kind in ("build", "deploy"):
        template.has_resource_properties(
            "AWS::CodeBuild::Project",
            {
                "Name": names.codebuild_project(kind),
                "EncryptionKey": KEY,
                "LogsConfig": {
                    "CloudWatchLogs": {"Status": "ENABLED", "GroupName": "compliance-group", "StreamName": kind},
                    "S3Logs": Match.object_like({"Location": f"{names.artifacts_bucket}/build-logs/{kind}"}),
                },
            },
        )
        template.has_resource_properties(
            "AWS::CodePipeline::Pipeline",
            {
                "Name": names.pipeline(kind),
                "ArtifactStore": Match.object_like({"EncryptionKey": {"Id": KEY, "Type": "KMS"}}),
            },
        )
    template.has_resource_properties(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": {"Statement": Match.array_with([TRUSTED]), "Version": "2012-10-17"}},
    )
    # Managed elsewhere: the CodeBuild role has no inline policies; every document may use the key.
    codebuild_role = template.to_json()["Resources"][stack.get_logical_id(core.codebuild_role)]
    assert "Policies" not in codebuild_role["Properties"]
    assert all(doc.statements[-1]["Sid"] == "UseProductKey" for doc in core.codebuild_policies.values())
    assert [s["Sid"] for s in core.pipeline_policy.statements][-2:] == ["Extra", "UseProductKey"]
    assert list(core.outputs) == ["ModelPackageGroupArn", "Extra"]


def test_professional_addons_add_managed_policies_the_approval_rule_and_the_dashboard(cdk, names):
    from constructs_lib.professional_addons.construct import ProfessionalAddons, ProfessionalAddonsProps

    stack, core = core_on_a_bare_stack(
        cdk, StarterCoreProps(names=names, source=Source(control="s3"), codebuild_policies_managed=True)
    )
    addons = ProfessionalAddons(
        stack,
        "ProfessionalAddons",
        core=core,
        props=ProfessionalAddonsProps(names=names, alerts_email="ml@example.com", console_url="https://console"),
    )
    template = template_of(stack)
    template.resource_count_is("AWS::IAM::ManagedPolicy", 2)
    template.resource_count_is("AWS::Events::Rule", 1)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    codebuild_role = {"Ref": stack.get_logical_id(core.codebuild_role)}
    for document in core.codebuild_policies.values():
        template.has_resource_properties(
            "AWS::IAM::ManagedPolicy", {"Roles": [codebuild_role], "PolicyDocument": document.to_json()}
        )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": names.approval_rule,
            "Targets": [
                {
                    "Id": "deploy-pipeline",
                    "Arn": names.arn("codepipeline", names.pipeline("deploy")),
                    "RoleArn": {"Fn::GetAtt": [stack.get_logical_id(core.pipeline_role), "Arn"]},
                }
            ],
        },
    )
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": names.dashboard})
    assert list(addons.outputs) == ["BucketName", "DashboardName"]


def test_enterprise_security_stands_alone_with_key_endpoints_and_compliance_logging(cdk):
    from constructs_lib.enterprise_security import EnterpriseSecurity

    names = Names(load_config(example("globalbank s3 standalone direct")).config)
    stack = cdk.Stack(cdk.App(), "Bare")
    security = EnterpriseSecurity(
        stack,
        "EnterpriseSecurity",
        props=EnterpriseSecurityProps(
            names=names,
            network=EndpointNetwork(
                vpc_id="vpc-0123456789abcdef0",
                subnet_ids=("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
                endpoint_client_cidrs=("10.0.0.0/16",),
            ),
            alerts_email="security@example.com",
            log_retention_days=365,
        ),
    )
    template = template_of(stack)
    for resource_type, count in {
        "AWS::KMS::Key": 1,
        "AWS::KMS::Alias": 1,
        "AWS::EC2::SecurityGroup": 1,
        "AWS::EC2::VPCEndpoint": 4,
        "AWS::Logs::LogGroup": 1,
        "AWS::SNS::Topic": 1,
        "AWS::SNS::Subscription": 1,
        "AWS::Logs::MetricFilter": 2,
        "AWS::CloudWatch::Alarm": 2,
        "AWS::IAM::ManagedPolicy": 0,  # the boundary is the administrator's (bootstrap), StarterCore sets it
    }.items():
        template.resource_count_is(resource_type, count)
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(security.key), "Arn"]}
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": names.compliance_log_group, "KmsKeyId": key_arn, "RetentionInDays": 365},
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": key_arn})
    assert list(security.outputs) == [
        "KmsKeyArn",
        "LogGroupName",
        "VpcEndpointIdSagemakerApi",
        "VpcEndpointIdSagemakerRuntime",
        "VpcEndpointIdS3",
        "VpcEndpointIdSts",
        "SecurityGroupId",
    ]

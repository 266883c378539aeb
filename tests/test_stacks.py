"""The synthesized stacks against the spec's tier matrix and "What Gets Created".

Every example config is synthesized once per session (conftest). Resources are found by type and
properties, never by hashed logical id.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from constructs_lib.starter_core.policies import JOB_NETWORK_ACTIONS, JOB_NETWORK_READS
from ml_provisioner import catalog
from ml_provisioner.config.models import EnterpriseConfig, SecurityGroupMode, SourceControl, VpcSource
from ml_provisioner.synth import synthesize
from tests.conftest import EXAMPLES, example
from tests.support.cdk import Match, Template

pytestmark = pytest.mark.synth

STEMS = [p.stem for p in EXAMPLES]
TLS_POLICY = "AWS::S3::BucketPolicy"


def expected_count(config) -> int:
    """The spec's tier matrix: Starter 13/10, Professional 19/16, Enterprise 39-41/36-38 less the
    permission boundary, which the administrator's bootstrap stack holds (README, Security model),
    and less the S3 endpoint where the product uses the VPC's existing S3 gateway endpoint."""
    codecommit = config.ml_product.source_control is SourceControl.CODECOMMIT
    if config.tier == "starter":
        return 13 if codecommit else 10
    if config.tier == "professional":
        return 19 if codecommit else 16
    standalone = config.vpc_integration.security_group_mode is SecurityGroupMode.STANDALONE
    existing_gateway = config.vpc_integration.s3_gateway_endpoint_id is not None
    return (38 if codecommit else 35) + (2 if standalone else 0) - (1 if existing_gateway else 0)


def template_of(synthesized, fragment: str) -> Template:
    return Template.from_json(synthesized[example(fragment).stem].template)


def resources(result, type_: str) -> list[dict]:
    return [r for r in result.template["Resources"].values() if r["Type"] == type_]


@pytest.mark.parametrize("stem", STEMS)
def test_resource_count_matches_the_tier_matrix(synthesized, stem):
    result = synthesized[stem]
    types = Counter(r["Type"] for r in result.template["Resources"].values())
    assert types[TLS_POLICY] == 1, "the one permitted addition: a TLS-only policy for the one bucket"
    assert sum(types.values()) - types[TLS_POLICY] == expected_count(result.loaded.config)
    assert "AWS::CDK::Metadata" not in types


@pytest.mark.parametrize("stem", STEMS)
def test_show_product_catalog_is_exactly_the_synthesized_inventory(synthesized, stem):
    result = synthesized[stem]
    listed = Counter(r.type for r in catalog.resources_for(result.loaded.config))
    assert listed == Counter(r["Type"] for r in result.template["Resources"].values())


@pytest.mark.parametrize("stem", STEMS)
def test_ssm_outputs_are_exactly_those_of_the_tier(synthesized, stem):
    result = synthesized[stem]
    config, names = result.loaded.config, result.names
    expected = ["ModelPackageGroupArn"]
    if config.ml_product.source_control is SourceControl.CODECOMMIT:
        expected.append("RepositoryUrl")
    if config.tier != "starter":
        expected += ["BucketName", "DashboardName"]
    if isinstance(config, EnterpriseConfig):
        expected += [
            "KmsKeyArn",
            "LogGroupName",
            "VpcEndpointIdSagemakerApi",
            "VpcEndpointIdSagemakerRuntime",
            "VpcEndpointIdS3",
            "VpcEndpointIdSts",
        ]
        if config.vpc_integration.security_group_mode is SecurityGroupMode.STANDALONE:
            expected.append("SecurityGroupId")
    published = {p["Properties"]["Name"] for p in resources(result, "AWS::SSM::Parameter")}
    assert published == {f"{names.ssm_prefix}/{output}" for output in expected}
    assert set(result.template["Outputs"]) == set(expected), "each SSM output is mirrored as a stack output"


@pytest.mark.parametrize("stem", STEMS)
def test_every_taggable_resource_carries_the_config_tags(synthesized, stem):
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    result = synthesized[stem]
    tags = result.loaded.config.tags
    expected = {"CostCenter": tags.cost_center, "Project": tags.project, "Owner": tags.owner}
    checked = 0
    for logical_id, resource in result.template["Resources"].items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(result.names.region, resource["Type"]).schema
        if "Tags" not in schema.get("properties", {}):
            continue
        found = resource["Properties"].get("Tags", [])
        found = dict(found) if isinstance(found, dict) else {t["Key"]: t["Value"] for t in found}
        assert expected.items() <= found.items(), f"{logical_id} ({resource['Type']}) misses tags"
        checked += 1
    assert checked >= 10


# Every acknowledged finding, by tier, written out: a new suppression is a reviewed change here.
STARTER_ACKNOWLEDGED = {
    ("AwsSolutions-CB4", "StarterCoreBuildProject"),
    ("AwsSolutions-CB4", "StarterCoreDeployProject"),
    ("AwsSolutions-IAM5", "StarterCorePipelineRole"),
    ("AwsSolutions-IAM5", "StarterCoreSageMakerExecutionRole"),
    ("AwsSolutions-S1", "StarterCoreArtifactsBucket"),
    ("CloudFormation-Validate::E3050", "StarterCoreBuildProject"),
    ("CloudFormation-Validate::E3050", "StarterCoreDeployProject"),
}
ACKNOWLEDGED = {
    "starter": STARTER_ACKNOWLEDGED | {("AwsSolutions-IAM5", "StarterCoreCodeBuildRole")},
    "professional": STARTER_ACKNOWLEDGED
    | {("AwsSolutions-IAM5", "ProfessionalAddonsBuildPolicy"), ("AwsSolutions-IAM5", "ProfessionalAddonsDeployPolicy")},
}
ACKNOWLEDGED["enterprise"] = ACKNOWLEDGED["professional"] | {
    ("AwsSolutions-SNS3", "EnterpriseSecuritySecurityAlertsTopic")
}


@pytest.mark.parametrize("stem", STEMS)
def test_no_unacknowledged_cdk_nag_findings_and_every_suppression_has_a_reason(synthesized, stem):
    result = synthesized[stem]
    assert result.findings == []
    for finding in result.acknowledged:
        assert len(finding.reason or "") > 40, f"{finding.rule} on {finding.construct_path} needs a real reason"
        assert finding.construct_path in result.template["Resources"], "acknowledged on a named resource"
    found = {(f.rule.split("[")[0], f.construct_path.rstrip("0123456789ABCDEF")) for f in result.acknowledged}
    assert found == ACKNOWLEDGED[result.loaded.config.tier.value]


@pytest.mark.parametrize("stem", STEMS)
def test_cfn_lint_reports_no_errors_and_no_warnings(synthesized, stem):
    from ml_provisioner.lint import cfn_lint

    result = synthesized[stem]
    findings = cfn_lint(result.template_yaml(), result.names.region)
    assert [f for f in findings if f.severity in ("error", "warning")] == []


def test_synthesis_is_byte_identical_for_the_same_config(synthesized, loaded_examples):
    stem = example("globalbank s3 sgprov ssm").stem
    [again] = synthesize([loaded_examples[stem]])
    assert again.template_yaml() == synthesized[stem].template_yaml()


# -- starter core -----------------------------------------------------------------------------


def test_artifacts_bucket_is_private_encrypted_versioned_tls_only_and_retained(synthesized):
    result = synthesized[example("techcorp codecommit").stem]
    template = Template.from_json(result.template)
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketName": result.names.artifacts_bucket,
                "VersioningConfiguration": {"Status": "Enabled"},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


@pytest.mark.parametrize("stem", STEMS)
def test_every_request_to_the_bucket_and_its_objects_must_use_tls(synthesized, stem):
    """The one bucket policy denies anyone (every principal) any S3 action on the bucket and on
    every object in it, unless the request came over TLS."""
    result = synthesized[stem]
    [(bucket_id, _)] = [(i, r) for i, r in result.template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"]
    [policy] = resources(result, TLS_POLICY)
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    bucket_arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_starter_has_registry_repositories_projects_pipelines_and_three_roles(synthesized):
    result = synthesized[example("techcorp codecommit").stem]
    names = result.names
    template = Template.from_json(result.template)
    template.has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": names.model_package_group}
    )
    for kind in ("build", "deploy"):
        template.has_resource(
            "AWS::CodeCommit::Repository",
            {"Properties": {"RepositoryName": names.repository(kind)}, "DeletionPolicy": "Retain"},
        )
        template.has_resource_properties("AWS::CodeBuild::Project", {"Name": names.codebuild_project(kind)})
        template.has_resource_properties(
            "AWS::CodePipeline::Pipeline",
            {
                "Name": names.pipeline(kind),
                "PipelineType": "V2",
                "Stages": [
                    {
                        "Name": "Source",
                        "Actions": [
                            Match.object_like(
                                {
                                    "ActionTypeId": Match.object_like({"Provider": "CodeCommit"}),
                                    "Configuration": Match.object_like({"RepositoryName": names.repository(kind)}),
                                }
                            )
                        ],
                    },
                    Match.object_like(
                        {
                            "Actions": [
                                Match.object_like({"Configuration": {"ProjectName": names.codebuild_project(kind)}})
                            ]
                        }
                    ),
                ],
            },
        )
    template.resource_count_is("AWS::IAM::Role", 3)
    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)


def test_s3_source_reads_archives_from_the_artifacts_bucket(synthesized):
    result = synthesized[example("techcorp s3").stem]
    template = Template.from_json(result.template)
    template.resource_count_is("AWS::CodeCommit::Repository", 0)
    template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "Stages": Match.array_with(
                [
                    {
                        "Name": "Source",
                        "Actions": [
                            Match.object_like(
                                {
                                    "ActionTypeId": Match.object_like({"Provider": "S3"}),
                                    "Configuration": {
                                        "S3Bucket": result.names.artifacts_bucket,
                                        "S3ObjectKey": "source/model-build.zip",
                                        "PollForSourceChanges": "true",
                                    },
                                }
                            )
                        ],
                    }
                ]
            )
        },
    )


@pytest.mark.parametrize(
    "fragment", ["techcorp codeconnections", "edge codeconnections", "globalbank codeconnections standalone direct"]
)
def test_codeconnections_source_reads_the_repositories_through_the_one_connection(synthesized, fragment):
    """Both pipelines read their own repository and branch through the configured connection; only
    the pipeline role may use it, only that connection, under its ARN's prefix (and the enterprise
    boundary allows no other)."""
    result = synthesized[example(fragment).stem]
    source = result.loaded.config.ml_product
    template = Template.from_json(result.template)
    template.resource_count_is("AWS::CodeCommit::Repository", 0)
    for kind in ("build", "deploy"):
        template.has_resource_properties(
            "AWS::CodePipeline::Pipeline",
            {
                "Name": result.names.pipeline(kind),
                "Stages": Match.array_with(
                    [
                        {
                            "Name": "Source",
                            "Actions": [
                                Match.object_like(
                                    {
                                        "ActionTypeId": {
                                            "Category": "Source",
                                            "Owner": "AWS",
                                            "Provider": "CodeStarSourceConnection",
                                            "Version": "1",
                                        },
                                        "Configuration": {
                                            "ConnectionArn": source.connection_arn,
                                            "FullRepositoryId": source.repository(kind),
                                            "BranchName": source.branch,
                                            "OutputArtifactFormat": "CODE_ZIP",
                                            "DetectChanges": "true",
                                        },
                                    }
                                )
                            ],
                        }
                    ]
                ),
            },
        )
    items = result.template["Resources"].items()
    documents = [
        (logical_id, p["PolicyDocument"])
        for logical_id, r in items
        if r["Type"] == "AWS::IAM::Role"
        for p in r["Properties"].get("Policies", [])
    ]
    documents += [
        (logical_id, r["Properties"]["PolicyDocument"])
        for logical_id, r in items
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    connection_statements = {
        logical_id: s for logical_id, d in documents for s in d["Statement"] if "Connection" in json.dumps(s["Action"])
    }
    holders = ["StarterCorePipelineRole"]
    assert sorted(connection_statements) == [
        next(i for i in connection_statements if i.startswith(h)) for h in sorted(holders)
    ]
    for statement in connection_statements.values():
        assert statement["Action"] in (
            [f"{source.connection_service}:UseConnection"],
            f"{source.connection_service}:UseConnection",
        )
        assert statement["Resource"] in ([source.connection_arn], source.connection_arn)


@pytest.mark.parametrize("stem", STEMS)
def test_roles_trust_only_their_service_from_this_account(synthesized, stem):
    """Each role trusts one AWS service, from the product's account, and where the service sets
    aws:SourceArn (CodeBuild, CodePipeline, EventBridge) only the product's own projects, pipelines
    or rule; SageMaker jobs carry no ARN to pin (their names come from the pipeline execution)."""
    result = synthesized[stem]
    n = result.names
    arn = f"arn:{n.partition}"
    source_arns = {
        "codebuild.amazonaws.com": ("ArnLike", f"{arn}:codebuild:{n.region}:{n.account}:project/{n.deployment_id}--*"),
        "codepipeline.amazonaws.com": ("ArnLike", f"{arn}:codepipeline:{n.region}:{n.account}:{n.deployment_id}--*"),
        "events.amazonaws.com": ("ArnEquals", f"{arn}:events:{n.region}:{n.account}:rule/{n.approval_rule}"),
        "sagemaker.amazonaws.com": None,
    }
    trusted = []
    for role in resources(result, "AWS::IAM::Role"):
        assert role["Properties"]["Path"] == n.iam_path
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            service = statement["Principal"]["Service"]
            trusted.append(service)
            assert set(statement["Principal"]) == {"Service"} and service in source_arns, statement
            assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
            expected = {"StringEquals": {"aws:SourceAccount": n.account}}
            if source_arns[service]:
                operator, source = source_arns[service]
                expected[operator] = {"aws:SourceArn": source}
            assert statement["Condition"] == expected, statement
    assert sorted(set(trusted)) == sorted(
        {"codebuild.amazonaws.com", "codepipeline.amazonaws.com", "sagemaker.amazonaws.com"}
        | ({"events.amazonaws.com"} if n.config.tier != "starter" else set())
    )


@pytest.mark.parametrize("stem", STEMS)
def test_role_policies_name_only_product_resources(synthesized, stem):
    """No statement grants a whole service on everything: each wildcard is inside the product's names."""
    result = synthesized[stem]
    names = result.names
    documents = [
        p["PolicyDocument"] for r in resources(result, "AWS::IAM::Role") for p in r["Properties"].get("Policies", [])
    ] + [p["Properties"]["PolicyDocument"] for p in resources(result, "AWS::IAM::ManagedPolicy")]
    # no resource-level support in IAM: metrics, the registry login, and (a job in the product's VPC)
    # the EC2 reads SageMaker makes to place it
    unscoped = {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken", *JOB_NETWORK_READS}
    for document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(action.endswith(":*") for action in actions)
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for target in targets:
                if target == "*":
                    assert set(actions) <= unscoped, statement["Sid"]
                elif isinstance(target, str) and "*" in target and ":ecr:" not in target:
                    # SageMaker Pipelines name the jobs and models of a step pipelines-<execution id>-...:
                    # only the SageMaker execution role, which only SageMaker can assume, gets them.
                    pipeline_step = ":sagemaker:" in target and "/pipelines-*" in target
                    # a job's network interfaces (generated ids) in the product's subnets, and the
                    # group, which may be the SG-provisioner's
                    job_network = set(actions) <= set(JOB_NETWORK_ACTIONS) and target.endswith(
                        (":network-interface/*", ":security-group/*")
                    )
                    assert (
                        pipeline_step
                        or job_network
                        or names.deployment_id in target
                        or names.global_id in target
                        or target.endswith(":log-group:/aws/sagemaker/*")  # SageMaker's own log groups
                    ), target


# -- professional -----------------------------------------------------------------------------


def test_model_approval_in_the_registry_triggers_the_deploy_pipeline(synthesized):
    result = synthesized[example("edge codecommit").stem]
    names = result.names
    Template.from_json(result.template).has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": names.approval_rule,
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [names.model_package_group], "ModelApprovalStatus": ["Approved"]},
            },
            "Targets": [
                Match.object_like(
                    {"Arn": names.arn("codepipeline", names.pipeline("deploy")), "RoleArn": Match.any_value()}
                )
            ],
        },
    )
    [pipeline_role] = [
        r
        for r in resources(result, "AWS::IAM::Role")
        if any(p["PolicyName"] == "pipeline" for p in r["Properties"].get("Policies", []))
    ]
    trust = pipeline_role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    events = [s for s in trust if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert events[0]["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f":rule/{names.approval_rule}")
    starts = [
        s
        for p in pipeline_role["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if "codepipeline:StartPipelineExecution" in s["Action"]
    ]
    assert starts[0]["Resource"] == names.arn("codepipeline", names.pipeline("deploy"))


def test_dashboard_has_widgets_for_both_builds_and_the_trigger(synthesized):
    result = synthesized[example("edge codecommit").stem]
    [dashboard] = resources(result, "AWS::CloudWatch::Dashboard")
    body = json.loads(dashboard["Properties"]["DashboardBody"])
    metrics = [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]
    for kind in ("build", "deploy"):
        assert ["AWS/CodeBuild", "FailedBuilds", "ProjectName", result.names.codebuild_project(kind)] in metrics
    assert ["AWS/Events", "TriggeredRules", "RuleName", result.names.approval_rule] in metrics
    assert result.names.pipeline("deploy") in body["widgets"][0]["properties"]["markdown"]


def test_build_and_deploy_permissions_are_managed_policies_on_the_codebuild_role(synthesized):
    result = synthesized[example("edge codecommit").stem]
    template = Template.from_json(result.template)
    template.resource_count_is("AWS::IAM::ManagedPolicy", 2)
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "Description": Match.string_like_regexp("model-build"),
            "Path": result.names.iam_path,
            "Roles": [Match.any_value()],
        },
    )
    codebuild_role = [
        r
        for r in resources(result, "AWS::IAM::Role")
        if "codebuild" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ][0]
    assert "Policies" not in codebuild_role["Properties"]


def test_build_logs_in_the_bucket_expire_after_log_retention_days(synthesized):
    result = synthesized[example("edge codecommit").stem]
    [bucket] = resources(result, "AWS::S3::Bucket")
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-build-logs"]["ExpirationInDays"] == result.loaded.config.monitoring.log_retention_days


# -- enterprise -------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_every_role_in_every_tier_has_the_administrators_boundary(synthesized, stem):
    """One fixed ARN outside the stack (bootstrap creates it): no template holds what caps it."""
    result = synthesized[stem]
    roles = resources(result, "AWS::IAM::Role")
    assert len(roles) == 3
    for role in roles:
        assert role["Properties"]["PermissionsBoundary"] == result.names.permission_boundary_arn
    n = result.names
    assert (
        n.permission_boundary_arn == f"arn:aws:iam::{n.account}:policy/ml-provisioner-boundary/{n.global_id}--boundary"
    )
    policies = [r["Properties"].get("ManagedPolicyName", "") for r in resources(result, "AWS::IAM::ManagedPolicy")]
    assert not any("boundary" in name for name in policies)


def test_boundary_aspect_covers_roles_added_after_the_constructs():
    """The Aspect runs at synthesis: a role added later by anyone still gets the boundary."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from ml_provisioner.config.loader import load_config
    from ml_provisioner.stacks import build_stack

    app = cdk.App()
    stack = build_stack(app, "s", load_config(example("techcorp s3")).config)
    iam.CfnRole(stack, "LateRole", assume_role_policy_document={"Version": "2012-10-17", "Statement": []})
    template = Template.from_stack(stack)
    boundaries = template.find_resources("AWS::IAM::Role")
    assert len(boundaries) == 4
    assert all("PermissionsBoundary" in role["Properties"] for role in boundaries.values())


def test_kms_key_rotates_and_encrypts_bucket_builds_pipelines_logs_and_topic(synthesized):
    result = synthesized[example("globalbank codecommit standalone direct").stem]
    template = Template.from_json(result.template)
    [(key_id, key)] = [(i, r) for i, r in result.template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": result.names.kms_alias})
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    }
                ]
            }
        },
    )
    projects = resources(result, "AWS::CodeBuild::Project")
    pipelines = resources(result, "AWS::CodePipeline::Pipeline")
    assert len(projects) == 2 and all(p["Properties"]["EncryptionKey"] == key_arn for p in projects), "every build"
    assert len(pipelines) == 2 and all(
        p["Properties"]["ArtifactStore"]["EncryptionKey"] == {"Id": key_arn, "Type": "KMS"} for p in pipelines
    ), "every pipeline"
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": Match.object_like(
                {"KmsKeyId": key_arn, "RetentionInDays": 365, "LogGroupName": result.names.compliance_log_group}
            ),
            "DeletionPolicy": "Retain",
        },
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": key_arn})


def test_vpc_endpoints_for_sagemaker_api_runtime_s3_and_sts_in_the_configured_subnets(synthesized):
    result = synthesized[example("globalbank codecommit standalone direct").stem]
    vpc = result.loaded.config.vpc_integration
    endpoints = {e["Properties"]["ServiceName"]: e["Properties"] for e in resources(result, "AWS::EC2::VPCEndpoint")}
    assert set(endpoints) == {
        f"com.amazonaws.eu-west-1.{s}" for s in ("sagemaker.api", "sagemaker.runtime", "s3", "sts")
    }
    for endpoint in endpoints.values():
        assert endpoint["VpcId"] == vpc.vpc_id
        assert endpoint["SubnetIds"] == vpc.subnet_ids  # standalone without route tables: all interface
        assert endpoint["VpcEndpointType"] == "Interface"
    [group] = resources(result, "AWS::EC2::SecurityGroup")
    ingress = group["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r["CidrIp"]) for r in ingress] == [(443, "10.20.0.0/16")]


def test_sgprov_mode_uses_the_provisioners_group_from_ssm_and_an_s3_gateway(synthesized):
    result = synthesized[example("globalbank codecommit sgprov ssm").stem]
    vpc = result.loaded.config.vpc_integration
    parameters = result.template["Parameters"]
    assert parameters["VpcId"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>"
    assert parameters["VpcId"]["Default"] == vpc.vpc_id_ssm_parameter, "resolved by CloudFormation at deploy time"
    assert parameters["EndpointSecurityGroupId"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::SecurityGroup::Id>"
    assert parameters["EndpointSecurityGroupId"]["Default"] == vpc.security_group_id_ssm_parameter
    assert resources(result, "AWS::EC2::SecurityGroup") == []
    endpoints = resources(result, "AWS::EC2::VPCEndpoint")
    gateway = [e for e in endpoints if e["Properties"]["VpcEndpointType"] == "Gateway"]
    assert [e["Properties"]["RouteTableIds"] for e in gateway] == [vpc.route_table_ids]
    for endpoint in endpoints:
        assert endpoint["Properties"]["VpcId"] == {"Ref": "VpcId"}
        if endpoint["Properties"]["VpcEndpointType"] == "Interface":
            assert endpoint["Properties"]["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroupId"}]
    assert result.loaded.config.vpc_integration.vpc_source is VpcSource.SSM


def test_compliance_alarms_notify_the_encrypted_topic_and_email_subscription(synthesized):
    result = synthesized[example("globalbank s3 sgprov direct").stem]
    names = result.names
    template = Template.from_json(result.template)
    template.resource_count_is("AWS::Logs::MetricFilter", 2)
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": Match.string_like_regexp("AccessDenied"),
            "MetricTransformations": [Match.object_like({"MetricNamespace": names.metric_namespace})],
        },
    )
    [(topic_id, _)] = [(i, r) for i, r in result.template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    for alarm in resources(result, "AWS::CloudWatch::Alarm"):
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["Namespace"] == names.metric_namespace
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": result.loaded.config.monitoring.alerts_email, "TopicArn": {"Ref": topic_id}},
    )
    [log_group] = resources(result, "AWS::Logs::LogGroup")
    [redact] = [
        statement
        for statement in log_group["Properties"]["DataProtectionPolicy"]["Statement"]
        if statement["Operation"] == {"Deidentify": {"MaskConfig": {}}}
    ]
    # The README's "AWS secret keys and private keys": CloudWatch Logs' managed data identifiers,
    # written out here (CloudWatch Logs User Guide, "Types of data that you can protect").
    masked = {
        f"arn:aws:dataprotection::aws:data-identifier/{name}"
        for name in ("AwsSecretKey", "OpenSshPrivateKey", "PgpPrivateKey", "PkcsPrivateKey", "PuttyPrivateKey")
    }
    assert set(redact["DataIdentifier"]) == masked, "secrets printed by builds are masked"
    [log_group_id] = [i for i, r in result.template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"]
    for project in resources(result, "AWS::CodeBuild::Project"):
        assert project["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": log_group_id}


# -- test deployments -------------------------------------------------------------------------


@pytest.mark.parametrize("fragment", ["globalbank codecommit sgprov direct", "globalbank s3 standalone ssm"])
def test_a_test_deployments_endpoints_sit_beside_the_products(loaded_examples, fragment):
    """AWS allows one private-DNS interface endpoint per service in a VPC and one S3 gateway endpoint
    per route table: a test deployment's endpoints have no private DNS and its S3 endpoint is an
    interface endpoint, in the same number as the product's."""
    loaded = loaded_examples[example(fragment).stem]
    [test] = synthesize([loaded], test_marker="t1a2b", nag=False)
    endpoints = resources(test, "AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 4
    for endpoint in endpoints:
        properties = endpoint["Properties"]
        assert properties["VpcEndpointType"] == "Interface" and "RouteTableIds" not in properties
        assert properties.get("PrivateDnsEnabled") is False


def test_test_deploy_suffixes_every_name_and_destroys_data(loaded_examples):
    loaded = loaded_examples[example("globalbank codecommit standalone ssm").stem]
    [result] = synthesize([loaded], test_marker="t1a2b", nag=False)
    names = result.names
    real = loaded.names()
    assert names.stack_name == f"t1a2b--{real.stack_name}"
    text = result.template_yaml()
    for name in (
        real.artifacts_bucket,
        real.model_package_group,
        real.repository("build"),
        real.pipeline("build"),
        real.ssm_prefix + "/",
        real.compliance_log_group,
        real.alerts_topic,
    ):
        # a whole name, not the tail of the test deployment's own t1a2b--<name>
        assert not re.search(rf"(?<![-\w]){re.escape(name)}", text), f"{name} would collide with the real product"
    assert names.artifacts_bucket in text and names.ssm_prefix in text
    for resource in result.template["Resources"].values():
        assert resource.get("DeletionPolicy", "Delete") == "Delete"


@pytest.mark.parametrize("stem", STEMS)
def test_a_newer_pipeline_run_supersedes_a_waiting_one(synthesized, stem):
    """EventBridge "may send multiple events" for one state change (Amazon EventBridge User Guide,
    event delivery): with QUEUED, each duplicate approval of a model version would be a full deploy.
    SUPERSEDED (CodePipeline User Guide, execution modes) keeps only the newest waiting run; the
    deploy build looks up the latest approved version anyway."""
    modes = {
        r["Properties"]["Name"]: r["Properties"]["ExecutionMode"]
        for r in resources(synthesized[stem], "AWS::CodePipeline::Pipeline")
    }
    assert len(modes) == 2 and set(modes.values()) == {"SUPERSEDED"}, modes

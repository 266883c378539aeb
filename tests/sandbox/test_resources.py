"""Every resource of the template exists, as configured, in its own service API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .conftest import Deployer


def test_outputs_carry_refs_and_getatts(deployed: Deployer) -> None:
    out = deployed.outputs()
    name = deployed.name
    assert out["RepositoryName"] == f"{name}-source"
    assert out["RepositoryArn"] == f"arn:aws:codecommit:us-west-2:123456789012:{name}-source"
    assert out["RepositoryCloneUrlHttp"] == f"https://git-codecommit.us-west-2.amazonaws.com/v1/repos/{name}-source"
    assert out["RepositoryCloneUrlSsh"] == f"ssh://git-codecommit.us-west-2.amazonaws.com/v1/repos/{name}-source"
    assert out["ModelPackageGroupArn"].endswith(f":model-package-group/{name}-models")
    assert out["BuildProjectArn"] == f"arn:aws:codebuild:us-west-2:123456789012:project/{name}-build"
    assert out["PipelineVersion"] == "1"
    assert out["AlarmSubscriptionArn"].startswith(out["AlarmTopicArn"] + ":")
    assert out["BuildErrorsAlarmArn"] == f"arn:aws:cloudwatch:us-west-2:123456789012:alarm:{name}-build-errors"
    assert out["DataKeyArn"].startswith("arn:aws:kms:us-west-2:123456789012:key/")


def test_codecommit_repository(deployed: Deployer, aws: Callable[..., Any]) -> None:
    repo = aws("codecommit").get_repository(repositoryName=f"{deployed.name}-source")["repositoryMetadata"]
    assert repo["repositoryDescription"] == "Training code and pipeline definition"
    assert repo["cloneUrlHttp"] == deployed.outputs()["RepositoryCloneUrlHttp"]
    assert deployed.physical_id("SourceRepository") == repo["repositoryId"]  # Ref is the repository id


def test_sagemaker_model_package_group(deployed: Deployer, aws: Callable[..., Any]) -> None:
    group = aws("sagemaker").describe_model_package_group(ModelPackageGroupName=f"{deployed.name}-models")
    assert group["ModelPackageGroupArn"] == deployed.outputs()["ModelPackageGroupArn"]
    assert group["ModelPackageGroupDescription"] == "Registered model versions"
    parameter = aws("ssm").get_parameter(Name=f"/ml-provisioner/{deployed.name}/model-package-group-arn")
    assert parameter["Parameter"]["Value"] == group["ModelPackageGroupArn"]  # GetAtt into an SSM parameter


def test_codebuild_project(deployed: Deployer, aws: Callable[..., Any]) -> None:
    (project,) = aws("codebuild").batch_get_projects(names=[f"{deployed.name}-build"])["projects"]
    out = deployed.outputs()
    assert project["arn"] == out["BuildProjectArn"]
    assert project["serviceRole"] == out["BuildRoleArn"]
    assert project["encryptionKey"] == out["DataKeyArn"]
    assert project["source"]["type"] == "CODEPIPELINE" and "python train.py" in project["source"]["buildspec"]
    assert project["environment"]["environmentVariables"] == [
        {"name": "MODEL_PACKAGE_GROUP_ARN", "value": out["ModelPackageGroupArn"]}
    ]
    assert project["logsConfig"]["cloudWatchLogs"]["groupName"] == out["BuildLogGroupName"]


def test_codepipeline_pipeline(deployed: Deployer, aws: Callable[..., Any]) -> None:
    pipeline = aws("codepipeline").get_pipeline(name=f"{deployed.name}-pipeline")["pipeline"]
    out = deployed.outputs()
    assert pipeline["artifactStore"] == {
        "type": "S3",
        "location": out["ArtifactBucketName"],
        "encryptionKey": {"id": out["DataKeyArn"], "type": "KMS"},
    }
    source, train = pipeline["stages"]
    assert source["actions"][0]["configuration"] == {
        "RepositoryName": out["RepositoryName"],
        "BranchName": "main",
        "PollForSourceChanges": "false",
    }
    assert train["actions"][0]["actionTypeId"]["provider"] == "CodeBuild"
    assert train["actions"][0]["configuration"] == {"ProjectName": out["BuildProjectName"]}
    assert train["actions"][0]["inputArtifacts"] == [{"name": "SourceOutput"}]


def test_events_rule_targets_the_pipeline(deployed: Deployer, aws: Callable[..., Any]) -> None:
    events = aws("events")
    rule_name = deployed.physical_id("SourceChangeRule")
    rule = events.describe_rule(Name=rule_name)
    assert json.loads(rule["EventPattern"])["resources"] == [deployed.outputs()["RepositoryArn"]]
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"].endswith(f":codepipeline:us-west-2:123456789012:{deployed.name}-pipeline")
    assert target["RoleArn"].startswith("arn:aws:iam::123456789012:role/")


def test_sns_topic_and_subscription(deployed: Deployer, aws: Callable[..., Any]) -> None:
    sns = aws("sns")
    out = deployed.outputs()
    attributes = sns.get_topic_attributes(TopicArn=out["AlarmTopicArn"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == deployed.physical_id("DataKey")
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=out["AlarmTopicArn"])["Subscriptions"]
    assert subscription["SubscriptionArn"] == out["AlarmSubscriptionArn"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ml-oncall@example.com")


def test_logs_group_and_metric_filter(deployed: Deployer, aws: Callable[..., Any]) -> None:
    logs = aws("logs")
    out = deployed.outputs()
    (group,) = logs.describe_log_groups(logGroupNamePrefix=out["BuildLogGroupName"])["logGroups"]
    assert (group["retentionInDays"], group["kmsKeyId"]) == (30, out["DataKeyArn"])
    (metric_filter,) = logs.describe_metric_filters(logGroupName=out["BuildLogGroupName"])["metricFilters"]
    assert metric_filter["filterName"] == "build-errors"
    assert metric_filter["metricTransformations"][0]["metricNamespace"] == "MLProvisioner/churn"


def test_cloudwatch_alarm_and_dashboard(deployed: Deployer, aws: Callable[..., Any]) -> None:
    cloudwatch = aws("cloudwatch")
    out = deployed.outputs()
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[out["BuildErrorsAlarmName"]])["MetricAlarms"]
    assert alarm["AlarmArn"] == out["BuildErrorsAlarmArn"]
    assert alarm["AlarmActions"] == [out["AlarmTopicArn"]]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == ("BuildErrors", 1.0, "notBreaching")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=f"{deployed.name}-ops")["DashboardBody"])
    assert body["widgets"][0]["properties"]["alarms"] == [out["BuildErrorsAlarmArn"]]


def test_s3_bucket_configuration_and_policy(deployed: Deployer, aws: Callable[..., Any]) -> None:
    s3 = aws("s3")
    bucket = deployed.outputs()["ArtifactBucketName"]
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": deployed.outputs()["DataKeyArn"],
    }
    assert rule["BucketKeyEnabled"] is True
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == ["expire-noncurrent", "abort-uploads"]
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"product": "churn", "data-classification": "internal"}
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Sid"] == "DenyInsecureTransport"
    assert statement["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    # The conditional Deny does not lock the bucket (moto denied every object request).
    s3.put_object(Bucket=bucket, Key="models/latest.json", Body=b'{"auc": 0.91}')
    assert s3.get_object(Bucket=bucket, Key="models/latest.json")["Body"].read() == b'{"auc": 0.91}'


def test_kms_key_policy_and_alias(deployed: Deployer, aws: Callable[..., Any]) -> None:
    kms = aws("kms")
    key_id = deployed.physical_id("DataKey")
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["EnableAccountAdmin", "AllowCloudWatchLogs"]
    assert policy["Statement"][1]["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [f"alias/{deployed.name}-data"]
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    assert tags == [{"TagKey": "product", "TagValue": "churn"}]


def test_iam_roles_and_policies(deployed: Deployer, aws: Callable[..., Any]) -> None:
    iam = aws("iam")
    role_name = deployed.outputs()["BuildRoleName"]
    role = iam.get_role(RoleName=role_name)["Role"]
    boundary_arn = f"arn:aws:iam::123456789012:policy/{deployed.name}-boundary"
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary_arn
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["build-logs"]
    inline = iam.get_role_policy(RoleName=role_name, PolicyName="build-logs")["PolicyDocument"]
    log_group_arn = f"arn:aws:logs:us-west-2:123456789012:log-group:{deployed.outputs()['BuildLogGroupName']}"
    assert inline["Statement"][0]["Resource"].startswith(log_group_arn)
    (attached,) = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert attached["PolicyArn"] == deployed.physical_id("ArtifactReadPolicy")
    boundary = iam.get_policy(PolicyArn=boundary_arn)["Policy"]
    assert boundary["Description"] == "Upper bound for every role of the product"


def test_vpc_endpoints_and_security_group_use_ssm_resolved_ids(
    deployed: Deployer, aws: Callable[..., Any], network: Callable[[str], dict[str, str]]
) -> None:
    ec2 = aws("ec2")
    net = network("us-west-2")
    out = deployed.outputs()
    endpoints = ec2.describe_vpc_endpoints(VpcEndpointIds=[out["SageMakerApiEndpointId"], out["S3GatewayEndpointId"]])[
        "VpcEndpoints"
    ]
    by_type = {e["VpcEndpointType"]: e for e in endpoints}
    assert {e["VpcId"] for e in endpoints} == {net["vpc_id"]}
    assert by_type["Interface"]["ServiceName"] == "com.amazonaws.us-west-2.sagemaker.api"
    assert {g["GroupId"] for g in by_type["Interface"]["Groups"]} == {out["EndpointSecurityGroupId"], net["sg_id"]}
    assert json.loads(by_type["Gateway"]["PolicyDocument"])["Statement"][0]["Action"][0] == "s3:GetObject"
    (group,) = ec2.describe_security_groups(GroupIds=[out["EndpointSecurityGroupId"]])["SecurityGroups"]
    (ingress,) = group["IpPermissions"]
    assert (ingress["FromPort"], ingress["UserIdGroupPairs"][0]["GroupId"]) == (443, net["sg_id"])
    parameters = {p["ParameterKey"]: p for p in deployed.stack()["Parameters"]}
    assert parameters["VpcId"]["ParameterValue"] == "/ml-provisioner/network/vpc-id"
    assert parameters["VpcId"]["ResolvedValue"] == net["vpc_id"]


def test_replacements_are_the_registry_schemas_create_only_properties() -> None:
    """What the sandbox replaces is what CloudFormation's own resource schemas (those cfn-lint
    ships) mark createOnly: never a hand-written guess."""
    from ml_provisioner_sandbox.change_sets import REPLACEMENT_PROPERTIES

    from ml_provisioner.policy import schemas

    assert len(REPLACEMENT_PROPERTIES) >= 18
    for resource_type, replaced in REPLACEMENT_PROPERTIES.items():
        assert replaced == schemas.create_only_properties(resource_type, "us-east-1"), resource_type

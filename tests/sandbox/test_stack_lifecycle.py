"""The CloudFormation lifecycle a deploy tool drives: change sets, waiters, events, failures, deletion."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from .conftest import CAPABILITIES, FAST, TEMPLATE, Deployer

OUTPUT_KEYS = set(TEMPLATE["Outputs"])


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1", "us-east-1"])
def test_create_via_change_set_lists_adds_and_yields_outputs(
    region: str, aws: Callable[..., Any], network: Callable[[str], dict[str, str]]
) -> None:
    network(region)
    stack = Deployer(aws, region)
    change_set = stack.deploy()
    assert {c["ResourceChange"]["Action"] for c in change_set["Changes"]} == {"Add"}
    assert {c["ResourceChange"]["LogicalResourceId"] for c in change_set["Changes"]} == set(TEMPLATE["Resources"])
    described = stack.stack()
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert set(stack.outputs()) == OUTPUT_KEYS  # moto returned none after ExecuteChangeSet
    assert stack.outputs()["RepositoryArn"].startswith(f"arn:aws:codecommit:{region}:")


def test_update_change_set_shows_modify_add_remove_and_applies(deployer: Deployer, aws: Callable[..., Any]) -> None:
    deployer.deploy()
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["SourceRepository"]["Properties"]["RepositoryDescription"] = "Training code v2"
    template["Resources"]["BuildProject"]["Properties"]["Name"] = {"Fn::Sub": "${AWS::StackName}-build-v2"}
    del template["Resources"]["OpsDashboard"]
    template["Resources"]["ReleaseChannel"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Type": "String", "Value": "stable"},
    }
    change_set = deployer.deploy(template, {"LogRetentionDays": "90"})
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in change_set["Changes"]}

    assert changes["ReleaseChannel"]["Action"] == "Add"
    assert (changes["OpsDashboard"]["Action"], changes["OpsDashboard"]["PolicyAction"]) == ("Remove", "Delete")
    repository = changes["SourceRepository"]
    assert (repository["Action"], repository["Replacement"]) == ("Modify", "False")
    assert repository["Details"][0]["Target"]["Name"] == "RepositoryDescription"
    assert (changes["BuildProject"]["Action"], changes["BuildProject"]["Replacement"]) == ("Modify", "True")
    retention = changes["BuildLogGroup"]["Details"][0]
    assert (retention["Target"]["Name"], retention["ChangeSource"]) == ("RetentionInDays", "ParameterReference")
    # The pipeline's own properties did not change, but the project it names is replaced:
    (pipeline,) = changes["Pipeline"]["Details"]
    assert (pipeline["ChangeSource"], pipeline["CausingEntity"]) == ("ResourceReference", "BuildProject")
    assert pipeline["Target"]["Name"] == "Stages"

    assert deployer.stack()["StackStatus"] == "UPDATE_COMPLETE"
    out = deployer.outputs()
    assert out["BuildProjectName"] == f"{deployer.name}-build-v2"
    codebuild = aws("codebuild")
    assert codebuild.batch_get_projects(names=[f"{deployer.name}-build"])["projects"] == []  # replaced
    pipeline = aws("codepipeline").get_pipeline(name=out["PipelineName"])["pipeline"]
    assert pipeline["stages"][1]["actions"][0]["configuration"]["ProjectName"] == out["BuildProjectName"]
    assert (pipeline["version"], out["PipelineVersion"]) == (2, "2")
    repo = aws("codecommit").get_repository(repositoryName=out["RepositoryName"])["repositoryMetadata"]
    assert repo["repositoryDescription"] == "Training code v2"
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=out["BuildLogGroupName"])["logGroups"]
    assert group["retentionInDays"] == 90
    assert aws("cloudwatch").list_dashboards(DashboardNamePrefix=f"{deployer.name}-ops")["DashboardEntries"] == []


def test_change_set_without_changes_fails_like_aws(deployer: Deployer) -> None:
    deployer.deploy(parameters={"ProductName": "churn"})
    change_set = deployer.change_set(TEMPLATE)  # same template, parameters back to the same default
    with pytest.raises(WaiterError):
        deployer.cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set["ChangeSetId"], WaiterConfig=FAST
        )
    described = deployer.cfn.describe_change_set(ChangeSetName=change_set["ChangeSetId"])
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == (
        "The submitted information didn't contain changes. Submit different information to create a change set."
    )
    with pytest.raises(ClientError, match="InvalidChangeSetStatus"):
        deployer.cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])


def test_use_previous_value_keeps_the_ssm_parameter_name(
    deployer: Deployer, network: Callable[[str], dict[str, str]]
) -> None:
    deployer.deploy()
    template = copy.deepcopy(TEMPLATE)
    template["Description"] = "v2"
    created = deployer.cfn.create_change_set(
        StackName=deployer.name,
        ChangeSetName="previous-values",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "VpcId", "UsePreviousValue": True}],
        Capabilities=CAPABILITIES,
    )
    deployer.cfn.execute_change_set(ChangeSetName=created["Id"])
    deployer.cfn.get_waiter("stack_update_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    vpc = next(p for p in deployer.stack()["Parameters"] if p["ParameterKey"] == "VpcId")
    assert (vpc["ParameterValue"], vpc["ResolvedValue"]) == (
        "/ml-provisioner/network/vpc-id",
        network("us-west-2")["vpc_id"],
    )
    assert deployer.stack()["Description"] == "v2"


def test_stack_events_cover_every_resource(deployer: Deployer) -> None:
    deployer.deploy()
    events = deployer.cfn.describe_stack_events(StackName=deployer.name)["StackEvents"]
    assert events[0]["ResourceStatus"] == "CREATE_COMPLETE" and events[0]["LogicalResourceId"] == deployer.name
    completed = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE"}
    assert completed == set(TEMPLATE["Resources"]) | {deployer.name}
    repository = next(e for e in events if e["LogicalResourceId"] == "SourceRepository")
    assert repository["ResourceType"] == "AWS::CodeCommit::Repository" and repository["PhysicalResourceId"]


def test_delete_keeps_retained_resources_only(deployer: Deployer, aws: Callable[..., Any]) -> None:
    deployer.deploy()
    out = deployer.outputs()
    key_id = deployer.physical_id("DataKey")
    stack_id = deployer.stack_id
    deployer.cfn.delete_stack(StackName=deployer.name)
    deployer.cfn.get_waiter("stack_delete_complete").wait(StackName=deployer.name, WaiterConfig=FAST)

    # DeletionPolicy: Retain
    aws("s3").head_bucket(Bucket=out["ArtifactBucketName"])
    aws("codecommit").get_repository(repositoryName=out["RepositoryName"])
    assert aws("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    # everything else is gone
    assert aws("codebuild").batch_get_projects(names=[out["BuildProjectName"]])["projects"] == []
    assert out["PipelineName"] not in {p["name"] for p in aws("codepipeline").list_pipelines()["pipelines"]}
    with pytest.raises(ClientError):
        aws("sagemaker").describe_model_package_group(ModelPackageGroupName=f"{deployer.name}-models")
    with pytest.raises(ClientError):
        aws("iam").get_role(RoleName=out["BuildRoleName"])
    with pytest.raises(ClientError):
        aws("iam").get_policy(PolicyArn=f"arn:aws:iam::123456789012:policy/{deployer.name}-boundary")
    assert aws("logs").describe_log_groups(logGroupNamePrefix=out["BuildLogGroupName"])["logGroups"] == []
    ssm_outputs = aws("ssm").get_parameters_by_path(Path=f"/ml-provisioner/{deployer.name}")["Parameters"]
    assert ssm_outputs == [], "a stack created again must not meet ParameterAlreadyExists"
    subscriptions = aws("sns").list_subscriptions()["Subscriptions"]
    assert out["AlarmSubscriptionArn"] not in {s["SubscriptionArn"] for s in subscriptions}
    assert aws("cloudwatch").describe_alarms(AlarmNames=[out["BuildErrorsAlarmName"]])["MetricAlarms"] == []
    endpoint = aws("ec2").describe_vpc_endpoints(VpcEndpointIds=[out["S3GatewayEndpointId"]])["VpcEndpoints"][0]
    assert endpoint["State"] == "deleted"
    # the stack is listed as deleted, with the retained resources reported as skipped
    events = deployer.cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    skipped = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "DELETE_SKIPPED"}
    assert skipped == {"ArtifactBucket", "SourceRepository", "DataKey"}


def test_delete_of_a_non_empty_bucket_fails(deployer: Deployer, aws: Callable[..., Any]) -> None:
    template = {
        "Resources": {"Scratch": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"Name": {"Value": {"Ref": "Scratch"}}},
    }
    deployer.deploy(template)
    aws("s3").put_object(Bucket=deployer.outputs()["Name"], Key="model.tar.gz", Body=b"weights")
    deployer.cfn.delete_stack(StackName=deployer.name)
    with pytest.raises(WaiterError, match="DELETE_FAILED"):
        deployer.cfn.get_waiter("stack_delete_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    assert "not empty" in deployer.stack()["StackStatusReason"]


def test_termination_protection_blocks_delete(deployer: Deployer) -> None:
    deployer.deploy()
    deployer.cfn.update_termination_protection(StackName=deployer.name, EnableTerminationProtection=True)
    assert deployer.stack()["EnableTerminationProtection"] is True
    with pytest.raises(ClientError, match="TerminationProtection is enabled"):
        deployer.cfn.delete_stack(StackName=deployer.name)
    deployer.cfn.update_termination_protection(StackName=deployer.name, EnableTerminationProtection=False)
    deployer.cfn.delete_stack(StackName=deployer.name)
    deployer.cfn.get_waiter("stack_delete_complete").wait(StackName=deployer.name, WaiterConfig=FAST)


@pytest.mark.parametrize(
    "url",
    [
        "{sandbox}/mlp-templates/{key}",  # path style on this endpoint
        "https://s3.us-west-2.amazonaws.com/mlp-templates/{key}",  # what CDK/the AWS CLI upload and pass
        "https://mlp-templates.s3.us-west-2.amazonaws.com/{key}",  # virtual-hosted
    ],
    ids=["sandbox", "aws-path-style", "aws-virtual-hosted"],
)
def test_template_url_in_sandbox_s3(url: str, deployer: Deployer, aws: Callable[..., Any], sandbox: Any) -> None:
    s3 = aws("s3")
    if "mlp-templates" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="mlp-templates", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    key = f"{deployer.name}/stack.json"
    s3.put_object(Bucket="mlp-templates", Key=key, Body=json.dumps(TEMPLATE).encode())
    created = deployer.cfn.create_change_set(
        StackName=deployer.name,
        ChangeSetName="from-url",
        ChangeSetType="CREATE",
        TemplateURL=url.format(sandbox=sandbox.url, key=key),
        Capabilities=CAPABILITIES,
    )
    deployer.cfn.execute_change_set(ChangeSetName=created["Id"])
    deployer.cfn.get_waiter("stack_create_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    assert set(deployer.outputs()) == OUTPUT_KEYS


def test_create_and_update_stack_without_change_sets(deployer: Deployer, aws: Callable[..., Any]) -> None:
    cfn = deployer.cfn
    validated = cfn.validate_template(TemplateBody=json.dumps(TEMPLATE))
    assert validated["Capabilities"] == ["CAPABILITY_NAMED_IAM"]  # moto ran cfn-lint and failed on warnings
    assert {p["ParameterKey"] for p in validated["Parameters"]} == set(TEMPLATE["Parameters"])
    cfn.create_stack(StackName=deployer.name, TemplateBody=json.dumps(TEMPLATE), Capabilities=CAPABILITIES)
    cfn.get_waiter("stack_create_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    assert set(deployer.outputs()) == OUTPUT_KEYS

    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["BuildLogGroup"]["Properties"]["RetentionInDays"] = 7
    cfn.update_stack(StackName=deployer.name, TemplateBody=json.dumps(template), Capabilities=CAPABILITIES)
    cfn.get_waiter("stack_update_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=deployer.outputs()["BuildLogGroupName"])["logGroups"]
    assert group["retentionInDays"] == 7
    statuses = {
        r["LogicalResourceId"]: r["ResourceStatus"]
        for r in cfn.describe_stack_resources(StackName=deployer.name)["StackResources"]
    }
    assert (statuses["BuildLogGroup"], statuses["SourceRepository"]) == ("UPDATE_COMPLETE", "CREATE_COMPLETE")
    with pytest.raises(ClientError, match="No updates are to be performed."):
        cfn.update_stack(StackName=deployer.name, TemplateBody=json.dumps(template), Capabilities=CAPABILITIES)


def test_missing_capabilities_are_refused(deployer: Deployer) -> None:
    with pytest.raises(ClientError, match=r"InsufficientCapabilities.*CAPABILITY_NAMED_IAM"):
        deployer.cfn.create_change_set(
            StackName=deployer.name, ChangeSetName="no-caps", ChangeSetType="CREATE", TemplateBody=json.dumps(TEMPLATE)
        )


def test_failing_resource_rolls_back_with_a_reason(deployer: Deployer, aws: Callable[..., Any]) -> None:
    template = copy.deepcopy(TEMPLATE)
    # CodePipeline refuses a role its service may not assume; by then the repository etc. exist.
    trust = template["Resources"]["PipelineRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    trust["Principal"]["Service"] = "ec2.amazonaws.com"
    change_set = deployer.change_set(template)
    deployer.cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
    with pytest.raises(WaiterError, match="ROLLBACK_COMPLETE"):
        deployer.cfn.get_waiter("stack_create_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    events = deployer.cfn.describe_stack_events(StackName=deployer.name)["StackEvents"]
    failed = {
        e["LogicalResourceId"]: e["ResourceStatusReason"] for e in events if e["ResourceStatus"] == "CREATE_FAILED"
    }
    assert "not authorized to perform AssumeRole" in failed.pop("Pipeline")
    assert set(failed.values()) <= {"Resource creation cancelled"}  # dependents of the pipeline
    assert deployer.stack()["StackStatusReason"] == (
        "The following resource(s) failed to create: [Pipeline]. Rollback requested by user."
    )
    with pytest.raises(ClientError):  # rolled back: created resources were deleted again
        aws("sagemaker").describe_model_package_group(ModelPackageGroupName=f"{deployer.name}-models")
    with pytest.raises(ClientError, match="ROLLBACK_COMPLETE state and can not be updated"):
        deployer.cfn.create_change_set(
            StackName=deployer.name,
            ChangeSetName="retry",
            ChangeSetType="UPDATE",
            TemplateBody=json.dumps(TEMPLATE),
            Capabilities=CAPABILITIES,
        )


def test_every_type_updates_in_place(deployer: Deployer, aws: Callable[..., Any]) -> None:
    """One property changed on every resource; each is updated (not replaced) and drift stays IN_SYNC."""
    deployer.deploy()
    before = deployer.outputs()
    security_group = deployer.physical_id("EndpointSecurityGroup")
    repository_id = deployer.physical_id("SourceRepository")
    template = copy.deepcopy(TEMPLATE)
    r = {name: resource["Properties"] for name, resource in template["Resources"].items()}
    r["DataKey"]["Description"] = "rotated description"
    r["DataKeyAlias"]["AliasName"] = {"Fn::Sub": "alias/${AWS::StackName}-artifacts"}  # replaces the alias only
    r["ArtifactBucket"]["VersioningConfiguration"]["Status"] = "Suspended"
    r["ArtifactBucketPolicy"]["PolicyDocument"]["Statement"][0]["Sid"] = "DenyPlainHttp"
    r["PermissionsBoundary"]["PolicyDocument"]["Statement"][1]["Action"].append("account:*")
    r["BuildRole"]["Policies"][0]["PolicyName"] = "build-logs-v2"
    r["BuildRole"]["ManagedPolicyArns"] = []
    r["SourceRepository"]["RepositoryDescription"] = "Training code"
    r["ModelPackageGroup"]["Tags"] = [{"Key": "product", "Value": "churn-v2"}]
    r["BuildProject"]["TimeoutInMinutes"] = 90
    r["Pipeline"]["Stages"][1]["Name"] = "TrainAndRegister"
    r["SourceChangeRule"]["State"] = "DISABLED"
    r["AlarmTopic"]["DisplayName"] = "ML alarms"
    r["AlarmEmailSubscription"]["FilterPolicy"] = {"severity": ["high"]}
    r["BuildErrorsMetricFilter"]["FilterPattern"] = "ERROR"
    r["BuildErrorsAlarm"]["Threshold"] = 5
    r["OpsDashboard"]["DashboardBody"] = '{"widgets": []}'
    r["ModelGroupArnParameter"]["Description"] = "Model registry of the pipeline"
    r["EndpointSecurityGroup"]["SecurityGroupIngress"][0].update(FromPort=8443, ToPort=8443)
    r["SageMakerApiEndpoint"]["PrivateDnsEnabled"] = False
    r["S3GatewayEndpoint"]["PolicyDocument"]["Statement"][0]["Action"] = ["s3:GetObject"]
    change_set = deployer.deploy(template, {"LogRetentionDays": "60"})

    actions = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in change_set["Changes"]}
    assert set(actions) == set(TEMPLATE["Resources"]) - {
        "EventsRole",
        "PipelineRole",
        "ArtifactReadPolicy",
        "CDKMetadata",
    }
    assert {n for n, c in actions.items() if c["Replacement"] == "True"} == {"DataKeyAlias"}
    out = deployer.outputs()
    assert {k for k in out if out[k] != before[k]} == {"PipelineVersion"}

    kms, s3, iam = aws("kms"), aws("s3"), aws("iam")
    key_id = deployer.physical_id("DataKey")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "rotated description"
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == [f"alias/{deployer.name}-artifacts"]
    assert s3.get_bucket_versioning(Bucket=out["ArtifactBucketName"])["Status"] == "Suspended"
    policy = json.loads(s3.get_bucket_policy(Bucket=out["ArtifactBucketName"])["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyPlainHttp"
    boundary = iam.get_policy(PolicyArn=deployer.physical_id("PermissionsBoundary"))["Policy"]
    assert boundary["DefaultVersionId"] == "v2"
    assert iam.list_role_policies(RoleName=out["BuildRoleName"])["PolicyNames"] == ["build-logs-v2"]
    assert iam.list_attached_role_policies(RoleName=out["BuildRoleName"])["AttachedPolicies"] == []
    repository = aws("codecommit").get_repository(repositoryName=out["RepositoryName"])["repositoryMetadata"]
    assert (repository["repositoryId"], repository["repositoryDescription"]) == (repository_id, "Training code")
    assert aws("sagemaker").list_tags(ResourceArn=out["ModelPackageGroupArn"])["Tags"] == [
        {"Key": "product", "Value": "churn-v2"}
    ]
    (project,) = aws("codebuild").batch_get_projects(names=[out["BuildProjectName"]])["projects"]
    assert project["timeoutInMinutes"] == 90
    pipeline = aws("codepipeline").get_pipeline(name=out["PipelineName"])["pipeline"]
    assert ([s["name"] for s in pipeline["stages"]], out["PipelineVersion"]) == (["Source", "TrainAndRegister"], "2")
    assert aws("events").describe_rule(Name=deployer.physical_id("SourceChangeRule"))["State"] == "DISABLED"
    sns = aws("sns")
    assert sns.get_topic_attributes(TopicArn=out["AlarmTopicArn"])["Attributes"]["DisplayName"] == "ML alarms"
    subscription = sns.get_subscription_attributes(SubscriptionArn=out["AlarmSubscriptionArn"])["Attributes"]
    assert json.loads(subscription["FilterPolicy"]) == {"severity": ["high"]}
    logs = aws("logs")
    (metric_filter,) = logs.describe_metric_filters(logGroupName=out["BuildLogGroupName"])["metricFilters"]
    assert metric_filter["filterPattern"] == "ERROR"
    (group,) = logs.describe_log_groups(logGroupNamePrefix=out["BuildLogGroupName"])["logGroups"]
    assert group["retentionInDays"] == 60
    cloudwatch = aws("cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[out["BuildErrorsAlarmName"]])["MetricAlarms"]
    assert alarm["Threshold"] == 5.0
    assert cloudwatch.get_dashboard(DashboardName=f"{deployer.name}-ops")["DashboardBody"] == '{"widgets": []}'
    parameter = aws("ssm").get_parameter(Name=out["ModelGroupArnParameterName"])["Parameter"]
    assert parameter["Version"] == 2
    ec2 = aws("ec2")
    assert out["EndpointSecurityGroupId"] == security_group  # rules change in place, the id stays
    (group,) = ec2.describe_security_groups(GroupIds=[security_group])["SecurityGroups"]
    assert [p["FromPort"] for p in group["IpPermissions"]] == [8443]
    endpoints = ec2.describe_vpc_endpoints(VpcEndpointIds=[out["SageMakerApiEndpointId"], out["S3GatewayEndpointId"]])
    by_type = {e["VpcEndpointType"]: e for e in endpoints["VpcEndpoints"]}
    assert by_type["Interface"]["PrivateDnsEnabled"] is False
    assert json.loads(by_type["Gateway"]["PolicyDocument"])["Statement"][0]["Action"] == ["s3:GetObject"]

    detection = deployer.cfn.detect_stack_drift(StackName=deployer.name)["StackDriftDetectionId"]
    status = deployer.cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    assert status["StackDriftStatus"] == "IN_SYNC"


def _parameter(name: str) -> dict[str, Any]:
    return {"Type": "AWS::SSM::Parameter", "Properties": {"Name": name, "Type": "String", "Value": "arn:model-group"}}


def test_ssm_parameters_go_with_a_rolled_back_or_deleted_stack(deployer: Deployer, aws: Callable[..., Any]) -> None:
    ssm, name = aws("ssm"), f"/{deployer.name}/model-group-arn"
    clashing = {
        "Resources": {"Parameter": _parameter(name), "Clash": {**_parameter(name), "DependsOn": "Parameter"}},
        "Outputs": {"ParameterName": {"Value": {"Ref": "Parameter"}}},
    }
    deployer.cfn.execute_change_set(ChangeSetName=deployer.change_set(clashing)["ChangeSetId"])
    with pytest.raises(WaiterError, match="ROLLBACK_COMPLETE"):
        deployer.cfn.get_waiter("stack_create_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    resources = deployer.cfn.describe_stack_resources(StackName=deployer.name)["StackResources"]
    assert [(r["LogicalResourceId"], r["ResourceStatus"]) for r in resources] == [("Parameter", "DELETE_COMPLETE")]
    assert "Outputs" not in deployer.stack()
    with pytest.raises(ClientError, match="ParameterNotFound"):  # the rollback deleted it; reading did not revive it
        ssm.get_parameter(Name=name)
    deployer.cfn.delete_stack(StackName=deployer.name)

    template = {"Resources": {"Parameter": _parameter(name)}}
    deployer.deploy(template)  # re-created under the same name: no ParameterAlreadyExists
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "arn:model-group"
    deployer.cfn.delete_stack(StackName=deployer.name)
    deployer.cfn.get_waiter("stack_delete_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name=name)
    deployer.deploy(template)
    assert deployer.stack()["StackStatus"] == "CREATE_COMPLETE"


def test_a_delete_failed_stack_lists_what_it_deleted_and_what_failed_without_recreating_it(
    deployer: Deployer, aws: Callable[..., Any]
) -> None:
    name = f"/{deployer.name}/model-group-arn"
    template = {
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Parameter": _parameter(name)},
        "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}, "ParameterName": {"Value": {"Ref": "Parameter"}}},
    }
    deployer.deploy(template)
    bucket = deployer.outputs()["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="model.tar.gz", Body=b"weights")
    deployer.cfn.delete_stack(StackName=deployer.name)
    with pytest.raises(WaiterError, match="DELETE_FAILED"):
        deployer.cfn.get_waiter("stack_delete_complete").wait(StackName=deployer.name, WaiterConfig=FAST)

    resources = deployer.cfn.describe_stack_resources(StackName=deployer.name)["StackResources"]
    assert {r["LogicalResourceId"]: (r["PhysicalResourceId"], r["ResourceStatus"]) for r in resources} == {
        "Bucket": (bucket, "DELETE_FAILED"),
        "Parameter": (name, "DELETE_COMPLETE"),
    }
    assert "not empty" in next(r for r in resources if r["ResourceStatus"] == "DELETE_FAILED")["ResourceStatusReason"]
    summaries = deployer.cfn.list_stack_resources(StackName=deployer.name)["StackResourceSummaries"]
    assert {(r["LogicalResourceId"], r["ResourceStatus"]) for r in summaries} == {
        ("Bucket", "DELETE_FAILED"),
        ("Parameter", "DELETE_COMPLETE"),
    }
    assert set(deployer.outputs()) == {"BucketName", "ParameterName"}
    with pytest.raises(ClientError, match="ParameterNotFound"):  # reading the stack did not create it again
        aws("ssm").get_parameter(Name=name)

    aws("s3").delete_object(Bucket=bucket, Key="model.tar.gz")
    deployer.cfn.delete_stack(StackName=deployer.name)  # the retry deletes what is left
    deployer.cfn.get_waiter("stack_delete_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    assert bucket not in {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}


@pytest.mark.parametrize(
    ("resource_type", "name_property", "properties"),
    [
        ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName", {}),
        (
            "AWS::CodeBuild::Project",
            "Name",
            {
                "ServiceRole": "arn:aws:iam::123456789012:role/build",
                "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2"},
                "Artifacts": {"Type": "NO_ARTIFACTS"},
                "Environment": {
                    "Type": "LINUX_CONTAINER",
                    "ComputeType": "BUILD_GENERAL1_SMALL",
                    "Image": "aws/codebuild/standard:7.0",
                },
            },
        ),
    ],
)
def test_a_fixed_name_another_stack_holds_fails_the_create_as_aws_does(
    aws: Callable[..., Any], resource_type: str, name_property: str, properties: dict[str, Any]
) -> None:
    """AWS refuses a second project or model package group of one name (the second stack rolls back);
    moto alone would overwrite the first."""
    name = f"fixed-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Fixed": {"Type": resource_type, "Properties": {name_property: name, **properties}}}}
    first, second = Deployer(aws, "us-west-2"), Deployer(aws, "us-west-2")
    first.deploy(template)
    second.cfn.execute_change_set(ChangeSetName=second.change_set(template)["ChangeSetId"])
    with pytest.raises(WaiterError, match="ROLLBACK_COMPLETE"):
        second.cfn.get_waiter("stack_create_complete").wait(StackName=second.name, WaiterConfig=FAST)
    events = second.cfn.describe_stack_events(StackName=second.name)["StackEvents"]
    [reason] = [e["ResourceStatusReason"] for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert f"{name} already exists" in reason
    assert first.stack()["StackStatus"] == "CREATE_COMPLETE"  # the first keeps its resource
    if resource_type == "AWS::CodeBuild::Project":
        assert aws("codebuild").batch_get_projects(names=[name])["projects"][0]["serviceRole"].endswith("role/build")


def test_a_template_with_a_type_outside_the_requests_resource_types_is_refused(deployer: Deployer) -> None:
    """CreateChangeSet's ResourceTypes (what the deployer policy's condition reads): a template with
    any other type is refused, as AWS does."""
    template = {"Resources": {"Parameter": _parameter(f"/{deployer.name}/x")}}
    with pytest.raises(ClientError, match=r"AWS::SSM::Parameter'\] are not in the request's ResourceTypes"):
        deployer.change_set(template, ResourceTypes=["AWS::S3::Bucket"])
    deployer.change_set(template, ResourceTypes=["AWS::SSM::*"])  # AWS's wildcards are allowed

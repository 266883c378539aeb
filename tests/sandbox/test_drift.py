"""Drift detection compares template properties with the live state in the service backends."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import FAST, TEMPLATE, Deployer

CHECKED_TYPES = {
    "AWS::SSM::Parameter",
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    "AWS::Logs::LogGroup",
    "AWS::KMS::Key",
    "AWS::SNS::Topic",
}


def detect(stack: Deployer) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    detection_id = stack.cfn.detect_stack_drift(StackName=stack.name)["StackDriftDetectionId"]
    status = stack.cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    drifts = stack.cfn.describe_stack_resource_drifts(StackName=stack.name)["StackResourceDrifts"]
    return status, {d["LogicalResourceId"]: d for d in drifts}


def test_fresh_stack_is_in_sync(deployed: Deployer) -> None:
    status, drifts = detect(deployed)
    assert (status["DetectionStatus"], status["StackDriftStatus"]) == ("DETECTION_COMPLETE", "IN_SYNC")
    assert status["DriftedStackResourceCount"] == 0
    for drift in drifts.values():
        expected = "IN_SYNC" if drift["ResourceType"] in CHECKED_TYPES else "NOT_CHECKED"
        assert drift["StackResourceDriftStatus"] == expected, drift
    assert json.loads(drifts["BuildLogGroup"]["ActualProperties"])["RetentionInDays"] == "30"
    assert deployed.stack()["DriftInformation"]["StackDriftStatus"] == "IN_SYNC"


# Each out-of-band change returns the resource and the property difference drift must report.
Change = Callable[[Deployer, Callable[..., Any]], tuple[str, dict[str, str]]]


def _overwrite_parameter(stack: Deployer, aws: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    out = stack.outputs()
    aws("ssm").put_parameter(Name=out["ModelGroupArnParameterName"], Value="tampered", Overwrite=True)
    return "ModelGroupArnParameter", {
        "PropertyPath": "/Value",
        "ExpectedValue": out["ModelPackageGroupArn"],
        "ActualValue": "tampered",
        "DifferenceType": "NOT_EQUAL",
    }


def _retag_bucket(stack: Deployer, aws: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    tags = [{"Key": "product", "Value": "churn"}, {"Key": "data-classification", "Value": "public"}]
    aws("s3").put_bucket_tagging(Bucket=stack.outputs()["ArtifactBucketName"], Tagging={"TagSet": tags})
    return "ArtifactBucket", {
        "PropertyPath": "/Tags/0/Value",  # tags are compared sorted by key
        "ExpectedValue": "internal",
        "ActualValue": "public",
        "DifferenceType": "NOT_EQUAL",
    }


def _weaken_bucket_encryption(stack: Deployer, aws: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    rules = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
    aws("s3").put_bucket_encryption(
        Bucket=stack.outputs()["ArtifactBucketName"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    rule = "/BucketEncryption/ServerSideEncryptionConfiguration/0"
    return "ArtifactBucket", {
        "PropertyPath": f"{rule}/ServerSideEncryptionByDefault/SSEAlgorithm",
        "ExpectedValue": "aws:kms",
        "ActualValue": "AES256",
        "DifferenceType": "NOT_EQUAL",
    }


def _edit_inline_policy(stack: Deployer, aws: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    role = stack.outputs()["BuildRoleName"]
    aws("iam").put_role_policy(RoleName=role, PolicyName="build-logs", PolicyDocument=json.dumps(document))
    return "BuildRole", {
        "PropertyPath": "/Policies/0/PolicyDocument/Statement/0/Action",
        "ExpectedValue": '["logs:CreateLogStream", "logs:PutLogEvents"]',
        "ActualValue": "logs:*",
        "DifferenceType": "NOT_EQUAL",
    }


def _attach_policy(stack: Deployer, aws: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    iam = aws("iam")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName=f"{stack.name}-admin", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=stack.outputs()["BuildRoleName"], PolicyArn=arn)
    return "BuildRole", {
        "PropertyPath": "/ManagedPolicyArns/1",  # sorted: "<stack>-ArtifactReadPolicy-..." < "<stack>-admin"
        "ExpectedValue": "null",
        "ActualValue": arn,
        "DifferenceType": "ADD",
    }


def _shorten_retention(stack: Deployer, aws: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    aws("logs").put_retention_policy(logGroupName=stack.outputs()["BuildLogGroupName"], retentionInDays=1)
    return "BuildLogGroup", {
        "PropertyPath": "/RetentionInDays",
        "ExpectedValue": "30",
        "ActualValue": "1",
        "DifferenceType": "NOT_EQUAL",
    }


@pytest.mark.parametrize(
    "change",
    [
        _overwrite_parameter,
        _retag_bucket,
        _weaken_bucket_encryption,
        _edit_inline_policy,
        _attach_policy,
        _shorten_retention,
    ],
    ids=["ssm-value", "s3-tags", "s3-encryption", "iam-inline-policy", "iam-managed-policy", "log-retention"],
)
def test_out_of_band_change_is_drift(deployer: Deployer, aws: Callable[..., Any], change: Change) -> None:
    deployer.deploy()
    assert detect(deployer)[0]["StackDriftStatus"] == "IN_SYNC"
    logical_id, difference = change(deployer, aws)

    status, drifts = detect(deployer)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 1)
    drift = drifts[logical_id]
    assert drift["StackResourceDriftStatus"] == "MODIFIED"
    assert difference in drift["PropertyDifferences"], drift["PropertyDifferences"]
    assert deployer.stack()["DriftInformation"]["StackDriftStatus"] == "DRIFTED"
    only_modified = deployer.cfn.describe_stack_resource_drifts(
        StackName=deployer.name, StackResourceDriftStatusFilters=["MODIFIED"]
    )["StackResourceDrifts"]
    assert [d["LogicalResourceId"] for d in only_modified] == [logical_id]


def test_single_resource_drift_and_deleted_resource(deployer: Deployer, aws: Callable[..., Any]) -> None:
    deployer.deploy()
    aws("ssm").delete_parameter(Name=deployer.outputs()["ModelGroupArnParameterName"])
    drift = deployer.cfn.detect_stack_resource_drift(
        StackName=deployer.name, LogicalResourceId="ModelGroupArnParameter"
    )
    assert drift["StackResourceDrift"]["StackResourceDriftStatus"] == "DELETED"
    codecommit = deployer.cfn.detect_stack_resource_drift(StackName=deployer.name, LogicalResourceId="SourceRepository")
    assert codecommit["StackResourceDrift"]["StackResourceDriftStatus"] == "NOT_CHECKED"


def test_a_topic_carries_the_template_tags_so_a_fresh_stack_is_in_sync(
    deployer: Deployer, aws: Callable[..., Any]
) -> None:
    template = copy.deepcopy(TEMPLATE)
    tags = [{"Key": "Project", "Value": "customer-churn"}, {"Key": "Owner", "Value": "ml-platform"}]
    template["Resources"]["AlarmTopic"]["Properties"]["Tags"] = tags
    deployer.deploy(template)
    topic_tags = aws("sns").list_tags_for_resource(ResourceArn=deployer.outputs()["AlarmTopicArn"])["Tags"]
    assert sorted(topic_tags, key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])
    status, drifts = detect(deployer)
    assert drifts["AlarmTopic"]["StackResourceDriftStatus"] == "IN_SYNC"
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)


# --- drift-aware change sets (DeploymentMode REVERT_DRIFT) -----------------------------------------


def test_a_drift_aware_change_set_reverts_what_changed_outside_cloudformation(
    deployer: Deployer, aws: Callable[..., Any]
) -> None:
    deployer.deploy()
    logical_id, difference = _shorten_retention(deployer, aws)
    plain = deployer.change_set(TEMPLATE)
    assert plain["Status"] == "FAILED" and "DeploymentMode" not in plain, "a plain change set compares templates"

    aware = deployer.change_set(TEMPLATE, DeploymentMode="REVERT_DRIFT")
    described = deployer.cfn.describe_change_set(ChangeSetName=aware["ChangeSetId"], IncludePropertyValues=True)
    assert (described["DeploymentMode"], described["StackDriftStatus"]) == ("REVERT_DRIFT", "DRIFTED")
    [change] = [c["ResourceChange"] for c in described["Changes"]]
    assert (change["Action"], change["LogicalResourceId"], change["ResourceDriftStatus"]) == (
        "Modify",
        logical_id,
        "MODIFIED",
    )
    [target] = [d["Target"] for d in change["Details"]]
    assert target["Path"] == "/Properties/RetentionInDays"
    assert (target["BeforeValue"], target["AfterValue"]) == (difference["ActualValue"], difference["ExpectedValue"])
    assert (target["BeforeValueFrom"], target["AfterValueFrom"]) == ("ACTUAL_STATE", "TEMPLATE")
    assert (target["Drift"]["PreviousValue"], target["Drift"]["ActualValue"]) == ("30", "1")

    deployer.cfn.execute_change_set(ChangeSetName=aware["ChangeSetId"])
    deployer.cfn.get_waiter("stack_update_complete").wait(StackName=deployer.name, WaiterConfig=FAST)
    assert detect(deployer)[0]["StackDriftStatus"] == "IN_SYNC", "executing it put the template's value back"


def test_drift_aware_change_sets_are_for_updates(deployer: Deployer) -> None:
    with pytest.raises(ClientError, match="for UPDATE change sets only"):
        deployer.change_set(TEMPLATE, DeploymentMode="REVERT_DRIFT")

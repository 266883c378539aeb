"""Resource import: an IMPORT change set adopts existing resources into a new stack, which then owns
them like created ones (describe, drift, update, delete with Retain); AWS's rules are enforced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import FAST

REGION = "us-west-2"


@pytest.fixture
def existing(aws: Callable[..., Any]) -> dict[str, Any]:
    """A bucket with an object, a repository, a model registry, a KMS key and a log group that no stack owns."""
    suffix = uuid.uuid4().hex[:8]
    s3, kms = aws("s3", REGION), aws("kms", REGION)
    bucket = f"data-{suffix}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="models/model.tar.gz", Body=b"weights")
    repository = aws("codecommit", REGION).create_repository(repositoryName=f"code-{suffix}")["repositoryMetadata"]
    group = aws("sagemaker", REGION).create_model_package_group(ModelPackageGroupName=f"models-{suffix}")
    key = kms.create_key(Description="data key")["KeyMetadata"]["KeyId"]
    aws("logs", REGION).create_log_group(logGroupName=f"/logs/{suffix}")
    return {
        "Bucket": ("AWS::S3::Bucket", {"BucketName": bucket}, {"BucketName": bucket}),
        "Repository": (
            "AWS::CodeCommit::Repository",
            {"RepositoryName": repository["repositoryName"]},
            {"RepositoryId": repository["repositoryId"]},
        ),
        "Registry": (
            "AWS::SageMaker::ModelPackageGroup",
            {"ModelPackageGroupName": f"models-{suffix}"},
            {"ModelPackageGroupArn": group["ModelPackageGroupArn"]},
        ),
        "Key": ("AWS::KMS::Key", {"Description": "data key"}, {"KeyId": key}),
        "Logs": (
            "AWS::Logs::LogGroup",
            {"LogGroupName": f"/logs/{suffix}", "RetentionInDays": 30},
            {"LogGroupName": f"/logs/{suffix}"},
        ),
    }


def _template(resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Resources": {
            logical_id: {"Type": kind, "DeletionPolicy": "Retain", "Properties": properties}
            for logical_id, (kind, properties, _) in resources.items()
        }
        | extra
    }


def _import(cfn: Any, stack: str, template: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName="import",
        ChangeSetType="IMPORT",
        TemplateBody=json.dumps(template),
        ResourcesToImport=[
            {"ResourceType": kind, "LogicalResourceId": logical_id, "ResourceIdentifier": identifier}
            for logical_id, (kind, _, identifier) in resources.items()
        ],
    )
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=created["Id"], WaiterConfig=FAST)
    return cfn.describe_change_set(ChangeSetName=created["Id"])


def test_import_creates_a_stack_that_owns_the_existing_resources(aws, existing):
    cfn, stack = aws("cloudformation", REGION), f"import-{uuid.uuid4().hex[:8]}"
    change_set = _import(cfn, stack, _template(existing), existing)
    assert {
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in change_set["Changes"]
    } == {("Import", logical_id) for logical_id in existing}
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"

    cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
    cfn.get_waiter("stack_import_complete").wait(StackName=stack, WaiterConfig=FAST)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    assert physical["Bucket"] == existing["Bucket"][2]["BucketName"]
    assert physical["Key"] == existing["Key"][2]["KeyId"]
    assert physical["Repository"] == existing["Repository"][2]["RepositoryId"]
    assert physical["Registry"] == existing["Registry"][2]["ModelPackageGroupArn"]
    events = {
        (e["LogicalResourceId"], e["ResourceStatus"]) for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
    }
    assert {("Bucket", "IMPORT_COMPLETE"), (stack, "IMPORT_COMPLETE")} <= events

    # nothing was created anew: the object is still in the bucket
    bucket = existing["Bucket"][2]["BucketName"]
    assert aws("s3", REGION).get_object(Bucket=bucket, Key="models/model.tar.gz")["Body"].read() == b"weights"

    # drift compares the template with the adopted resources (the log group's retention was never set)
    detection = cfn.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
    assert cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)["StackDriftStatus"] == "DRIFTED"
    drifts = {
        d["LogicalResourceId"]: d for d in cfn.describe_stack_resource_drifts(StackName=stack)["StackResourceDrifts"]
    }
    assert drifts["Logs"]["StackResourceDriftStatus"] == "MODIFIED"
    assert drifts["Bucket"]["StackResourceDriftStatus"] == "IN_SYNC"

    # a normal update then adds what refers to them, and changes the adopted ones in place
    template = _template(existing)
    template["Resources"]["Logs"]["Properties"]["KmsKeyId"] = {"Fn::GetAtt": ["Key", "Arn"]}
    template["Resources"]["Alias"] = {
        "Type": "AWS::KMS::Alias",
        "Properties": {"AliasName": f"alias/{stack}", "TargetKeyId": {"Ref": "Key"}},
    }
    template["Outputs"] = {"Bucket": {"Value": {"Ref": "Bucket"}}}
    created = cfn.create_change_set(
        StackName=stack, ChangeSetName="update", ChangeSetType="UPDATE", TemplateBody=json.dumps(template)
    )
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=created["Id"], WaiterConfig=FAST)
    actions = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Action"]
        for c in cfn.describe_change_set(ChangeSetName=created["Id"])["Changes"]
    }
    assert actions == {"Alias": "Add", "Logs": "Modify"}
    cfn.execute_change_set(ChangeSetName=created["Id"])
    cfn.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig=FAST)
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"][0]["OutputValue"] == bucket
    group = aws("logs", REGION).describe_log_groups(logGroupNamePrefix=existing["Logs"][2]["LogGroupName"])
    assert group["logGroups"][0]["kmsKeyId"].endswith(existing["Key"][2]["KeyId"])

    # deleting the stack keeps them again (Retain)
    cfn.delete_stack(StackName=stack)
    aws("s3", REGION).head_bucket(Bucket=bucket)
    assert aws("kms", REGION).describe_key(KeyId=existing["Key"][2]["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no deletion policy", "must have DeletionPolicy attribute"),
        ("missing resource", "does not exist"),
        ("wrong identifier", "is identified by [RepositoryId]"),
        ("an extra resource", "you cannot modify or add [Topic]"),
        ("outputs", "you cannot modify or add [Outputs]"),
    ],
)
def test_import_follows_aws_rules(aws, existing, breakage, message):
    cfn, stack = aws("cloudformation", REGION), f"import-{uuid.uuid4().hex[:8]}"
    template = _template(existing)
    if breakage == "no deletion policy":
        del template["Resources"]["Bucket"]["DeletionPolicy"]
    elif breakage == "missing resource":
        existing["Bucket"] = ("AWS::S3::Bucket", {"BucketName": "no-such-bucket"}, {"BucketName": "no-such-bucket"})
        template = _template(existing)
    elif breakage == "wrong identifier":
        kind, properties, _ = existing["Repository"]
        existing["Repository"] = (kind, properties, {"RepositoryName": properties["RepositoryName"]})
    elif breakage == "an extra resource":
        template["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    else:
        template["Outputs"] = {"Bucket": {"Value": {"Ref": "Bucket"}}}
    with pytest.raises(ClientError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _import(cfn, stack, template, existing)
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=stack)  # nothing half-done


def test_a_resource_of_another_stack_cannot_be_imported(aws, existing):
    cfn = aws("cloudformation", REGION)
    owner, thief = f"owner-{uuid.uuid4().hex[:8]}", f"thief-{uuid.uuid4().hex[:8]}"
    bucket = {"Bucket": existing["Bucket"]}
    cfn.execute_change_set(ChangeSetName=_import(cfn, owner, _template(bucket), bucket)["ChangeSetId"])
    with pytest.raises(ClientError, match=f"already belongs to stack .*{owner}"):
        _import(cfn, thief, _template(bucket), bucket)


def test_codecommit_repositories_carry_their_tags(aws):
    codecommit = aws("codecommit", REGION)
    arn = codecommit.create_repository(repositoryName=f"tagged-{uuid.uuid4().hex[:8]}")["repositoryMetadata"]["Arn"]
    codecommit.tag_resource(resourceArn=arn, tags={"ml-provisioner:product": "p", "Owner": "o"})
    codecommit.untag_resource(resourceArn=arn, tagKeys=["Owner"])
    assert codecommit.list_tags_for_resource(resourceArn=arn)["tags"] == {"ml-provisioner:product": "p"}

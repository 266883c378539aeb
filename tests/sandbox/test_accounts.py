"""Several accounts in one sandbox: credentials from STS AssumeRole act as the role's account, and
what they make there is invisible to the account they came from."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from ml_provisioner_sandbox import Sandbox

from tests.support.processes import read_until, stop

TOOLING, WORKLOAD = "123456789012", "222222222222"

STAGING = {
    "Resources": {
        "Staging": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "staging-${AWS::AccountId}-${AWS::Region}"}},
        },
        "Marker": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/bootstrap/version", "Type": "String", "Value": "1"},
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "Deployer": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "deployer",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{TOOLING}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
            },
        },
    }
}


def assumed(sandbox: Sandbox, role_arn: str) -> Callable[..., Any]:
    """A client factory with the credentials AssumeRole returns (from the tooling account's credentials)."""
    sts = boto3.client(
        "sts",
        endpoint_url=sandbox.url,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="fleet-test")["Credentials"]

    def client(service: str, region: str = "us-west-2") -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.url,
            region_name=region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    return client


@pytest.fixture(scope="module")
def workload(sandbox: Sandbox) -> Callable[..., Any]:
    return assumed(sandbox, f"arn:aws:iam::{WORKLOAD}:role/OrganizationAccountAccessRole")


def deploy(cfn: Any, name: str, template: dict[str, Any]) -> dict[str, Any]:
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName=f"cs-{uuid.uuid4().hex[:8]}",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Tags=[{"Key": "ml-provisioner:product", "Value": name}],
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return stack


def test_assumed_role_credentials_act_as_the_roles_account(workload):
    identity = workload("sts").get_caller_identity()
    assert identity["Account"] == WORKLOAD
    assert identity["Arn"] == f"arn:aws:sts::{WORKLOAD}:assumed-role/OrganizationAccountAccessRole/fleet-test"


def test_a_change_set_deployed_with_assumed_credentials_lands_in_the_roles_account(workload, aws):
    name = f"boot-{uuid.uuid4().hex[:6]}"
    stack = deploy(workload("cloudformation"), name, STAGING)

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].split(":")[4] == WORKLOAD
    assert {"Key": "ml-provisioner:product", "Value": name} in stack["Tags"]
    # the stack's resources are the workload account's: its bucket, parameter, key and role
    assert f"staging-{WORKLOAD}-us-west-2" in [b["Name"] for b in workload("s3").list_buckets()["Buckets"]]
    assert workload("ssm").get_parameter(Name="/bootstrap/version")["Parameter"]["Value"] == "1"
    assert workload("iam").get_role(RoleName="deployer")["Role"]["Arn"] == f"arn:aws:iam::{WORKLOAD}:role/deployer"
    key_id = workload("cloudformation").describe_stack_resource(StackName=name, LogicalResourceId="Key")
    key_arn = workload("kms").describe_key(KeyId=key_id["StackResourceDetail"]["PhysicalResourceId"])["KeyMetadata"]
    assert key_arn["Arn"].split(":")[4] == WORKLOAD

    # ... and invisible to the tooling account whose credentials assumed the role
    with pytest.raises(ClientError, match="does not exist"):
        aws("cloudformation").describe_stacks(StackName=name)
    assert f"staging-{WORKLOAD}-us-west-2" not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    with pytest.raises(ClientError, match="ParameterNotFound"):
        aws("ssm").get_parameter(Name="/bootstrap/version")
    with pytest.raises(ClientError, match="NoSuchEntity"):
        aws("iam").get_role(RoleName="deployer")


def test_two_accounts_deploy_the_same_stack_name_side_by_side(sandbox, workload):
    third = assumed(sandbox, "arn:aws:iam::333333333333:role/OrganizationAccountAccessRole")
    name = f"same-{uuid.uuid4().hex[:6]}"
    template = {"Resources": {"Marker": STAGING["Resources"]["Marker"]}}

    in_workload = deploy(workload("cloudformation"), name, template)
    in_third = deploy(third("cloudformation"), name, template)

    assert in_workload["StackId"].split(":")[4] == WORKLOAD
    assert in_third["StackId"].split(":")[4] == "333333333333"
    workload("cloudformation").delete_stack(StackName=name)
    assert third("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_the_sandbox_command_says_assumed_roles_act_in_their_account_and_they_do(tmp_path):
    """--account-id is the account of the printed credentials; an assumed role's credentials act as its own."""
    command = ["sandbox", "--port", "0", "--account-id", "111111111111"]
    process = subprocess.Popen(
        [sys.executable, "-m", "ml_provisioner", "--workspace", str(tmp_path), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        printed = read_until(process, "Stop it with Ctrl-C (all state is in memory).")
        assert "an assumed role's credentials act in the role's account" in printed
        url = re.search(r"export AWS_ENDPOINT_URL=(http://127\.0\.0\.1:\d+)", printed)
        assert url is not None, printed
        sts = boto3.client(
            "sts",
            endpoint_url=url[1],
            region_name="us-west-2",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )
        assert sts.get_caller_identity()["Account"] == "111111111111"
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{WORKLOAD}:role/deployer", RoleSessionName="cli")[
            "Credentials"
        ]
        as_workload = boto3.client(
            "sts",
            endpoint_url=url[1],
            region_name="us-west-2",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        assert as_workload.get_caller_identity()["Account"] == WORKLOAD
    finally:
        stop(process)

"""One sandbox endpoint per test session; tests talk to it over HTTP with boto3 only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from ml_provisioner_sandbox import Sandbox, start_sandbox

TEMPLATE = json.loads((Path(__file__).parent / "ml_stack.template.json").read_text())
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
FAST = {"Delay": 1, "MaxAttempts": 5}  # the sandbox answers synchronously; waiters only poll once


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(port=0) as sb:
        yield sb


@pytest.fixture(scope="session")
def aws(sandbox: Sandbox) -> Callable[..., Any]:
    """aws("s3") -> a boto3 client bound to the sandbox (dummy credentials, us-west-2 by default)."""

    def client(service: str, region: str = "us-west-2") -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="session")
def network(aws: Callable[..., Any]) -> Callable[[str], dict[str, str]]:
    """The SSM parameters the template resolves at deploy time (VPC and shared security group), per region."""
    done: dict[str, dict[str, str]] = {}

    def ensure(region: str) -> dict[str, str]:
        if region not in done:
            ec2, ssm = aws("ec2", region), aws("ssm", region)
            vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
            sg_id = ec2.create_security_group(GroupName="ml-shared", Description="shared", VpcId=vpc_id)["GroupId"]
            ssm.put_parameter(Name="/ml-provisioner/network/vpc-id", Value=vpc_id, Type="String", Overwrite=True)
            ssm.put_parameter(Name="/ml-provisioner/network/endpoint-sg-id", Value=sg_id, Type="String", Overwrite=True)
            done[region] = {"vpc_id": vpc_id, "sg_id": sg_id}
        return done[region]

    return ensure


class Deployer:
    """Drives a stack like a deploy tool: change set -> wait -> describe -> execute -> wait."""

    def __init__(self, aws: Callable[..., Any], region: str):
        self.cfn = aws("cloudformation", region)
        self.name = f"mlp-{uuid.uuid4().hex[:8]}"

    def change_set(
        self, template: dict[str, Any], parameters: dict[str, str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        kind = "UPDATE" if self.exists() else "CREATE"
        created = self.cfn.create_change_set(
            StackName=self.name,
            ChangeSetName=f"cs-{uuid.uuid4().hex[:8]}",
            ChangeSetType=kind,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Capabilities=CAPABILITIES,
            **extra,
        )
        return self.cfn.describe_change_set(ChangeSetName=created["Id"])

    def deploy(self, template: dict[str, Any] = TEMPLATE, parameters: dict[str, str] | None = None) -> dict[str, Any]:
        """Returns the executed change set; the stack must end *_COMPLETE."""
        kind = "stack_update_complete" if self.exists() else "stack_create_complete"
        change_set = self.change_set(template, parameters)
        self.cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set["ChangeSetId"], WaiterConfig=FAST
        )
        self.cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
        self.cfn.get_waiter(kind).wait(StackName=self.name, WaiterConfig=FAST)
        return change_set

    def exists(self) -> bool:
        try:
            return self.stack()["StackStatus"] != "REVIEW_IN_PROGRESS"
        except ClientError:  # "Stack with id ... does not exist"
            return False

    @property
    def stack_id(self) -> str:
        return self.stack()["StackId"]

    def stack(self) -> dict[str, Any]:
        return self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack()["Outputs"]}

    def physical_id(self, logical_id: str) -> str:
        resource = self.cfn.describe_stack_resource(StackName=self.name, LogicalResourceId=logical_id)
        return resource["StackResourceDetail"]["PhysicalResourceId"]


@pytest.fixture
def deployer(aws: Callable[..., Any], network: Callable[[str], dict[str, str]]) -> Deployer:
    """A fresh, not yet created stack in us-west-2."""
    network("us-west-2")
    return Deployer(aws, "us-west-2")


@pytest.fixture(scope="module")
def deployed(aws: Callable[..., Any], network: Callable[[str], dict[str, str]]) -> Deployer:
    """The test template deployed once per module, for tests that only read."""
    network("us-west-2")
    deployer = Deployer(aws, "us-west-2")
    deployer.deploy()
    return deployer

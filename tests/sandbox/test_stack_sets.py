"""CloudFormation StackSets for a bootstrap across accounts: every stack instance is a real stack in
its account and region, reports what its stack did, and follows the stack set's updates; service-
managed stack sets resolve Organizations OUs and deploy to accounts that join them."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ml_provisioner_sandbox import Sandbox

from tests.sandbox.test_accounts import TOOLING, assumed

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
EXECUTION_ROLE = "ml-provisioner-stackset-execution"
ADMIN_ROLE = f"arn:aws:iam::{TOOLING}:role/ml-provisioner-stackset-admin"


def bootstrap_template(version: str = "1") -> str:
    """What a bootstrap puts into each account: a deployer role and a staging bucket."""
    return json.dumps(
        {
            "Parameters": {"Trusted": {"Type": "String"}},
            "Resources": {
                "Deployer": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": {"Fn::Sub": "ml-provisioner-deployer-${AWS::Region}"},  # IAM is global
                        "Description": f"bootstrap version {version}",
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"AWS": {"Ref": "Trusted"}},
                                    "Action": "sts:AssumeRole",
                                }
                            ],
                        },
                    },
                },
                "Staging": {
                    "Type": "AWS::S3::Bucket",
                    "Properties": {"BucketName": {"Fn::Sub": "ml-staging-${AWS::AccountId}-${AWS::Region}"}},
                },
            },
            "Outputs": {"Version": {"Value": version}},
        }
    )


def account_client(sandbox: Sandbox, account: str) -> Callable[..., Any]:
    return assumed(sandbox, f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole")


def with_execution_role(sandbox: Sandbox, account: str) -> Callable[..., Any]:
    """The role a self-managed stack set's administrator assumes in a target account."""
    client = account_client(sandbox, account)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ADMIN_ROLE}, "Action": "sts:AssumeRole"}],
    }
    client("iam").create_role(RoleName=EXECUTION_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    return client


def stack_of(client: Callable[..., Any], region: str, stack_id: str) -> dict[str, Any]:
    stack: dict[str, Any] = client("cloudformation", region).describe_stacks(StackName=stack_id)["Stacks"][0]
    return stack


def instances(cfn: Any, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["Account"], s["Region"]): s for s in cfn.list_stack_instances(StackSetName=name)["Summaries"]}


@pytest.fixture(scope="module")
def targets(sandbox: Sandbox) -> dict[str, Callable[..., Any]]:
    return {account: with_execution_role(sandbox, account) for account in ("444444444444", "555555555555")}


@pytest.fixture
def self_managed(aws: Callable[..., Any]) -> str:
    name = f"boot-{uuid.uuid4().hex[:6]}"
    aws("cloudformation").create_stack_set(
        StackSetName=name,
        TemplateBody=bootstrap_template(),
        Parameters=[{"ParameterKey": "Trusted", "ParameterValue": f"arn:aws:iam::{TOOLING}:root"}],
        Capabilities=CAPABILITIES,
        PermissionModel="SELF_MANAGED",
        AdministrationRoleARN=ADMIN_ROLE,
        ExecutionRoleName=EXECUTION_ROLE,
    )
    return name


def test_a_self_managed_stack_set_describes_its_roles(aws, self_managed):
    described = aws("cloudformation").describe_stack_set(StackSetName=self_managed)["StackSet"]
    assert described["PermissionModel"] == "SELF_MANAGED"
    assert described["AdministrationRoleARN"] == ADMIN_ROLE
    assert described["ExecutionRoleName"] == EXECUTION_ROLE
    assert described["Capabilities"] == CAPABILITIES
    assert described["Status"] == "ACTIVE"


def test_a_stack_set_with_iam_resources_needs_the_capability(aws):
    with pytest.raises(ClientError, match="InsufficientCapabilities"):
        aws("cloudformation").create_stack_set(
            StackSetName=f"nocap-{uuid.uuid4().hex[:6]}", TemplateBody=bootstrap_template()
        )


def test_self_managed_instances_are_real_stacks_in_each_account_and_region(aws, targets, self_managed):
    cfn = aws("cloudformation")
    operation = cfn.create_stack_instances(
        StackSetName=self_managed, Accounts=sorted(targets), Regions=["us-west-2", "eu-west-1"]
    )["OperationId"]

    described = cfn.describe_stack_set_operation(StackSetName=self_managed, OperationId=operation)["StackSetOperation"]
    assert (described["Action"], described["Status"]) == ("CREATE", "SUCCEEDED")
    results = cfn.list_stack_set_operation_results(StackSetName=self_managed, OperationId=operation)["Summaries"]
    assert sorted((r["Account"], r["Region"], r["Status"]) for r in results) == [
        (account, region, "SUCCEEDED") for account in sorted(targets) for region in ("eu-west-1", "us-west-2")
    ]
    for (account, region), instance in instances(cfn, self_managed).items():
        assert (instance["Status"], instance["StackInstanceStatus"]["DetailedStatus"]) == ("CURRENT", "SUCCEEDED")
        assert instance["StackId"].split(":")[3:5] == [region, account]
        # the target account sees the stack and owns what it made: the bootstrap's role and bucket
        client = targets[account]
        stack = stack_of(client, region, instance["StackId"])
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert stack["StackName"].startswith(f"StackSet-{self_managed}-")
        assert f"ml-staging-{account}-{region}" in [b["Name"] for b in client("s3", region).list_buckets()["Buckets"]]
        assert (
            client("iam").get_role(RoleName=f"ml-provisioner-deployer-{region}")["Role"]["Arn"].split(":")[4] == account
        )
    # nothing of it in the administrator account
    assert not [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"].startswith(f"StackSet-{self_managed}-")]
    cfn.delete_stack_instances(
        StackSetName=self_managed, Accounts=sorted(targets), Regions=["us-west-2", "eu-west-1"], RetainStacks=False
    )


def test_describe_stack_instance_of_one_account_and_region(aws, targets, self_managed):
    cfn = aws("cloudformation")
    account = sorted(targets)[0]
    cfn.create_stack_instances(StackSetName=self_managed, Accounts=[account], Regions=["us-east-2"])

    instance = cfn.describe_stack_instance(
        StackSetName=self_managed, StackInstanceAccount=account, StackInstanceRegion="us-east-2"
    )["StackInstance"]
    assert (instance["Account"], instance["Region"], instance["Status"]) == (account, "us-east-2", "CURRENT"), instance
    listed = cfn.list_stack_instances(StackSetName=self_managed, StackInstanceAccount=account)["Summaries"]
    assert [(i["Account"], i["Region"]) for i in listed] == [(account, "us-east-2")]
    with pytest.raises(ClientError, match="StackInstanceNotFound"):
        cfn.describe_stack_instance(
            StackSetName=self_managed, StackInstanceAccount=account, StackInstanceRegion="ap-south-1"
        )
    cfn.delete_stack_instances(StackSetName=self_managed, Accounts=[account], Regions=["us-east-2"], RetainStacks=False)


def test_an_account_without_the_execution_role_fails_its_instance_with_awss_reason(aws, targets, self_managed):
    cfn = aws("cloudformation")
    operation = cfn.create_stack_instances(
        StackSetName=self_managed, Accounts=["666666666666", sorted(targets)[0]], Regions=["us-west-2"]
    )["OperationId"]

    assert (
        cfn.describe_stack_set_operation(StackSetName=self_managed, OperationId=operation)["StackSetOperation"][
            "Status"
        ]
        == "FAILED"
    )
    failed = instances(cfn, self_managed)[("666666666666", "us-west-2")]
    assert (failed["Status"], failed["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    assert failed["StatusReason"] == (
        f"Account 666666666666 should have '{EXECUTION_ROLE}' role with trust relationship to Role "
        "'ml-provisioner-stackset-admin'."
    )
    assert instances(cfn, self_managed)[(sorted(targets)[0], "us-west-2")]["Status"] == "CURRENT"
    cfn.delete_stack_instances(
        StackSetName=self_managed,
        Accounts=["666666666666", sorted(targets)[0]],
        Regions=["us-west-2"],
        RetainStacks=False,
    )


def test_a_stack_that_fails_to_create_fails_its_instance_with_the_resource_and_reason(aws, targets):
    cfn = aws("cloudformation")
    name = f"broken-{uuid.uuid4().hex[:6]}"
    broken = {
        "Resources": {
            "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/x", "TargetKeyId": "no-such-key"}}
        }
    }
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=json.dumps(broken),
        AdministrationRoleARN=ADMIN_ROLE,
        ExecutionRoleName=EXECUTION_ROLE,
    )
    account = sorted(targets)[0]
    operation = cfn.create_stack_instances(StackSetName=name, Accounts=[account], Regions=["us-west-2"])["OperationId"]

    instance = instances(cfn, name)[(account, "us-west-2")]
    assert (instance["Status"], instance["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    assert instance["StatusReason"].startswith(
        "ResourceLogicalId:Alias, ResourceType:AWS::KMS::Alias, ResourceStatusReason:"
    )
    assert stack_of(targets[account], "us-west-2", instance["StackId"])["StackStatus"] == "ROLLBACK_COMPLETE"
    result = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=operation)["Summaries"][0]
    assert (result["Status"], result["StatusReason"]) == ("FAILED", instance["StatusReason"])


def test_update_stack_set_updates_every_instances_stack(aws, targets, self_managed):
    cfn = aws("cloudformation")
    accounts = sorted(targets)
    cfn.create_stack_instances(StackSetName=self_managed, Accounts=accounts, Regions=["us-west-2"])

    operation = cfn.update_stack_set(
        StackSetName=self_managed,
        TemplateBody=bootstrap_template("2"),
        Parameters=[{"ParameterKey": "Trusted", "UsePreviousValue": True}],
        Capabilities=CAPABILITIES,
    )["OperationId"]

    described = cfn.describe_stack_set_operation(StackSetName=self_managed, OperationId=operation)["StackSetOperation"]
    assert (described["Action"], described["Status"]) == ("UPDATE", "SUCCEEDED")
    for (account, region), instance in instances(cfn, self_managed).items():
        assert instance["Status"] == "CURRENT"
        stack = stack_of(targets[account], region, instance["StackId"])
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        assert stack["Outputs"] == [{"OutputKey": "Version", "OutputValue": "2"}]
        role = targets[account]("iam").get_role(RoleName=f"ml-provisioner-deployer-{region}")["Role"]
        assert role["Description"] == "bootstrap version 2"
    operations = cfn.list_stack_set_operations(StackSetName=self_managed)["Summaries"]
    assert [o["Action"] for o in operations] == ["UPDATE", "CREATE"]  # newest first
    cfn.delete_stack_instances(StackSetName=self_managed, Accounts=accounts, Regions=["us-west-2"], RetainStacks=False)


def test_a_failed_update_leaves_the_instance_outdated_until_an_update_succeeds(aws, targets, self_managed):
    cfn = aws("cloudformation")
    account = sorted(targets)[1]
    cfn.create_stack_instances(StackSetName=self_managed, Accounts=[account], Regions=["eu-central-1"])
    broken = json.loads(bootstrap_template("2"))
    broken["Resources"]["Alias"] = {
        "Type": "AWS::KMS::Alias",
        "Properties": {"AliasName": "alias/bootstrap", "TargetKeyId": "no-such-key"},
    }
    update = {"StackSetName": self_managed, "Capabilities": CAPABILITIES}
    update["Parameters"] = [{"ParameterKey": "Trusted", "UsePreviousValue": True}]

    failed = cfn.update_stack_set(TemplateBody=json.dumps(broken), **update)["OperationId"]

    assert (
        cfn.describe_stack_set_operation(StackSetName=self_managed, OperationId=failed)["StackSetOperation"]["Status"]
        == "FAILED"
    )
    instance = instances(cfn, self_managed)[(account, "eu-central-1")]
    assert (instance["Status"], instance["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    assert instance["StatusReason"].startswith("ResourceLogicalId:Alias, ResourceType:AWS::KMS::Alias")
    stack = stack_of(targets[account], "eu-central-1", instance["StackId"])
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"

    cfn.update_stack_set(TemplateBody=bootstrap_template("3"), **update)
    instance = instances(cfn, self_managed)[(account, "eu-central-1")]
    assert (instance["Status"], instance.get("StatusReason")) == ("CURRENT", None)
    stack = stack_of(targets[account], "eu-central-1", instance["StackId"])
    assert (stack["StackStatus"], stack["Outputs"][0]["OutputValue"]) == ("UPDATE_COMPLETE", "3")
    cfn.delete_stack_instances(
        StackSetName=self_managed, Accounts=[account], Regions=["eu-central-1"], RetainStacks=False
    )


def test_delete_stack_instances_deletes_their_stacks_or_retains_them(aws, targets, self_managed):
    cfn = aws("cloudformation")
    kept, removed = sorted(targets)
    cfn.create_stack_instances(StackSetName=self_managed, Accounts=[kept, removed], Regions=["ca-central-1"])
    stacks = {account: i["StackId"] for (account, _), i in instances(cfn, self_managed).items()}

    cfn.delete_stack_instances(
        StackSetName=self_managed, Accounts=[removed], Regions=["ca-central-1"], RetainStacks=False
    )
    cfn.delete_stack_instances(StackSetName=self_managed, Accounts=[kept], Regions=["ca-central-1"], RetainStacks=True)

    assert instances(cfn, self_managed) == {}
    assert stack_of(targets[removed], "ca-central-1", stacks[removed])["StackStatus"] == "DELETE_COMPLETE"
    assert stack_of(targets[kept], "ca-central-1", stacks[kept])["StackStatus"] == "CREATE_COMPLETE"


def test_a_stack_set_with_instances_cannot_be_deleted(aws, targets, self_managed):
    cfn = aws("cloudformation")
    account = sorted(targets)[0]
    cfn.create_stack_instances(StackSetName=self_managed, Accounts=[account], Regions=["us-west-1"])
    with pytest.raises(ClientError, match="StackSetNotEmpty"):
        cfn.delete_stack_set(StackSetName=self_managed)

    cfn.delete_stack_instances(StackSetName=self_managed, Accounts=[account], Regions=["us-west-1"], RetainStacks=False)
    cfn.delete_stack_set(StackSetName=self_managed)
    with pytest.raises(ClientError, match="StackSetNotFound"):
        cfn.describe_stack_set(StackSetName=self_managed)


# --- service-managed: Organizations OUs and auto-deployment ------------------------------------


@pytest.fixture(scope="module")
def organization(aws: Callable[..., Any]) -> dict[str, Any]:
    """An organization managed by the tooling account: a workloads OU (with a nested team OU) holding
    two accounts, a sandbox OU holding one."""
    org = aws("organizations")
    with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):  # another module's, same account
        org.create_organization(FeatureSet="ALL")
    aws("cloudformation").activate_organizations_access()
    root = org.list_roots()["Roots"][0]["Id"]
    workloads = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    team = org.create_organizational_unit(ParentId=workloads, Name="team")["OrganizationalUnit"]["Id"]
    other = org.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        created = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        org.move_account(AccountId=created["AccountId"], SourceParentId=root, DestinationParentId=parent)
        return str(created["AccountId"])

    return {
        "root": root,
        "workloads": workloads,
        "team": team,
        "other": other,
        "in_workloads": account("wl-a", workloads),
        "in_team": account("wl-b", team),
        "in_other": account("sb-a", other),
    }


def service_managed(aws: Callable[..., Any], retain: bool = False) -> str:
    name = f"org-boot-{uuid.uuid4().hex[:6]}"
    aws("cloudformation").create_stack_set(
        StackSetName=name,
        TemplateBody=bootstrap_template(),
        Parameters=[{"ParameterKey": "Trusted", "ParameterValue": f"arn:aws:iam::{TOOLING}:root"}],
        Capabilities=CAPABILITIES,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": retain},
    )
    return name


def test_service_managed_instances_go_to_every_account_under_the_ou(sandbox, aws, organization):
    cfn = aws("cloudformation")
    name = service_managed(aws)
    described = cfn.describe_stack_set(StackSetName=name)["StackSet"]
    assert described["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}

    operation = cfn.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": [organization["workloads"]]},
        Regions=["us-west-2"],
    )["OperationId"]

    assert (
        cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation)["StackSetOperation"]["Status"]
        == "SUCCEEDED"
    )
    deployed = instances(cfn, name)
    assert sorted(deployed) == sorted(
        [(organization["in_workloads"], "us-west-2"), (organization["in_team"], "us-west-2")]
    )
    for (account, region), instance in deployed.items():
        assert instance["OrganizationalUnitId"] == organization["workloads"]
        client = account_client(sandbox, account)
        assert stack_of(client, region, instance["StackId"])["StackStatus"] == "CREATE_COMPLETE"
        assert (
            client("iam").get_role(RoleName=f"ml-provisioner-deployer-{region}")["Role"]["Arn"].split(":")[4] == account
        )
    assert cfn.describe_stack_set(StackSetName=name)["StackSet"]["OrganizationalUnitIds"] == [organization["workloads"]]


def test_service_managed_stack_sets_need_trusted_access_with_organizations(aws, organization):
    cfn = aws("cloudformation")
    assert cfn.describe_organizations_access()["Status"] == "ENABLED"
    cfn.deactivate_organizations_access()
    try:
        assert cfn.describe_organizations_access()["Status"] == "DISABLED"
        with pytest.raises(ClientError, match="You must enable organizations access"):
            service_managed(aws)
    finally:
        cfn.activate_organizations_access()
    service_managed(aws)


def test_a_service_managed_stack_set_refuses_account_targets(aws, organization):
    name = service_managed(aws)
    with pytest.raises(ClientError, match="can only have OrganizationalUnit as target"):
        aws("cloudformation").create_stack_instances(
            StackSetName=name, Accounts=[organization["in_other"]], Regions=["us-west-2"]
        )


def test_auto_deployment_follows_accounts_into_and_out_of_the_ou(sandbox, aws, organization):
    cfn, org = aws("cloudformation"), aws("organizations")
    name = service_managed(aws)
    cfn.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": [organization["workloads"]]},
        Regions=["eu-west-1"],
    )

    # a new account created in the root and moved into the targeted OU gets the instance
    joined = org.create_account(Email="late@example.com", AccountName="late")["CreateAccountStatus"]["AccountId"]
    assert (joined, "eu-west-1") not in instances(cfn, name)
    org.move_account(AccountId=joined, SourceParentId=organization["root"], DestinationParentId=organization["team"])
    instance = instances(cfn, name)[(joined, "eu-west-1")]
    assert (instance["Status"], instance["OrganizationalUnitId"]) == ("CURRENT", organization["workloads"])
    assert (
        stack_of(account_client(sandbox, joined), "eu-west-1", instance["StackId"])["StackStatus"] == "CREATE_COMPLETE"
    )

    # moved out: its instance and stack go (RetainStacksOnAccountRemoval is false)
    org.move_account(AccountId=joined, SourceParentId=organization["team"], DestinationParentId=organization["other"])
    assert (joined, "eu-west-1") not in instances(cfn, name)
    assert (
        stack_of(account_client(sandbox, joined), "eu-west-1", instance["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    )
    operations = cfn.list_stack_set_operations(StackSetName=name)["Summaries"]
    assert [o["Action"] for o in operations] == ["DELETE", "CREATE", "CREATE"]


def test_delete_service_managed_instances_by_ou(aws, organization):
    cfn = aws("cloudformation")
    name = service_managed(aws)
    targets = {"OrganizationalUnitIds": [organization["workloads"]]}
    cfn.create_stack_instances(StackSetName=name, DeploymentTargets=targets, Regions=["us-east-1"])

    cfn.delete_stack_instances(StackSetName=name, DeploymentTargets=targets, Regions=["us-east-1"], RetainStacks=False)

    assert instances(cfn, name) == {}
    assert cfn.describe_stack_set(StackSetName=name)["StackSet"]["OrganizationalUnitIds"] == []
    cfn.delete_stack_set(StackSetName=name)

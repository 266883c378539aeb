"""Driving the real CLI against the local AWS endpoint (the sandbox on 127.0.0.1).

Fixtures (registered for every test module by tests/conftest.py): ``endpoint``, the sandbox of a
test module; ``aws``, the environment the CLI reads plus a boto3 factory on that endpoint.
Helpers: ``product`` (an example config of its own in ./ml/configs, with what its source and
network need and its permission boundary), ``create_boundary``, ``cli`` (the CLI in-process),
``stack`` (a stack's description).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
import yaml
from ml_provisioner_sandbox import start_sandbox
from typer.testing import CliRunner

from ml_provisioner.cli import app, spec_argv
from ml_provisioner.config.loader import load_config
from ml_provisioner.naming import Names
from ml_provisioner.policy.boundary import boundary_document
from tests.conftest import example

ACCOUNT = "123456789012"  # the account the endpoint emulates
_tenants = itertools.count(1)


@pytest.fixture(scope="module")
def endpoint():
    with start_sandbox(port=0) as sandbox:
        assert sandbox.url.startswith("http://127.0.0.1:")
        yield sandbox.url


@pytest.fixture
def aws(endpoint, monkeypatch, tmp_path):
    """Environment for the CLI and a boto3 factory for the test's own checks, both on the endpoint."""
    return on_endpoint(endpoint, "sandbox", monkeypatch, tmp_path)


def on_endpoint(url: str, access_key: str, monkeypatch, tmp_path):
    """Point the CLI at an emulator: its URL for every service, dummy credentials (access_key: an
    emulator may read an account from it), no profile or config file of the machine's, and
    tmp_path as the working directory. Returns a boto3 factory on the same URL."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", access_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.chdir(tmp_path)

    def client(service: str, region: str):
        return boto3.client(service, region_name=region, endpoint_url=url)

    return client


def product(
    fragment: str, aws_client, provision_source: bool = True, boundary: bool = True, **changes
) -> tuple[str, dict]:
    """An example config in ./ml/configs, in the endpoint's account, under a tenant of its own so
    that tests never share a stack, with what its source needs (unless provision_source is False)
    and the permission boundary an administrator creates (unless boundary is False).
    Returns (file name, config data)."""
    data = yaml.safe_load(example(fragment).read_text())
    data["client"]["account_id"] = ACCOUNT
    example_tenant, data["client"]["tenant_id"] = data["client"]["tenant_id"], f"t{next(_tenants):03d}"
    if "vpc_integration" in data:
        _provision_network(data, aws_client)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        data[section][key] = value
    if provision_source:
        _provision_source(data, aws_client)
    name = example(fragment).name.replace(f"-{example_tenant}-", f"-{data['client']['tenant_id']}-", 1)
    path = Path("ml/configs") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if boundary:
        create_boundary(path, aws_client)
    return name, data


def create_boundary(path: Path, aws_client) -> str:
    """What an administrator does once per product (bootstrap does it in its stack): the product's
    permission boundary at its fixed ARN, in the config's account. Returns the ARN."""
    names = Names(load_config(path).config)
    iam = administrator_client(aws_client, "iam", names.account, names.region)
    try:
        iam.create_policy(
            PolicyName=names.permission_boundary,
            Path=names.permission_boundary_path,
            PolicyDocument=json.dumps(boundary_document(names)),
        )
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    return names.permission_boundary_arn


def administrator_client(aws_client, service: str, account: str, region: str):
    """A client of an administrator of account (another account of the sandbox is reached as AWS
    would: through AssumeRole)."""
    if account == ACCOUNT:
        return aws_client(service, region)
    return in_account(account, "administrator", service, region, aws_client("sts", region).meta.endpoint_url)


def in_account(account: str, role: str, service: str, region: str, endpoint: str):
    """A client acting in another account of the sandbox, as AWS would give it: through AssumeRole."""
    credentials = boto3.client("sts", region_name=region, endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=f"test-{role}"
    )["Credentials"]
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _provision_source(data: dict, aws_client) -> None:
    """What the source needs before we deploy. codecommit: the account is an existing CodeCommit
    customer (it has a repository; CodeCommit creates no first one). codeconnections: a connection
    in the account and region (under the example's ARN prefix), its handshake completed."""
    region, source = data["environment"]["region"], data["ml_product"]
    if source["source_control"] == "codecommit":
        codecommit = aws_client("codecommit", region)
        if not codecommit.list_repositories()["repositories"]:
            codecommit.create_repository(repositoryName="existing-repository")
    elif source["source_control"] == "codeconnections":
        prefix = source["connection_arn"].split(":")[2]
        source["connection_arn"] = aws_client(prefix, region).create_connection(
            ProviderType="GitHub", ConnectionName=f"github-{data['client']['tenant_id']}"
        )["ConnectionArn"]


def _provision_network(data: dict, aws_client) -> None:
    """What an enterprise VPC offers before we deploy: a VPC, subnets, route tables (with the S3
    gateway endpoint a config that uses an existing one names), and the SSM parameters naming the
    VPC and the SG-provisioner's security group."""
    region = data["environment"]["region"]
    ec2 = aws_client("ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})  # private DNS needs it
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    tables = [ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"] for _ in subnets]
    for subnet, table in zip(subnets, tables, strict=True):  # each subnet routes through its table
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    group = ec2.create_security_group(GroupName=f"sgprov-{vpc_id}", Description="endpoints", VpcId=vpc_id)
    vpc = data["vpc_integration"]
    vpc["subnet_ids"] = subnets
    if vpc["vpc_source"] == "direct":
        vpc["vpc_id"] = vpc_id
    else:
        aws_client("ssm", region).put_parameter(
            Name=vpc["vpc_id_ssm_parameter"], Value=vpc_id, Type="String", Overwrite=True
        )
    if vpc.get("s3_gateway_endpoint_id"):  # another product's (or the landing zone's) gateway on the tables
        vpc["s3_gateway_endpoint_id"] = ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName=f"com.amazonaws.{region}.s3", VpcEndpointType="Gateway", RouteTableIds=tables
        )["VpcEndpoint"]["VpcEndpointId"]
    elif vpc["security_group_mode"] == "sgprov":
        vpc["route_table_ids"] = tables
        aws_client("ssm", region).put_parameter(
            Name=vpc["security_group_id_ssm_parameter"], Value=group["GroupId"], Type="String", Overwrite=True
        )


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, spec_argv(list(args)))
    return result.exit_code, result.stdout, result.stderr


def bucket_of(aws, stack_name: str, region: str) -> str:
    resources = aws("cloudformation", region).describe_stack_resources(StackName=stack_name)["StackResources"]
    return next(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::S3::Bucket")


def stack(aws, name: str, region: str) -> dict:
    return aws("cloudformation", region).describe_stacks(StackName=name)["Stacks"][0]


def deploy_without_asking(session, names, template: dict, *, allow_destructive: bool = False):
    """ml_provisioner.aws.lifecycle.deploy in this process, as deploy-product --force runs it,
    with nothing shown and no outputs expected: for tests of what it refuses."""
    from ml_provisioner.aws.lifecycle import deploy

    return deploy(
        session,
        names,
        template,
        json.dumps(template),
        expected_outputs=[],
        force=True,
        review=lambda _: None,
        confirm=lambda _: None,
        on_event=lambda _: None,
        allow_destructive=allow_destructive,
    )

"""The deploy preflight, against the sandbox's EC2: each VPC AWS would refuse the endpoints in is
found by read-only calls before any change set, with what was found and the field to change."""

from __future__ import annotations

import itertools

import boto3
import pytest
import yaml
from typer.testing import CliRunner

from ml_provisioner.aws.preflight import check_network
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.cli import app
from ml_provisioner.config.loader import load_config
from ml_provisioner.errors import BadInput
from ml_provisioner.naming import Names
from tests.conftest import example
from tests.support.sandbox import create_boundary

ACCOUNT = "123456789012"
REGION = "eu-west-1"  # the enterprise examples' region
_cidrs = itertools.count(1)


@pytest.fixture
def session(aws, endpoint) -> AwsSession:
    """The product's AWS session on the endpoint (the shared ``aws`` fixture sets the environment)."""
    return AwsSession(REGION, endpoint)


class Network:
    """A VPC of its own per test, as a landing zone would offer it (DNS on, two AZs, two tables)."""

    def __init__(self, ec2) -> None:
        self.ec2 = ec2
        octet = next(_cidrs)
        self.vpc_id = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=self.vpc_id, EnableDnsHostnames={"Value": True})
        self.subnets = [self.subnet(f"10.{octet}.{i}.0/24", f"{REGION}{zone}") for i, zone in ((1, "a"), (2, "b"))]
        self.tables = [ec2.create_route_table(VpcId=self.vpc_id)["RouteTable"]["RouteTableId"] for _ in (1, 2)]
        for subnet, table in zip(self.subnets, self.tables, strict=True):  # each subnet routes through its table
            ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)

    def subnet(self, cidr: str, zone: str, vpc_id: str | None = None) -> str:
        created = self.ec2.create_subnet(VpcId=vpc_id or self.vpc_id, CidrBlock=cidr, AvailabilityZone=zone)
        return created["Subnet"]["SubnetId"]

    def names(self, fragment: str, **vpc_changes) -> Names:
        data = yaml.safe_load(example(fragment).read_text())
        data["client"]["account_id"] = ACCOUNT
        vpc = data["vpc_integration"]
        vpc.update(vpc_id=self.vpc_id, subnet_ids=self.subnets)
        if vpc["security_group_mode"] == "sgprov":
            vpc["route_table_ids"] = self.tables
        vpc.update(vpc_changes)
        loaded = load_config(_write(data, example(fragment).name))
        return loaded.names()


def _write(data: dict, name: str):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def network(session) -> Network:
    return Network(session.client("ec2"))


def problems(session, names: Names) -> list[str]:
    with pytest.raises(BadInput) as refused:
        check_network(session, names)
    return [line.strip() for line in refused.value.message.splitlines()[1:]]


STANDALONE = "globalbank s3 standalone direct"
SGPROV = "globalbank codecommit sgprov direct"


def test_a_ready_vpc_passes(session, network):
    check_network(session, network.names(STANDALONE))
    check_network(session, network.names(SGPROV))


def test_missing_subnet_and_a_subnet_of_another_vpc(session, network):
    other = Network(session.client("ec2"))
    missing = "subnet-0123456789abcdef0"
    found = problems(session, network.names(STANDALONE, subnet_ids=[network.subnets[0], missing, other.subnets[1]]))
    assert found == [
        f"vpc_integration.subnet_ids: subnet {missing} does not exist",
        f"vpc_integration.subnet_ids: subnet {other.subnets[1]} is in {other.vpc_id}, not {network.vpc_id}",
    ]


def test_two_subnets_in_one_availability_zone(session, network):
    subnets = [network.subnets[0], network.subnet(_cidr_in(network), f"{REGION}a")]
    [found] = problems(session, network.names(STANDALONE, subnet_ids=subnets))
    assert found.startswith(f"vpc_integration.subnet_ids: {subnets[0]} and {subnets[1]} are both in {REGION}a")


def _cidr_in(network: Network) -> str:
    vpc = network.ec2.describe_vpcs(VpcIds=[network.vpc_id])["Vpcs"][0]["CidrBlock"]
    return vpc.replace(".0.0/16", ".9.0/24")


def test_private_dns_needs_dns_support_and_hostnames(session, network):
    network.ec2.modify_vpc_attribute(VpcId=network.vpc_id, EnableDnsHostnames={"Value": False})
    [found] = problems(session, network.names(STANDALONE))
    assert found.startswith(f"vpc_integration.private_dns: {network.vpc_id} has enableDnsHostnames off")
    assert "set private_dns: false" in found
    check_network(session, network.names(STANDALONE, private_dns=False))


def test_an_existing_endpoint_with_private_dns_for_our_service(session, network):
    existing = network.ec2.create_vpc_endpoint(
        VpcId=network.vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.sts",
        VpcEndpointType="Interface",
        SubnetIds=network.subnets,
        PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]
    [found] = problems(session, network.names(STANDALONE))
    assert found == (
        f"vpc_integration.private_dns: {network.vpc_id} already has {existing} with private DNS for "
        f"com.amazonaws.{REGION}.sts (AWS allows one); set private_dns: false"
    )
    check_network(session, network.names(STANDALONE, private_dns=False))


def test_a_route_table_that_already_has_an_s3_gateway_endpoint(session, network):
    existing = network.ec2.create_vpc_endpoint(
        VpcId=network.vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[network.tables[1]],
    )["VpcEndpoint"]["VpcEndpointId"]
    [found] = problems(session, network.names(SGPROV))
    assert found.startswith(
        f"vpc_integration.route_table_ids: {network.tables[1]} already has the S3 gateway endpoint {existing}"
    )
    assert found.endswith(f"or use that endpoint: s3_gateway_endpoint_id: {existing} in place of route_table_ids")
    # using it instead: it must route the product's every subnet
    [found] = problems(session, network.names(SGPROV, route_table_ids=[], s3_gateway_endpoint_id=existing))
    assert found == (
        f"vpc_integration.s3_gateway_endpoint_id: {existing} is not on route table {network.tables[0]} of subnet "
        f"{network.subnets[0]}: S3 from that subnet would not go through it"
    )
    network.ec2.modify_vpc_endpoint(VpcEndpointId=existing, AddRouteTableIds=[network.tables[0]])
    check_network(session, network.names(SGPROV, route_table_ids=[], s3_gateway_endpoint_id=existing))


def test_the_existing_s3_gateway_endpoint_must_be_one_live_in_the_vpc(session, network):
    missing = "vpce-0123456789abcdef0"
    [found] = problems(session, network.names(SGPROV, route_table_ids=[], s3_gateway_endpoint_id=missing))
    assert found == f"vpc_integration.s3_gateway_endpoint_id: {network.vpc_id} has no live endpoint {missing}"
    interface = network.ec2.create_vpc_endpoint(
        VpcId=network.vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Interface",
        SubnetIds=network.subnets,
        PrivateDnsEnabled=False,
    )["VpcEndpoint"]["VpcEndpointId"]
    [found] = problems(session, network.names(SGPROV, route_table_ids=[], s3_gateway_endpoint_id=interface))
    assert found == (
        f"vpc_integration.s3_gateway_endpoint_id: {interface} is an endpoint of type Interface for "
        f"com.amazonaws.{REGION}.s3, not an S3 gateway endpoint"
    )
    elsewhere = Network(session.client("ec2"))
    other_vpc = elsewhere.ec2.create_vpc_endpoint(
        VpcId=elsewhere.vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=elsewhere.tables,
    )["VpcEndpoint"]["VpcEndpointId"]
    [found] = problems(session, network.names(SGPROV, route_table_ids=[], s3_gateway_endpoint_id=other_vpc))
    assert found == f"vpc_integration.s3_gateway_endpoint_id: {network.vpc_id} has no live endpoint {other_vpc}"


@pytest.mark.synth
def test_deploy_product_refuses_before_any_change_set(session, network, endpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.chdir(tmp_path)
    network.ec2.modify_vpc_attribute(VpcId=network.vpc_id, EnableDnsHostnames={"Value": False})
    data = yaml.safe_load(example(STANDALONE).read_text())
    data["client"]["account_id"] = ACCOUNT
    data["client"]["tenant_id"] = "pre1"
    data["vpc_integration"].update(vpc_id=network.vpc_id, subnet_ids=network.subnets)
    config = tmp_path / example(STANDALONE).name.replace("-c001-", "-pre1-")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    create_boundary(config, lambda service, region: boto3.client(service, region_name=region, endpoint_url=endpoint))
    result = CliRunner().invoke(app, ["deploy-product", "--config", str(config), "--force"])
    assert result.exit_code == 2, result.output
    assert "vpc_integration.private_dns" in result.stderr and "enableDnsHostnames off" in result.stderr
    stacks = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint).list_stacks()
    assert load_config(config).names().stack_name not in [s["StackName"] for s in stacks["StackSummaries"]]

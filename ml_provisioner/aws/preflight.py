"""Deploy preflight (before_any_change_set: what deploys and plans check first, read-only). The
administrator's permission boundary (IAM GetPolicy): a product whose
roles would name a boundary that does not exist is refused before any change set, naming what
creates it. Then read-only EC2 (and SSM) calls that find, before any change set, what would make
AWS refuse the enterprise tier's VPC endpoints after CloudFormation has started: subnets that are
missing, outside the VPC or two in one AZ (DuplicateSubnetsInSameZone); private DNS in a VPC
without DNS support or hostnames; another endpoint that already has private DNS for one of our
services ("conflicting DNS domain"); a route table that already has an S3 gateway endpoint.

Each problem names what was found and the config field to change; all of them exit 2.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from ml_provisioner.aws.source_preflight import check_source
from ml_provisioner.config.models import EnterpriseConfig, VpcIntegration, VpcSource, deployed_vpc
from ml_provisioner.errors import BadInput
from ml_provisioner.naming import Names


def before_any_change_set(aws: Any, names: Names, notify: Callable[[str], None]) -> None:
    """What a deploy and a plan check first, read-only: the boundary, the source, the VPC."""
    outdated = check_boundary(aws, names)
    if outdated:
        notify(outdated)
    check_source(aws, names)
    check_network(aws, names)


def check_boundary(aws: Any, names: Names) -> str | None:
    """Refuse (BadInput, exit 2) a product whose permission boundary does not exist; a warning
    when it differs from the document this version writes (its roles may then lack a call)."""
    from ml_provisioner.policy.boundary import boundary_document

    iam = aws.client("iam")
    arn = names.permission_boundary_arn
    try:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        raise BadInput(
            f"the permission boundary {arn} does not exist: every role of {names.stack_name} must carry it, "
            "and only an administrator may create it",
            "an administrator runs ml-provisioner bootstrap <config file> --trust <deployer ARN> (it also makes the "
            "deployer role), or creates it by hand from the file create-policy writes "
            f"(policies/<config>-boundary.json) at path {names.permission_boundary_path} named "
            f"{names.permission_boundary}; nothing was deployed",
        ) from None
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    if isinstance(document, str):  # IAM sends it URL-encoded; boto3 decodes it, other clients may not
        document = json.loads(urllib.parse.unquote(document))
    if document != boundary_document(names):
        return (
            f"the permission boundary {arn} differs from the one this version of ml-provisioner writes: it may "
            "let the product's roles do more, or less, than this version expects. An administrator makes "
            "policies/<config>-boundary.json (create-policy writes it) its default version (aws iam "
            "create-policy-version --set-as-default), or re-runs bootstrap where bootstrap created it"
        )
    return None


INTERFACE_SERVICES = ("sagemaker.api", "sagemaker.runtime", "sts", "s3")
_LIVE = ("pendingAcceptance", "pending", "available")  # endpoint states that hold a DNS name or a route


def check_network(aws: Any, names: Names) -> None:
    """Refuse (BadInput, exit 2) a VPC the config's endpoints cannot be created in."""
    config = names.config
    if not isinstance(config, EnterpriseConfig):
        return
    vpc = deployed_vpc(config, names.is_test)
    problems: list[str] = []
    ec2 = aws.client("ec2")
    vpc_id = _vpc_id(aws, vpc, problems)
    if vpc_id:
        problems += _subnet_problems(ec2, vpc, vpc_id)
        own = _own_endpoints(aws, names)
        endpoints = [e for e in _endpoints(ec2, vpc_id) if e["VpcEndpointId"] not in own]
        if vpc.private_dns:
            problems += _dns_problems(ec2, vpc_id, names, endpoints)
        if vpc.route_table_ids:
            problems += _route_table_problems(ec2, vpc, names, endpoints)
        if vpc.s3_gateway_endpoint_id in own:
            problems.append(
                f"vpc_integration.s3_gateway_endpoint_id: {vpc.s3_gateway_endpoint_id} is this product's own S3 "
                "endpoint, which the deploy would remove; keep route_table_ids"
            )
        elif vpc.s3_gateway_endpoint_id:
            problems += _existing_gateway_problems(vpc.s3_gateway_endpoint_id, vpc_id, names, endpoints, ec2, vpc)
    if problems:
        raise BadInput(
            f"the VPC cannot take the endpoints of {names.stack_name}:\n  " + "\n  ".join(problems),
            "change the vpc_integration fields named above; nothing was deployed",
        )


def _vpc_id(aws: Any, vpc: VpcIntegration, problems: list[str]) -> str | None:
    if vpc.vpc_source is VpcSource.DIRECT:
        return vpc.vpc_id
    try:
        return str(aws.client("ssm").get_parameter(Name=vpc.vpc_id_ssm_parameter)["Parameter"]["Value"])
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        problems.append(f"vpc_integration.vpc_id_ssm_parameter: {vpc.vpc_id_ssm_parameter} does not exist")
        return None


def _subnet_problems(ec2: Any, vpc: VpcIntegration, vpc_id: str) -> list[str]:
    problems, found = [], {}
    for subnet_id in vpc.subnet_ids:  # one by one: a missing id fails the whole call
        try:
            [found[subnet_id]] = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
        except botocore.exceptions.ClientError as error:
            if "NotFound" not in error.response.get("Error", {}).get("Code", ""):
                raise
            problems.append(f"vpc_integration.subnet_ids: subnet {subnet_id} does not exist")
    zones: dict[str, list[str]] = {}
    for subnet_id, subnet in found.items():
        if subnet["VpcId"] != vpc_id:
            problems.append(f"vpc_integration.subnet_ids: subnet {subnet_id} is in {subnet['VpcId']}, not {vpc_id}")
        zones.setdefault(subnet["AvailabilityZone"], []).append(subnet_id)
    for zone, subnet_ids in zones.items():
        if len(subnet_ids) > 1:
            problems.append(
                f"vpc_integration.subnet_ids: {' and '.join(subnet_ids)} are both in {zone}; an "
                "endpoint takes one subnet per Availability Zone"
            )
    return problems


def _dns_problems(ec2: Any, vpc_id: str, names: Names, endpoints: list[dict[str, Any]]) -> list[str]:
    problems = []
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        key = attribute[0].upper() + attribute[1:]
        if not ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"]:
            problems.append(
                f"vpc_integration.private_dns: {vpc_id} has {attribute} off, which private DNS "
                "needs; turn it on, or set private_dns: false"
            )
    for endpoint in endpoints:
        service = _our_service(endpoint, names)
        if endpoint["VpcEndpointType"] == "Interface" and service and endpoint.get("PrivateDnsEnabled"):
            problems.append(
                f"vpc_integration.private_dns: {vpc_id} already has {endpoint['VpcEndpointId']} "
                f"with private DNS for {endpoint['ServiceName']} (AWS allows one); set private_dns: "
                "false"
            )
    return problems


def _route_table_problems(ec2: Any, vpc: VpcIntegration, names: Names, endpoints: list[dict[str, Any]]) -> list[str]:
    problems, wanted = [], set(vpc.route_table_ids)
    for table_id in vpc.route_table_ids:
        try:
            ec2.describe_route_tables(RouteTableIds=[table_id])
        except botocore.exceptions.ClientError as error:
            if "NotFound" not in error.response.get("Error", {}).get("Code", ""):
                raise
            problems.append(f"vpc_integration.route_table_ids: route table {table_id} does not exist")
    for endpoint in endpoints:
        if endpoint["VpcEndpointType"] == "Gateway" and _our_service(endpoint, names) == "s3":
            for table_id in sorted(wanted & set(endpoint.get("RouteTableIds", []))):
                problems.append(
                    f"vpc_integration.route_table_ids: {table_id} already has the S3 gateway "
                    f"endpoint {endpoint['VpcEndpointId']} (one per table); leave it out, or use that "
                    f"endpoint: s3_gateway_endpoint_id: {endpoint['VpcEndpointId']} in place of route_table_ids"
                )
    return problems


def _existing_gateway_problems(
    endpoint_id: str, vpc_id: str, names: Names, endpoints: list[dict[str, Any]], ec2: Any, vpc: VpcIntegration
) -> list[str]:
    """The S3 gateway endpoint the product uses instead of its own must be one, live, in the VPC,
    on the route table of each of the product's subnets (its own, else the VPC's main one)."""
    endpoint = next((e for e in endpoints if e["VpcEndpointId"] == endpoint_id), None)
    if endpoint is None:
        return [f"vpc_integration.s3_gateway_endpoint_id: {vpc_id} has no live endpoint {endpoint_id}"]
    kind, service = endpoint["VpcEndpointType"], endpoint["ServiceName"]
    if kind != "Gateway" or _our_service(endpoint, names) != "s3":
        return [
            f"vpc_integration.s3_gateway_endpoint_id: {endpoint_id} is an endpoint of type {kind} for {service}, "
            "not an S3 gateway endpoint"
        ]
    if not endpoint.get("RouteTableIds"):
        return [f"vpc_integration.s3_gateway_endpoint_id: {endpoint_id} is on no route table: it routes nothing"]
    routed = set(endpoint["RouteTableIds"])
    return [
        f"vpc_integration.s3_gateway_endpoint_id: {endpoint_id} is not on route table {table} of subnet "
        f"{subnet}: S3 from that subnet would not go through it"
        for subnet in vpc.subnet_ids
        if (table := _route_table_of(ec2, subnet, vpc_id)) and table not in routed
    ]


def _route_table_of(ec2: Any, subnet_id: str, vpc_id: str) -> str | None:
    """The route table a subnet uses: its own association, else the VPC's main table."""
    for filters in (
        [{"Name": "association.subnet-id", "Values": [subnet_id]}],
        [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}],
    ):
        tables = ec2.describe_route_tables(Filters=filters)["RouteTables"]
        if tables:
            return str(tables[0]["RouteTableId"])
    return None


def _endpoints(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [e for page in pages for e in page["VpcEndpoints"] if e.get("State", "available") in _LIVE]


def _own_endpoints(aws: Any, names: Names) -> set[str]:
    """The endpoints this product's stack already made (an update keeps them: no conflict)."""
    try:
        resources = aws.client("cloudformation").describe_stack_resources(StackName=names.stack_name)
    except botocore.exceptions.ClientError:
        return set()  # not deployed yet
    return {
        r.get("PhysicalResourceId", "")
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::EC2::VPCEndpoint"
    }


def _our_service(endpoint: dict[str, Any], names: Names) -> str | None:
    """Which of our services the endpoint serves (service names end in <region>.<service>)."""
    return next((s for s in INTERFACE_SERVICES if endpoint["ServiceName"].endswith(f".{names.region}.{s}")), None)

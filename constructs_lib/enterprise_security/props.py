"""What EnterpriseSecurity is built from (pure data)."""

from __future__ import annotations

from dataclasses import dataclass

from constructs_lib.names import ProductNames


@dataclass(frozen=True, kw_only=True)
class EndpointNetwork:
    """The existing VPC the endpoints go into, and who may reach them."""

    subnet_ids: tuple[str, ...]
    vpc_id: str | None = None  # None: CloudFormation reads it from vpc_id_ssm_parameter at deploy time
    vpc_id_ssm_parameter: str | None = None
    # The SG-provisioner's security group, read from SSM at deploy time; None: the stack creates one
    # open on 443 to endpoint_client_cidrs.
    security_group_id_ssm_parameter: str | None = None
    endpoint_client_cidrs: tuple[str, ...] = ()
    route_table_ids: tuple[str, ...] = ()  # with them S3 gets a gateway endpoint, else an interface one
    s3_gateway_endpoint_id: str | None = None  # the VPC's existing S3 gateway endpoint: no S3 endpoint of our own
    private_dns: bool = True


@dataclass(frozen=True, kw_only=True)
class EnterpriseSecurityProps:
    names: ProductNames
    network: EndpointNetwork
    alerts_email: str
    log_retention_days: int

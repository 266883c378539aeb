"""The product configuration as frozen pydantic models.

Pure data and rules: no file I/O, no AWS calls, no CDK objects. One model per tier, selected by
the ``tier`` field, so that a field a tier does not use is rejected instead of silently ignored.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from constructs_lib.names import Kind
from ml_provisioner.config.regions import partition_of, region_partitions
from ml_provisioner.identity import DELIMITER

# Values CloudWatch Logs accepts for RetentionInDays, from 90 days up (the product's floor).
LOG_RETENTION_CHOICES = (90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
DEFAULT_LOG_RETENTION_DAYS = 365


class Tier(StrEnum):
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


class SourceControl(StrEnum):
    CODECOMMIT = "codecommit"
    S3 = "s3"
    CODECONNECTIONS = "codeconnections"  # GitHub, GitLab, Bitbucket through an existing connection


class VpcSource(StrEnum):
    DIRECT = "direct"  # the VPC id is written in the config
    SSM = "ssm"  # the VPC id is read from an SSM parameter by CloudFormation at deploy time


class SecurityGroupMode(StrEnum):
    STANDALONE = "standalone"  # the stack creates the endpoints' security group
    SGPROV = "sgprov"  # the SG-provisioner's security group, id read from SSM at deploy time


class ConfigRuleError(ValueError):
    """A rule spanning several fields, reported against the one field the user should change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# Lowercase letters, digits and single hyphens: safe inside every AWS name this product derives.
_WORDS = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
CompanyPrefix = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[a-z][a-z0-9]*$")]
TenantId = Annotated[str, StringConstraints(min_length=1, max_length=8, pattern=r"^[a-z0-9]+$")]
EnvironmentName = Annotated[str, StringConstraints(min_length=1, max_length=10, pattern=r"^[a-z][a-z0-9]*$")]
UseCase = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_WORDS)]
Workload = Annotated[str, StringConstraints(min_length=1, max_length=12, pattern=_WORDS)]


TagValue = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[\w .:/=+\-@]+$", strip_whitespace=True)
]
SsmParameterName = Annotated[str, StringConstraints(min_length=2, max_length=1011, pattern=r"^/[a-zA-Z0-9_.\-/]+$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, use_enum_values=False)


class Client(Frozen):
    company_name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)] = Field(
        description="The client's name as people write it; shown in the review report."
    )
    company_prefix: CompanyPrefix = Field(
        description="Lowercase letters and digits, starting with a letter; leads every physical name."
    )
    account_id: Annotated[str, StringConstraints(pattern=r"^\d{12}$")] = Field(
        description='The 12-digit AWS account id, quoted in YAML ("012345678901").'
    )
    tenant_id: TenantId = Field(description="Lowercase letters and digits, up to 8.")

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_id_is_a_string(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError('must be a quoted 12-digit string, e.g. "123456789012" (YAML read a number)')
        return value


class Environment(Frozen):
    name: EnvironmentName = Field(description="e.g. dev, test, prod")
    region: str = Field(description="An AWS region code, e.g. us-west-2.")

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in region_partitions():
            raise ValueError(f"{value!r} is not an AWS region; e.g. us-east-1, us-west-2, eu-west-1")
        return value

    @property
    def is_production(self) -> bool:
        return self.name in ("prod", "prd", "production")


# A connection of AWS CodeConnections, under its current prefix or the legacy CodeStar one.
CONNECTION_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<service>codeconnections|codestar-connections):"
    r"(?P<region>[a-z0-9-]+):(?P<account>\d{12}):connection/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)
# owner/repository (GitLab: group/subgroup/.../repository), as the provider spells it.
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
# A git branch name, within what git accepts (git check-ref-format), without exotic characters.
BRANCH = re.compile(r"^(?![-/.])(?!.*(\.\.|//|/\.|@\{))[A-Za-z0-9._/@+-]+(?<![/.])(?<!\.lock)$")
CONNECTION_FIELDS = ("connection_arn", "build_repository", "deploy_repository", "branch")


class MlProduct(Frozen):
    use_case: UseCase = Field(description="Lowercase words joined by hyphens, e.g. customer-churn.")
    source_control: SourceControl = Field(
        description="codecommit: model-build and model-deploy repositories; s3: source archives in the "
        "artifacts bucket (source/model-build.zip, source/model-deploy.zip); codeconnections: repositories "
        "on GitHub, GitLab or Bitbucket through an existing AWS CodeConnections connection."
    )
    workload: Workload | None = Field(
        default=None, description="Optional discriminator for several products of one use case."
    )
    connection_arn: str | None = Field(
        default=None,
        description="codeconnections only: the ARN of an existing connection (arn:<partition>:codeconnections: "
        "or the legacy codestar-connections:) in the config's account and region.",
        max_length=256,
    )
    build_repository: str | None = Field(
        default=None, description="codeconnections only: the model-build repository, owner/repo.", max_length=200
    )
    deploy_repository: str | None = Field(
        default=None, description="codeconnections only: the model-deploy repository, owner/repo.", max_length=200
    )
    branch: str | None = Field(
        default=None, description="codeconnections only: the branch whose pushes run the pipelines.", max_length=255
    )
    seed_code: bool = Field(
        default=True,
        description="Start the sources with working seed code (a SageMaker pipeline that trains and registers a "
        "model; a deploy of the newest approved version), on the product's first deploy only: s3, the two archives "
        "in the bucket; codecommit, each repository's first commit. false: the sources start empty. "
        "codeconnections: `ml-provisioner seed-code` writes the folders to push.",
    )

    @field_validator("use_case", "workload", mode="before")
    @classmethod
    def _no_delimiter(cls, value: object) -> object:
        if isinstance(value, str) and DELIMITER in value:
            raise ValueError(
                f"must not contain {DELIMITER!r}: it separates the product id from what follows it in names"
            )
        return value

    @field_validator("connection_arn")
    @classmethod
    def _connection_arn(cls, value: str | None) -> str | None:
        if value is not None and not CONNECTION_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a connection ARN; expected "
                "arn:aws:codeconnections:<region>:<account>:connection/<id> (or codestar-connections)"
            )
        return value

    @field_validator("build_repository", "deploy_repository")
    @classmethod
    def _owner_and_repository(cls, value: str | None) -> str | None:
        if value is not None and not REPOSITORY.match(value):
            raise ValueError(f"{value!r} must be owner/repository as the provider shows it, e.g. acme/churn-model")
        return value

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str | None) -> str | None:
        if value is not None and not BRANCH.match(value):
            raise ValueError(f"{value!r} is not a git branch name such as main or release/2024")
        return value

    @model_validator(mode="after")
    def _connection_fields_with_codeconnections(self) -> MlProduct:
        if self.source_control is SourceControl.CODECONNECTIONS:
            for name in CONNECTION_FIELDS:
                if getattr(self, name) is None:
                    raise ConfigRuleError(name, "is required when source_control is codeconnections")
            if self.build_repository == self.deploy_repository:
                raise ConfigRuleError(
                    "deploy_repository",
                    "must differ from build_repository (each pipeline runs on pushes to its own repository)",
                )
        else:
            for name in CONNECTION_FIELDS:
                if getattr(self, name) is not None:
                    raise ConfigRuleError(name, "is only allowed when source_control is codeconnections")
        return self

    @property
    def connection_service(self) -> str | None:
        """The IAM service prefix of the connection's ARN (codeconnections or codestar-connections):
        IAM authorizes a connection only under its own prefix's actions."""
        match = CONNECTION_ARN.match(self.connection_arn or "")
        return match.group("service") if match else None

    def repository(self, kind: Kind) -> str:
        """The build or deploy repository of a codeconnections source (owner/repo)."""
        repository = self.build_repository if kind == "build" else self.deploy_repository
        assert repository, "only a codeconnections source has repositories of its own"
        return repository


class Tags(Frozen):
    cost_center: TagValue = Field(description="Tag CostCenter on every taggable resource.")
    project: TagValue = Field(description="Tag Project on every taggable resource.")
    owner: TagValue = Field(description="Tag Owner on every taggable resource.")


class Monitoring(Frozen):
    alerts_email: Email = Field(description="Receives the security alarm notifications.")
    log_retention_days: int = Field(
        default=DEFAULT_LOG_RETENTION_DAYS,
        description="Days to keep logs and build logs; one of CloudWatch Logs' values, at least 90.",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention_value(cls, value: int) -> int:
        if value not in LOG_RETENTION_CHOICES:
            allowed = ", ".join(map(str, LOG_RETENTION_CHOICES))
            raise ValueError(f"{value} is not allowed; use one of {allowed}")
        return value


VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")]
RouteTableId = Annotated[str, StringConstraints(pattern=r"^rtb-[0-9a-f]{8}([0-9a-f]{9})?$")]
VpcEndpointId = Annotated[str, StringConstraints(pattern=r"^vpce-[0-9a-f]{8}([0-9a-f]{9})?$")]


class VpcIntegration(Frozen):
    vpc_source: VpcSource = Field(
        description="direct: vpc_id is in this file; ssm: CloudFormation reads it from vpc_id_ssm_parameter."
    )
    vpc_id: VpcId | None = Field(default=None, description="Required when vpc_source is direct.")
    vpc_id_ssm_parameter: SsmParameterName | None = Field(
        default=None, description="SSM parameter holding the VPC id; required when vpc_source is ssm."
    )
    subnet_ids: list[SubnetId] = Field(description="At least two distinct subnets for the endpoints.")
    security_group_mode: SecurityGroupMode = Field(
        description="standalone: the stack creates the endpoints' security group; sgprov: the SG-provisioner's "
        "group, read from security_group_id_ssm_parameter."
    )
    security_group_id_ssm_parameter: SsmParameterName | None = Field(
        default=None,
        description="SSM parameter holding the SG-provisioner's security group id; required for sgprov.",
    )
    route_table_ids: list[RouteTableId] = Field(
        default_factory=list,
        description="Route tables for the product's own S3 gateway endpoint; sgprov needs them or "
        "s3_gateway_endpoint_id. Without either (standalone only) S3 is reached through an interface "
        "endpoint in the subnets.",
    )
    s3_gateway_endpoint_id: VpcEndpointId | None = Field(
        default=None,
        description="An S3 gateway endpoint the VPC's route tables already have (another product's, the "
        "landing zone's): the product uses it and creates no S3 endpoint of its own (AWS allows one per "
        "route table). Instead of route_table_ids; its policy must allow the account's principals.",
    )
    endpoint_client_cidrs: list[str] = Field(
        default_factory=list,
        description="Private CIDRs allowed to reach the endpoints on 443; required for standalone.",
    )
    private_dns: bool = Field(
        default=True,
        description="Give the interface endpoints private DNS (the services' public names resolve to them "
        "in the VPC). Set false when the VPC already has endpoints with private DNS for SageMaker, STS or "
        "S3 (another product, the landing zone): AWS allows one per name and VPC.",
    )

    @field_validator("subnet_ids")
    @classmethod
    def _two_distinct_subnets(cls, value: list[str]) -> list[str]:
        if len(set(value)) < 2:
            raise ValueError("needs at least two distinct subnet ids (endpoints span two AZs)")
        if len(set(value)) != len(value):
            raise ValueError("lists a subnet id twice")
        return value

    @field_validator("route_table_ids")
    @classmethod
    def _distinct_route_tables(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a route table id twice")
        return value

    @field_validator("endpoint_client_cidrs")
    @classmethod
    def _private_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.IPv4Network(cidr)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IPv4 CIDR block such as 10.0.0.0/16") from None
            if not network.is_private:
                raise ValueError(f"{cidr} is not a private range; endpoints are never opened to the internet")
        return value

    @model_validator(mode="after")
    def _modes_have_their_fields(self) -> VpcIntegration:
        if self.route_table_ids and self.s3_gateway_endpoint_id:
            raise ConfigRuleError(
                "s3_gateway_endpoint_id",
                "does not go with route_table_ids: give route_table_ids for an S3 gateway endpoint of the "
                "product's own, or s3_gateway_endpoint_id to use an existing one",
            )
        if self.vpc_source is VpcSource.DIRECT:
            if not self.vpc_id:
                raise ConfigRuleError("vpc_id", "is required when vpc_source is direct")
            if self.vpc_id_ssm_parameter:
                raise ConfigRuleError("vpc_id_ssm_parameter", "is only allowed when vpc_source is ssm")
        else:
            if not self.vpc_id_ssm_parameter:
                raise ConfigRuleError("vpc_id_ssm_parameter", "is required when vpc_source is ssm")
            if self.vpc_id:
                raise ConfigRuleError("vpc_id", "is only allowed when vpc_source is direct")
        if self.security_group_mode is SecurityGroupMode.SGPROV:
            if not self.security_group_id_ssm_parameter:
                raise ConfigRuleError(
                    "security_group_id_ssm_parameter", "is required when security_group_mode is sgprov"
                )
            if not self.route_table_ids and not self.s3_gateway_endpoint_id:
                raise ConfigRuleError(
                    "route_table_ids",
                    "is required when security_group_mode is sgprov (or s3_gateway_endpoint_id, to use the "
                    "VPC's existing S3 gateway endpoint)",
                )
            if self.endpoint_client_cidrs:
                raise ConfigRuleError(
                    "endpoint_client_cidrs",
                    "is only allowed in standalone mode (the SG-provisioner owns the rules in sgprov)",
                )
        else:
            if self.security_group_id_ssm_parameter:
                raise ConfigRuleError(
                    "security_group_id_ssm_parameter", "is only allowed when security_group_mode is sgprov"
                )
            if not self.endpoint_client_cidrs:
                raise ConfigRuleError(
                    "endpoint_client_cidrs",
                    "is required when security_group_mode is standalone (who may reach the endpoints)",
                )
        return self


# An IAM role: arn:<partition>:iam::<account>:role/<optional path/>name (IAM's name and path characters).
ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$"
)
# The environment variables that name the role (and its external id) instead of the config.
ROLE_ENV = "ML_PROVISIONER_ROLE_ARN"
EXTERNAL_ID_ENV = "ML_PROVISIONER_EXTERNAL_ID"
ExternalId = Annotated[str, StringConstraints(min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$")]


class Deployment(Frozen):
    role_arn: str | None = Field(
        default=None,
        description="The IAM role to deploy through, in the config's account and partition: ml-provisioner "
        "assumes it from your credentials (profile, SSO, environment, instance role). `ml-provisioner "
        "bootstrap` creates one per product.",
        max_length=2048,
    )
    external_id: ExternalId | None = Field(
        default=None, description="The external id the role's trust policy requires, if any."
    )

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN.match(value):
            raise ValueError(f"{value!r} is not an IAM role ARN; expected arn:aws:iam::<account>:role/<name>")
        return value

    @model_validator(mode="after")
    def _external_id_with_a_role(self) -> Deployment:
        if self.external_id and not self.role_arn:
            raise ConfigRuleError("external_id", "is only allowed with role_arn (it is sent when assuming the role)")
        return self


def role_arn_problem(role_arn: str, account: str, region: str) -> str | None:
    """Why a role cannot deploy a product of this account and region (None: it can)."""
    match = ROLE_ARN.match(role_arn)
    if not match:
        return f"{role_arn!r} is not an IAM role ARN; expected arn:{partition_of(region)}:iam::{account}:role/<name>"
    for part, expected in (("account", account), ("partition", partition_of(region))):
        if match.group(part) != expected:
            return (
                f"is in {part} {match.group(part)}; the config's {part} is {expected} "
                "(a product is deployed through a role of its own account)"
            )
    return None


class _ProductBase(Frozen):
    client: Client
    environment: Environment
    ml_product: MlProduct
    tags: Tags
    deployment: Deployment | None = Field(default=None, description="How ml-provisioner reaches the account.")

    @model_validator(mode="after")
    def _connection_in_this_account_and_region(self) -> _ProductBase:
        """A pipeline can use a connection of its own account and region only."""
        match = CONNECTION_ARN.match(self.ml_product.connection_arn or "")
        if match:
            region, account = self.environment.region, self.client.account_id
            found = {"partition": partition_of(region), "region": region, "account": account}
            for part, expected in found.items():
                if match.group(part) != expected:
                    raise ConfigRuleError(
                        "ml_product.connection_arn",
                        f"is in {part} {match.group(part)}; the config's {part} is {expected} "
                        "(a pipeline can only use a connection of its own account and region)",
                    )
        role_arn = self.deployment.role_arn if self.deployment else None
        problem = role_arn and role_arn_problem(role_arn, self.client.account_id, self.environment.region)
        if problem:
            raise ConfigRuleError("deployment.role_arn", problem)
        return self


class StarterConfig(_ProductBase):
    tier: Literal[Tier.STARTER]


class ProfessionalConfig(_ProductBase):
    tier: Literal[Tier.PROFESSIONAL]
    monitoring: Monitoring


class EnterpriseConfig(_ProductBase):
    tier: Literal[Tier.ENTERPRISE]
    monitoring: Monitoring
    vpc_integration: VpcIntegration


ProductConfig = Annotated[StarterConfig | ProfessionalConfig | EnterpriseConfig, Field(discriminator="tier")]


def deployed_vpc(config: EnterpriseConfig, test_deployment: bool) -> VpcIntegration:
    """What a deployment puts into the VPC. A test deployment sits beside the deployed product's
    endpoints: AWS allows one private-DNS interface endpoint per service in a VPC and one S3
    gateway endpoint per route table, so its endpoints have no private DNS and its S3 endpoint is an
    interface endpoint (the same count of resources; they answer at their own DNS names)."""
    vpc = config.vpc_integration
    return vpc.model_copy(update={"private_dns": False, "route_table_ids": []}) if test_deployment else vpc

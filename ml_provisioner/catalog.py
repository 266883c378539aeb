"""What each tier creates, as data: list-products and show-product read this without starting CDK.

A test synthesizes every example config and checks this catalog against the real template, so
the table a user reads before deploying is the inventory they get.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ml_provisioner.config.models import (
    EnterpriseConfig,
    ProductConfig,
    SecurityGroupMode,
    SourceControl,
    Tier,
)
from ml_provisioner.naming import Names

TIER_ORDER = (Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE)


@dataclass(frozen=True)
class TierInfo:
    tier: Tier
    token: str  # the company prefix of the tier's example configs
    use: str
    network: str
    iam: str
    counts: str  # resources (codecommit / s3 or codeconnections), TLS-only bucket policy not counted


TIERS = {
    Tier.STARTER: TierInfo(
        Tier.STARTER, "techcorp", "Sandbox & PoC", "Default AWS VPC", "Standard + permission boundary", "13 / 10"
    ),
    Tier.PROFESSIONAL: TierInfo(
        Tier.PROFESSIONAL,
        "edge",
        "Team development",
        "Default AWS VPC",
        "Strict automated (managed policies) + permission boundary",
        "19 / 16",
    ),
    Tier.ENTERPRISE: TierInfo(
        Tier.ENTERPRISE,
        "globalbank",
        "Production workloads",
        "Existing custom VPC (endpoints)",
        "Strict + permission boundary",
        "38-40 / 35-37",
    ),
}


@dataclass(frozen=True)
class Resource:
    construct: str
    type: str
    purpose: str
    physical_name: str  # "(generated)" where CloudFormation names it


@dataclass(frozen=True)
class _Entry:
    tier: Tier  # the lowest tier that has it
    construct: str
    type: str
    purpose: str
    name: Callable[[Names], str]
    when: Callable[[ProductConfig], bool] = lambda config: True


def _codecommit(config: ProductConfig) -> bool:
    return config.ml_product.source_control is SourceControl.CODECOMMIT


def _own_s3_endpoint(config: ProductConfig) -> bool:
    """The product creates its S3 endpoint, unless it uses the VPC's existing gateway endpoint."""
    return isinstance(config, EnterpriseConfig) and not config.vpc_integration.s3_gateway_endpoint_id


def _standalone(config: ProductConfig) -> bool:
    return (
        isinstance(config, EnterpriseConfig)
        and config.vpc_integration.security_group_mode is SecurityGroupMode.STANDALONE
    )


def _generated(names: Names) -> str:
    return f"(generated, IAM path {names.iam_path})"


def _ssm(output: str) -> Callable[[Names], str]:
    return lambda names: names.ssm_parameter(output)


S, P, E = Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE
_ENTRIES = (
    _Entry(S, "StarterCore", "AWS::SageMaker::ModelPackageGroup", "Model registry", lambda n: n.model_package_group),
    _Entry(
        S,
        "StarterCore",
        "AWS::CodeCommit::Repository",
        "model-build repository",
        lambda n: n.repository("build"),
        _codecommit,
    ),
    _Entry(
        S,
        "StarterCore",
        "AWS::CodeCommit::Repository",
        "model-deploy repository",
        lambda n: n.repository("deploy"),
        _codecommit,
    ),
    _Entry(S, "StarterCore", "AWS::CodeBuild::Project", "build project", lambda n: n.codebuild_project("build")),
    _Entry(S, "StarterCore", "AWS::CodeBuild::Project", "deploy project", lambda n: n.codebuild_project("deploy")),
    _Entry(S, "StarterCore", "AWS::CodePipeline::Pipeline", "build pipeline", lambda n: n.pipeline("build")),
    _Entry(S, "StarterCore", "AWS::CodePipeline::Pipeline", "deploy pipeline", lambda n: n.pipeline("deploy")),
    _Entry(S, "StarterCore", "AWS::IAM::Role", "CodeBuild role", _generated),
    _Entry(S, "StarterCore", "AWS::IAM::Role", "pipeline role", _generated),
    _Entry(S, "StarterCore", "AWS::IAM::Role", "SageMaker execution role", _generated),
    _Entry(S, "StarterCore", "AWS::S3::Bucket", "artifacts bucket (and S3 source)", lambda n: n.artifacts_bucket),
    _Entry(
        S, "StarterCore", "AWS::S3::BucketPolicy", "TLS-only bucket policy (not counted)", lambda n: n.artifacts_bucket
    ),
    _Entry(S, "StarterCore", "AWS::SSM::Parameter", "output ModelPackageGroupArn", _ssm("ModelPackageGroupArn")),
    _Entry(S, "StarterCore", "AWS::SSM::Parameter", "output RepositoryUrl", _ssm("RepositoryUrl"), _codecommit),
    _Entry(
        P, "ProfessionalAddons", "AWS::Events::Rule", "model approved -> deploy pipeline", lambda n: n.approval_rule
    ),
    _Entry(P, "ProfessionalAddons", "AWS::CloudWatch::Dashboard", "dashboard", lambda n: n.dashboard),
    _Entry(P, "ProfessionalAddons", "AWS::IAM::ManagedPolicy", "build policy", _generated),
    _Entry(P, "ProfessionalAddons", "AWS::IAM::ManagedPolicy", "deploy policy", _generated),
    _Entry(P, "ProfessionalAddons", "AWS::SSM::Parameter", "output BucketName", _ssm("BucketName")),
    _Entry(P, "ProfessionalAddons", "AWS::SSM::Parameter", "output DashboardName", _ssm("DashboardName")),
    _Entry(E, "EnterpriseSecurity", "AWS::KMS::Key", "encryption key (rotating)", lambda n: "(generated id)"),
    _Entry(E, "EnterpriseSecurity", "AWS::KMS::Alias", "key alias", lambda n: n.kms_alias),
    *(
        _Entry(E, "EnterpriseSecurity", "AWS::EC2::VPCEndpoint", f"VPC endpoint {service}", lambda n: "(generated id)")
        for service in ("sagemaker.api", "sagemaker.runtime")
    ),
    _Entry(
        E,
        "EnterpriseSecurity",
        "AWS::EC2::VPCEndpoint",
        "VPC endpoint s3",
        lambda n: "(generated id)",
        _own_s3_endpoint,
    ),
    _Entry(E, "EnterpriseSecurity", "AWS::EC2::VPCEndpoint", "VPC endpoint sts", lambda n: "(generated id)"),
    _Entry(
        E,
        "EnterpriseSecurity",
        "AWS::EC2::SecurityGroup",
        "endpoint security group",
        lambda n: n.endpoint_security_group,
        _standalone,
    ),
    _Entry(E, "EnterpriseSecurity", "AWS::Logs::LogGroup", "compliance log group", lambda n: n.compliance_log_group),
    _Entry(
        E, "EnterpriseSecurity", "AWS::Logs::MetricFilter", "access-denied filter", lambda n: n.alarm("access-denied")
    ),
    _Entry(
        E, "EnterpriseSecurity", "AWS::Logs::MetricFilter", "build-failures filter", lambda n: n.alarm("build-failures")
    ),
    _Entry(
        E, "EnterpriseSecurity", "AWS::CloudWatch::Alarm", "access-denied alarm", lambda n: n.alarm("access-denied")
    ),
    _Entry(
        E, "EnterpriseSecurity", "AWS::CloudWatch::Alarm", "build-failures alarm", lambda n: n.alarm("build-failures")
    ),
    _Entry(E, "EnterpriseSecurity", "AWS::SNS::Topic", "security alerts topic", lambda n: n.alerts_topic),
    _Entry(E, "EnterpriseSecurity", "AWS::SNS::Subscription", "alerts email subscription", lambda n: "(alerts_email)"),
    *(
        _Entry(E, "EnterpriseSecurity", "AWS::SSM::Parameter", f"output {output}", _ssm(output))
        for output in (
            "KmsKeyArn",
            "LogGroupName",
            "VpcEndpointIdSagemakerApi",
            "VpcEndpointIdSagemakerRuntime",
            "VpcEndpointIdS3",
            "VpcEndpointIdSts",
        )
    ),
    _Entry(
        E, "EnterpriseSecurity", "AWS::SSM::Parameter", "output SecurityGroupId", _ssm("SecurityGroupId"), _standalone
    ),
)


def resources_for(config: ProductConfig, names: Names | None = None) -> list[Resource]:
    """Every resource the config's stack will contain, in stack order."""
    names = names or Names(config)
    rank = TIER_ORDER.index(config.tier)
    return [
        Resource(entry.construct, entry.type, entry.purpose, entry.name(names))
        for entry in _ENTRIES
        if TIER_ORDER.index(entry.tier) <= rank and entry.when(config)
    ]


def fixed_name_types(config: ProductConfig) -> frozenset[str]:
    """The resource types to which the config's stack gives a physical name (not generated ones).
    A bucket policy is named by its bucket, not by a name of its own: replaced, it attaches to the
    new bucket, and nothing clashes."""
    return frozenset(
        r.type
        for r in resources_for(config)
        if not r.physical_name.startswith("(") and r.type != "AWS::S3::BucketPolicy"
    )


def counted(resources: list[Resource]) -> int:
    """The tier matrix's resource count: everything but the TLS-only bucket policy."""
    return sum(1 for r in resources if r.type != "AWS::S3::BucketPolicy")


def ssm_outputs(config: ProductConfig) -> list[str]:
    return [r.purpose.removeprefix("output ") for r in resources_for(config) if r.type == "AWS::SSM::Parameter"]

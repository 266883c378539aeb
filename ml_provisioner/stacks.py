"""One CloudFormation stack class per tier, composed from the constructs_lib L3 constructs.

Each stack builds StarterCore first (the template lists it first) with everything the tiers
above add to it in its props, then the tiers' constructs. What StarterCore gets from a construct
built after it (the key, the log group, the outputs) is a value resolved when the template is
rendered (constructs_lib._iam.resolved_later).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import ClassVar

from aws_cdk import CfnOutput, Environment, LegacyStackSynthesizer, Stack, Tags
from constructs import Construct

from constructs_lib._iam import resolved_later
from constructs_lib.enterprise_security import EndpointNetwork, EnterpriseSecurityProps
from constructs_lib.enterprise_security import policies as enterprise
from constructs_lib.professional_addons import policies as professional
from constructs_lib.professional_addons.props import ProfessionalAddonsProps
from constructs_lib.starter_core import (
    Connection,
    InitialCommit,
    LogDestination,
    Source,
    StarterCore,
    StarterCoreProps,
)
from constructs_lib.starter_core.props import SourceControl as SourceControlName
from ml_provisioner import seed, staging
from ml_provisioner.config.models import (
    EnterpriseConfig,
    MlProduct,
    ProductConfig,
    ProfessionalConfig,
    SecurityGroupMode,
    SourceControl,
    StarterConfig,
    Tier,
    VpcIntegration,
    deployed_vpc,
)
from ml_provisioner.config.regions import console_url
from ml_provisioner.naming import Names


class ProductStack(Stack):
    """What every tier's stack shares: environment, tags, description, StarterCore, outputs."""

    tier_title: ClassVar[str] = ""
    config: ProductConfig  # each tier's stack takes its own tier's config

    def __init__(self, scope: Construct, construct_id: str, config: ProductConfig, names: Names) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=names.stack_name,
            env=Environment(account=names.account, region=names.region),
            description=f"ML Provisioner {self.tier_title} tier: ML product {names.deployment_id}"
            + (" (test deployment)" if names.is_test else ""),
            # Asset-free stacks deploy with the caller's credentials: no CDK bootstrap needed.
            synthesizer=LegacyStackSynthesizer(),
            termination_protection=config.environment.is_production and not names.is_test,
            analytics_reporting=False,
        )
        self.config, self.names = config, names
        tags = Tags.of(self)
        for key, value in names.tags.items():
            tags.add(key, value)
        self.core = StarterCore(self, "StarterCore", props=self.core_props())
        self.compose()
        self.export_outputs()

    def core_props(self) -> StarterCoreProps:
        """StarterCore's props, with what this tier adds to it."""
        product, names = self.config.ml_product, self.names
        seeded = product.source_control is SourceControl.CODECOMMIT and product.seed_code
        return StarterCoreProps(
            names=names,
            source=source_of(product),
            initial_commits={
                kind: InitialCommit(
                    bucket=staging.staging_bucket(names), key=staging.seed_archive_key(names, kind, archive)
                )
                for kind, archive in seed.archives(names).items()
            }
            if seeded
            else {},
        )

    def compose(self) -> None:
        """The tier's constructs, after StarterCore (each tier adds to the one below)."""

    def export_outputs(self) -> None:
        """Mirror every SSM output as a stack output, so deploy can read them back and compare."""
        for output, published in sorted(self.core.outputs.items()):
            CfnOutput(self, output, value=published.value, description=f"Also in SSM at {published.name}")


class StarterStack(ProductStack):
    tier_title = "Starter"

    def __init__(self, scope: Construct, construct_id: str, config: StarterConfig, names: Names) -> None:
        super().__init__(scope, construct_id, config, names)


class ProfessionalStack(ProductStack):
    tier_title = "Professional"
    config: ProfessionalConfig | EnterpriseConfig

    def __init__(
        self, scope: Construct, construct_id: str, config: ProfessionalConfig | EnterpriseConfig, names: Names
    ) -> None:
        super().__init__(scope, construct_id, config, names)

    def core_props(self) -> StarterCoreProps:
        n = self.names
        return replace(
            super().core_props(),
            codebuild_policies_managed=True,
            build_log_retention_days=self.config.monitoring.log_retention_days,
            pipeline_trust=(professional.approval_trigger_trust(n),),
            pipeline_grants=(professional.deploy_on_approval(n),),
            outputs=outputs_resolved_later(professional.OUTPUT_NAMES, lambda: self.addons.outputs),
        )

    def compose(self) -> None:
        from constructs_lib.professional_addons.construct import ProfessionalAddons  # loaded by the tiers using it

        self.addons = ProfessionalAddons(
            self,
            "ProfessionalAddons",
            core=self.core,
            props=ProfessionalAddonsProps(
                names=self.names,
                alerts_email=self.config.monitoring.alerts_email,
                console_url=console_url(self.names.region),
            ),
        )


class EnterpriseStack(ProfessionalStack):
    tier_title = "Enterprise"
    config: EnterpriseConfig

    def __init__(self, scope: Construct, construct_id: str, config: EnterpriseConfig, names: Names) -> None:
        super().__init__(scope, construct_id, config, names)

    def core_props(self) -> StarterCoreProps:
        props = super().core_props()
        subnets = tuple(deployed_vpc(self.config, self.names.is_test).subnet_ids)
        outputs = enterprise.output_names(
            creates_security_group=self.config.vpc_integration.security_group_mode is SecurityGroupMode.STANDALONE
        )
        return replace(
            props,
            kms_key_arn=resolved_later(lambda: self.security.key.attr_arn),
            build_logs=LogDestination(
                group_ref=resolved_later(lambda: self.security.log_group.ref),
                group_name=self.names.compliance_log_group,
            ),
            outputs={**props.outputs, **outputs_resolved_later(outputs, lambda: self.security.outputs)},
            # SageMaker jobs and models of the builds use the product's key and run in its subnets
            build_variables={
                "KMS_KEY_ARN": resolved_later(lambda: self.security.key.attr_arn),
                "SUBNET_IDS": ",".join(subnets),
                "SECURITY_GROUP_IDS": resolved_later(lambda: self.security.security_group_id),
            },
            job_subnets=subnets,
        )

    def compose(self) -> None:
        super().compose()
        from constructs_lib.enterprise_security.construct import EnterpriseSecurity  # loaded by the tier using it

        monitoring = self.config.monitoring
        self.security = EnterpriseSecurity(
            self,
            "EnterpriseSecurity",
            props=EnterpriseSecurityProps(
                names=self.names,
                network=endpoint_network(deployed_vpc(self.config, self.names.is_test)),
                alerts_email=monitoring.alerts_email,
                log_retention_days=monitoring.log_retention_days,
            ),
        )


STACK_CLASSES: dict[Tier, type[ProductStack]] = {
    Tier.STARTER: StarterStack,
    Tier.PROFESSIONAL: ProfessionalStack,
    Tier.ENTERPRISE: EnterpriseStack,
}


def build_stack(
    scope: Construct, construct_id: str, config: ProductConfig, test_marker: str | None = None
) -> ProductStack:
    return STACK_CLASSES[config.tier](scope, construct_id, config, Names(config, test_marker))


def outputs_resolved_later(names: Iterable[str], outputs: Callable[[], Mapping[str, str]]) -> dict[str, str]:
    """SSM outputs StarterCore publishes for a construct built after it."""

    def later(name: str) -> str:
        return resolved_later(lambda: outputs()[name])

    return {name: later(name) for name in names}


# -- from the config to the constructs' props -------------------------------------------------------
_SOURCE_CONTROL: dict[SourceControl, SourceControlName] = {
    SourceControl.CODECOMMIT: "codecommit",
    SourceControl.S3: "s3",
    SourceControl.CODECONNECTIONS: "codeconnections",
}


def source_of(product: MlProduct) -> Source:
    connection = None
    if product.source_control is SourceControl.CODECONNECTIONS:
        # The model requires every connection field for a codeconnections source.
        assert product.connection_arn and product.connection_service and product.branch
        connection = Connection(
            arn=product.connection_arn,
            service=product.connection_service,
            repositories={"build": product.repository("build"), "deploy": product.repository("deploy")},
            branch=product.branch,
        )
    return Source(control=_SOURCE_CONTROL[product.source_control], connection=connection)


def endpoint_network(vpc: VpcIntegration) -> EndpointNetwork:
    return EndpointNetwork(
        subnet_ids=tuple(vpc.subnet_ids),
        vpc_id=vpc.vpc_id,
        vpc_id_ssm_parameter=vpc.vpc_id_ssm_parameter,
        security_group_id_ssm_parameter=vpc.security_group_id_ssm_parameter,
        endpoint_client_cidrs=tuple(vpc.endpoint_client_cidrs),
        route_table_ids=tuple(vpc.route_table_ids),
        s3_gateway_endpoint_id=vpc.s3_gateway_endpoint_id,
        private_dns=vpc.private_dns,
    )

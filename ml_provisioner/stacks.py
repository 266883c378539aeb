"""One CloudFormation stack class per tier, composed from the constructs_lib L3 constructs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, LegacyStackSynthesizer, Stack, Tags
from constructs import Construct

from constructs_lib.enterprise_security import EnterpriseSecurity, EnterpriseSecurityProps
from constructs_lib.professional_addons import ProfessionalAddons, ProfessionalAddonsProps
from constructs_lib.starter_core import StarterCore, StarterCoreProps
from ml_provisioner.config.models import EnterpriseConfig, ProductConfig, ProfessionalConfig, StarterConfig
from ml_provisioner.naming import Names


class ProductStack(Stack):
    """What every tier's stack shares: environment, tags, description, outputs."""

    tier_title = ""

    def __init__(self, scope: Construct, construct_id: str, names: Names) -> None:
        config = names.config
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
        self.names = names
        for key, value in names.tags.items():
            Tags.of(self).add(key, value)
        self.core = StarterCore(
            self,
            "StarterCore",
            props=StarterCoreProps(
                names=names,
                source=config.ml_product,
                codebuild_policies_managed=not isinstance(config, StarterConfig),
                build_log_retention_days=getattr(getattr(config, "monitoring", None), "log_retention_days", None),
            ),
        )

        self.compose()
        self.export_outputs()

    def compose(self) -> None:
        """The tier's constructs on top of StarterCore (each tier adds to the one below)."""

    def export_outputs(self) -> None:
        """Mirror every SSM output as a stack output, so deploy can read them back and compare."""
        for output, parameter in sorted(self.core.outputs.items()):
            CfnOutput(self, output, value=parameter.value, description=f"Also in SSM at {parameter.name}")


class StarterStack(ProductStack):
    tier_title = "Starter"


class ProfessionalStack(ProductStack):
    tier_title = "Professional"

    def compose(self) -> None:
        config: ProfessionalConfig = self.names.config  # type: ignore[assignment]
        self.addons = ProfessionalAddons(
            self,
            "ProfessionalAddons",
            core=self.core,
            props=ProfessionalAddonsProps(names=self.names, alerts_email=config.monitoring.alerts_email),
        )


class EnterpriseStack(ProfessionalStack):
    tier_title = "Enterprise"

    def compose(self) -> None:
        super().compose()
        config: EnterpriseConfig = self.names.config  # type: ignore[assignment]
        self.security = EnterpriseSecurity(
            self,
            "EnterpriseSecurity",
            core=self.core,
            props=EnterpriseSecurityProps(
                names=self.names,
                vpc=config.vpc_integration,
                alerts_email=config.monitoring.alerts_email,
                log_retention_days=config.monitoring.log_retention_days,
            ),
        )


STACK_CLASSES: dict[str, type[ProductStack]] = {
    "starter": StarterStack,
    "professional": ProfessionalStack,
    "enterprise": EnterpriseStack,
}


def build_stack(
    scope: Construct, construct_id: str, config: ProductConfig, test_marker: str | None = None
) -> ProductStack:
    return STACK_CLASSES[config.tier.value](scope, construct_id, Names(config, test_marker))

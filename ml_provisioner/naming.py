"""Every physical name, SSM path, ARN and stack name of a product, derived in one place.

Policies (create-policy), the stacks, the lifecycle commands and the checks all read names from
here, so a name cannot drift between the resource and the policy that scopes it.

Scheme: ``product_id = {company_prefix}-{environment}-{tenant}-{use_case}[-{workload}]``. Every
name is ``<deployment id>--<what>`` (see ml_provisioner.identity for why the delimiter and the
test-deployment marker ``t<4 hex>--<product id>`` keep products and test deployments apart).
Names that are global to the account or to S3 (bucket, dashboard, IAM paths) add a short region
code so the same product can live in two regions. IAM roles and managed policies get
CloudFormation-generated names under the path ``/ml-provisioner/<global id>/``: the path scopes
them for policies without spending IAM's 64-character name budget.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from constructs_lib.names import AlarmKind, Kind
from ml_provisioner.config.models import EnterpriseConfig, ProductConfig
from ml_provisioner.config.regions import partition_of, url_suffix
from ml_provisioner.identity import DELIMITER, deployment_id, split_deployment_id

TOOL = "ml-provisioner"
# The ownership tags every stack and taggable resource carries (Names.ownership_tags).
PRODUCT_TAG = f"{TOOL}:product"
TIER_TAG = f"{TOOL}:tier"
SOURCE_TAG = f"{TOOL}:source-control"
TEST_TAG = f"{TOOL}:test-deployment"
# A test deployment's stack also carries when it may be removed (test-deploy --prune): ISO-8601 UTC.
EXPIRES_TAG = f"{TOOL}:expires-at"

_DIRECTIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


def region_code(region: str) -> str:
    """A short, unique code for a region: us-west-2 -> usw2, ap-southeast-1 -> apse1."""
    *words, number = region.split("-")
    return words[0] + "".join(_DIRECTIONS.get(word, word) for word in words[1:]) + number


def config_file_name(config: ProductConfig) -> str:
    """The example-matrix file name for a config (the spec's token scheme)."""
    c = config
    parts = [
        c.client.company_prefix,
        c.environment.name,
        c.client.tenant_id,
        c.environment.region,
        c.ml_product.use_case,
    ]
    if c.ml_product.workload:
        parts.append(c.ml_product.workload)
    parts += ["ml", c.ml_product.source_control.value]
    if isinstance(c, EnterpriseConfig):
        parts += [c.vpc_integration.security_group_mode.value, c.vpc_integration.vpc_source.value]
    return "-".join(parts) + ".yaml"


@dataclass(frozen=True)
class Names:
    """All names of one product deployment (the real one, or a test deployment with a suffix)."""

    config: ProductConfig
    test_marker: str | None = None  # the test-deployment marker, t<4 hex>
    expires_at: str | None = None  # a test deployment's expiry (EXPIRES_TAG), set when it is deployed

    # -- identity ---------------------------------------------------------------------------
    @property
    def product(self) -> str:
        """The product's id, the same for the product and its test deployments."""
        c = self.config
        parts = [c.client.company_prefix, c.environment.name, c.client.tenant_id, c.ml_product.use_case]
        if c.ml_product.workload:
            parts.append(c.ml_product.workload)
        return "-".join(parts)

    @property
    def deployment_id(self) -> str:
        """This deployment's id: the product id, or ``t<4 hex>--<product id>`` for a test deployment."""
        return deployment_id(self.product, self.test_marker)

    def name(self, what: str) -> str:
        """A physical name of this deployment; ``name("*")`` is the pattern matching all of them."""
        return f"{self.deployment_id}{DELIMITER}{what}"

    @property
    def global_id(self) -> str:
        """The deployment id plus a region code, for names unique across the account's regions."""
        return self.name(region_code(self.region))

    def test_deployment(self, stack_name: str) -> Names | None:
        """The names of this product's test deployment whose stack is stack_name, if it is one."""
        marker, _ = split_deployment_id(stack_name)
        candidate = Names(self.config, marker) if marker else None
        return candidate if candidate and candidate.stack_name == stack_name else None

    @property
    def is_test(self) -> bool:
        return self.test_marker is not None

    @property
    def region(self) -> str:
        return self.config.environment.region

    @property
    def account(self) -> str:
        return self.config.client.account_id

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def url_suffix(self) -> str:
        """The partition's domain, e.g. amazonaws.com (amazonaws.com.cn in China)."""
        return url_suffix(self.region)

    @property
    def stack_name(self) -> str:
        return self.name("ml")

    @property
    def stack_arn_pattern(self) -> str:
        return f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/*"

    @property
    def tags(self) -> dict[str, str]:
        """The tags of the stack and of every taggable resource in it."""
        c = self.config
        return {
            "CostCenter": c.tags.cost_center,
            "Project": c.tags.project,
            "Owner": c.tags.owner,
            "Environment": c.environment.name,
            **self.ownership_tags,
            **({EXPIRES_TAG: self.expires_at} if self.expires_at else {}),
        }

    @property
    def ownership_tags(self) -> dict[str, str]:
        """What a stack must carry for this config's commands to touch it (see aws.ownership)."""
        tags = {
            PRODUCT_TAG: self.product,
            TIER_TAG: self.config.tier.value,
            SOURCE_TAG: self.config.ml_product.source_control.value,
        }
        if self.test_marker:
            tags[TEST_TAG] = self.test_marker
        return tags

    # -- SSM outputs ------------------------------------------------------------------------
    @property
    def ssm_prefix(self) -> str:
        return f"/{TOOL}/{self.deployment_id}"

    def ssm_parameter(self, output: str) -> str:
        return f"{self.ssm_prefix}/{output}"

    # -- starter ----------------------------------------------------------------------------
    @property
    def model_package_group(self) -> str:
        return self.name("models")

    def repository(self, kind: Kind) -> str:
        """kind is "build" or "deploy": the model-build and model-deploy repositories."""
        return self.name(f"model-{kind}")

    def codebuild_project(self, kind: Kind) -> str:
        return self.name(kind)

    def pipeline(self, kind: Kind) -> str:
        return self.name(f"{kind}-pipeline")

    @staticmethod
    def source_object_key(kind: Kind) -> str:
        """Where an S3-sourced pipeline reads its source archive, inside the artifacts bucket."""
        return f"source/model-{kind}.zip"

    @property
    def artifacts_bucket(self) -> str:
        # S3 names are global across accounts: a digest of the account id keeps them unique
        # for 5 characters instead of the account id's 13 (4 hex digits: the same product id in
        # two accounts of one region is already rare; the names of test deployments must fit 63).
        digest = hashlib.sha256(self.account.encode()).hexdigest()[:4]
        return f"{self.global_id}-{digest}"

    @property
    def iam_path(self) -> str:
        return f"/{TOOL}/{self.global_id}/"

    # -- professional -----------------------------------------------------------------------
    @property
    def approval_rule(self) -> str:
        return self.name("approved")

    @property
    def dashboard(self) -> str:
        return self.global_id

    # -- enterprise -------------------------------------------------------------------------
    @property
    def kms_alias(self) -> str:
        return f"alias/{TOOL}/{self.deployment_id}"

    # -- the permission boundary (every tier) ---------------------------------------------------
    @property
    def permission_boundary(self) -> str:
        """The managed policy that caps every role of the product and of its test deployments.
        ``ml-provisioner bootstrap`` (an administrator) creates it, never the product's stack: a
        template the deployer writes cannot hold what caps the deployer. A fixed name, so the
        deployer policy can require exactly it."""
        return Names(self.config)._tooling_name("boundary")

    @property
    def permission_boundary_path(self) -> str:
        """Outside the product's IAM path and the deployer's: nothing either may write."""
        return f"/{TOOL}-boundary/"

    @property
    def permission_boundary_arn(self) -> str:
        return self.arn("iam", f"policy{self.permission_boundary_path}{self.permission_boundary}", region=False)

    # -- the CloudFormation service role (create-policy --service-role) --------------------------
    @property
    def deployer_role_path(self) -> str:
        """The IAM path of the role ``ml-provisioner bootstrap`` makes to deploy the product through:
        outside the product's own path, so neither the product nor its deployer may change it."""
        return f"/{TOOL}-deployer/{Names(self.config).global_id}/"

    @property
    def deployer_role_name(self) -> str:
        return self._tooling_name("deployer")

    def _tooling_name(self, what: str) -> str:
        """A role or policy the tooling makes for the product: unique in the account (IAM role and
        policy names are, whatever their path), at most 64 characters (a role name's limit)."""
        name = f"{Names(self.config).global_id}{DELIMITER}{what}"
        if len(name) > 64:
            name = name[:57] + "-" + hashlib.sha256(name.encode()).hexdigest()[:6]
        return name

    @property
    def deployer_role_arn(self) -> str:
        return self.arn("iam", f"role{self.deployer_role_path}{self.deployer_role_name}", region=False)

    @property
    def execution_role_arn(self) -> str:
        """The role CloudFormation deploys the product with in service-role mode. One per product,
        shared by its test deployments, and outside the product's IAM path: nothing the product's
        roles or its deployer may change."""
        return self.arn("iam", f"role{self.deployer_role_path}{self.execution_role_name}", region=False)

    @property
    def execution_role_name(self) -> str:
        return self._tooling_name("cfn-execution")

    @property
    def compliance_log_group(self) -> str:
        return f"/{TOOL}/{self.deployment_id}/compliance"

    @property
    def alerts_topic(self) -> str:
        return self.name("security-alerts")

    @property
    def endpoint_security_group(self) -> str:
        return self.name("vpc-endpoints")

    @property
    def metric_namespace(self) -> str:
        return f"MLProvisioner/{self.deployment_id}"

    def alarm(self, kind: AlarmKind) -> str:
        return self.name(kind)

    # -- ARNs (for policies and read-back) --------------------------------------------------
    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            [
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account if account else "",
                resource,
            ]
        )

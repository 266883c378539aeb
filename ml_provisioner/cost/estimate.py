"""A product's monthly cost, per resource, from what its template holds: never from AWS calls.

The same function prices a written template (show-changes, plans, the review report, fleet
status) and the catalog's inventory (show-product, which never synthesizes): both are turned into
a list of Billable resources first, and a test holds the two lists equal for every example.
Fixed items are billed by existing (endpoint hours, the key, the dashboard, alarms); usage items
by stated assumptions (builds, minutes, GB), which a workspace file can override.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError

from ml_provisioner.config.models import EnterpriseConfig, Frozen
from ml_provisioner.cost.prices import HOURS_PER_MONTH, RegionPrices, price_book
from ml_provisioner.errors import BadInput

if TYPE_CHECKING:
    from ml_provisioner.config.models import ProductConfig
    from ml_provisioner.workspace import Workspace

ASSUMPTIONS_FILE = "cost-assumptions.yaml"  # in the workspace root, beside configs/


class Assumptions(Frozen):
    """How much a product is used in a month: what its usage items are priced at."""

    # finite numbers only (YAML's .inf and .nan are numbers to it), and a number is never a boolean
    model_config = ConfigDict(**{**Frozen.model_config, "allow_inf_nan": False, "strict": True})

    builds_per_month: float = Field(default=40, ge=0, description="Runs of the build pipeline and build project.")
    build_minutes: float = Field(default=10, ge=0, description="Minutes of one build project run.")
    deploys_per_month: float = Field(default=20, ge=0, description="Runs of the deploy pipeline and deploy project.")
    deploy_minutes: float = Field(default=5, ge=0, description="Minutes of one deploy project run.")
    source_action_minutes: float = Field(
        default=1, ge=0, description="Minutes of a pipeline run's source action (beside its CodeBuild action)."
    )
    log_mb_per_build_minute: float = Field(
        default=2, ge=0, description="MB of logs a CodeBuild minute writes to CloudWatch Logs."
    )
    artifacts_gb: float = Field(default=20, ge=0, description="GB kept in the artifacts bucket (S3 Standard).")
    endpoint_gb: float = Field(default=5, ge=0, description="GB a month through each interface VPC endpoint.")
    kms_requests_per_month: float = Field(default=10_000, ge=0, description="Requests to the product's KMS key.")
    free_dashboards: int = Field(
        default=0, ge=0, le=3, description="Of the account's 3 free dashboards, how many this product may count on."
    )
    codecommit_extra_users: int = Field(
        default=0, ge=0, description="Active CodeCommit users beyond the 5 free ones, charged to this product."
    )

    def stated(self) -> dict[str, Any]:
        return self.model_dump()


def load_assumptions(workspace: Workspace | None) -> tuple[Assumptions, Path | None]:
    """The workspace's cost-assumptions.yaml over the defaults; (defaults, None) without one."""
    path = workspace.root / ASSUMPTIONS_FILE if workspace else None
    if path is None or not path.is_file():
        return Assumptions(), None
    hint = f"give numbers for any of: {', '.join(Assumptions.model_fields)} (see docs/cost.md)"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise BadInput(f"{path}: cannot be read as YAML ({error})", hint) from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a mapping of assumption: number is expected", hint)
    try:
        return Assumptions.model_validate(data), path
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in error.errors())
        raise BadInput(f"{path}: {problems}", hint) from None


# -- what is billed --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Billable:
    """A resource as far as its price goes."""

    resource: str  # the logical id (template) or the catalog's purpose
    type: str
    endpoint_type: str = ""  # AWS::EC2::VPCEndpoint: Interface | Gateway
    zones: int = 0  # an interface endpoint's subnets: one per AZ
    compute_type: str = ""  # AWS::CodeBuild::Project
    pipeline_type: str = ""  # AWS::CodePipeline::Pipeline: V1 | V2
    masked: bool = False  # AWS::Logs::LogGroup with a data protection policy

    @property
    def runs_deploys(self) -> bool:
        """The deploy pipeline or project (priced at deploys_per_month), not the build one."""
        return "deploy" in self.resource.lower()


def billables_from_template(template: dict[str, Any]) -> list[Billable]:
    items = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind, properties = resource.get("Type", ""), resource.get("Properties", {}) or {}
        if kind == "AWS::EC2::VPCEndpoint":
            subnets = properties.get("SubnetIds")
            endpoint_type = properties.get("VpcEndpointType", "Gateway")  # CloudFormation's default
            zones = len(subnets) if isinstance(subnets, list) else 2 if endpoint_type == "Interface" else 0
            items.append(Billable(logical_id, kind, endpoint_type=endpoint_type, zones=zones))
        elif kind == "AWS::CodeBuild::Project":
            environment = properties.get("Environment", {})
            compute = f"{environment.get('Type', 'LINUX_CONTAINER')}/{environment.get('ComputeType', '')}"
            items.append(Billable(logical_id, kind, compute_type=compute))
        elif kind == "AWS::CodePipeline::Pipeline":
            items.append(Billable(logical_id, kind, pipeline_type=properties.get("PipelineType", "V1")))
        elif kind == "AWS::Logs::LogGroup":
            items.append(Billable(logical_id, kind, masked="DataProtectionPolicy" in properties))
        else:
            items.append(Billable(logical_id, kind))
    return items


# What the constructs give each priced resource; a test holds them to the synthesized templates.
CONSTRUCT_COMPUTE_TYPE = "LINUX_CONTAINER/BUILD_GENERAL1_SMALL"
CONSTRUCT_PIPELINE_TYPE = "V2"


def billables_from_catalog(config: ProductConfig) -> list[Billable]:
    """The same list from the catalog and the config, without synthesizing."""
    from ml_provisioner import catalog

    items = []
    for resource in catalog.resources_for(config):
        label, kind = resource.purpose, resource.type
        if kind == "AWS::EC2::VPCEndpoint":
            assert isinstance(config, EnterpriseConfig), "only the enterprise tier has endpoints"
            vpc = config.vpc_integration
            gateway = label.endswith(" s3") and bool(vpc.route_table_ids)
            items.append(
                Billable(
                    label,
                    kind,
                    endpoint_type="Gateway" if gateway else "Interface",
                    zones=0 if gateway else len(vpc.subnet_ids),
                )
            )
        elif kind == "AWS::CodeBuild::Project":
            items.append(Billable(label, kind, compute_type=CONSTRUCT_COMPUTE_TYPE))
        elif kind == "AWS::CodePipeline::Pipeline":
            items.append(Billable(label, kind, pipeline_type=CONSTRUCT_PIPELINE_TYPE))
        elif kind == "AWS::Logs::LogGroup":
            items.append(Billable(label, kind, masked=True))  # the compliance log group masks secrets
        else:
            items.append(Billable(label, kind))
    return items


# -- the estimate ---------------------------------------------------------------------------------

CODEBUILD_PRICES = {
    "LINUX_CONTAINER/BUILD_GENERAL1_SMALL": "codebuild_linux_small_minute",
    "LINUX_CONTAINER/BUILD_GENERAL1_MEDIUM": "codebuild_linux_medium_minute",
    "LINUX_CONTAINER/BUILD_GENERAL1_LARGE": "codebuild_linux_large_minute",
}
# Types that cost nothing of their own (IAM, SSM standard parameters, rules on AWS events, ...).
NOT_BILLED = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::S3::BucketPolicy",
        "AWS::SSM::Parameter",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::Events::Rule",
        "AWS::EC2::SecurityGroup",
        "AWS::KMS::Alias",
        "AWS::SNS::Topic",  # billed per notification: a handful of alarm emails stay in SNS's free tier
        "AWS::SNS::Subscription",
    }
)


@dataclass(frozen=True)
class Line:
    resource: str
    type: str
    item: str  # what is billed, in words
    kind: Literal["fixed", "usage"]
    quantity: float
    unit: str
    unit_usd: float
    price: str  # the price file's key
    monthly_usd: float

    HEADERS = ("resource", "billed for", "kind", "quantity", "unit price", "per month")

    def cells(self) -> tuple[str, str, str, str, str, str]:
        """The line as every view shows it, under HEADERS."""
        return (
            self.resource,
            self.item,
            self.kind,
            f"{number(self.quantity)} {self.unit}",
            f"${number(self.unit_usd, 6)}",
            usd(self.monthly_usd),
        )


@dataclass(frozen=True)
class Estimate:
    region: str
    lines: list[Line]
    assumptions: Assumptions
    prices_recorded: str = ""  # the oldest date among the region's prices
    unpriced: list[str] = field(default_factory=list)  # what has no price: said, never counted as 0
    no_price_data: bool = False  # the price file has nothing for the region

    @property
    def fixed_usd(self) -> float:
        return round(sum((line.monthly_usd for line in self.lines if line.kind == "fixed"), 0.0), 2)

    @property
    def usage_usd(self) -> float:
        return round(sum((line.monthly_usd for line in self.lines if line.kind == "usage"), 0.0), 2)

    @property
    def monthly_usd(self) -> float | None:
        """The total per month; None when the region (or a resource) has no price."""
        if self.no_price_data or self.unpriced:
            return None
        return round(self.fixed_usd + self.usage_usd, 2)

    @property
    def headline(self) -> str:
        """The estimate in one phrase: a figure, or why there is none."""
        if self.no_price_data:
            return f"no price data for {self.region}"
        if self.unpriced:
            return f"no price for {', '.join(self.unpriced)} in {self.region}"
        return f"{usd(self.monthly_usd)}/month"

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": "USD",
            "monthly_usd": self.monthly_usd,
            "fixed_monthly_usd": None if self.no_price_data else self.fixed_usd,
            "usage_monthly_usd": None if self.no_price_data else self.usage_usd,
            "note": self.headline if self.monthly_usd is None else "",
            "prices_recorded": self.prices_recorded,
            "assumptions": self.assumptions.stated(),
            "lines": [asdict(line) for line in self.lines],
            "unpriced": self.unpriced,
        }


def usd(amount: float | None) -> str:
    return "-" if amount is None else f"${amount:,.2f}"


def number(value: float, places: int = 4) -> str:
    """10,000 and 0.7812, never 1e+04 or 3e-06."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.{places}f}".rstrip("0")


def signed_usd(amount: float) -> str:
    return f"{'+' if amount >= 0 else '-'}${abs(amount):,.2f}"


def estimate(
    billables: list[Billable], region: str, assumptions: Assumptions | None = None, prices: RegionPrices | None = None
) -> Estimate:
    """The monthly cost of these resources in the region at the list prices and the assumptions."""
    assumptions = assumptions or Assumptions()
    prices = prices or price_book().for_region(region)
    if prices is None:
        return Estimate(region, [], assumptions, no_price_data=True)
    pricer = _Pricer(prices, assumptions)
    for item in billables:
        pricer.price(item)
    pricer.scan_logs(billables)
    return Estimate(region, pricer.lines, assumptions, prices.recorded, sorted(set(pricer.unpriced)))


class _Pricer:
    def __init__(self, prices: RegionPrices, assumptions: Assumptions) -> None:
        self.prices, self.a = prices, assumptions
        self.lines: list[Line] = []
        self.unpriced: list[str] = []
        self.dashboards_free_left = assumptions.free_dashboards
        self.repositories_seen = 0
        self.build_log_gb = 0.0

    def add(
        self, item: Billable, what: str, kind: Literal["fixed", "usage"], quantity: float, unit: str, key: str
    ) -> None:
        unit_usd = self.prices.usd(key)
        if unit_usd is None:
            self.unpriced.append(key)
            return
        self.lines.append(
            Line(item.resource, item.type, what, kind, quantity, unit, unit_usd, key, round(quantity * unit_usd, 4))
        )

    def price(self, item: Billable) -> None:
        a = self.a
        runs = a.deploys_per_month if item.runs_deploys else a.builds_per_month
        minutes = a.deploy_minutes if item.runs_deploys else a.build_minutes
        match item.type:
            case "AWS::EC2::VPCEndpoint" if item.endpoint_type == "Interface":
                self.add(
                    item,
                    f"interface endpoint in {item.zones} AZ(s), {HOURS_PER_MONTH} h",
                    "fixed",
                    item.zones * HOURS_PER_MONTH,
                    "AZ-hours",
                    "vpce_interface_az_hour",
                )
                self.add(item, "data processed", "usage", a.endpoint_gb, "GB", "vpce_data_gb")
            case "AWS::KMS::Key":
                self.add(item, "customer managed key", "fixed", 1, "key-month", "kms_key_month")
                self.add(item, "key requests", "usage", a.kms_requests_per_month, "requests", "kms_request")
            case "AWS::CloudWatch::Dashboard":
                free = self.dashboards_free_left > 0
                self.dashboards_free_left -= int(free)
                what = "dashboard (in the account's free allowance)" if free else "dashboard"
                self.add(item, what, "fixed", 0 if free else 1, "dashboard-month", "cw_dashboard_month")
            case "AWS::CloudWatch::Alarm":
                self.add(item, "standard alarm", "fixed", 1, "alarm-month", "cw_alarm_month")
            case "AWS::Logs::MetricFilter":
                self.add(item, "custom metric it publishes", "fixed", 1, "metric-month", "cw_custom_metric_month")
            case "AWS::S3::Bucket":
                self.add(item, "S3 Standard storage", "usage", a.artifacts_gb, "GB-month", "s3_standard_gb_month")
            case "AWS::CodeBuild::Project":
                key = CODEBUILD_PRICES.get(item.compute_type)
                if key is None:
                    self.unpriced.append(f"CodeBuild {item.compute_type}")
                    return
                self.add(item, f"{runs:g} runs x {minutes:g} min", "usage", runs * minutes, "build-minutes", key)
                log_gb = runs * minutes * a.log_mb_per_build_minute / 1024
                self.build_log_gb += log_gb
                self.add(item, "build logs ingested", "usage", round(log_gb, 4), "GB", "logs_ingest_gb")
            case "AWS::CodePipeline::Pipeline" if item.pipeline_type == "V2":
                action_minutes = runs * (a.source_action_minutes + minutes)
                self.add(
                    item,
                    f"{runs:g} runs x {a.source_action_minutes + minutes:g} action-min",
                    "usage",
                    action_minutes,
                    "action-minutes",
                    "codepipeline_v2_action_minute",
                )
            case "AWS::CodePipeline::Pipeline":
                self.add(item, "active V1 pipeline", "fixed", 1, "pipeline-month", "codepipeline_v1_pipeline_month")
            case "AWS::CodeCommit::Repository":
                first = self.repositories_seen == 0
                self.repositories_seen += 1
                users = a.codecommit_extra_users if first else 0
                self.add(item, "users beyond the free 5", "fixed", users, "user-months", "codecommit_user_month")

    def scan_logs(self, billables: list[Billable]) -> None:
        """A data protection policy scans what the builds log into the group."""
        for item in billables:
            if item.type == "AWS::Logs::LogGroup" and item.masked:
                gb = round(self.build_log_gb, 4)
                self.add(item, "data protection scan of build logs", "usage", gb, "GB", "logs_data_protection_gb")


def not_billed(billables: list[Billable]) -> dict[str, int]:
    """Resource types with no charge of their own, and how many of each."""
    return dict(Counter(b.type for b in billables if b.type in NOT_BILLED or b.endpoint_type == "Gateway"))


# -- a change -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostChange:
    """What a change does to the monthly cost: the deployed template's estimate against the new one."""

    before: Estimate | None  # None: nothing deployed (the change creates the stack)
    after: Estimate

    @property
    def delta_usd(self) -> float | None:
        before = 0.0 if self.before is None else self.before.monthly_usd
        if self.after.monthly_usd is None or before is None:
            return None
        return round(self.after.monthly_usd - before, 2)

    @property
    def text(self) -> str:
        """e.g. "+$64.96/month ($4.57 -> $69.53)"."""
        if self.delta_usd is None:
            return self.after.headline if self.after.monthly_usd is None else (self.before or self.after).headline
        before = self.before.monthly_usd if self.before else 0.0
        return f"{signed_usd(self.delta_usd)}/month ({usd(before)} -> {usd(self.after.monthly_usd)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "before_monthly_usd": 0.0 if self.before is None else self.before.monthly_usd,
            "after_monthly_usd": self.after.monthly_usd,
            "delta_monthly_usd": self.delta_usd,
            "region": self.after.region,
            "prices_recorded": self.after.prices_recorded,
            "text": self.text,
        }


def template_change(
    before: dict[str, Any] | None, after: dict[str, Any], region: str, assumptions: Assumptions | None = None
) -> CostChange:
    """The cost change of replacing the deployed template ``before`` (None: none) by ``after``."""
    return CostChange(
        None if before is None else estimate(billables_from_template(before), region, assumptions),
        estimate(billables_from_template(after), region, assumptions),
    )

"""What a fleet command does to one product, in its own account: status, plan, deploy, drift.

Each product gets its own AWS session (through its role, aws.access), rate-limited per account
and region; the work itself is the single-product code (aws.lifecycle, aws.drift), unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ml_provisioner import catalog
from ml_provisioner.aws.access import Caller, Route, route_for
from ml_provisioner.aws.lifecycle import DeployResult, deploy, owned_stack_state, preview
from ml_provisioner.aws.session import AwsSession, aws_errors
from ml_provisioner.changes import ResourceChange
from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.cost import Assumptions, Estimate, template_change, usd
from ml_provisioner.deployments import execute_saved_plan, refuse_findings, save_plan
from ml_provisioner.fingerprint import read_stamp
from ml_provisioner.fleet.ratelimit import RateLimits
from ml_provisioner.naming import Names
from ml_provisioner.plan import plan_path, read_plan
from ml_provisioner.synth import Synthesized, render_yaml
from ml_provisioner.workspace import Workspace


@dataclass(frozen=True)
class Target:
    """One selected product, its names and how its account is reached (resolved before any call)."""

    loaded: LoadedConfig
    names: Names
    route: Route

    @property
    def key(self) -> str:
        return self.names.deployment_id

    @property
    def production(self) -> bool:
        return self.names.config.environment.is_production


def targets(selected: list[LoadedConfig], role_arn: str | None, external_id: str | None) -> list[Target]:
    """Every product's route, refused as a whole (exit 2) if one is not in its config's account."""
    return [Target(loaded, loaded.names(), route_for(loaded, role_arn, external_id)) for loaded in selected]


def waves(items: list[Target]) -> list[list[Target]]:
    """Non-production environments first: a change that fails there never reaches production."""
    first = [t for t in items if not t.production]
    return [w for w in (first, [t for t in items if t.production]) if w]


class Fleet:
    """The AWS side of a fleet run: the caller's credentials, one session per product, the limits."""

    def __init__(
        self, endpoint_url: str | None, limits: RateLimits | None = None, *, service_role: bool = False
    ) -> None:
        self.caller = Caller(endpoint_url)
        self.limits = limits or RateLimits()
        self.service_role = service_role
        self.principals: dict[str, str] = {}  # product -> the ARN it acted as (audit, tests)

    def where(self) -> str:
        """Who acted, for the execution log: each distinct ARN the products' sessions had."""
        callers = sorted(set(self.principals.values()))
        return f"caller={','.join(callers)}" if callers else ""

    def session(self, target: Target, what: str) -> AwsSession:
        names = target.names
        with aws_errors(what):
            aws = self.caller.session(
                names,
                target.route,
                cloudformation_role_arn=names.execution_role_arn if self.service_role else None,
                on_client=self.limits.hook(target.key, names.account, names.region),
            )
            self.principals[target.key] = aws.caller_identity()["Arn"]
        return aws


# "Up to date": deploying now would not change the deployed template. Either it was made from what
# would make it now (the fingerprint stamped into it: config, tool, libraries), or its body is the
# one synthesized now (a tool upgrade that changes no resource changes only the stamp, and
# CloudFormation does not update a stack for its Metadata alone). A template without a readable
# stamp (made by hand, or edited) is compared by its text.


def deployed_is_current(aws: AwsSession, stack_name: str, result: Synthesized) -> bool:
    body = aws.client("cloudformation").get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    text = body if isinstance(body, str) else render_yaml(body)
    body_now = _sha256(render_yaml(result.template))
    stamp = read_stamp(text)
    if stamp is not None and not stamp.edited:
        made_alike = result.fingerprint is not None and stamp.fingerprint == result.fingerprint.digest
        return made_alike or stamp.body_sha256 == body_now
    return _sha256(text) in (body_now, _sha256(result.template_yaml()))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- status -----------------------------------------------------------------------------------------


NOT_DEPLOYED = "NOT_DEPLOYED"


@dataclass
class StatusRow:
    product: str
    config: str
    account: str
    region: str
    tier: str
    stack: str
    status: str = NOT_DEPLOYED
    template: str = "not deployed"  # up to date | outdated | not deployed | not created
    termination_protection: bool = False
    last_update: str = ""
    drift: str = ""  # CloudFormation's last drift status (NOT_CHECKED until one ran)
    error: str = ""
    monthly_usd: float | None = None  # the config's template's cost estimate (None: no price for it)
    cost: str = ""  # that estimate as shown: a figure, or why there is none

    def cells(self) -> list[str]:
        protection = "on" if self.termination_protection else ("off" if self.status != NOT_DEPLOYED else "")
        return [
            self.product,
            self.account,
            self.region,
            self.tier,
            self.status if not self.error else "ERROR",
            self.template,
            protection,
            self.last_update,
            self.drift,
            self.cost,
        ]


STATUS_HEADERS = [
    "product",
    "account",
    "region",
    "tier",
    "stack status",
    "template",
    "protection",
    "updated",
    "drift",
    "cost/month",
]


def status(fleet: Fleet, target: Target, result: Synthesized, cost: Estimate | None = None) -> StatusRow:
    names = target.names
    row = StatusRow(
        target.key,
        target.loaded.path.name,
        names.account,
        names.region,
        names.config.tier.value,
        names.stack_name,
    )
    if cost is not None:
        row.monthly_usd = cost.monthly_usd
        row.cost = usd(cost.monthly_usd) if cost.monthly_usd is not None else cost.headline
    aws = fleet.session(target, "fleet status")
    with aws_errors(f"status of {names.stack_name}"):
        state = owned_stack_state(aws, names)
        if state.status == "REVIEW_IN_PROGRESS":  # a first change set made, never executed (a plan, or a killed run)
            row.status, row.template = state.status, "not created"
            row.termination_protection = state.termination_protection
            return row
        if not state.exists:
            return row
        [stack] = aws.client("cloudformation").describe_stacks(StackName=names.stack_name)["Stacks"]
        row.status = stack["StackStatus"]
        row.termination_protection = bool(stack.get("EnableTerminationProtection"))
        row.last_update = _when(stack.get("LastUpdatedTime") or stack.get("CreationTime"))
        row.drift = stack.get("DriftInformation", {}).get("StackDriftStatus", "NOT_CHECKED")
        row.template = "up to date" if deployed_is_current(aws, names.stack_name, result) else "outdated"
    return row


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return str(value or "")


# -- plan -------------------------------------------------------------------------------------------


@dataclass
class PlanRow:
    product: str
    account: str
    region: str
    stack: str
    action: str = ""  # create | update | no changes
    changes: int = 0
    replacements: int = 0
    iam_widening: int = 0
    data: int = 0  # changes that remove or replace a data-bearing resource
    details: list[dict[str, Any]] = field(default_factory=list[Any])
    plan_file: str = ""  # with --save: the saved plan that `fleet deploy --plans` executes
    cost: dict[str, Any] = field(default_factory=dict[str, Any])  # what the change does to the monthly estimate

    def cells(self) -> list[str]:
        return [
            self.product,
            self.account,
            self.region,
            self.action,
            str(self.changes),
            str(self.replacements),
            str(self.iam_widening),
            str(self.data),
            str(self.cost.get("text", "")) if self.changes else "",
        ]


PLAN_HEADERS = ["product", "account", "region", "plan", "changes", "replacements", "IAM widening", "data", "cost"]


def plan(
    fleet: Fleet,
    target: Target,
    result: Synthesized,
    *,
    save_to: Workspace | None = None,
    assumptions: Assumptions | None = None,
) -> PlanRow:
    """What deploying now would change: show-changes' change set, created, described, deleted;
    with save_to, kept as the product's saved plan (show-changes --save) in its reports/."""
    names = target.names
    refuse_findings(result)
    row = PlanRow(target.key, names.account, names.region, names.stack_name)
    aws = fleet.session(target, "fleet plan")
    if save_to is not None:
        return _save_plan(aws, target, result, save_to, row, assumptions)
    with aws_errors(f"plan of {names.stack_name}"):
        change_set = preview(aws, names, result.template, result.template_yaml())
    deployed = None if change_set is None else change_set.deployed_template
    row.cost = template_change(deployed, result.template, names.region, assumptions).to_json()
    if change_set is None:
        row.action, row.changes = "create", len(result.template.get("Resources", {}))
        return row
    return _counted(row, change_set.changes)


def _save_plan(
    aws: AwsSession,
    target: Target,
    result: Synthesized,
    workspace: Workspace,
    row: PlanRow,
    assumptions: Assumptions | None,
) -> PlanRow:
    saved = save_plan(aws, workspace, result, f"plan of {target.names.stack_name}", assumptions=assumptions)
    if saved.plan is None:
        row.action = "no changes"
        return row
    row.cost = saved.plan.cost or {}
    row.plan_file = str(saved.path)
    changes = saved.change_set.changes
    row.action = "create" if saved.plan.change_type == "CREATE" else f"update ({len(changes)})"
    return _counted(row, changes)


def _counted(row: PlanRow, changes: list[ResourceChange]) -> PlanRow:
    if not row.action:
        row.action = f"update ({len(changes)})" if changes else "no changes"
    row.changes = len(changes)
    row.replacements = sum(1 for c in changes if c.replacement == "True")
    row.iam_widening = sum(1 for c in changes if c.iam_widening)
    row.data = sum(1 for c in changes if c.destructive)
    row.details = [c.to_json() for c in changes]
    return row


# -- deploy -----------------------------------------------------------------------------------------


@dataclass
class DeployRow:
    product: str
    account: str
    region: str
    stack: str
    outcome: str = ""
    seconds: float = 0.0
    outputs: int = 0

    def cells(self) -> list[str]:
        return [self.product, self.account, self.region, self.outcome, f"{self.seconds:.0f}s", str(self.outputs)]


DEPLOY_HEADERS = ["product", "account", "region", "outcome", "took", "SSM outputs"]


def deploy_one(
    fleet: Fleet,
    target: Target,
    result: Synthesized | None,
    *,
    progress: Callable[[str, str], None],
    allow_destructive: bool = False,
    warn: Callable[[str], None] = lambda _: None,
    plans_in: Workspace | None = None,
    stop: threading.Event | None = None,
) -> DeployRow:
    """deploy-product for one product of the fleet (the caller confirmed the fleet as a whole):
    ``progress(stage, detail)`` follows it, one line's worth at a time. Once ``stop`` is set (the
    fleet was interrupted), it executes nothing: its change set is cancelled as deploy-product
    cancels one on Ctrl-C, and it ends with Interrupted saying what state it left. ``result`` is
    None only with ``plans_in`` for a template that is not current: its plan is refused."""
    names = target.names
    if result is not None:
        refuse_findings(result)
    started = time.monotonic()
    aws = fleet.session(target, "fleet deploy")
    settled: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        status = event.get("ResourceStatus", "")
        if status.endswith("_COMPLETE") and event.get("LogicalResourceId") != names.stack_name:
            settled.append(event.get("LogicalResourceId", ""))
        total = len(result.template.get("Resources", {})) if result else "?"
        progress("executing", f"{len(settled)}/{total} resources; {event.get('LogicalResourceId', '')} {status}")

    def review(change_set: Any) -> None:
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt  # as if Ctrl-C came here: deploy() cleans up what it made
        progress("executing", f"{len(change_set.changes)} change(s)")

    saved = plans_in is not None
    progress("executing" if saved else "planning", "the saved plan" if saved else "change set")
    with aws_errors(f"deploy of {names.stack_name}"):
        if plans_in is not None:
            deployed = _execute_saved_plan(aws, target, plans_in, review, on_event, allow_destructive)
        else:
            assert result is not None  # only a saved plan runs without a current template
            deployed = deploy(
                aws,
                names,
                result.template,
                result.template_yaml(),
                force=True,
                review=review,
                confirm=lambda _: None,
                expected_outputs=catalog.ssm_outputs(names.config),
                on_event=on_event,
                notify=warn,
                allow_destructive=allow_destructive,
            )
    return DeployRow(
        target.key,
        names.account,
        names.region,
        names.stack_name,
        deployed.outcome,
        time.monotonic() - started,
        len(deployed.outputs),
    )


def _execute_saved_plan(
    aws: AwsSession,
    target: Target,
    workspace: Workspace,
    review: Callable[[Any], None],
    on_event: Callable[[dict[str, Any]], None],
    allow_destructive: bool,
) -> DeployResult:
    """deploy-product --plan for one product: its saved plan (fleet plan --save)."""
    path = plan_path(workspace.reports, target.loaded.stem)
    return execute_saved_plan(
        aws,
        workspace,
        target.loaded,
        target.names,
        read_plan(path),
        path,
        review=review,
        on_event=on_event,
        allow_destructive=allow_destructive,
    )


# -- drift ------------------------------------------------------------------------------------------


@dataclass
class DriftRow:
    product: str
    account: str
    region: str
    stack: str
    drifted: bool = False
    resources: int = 0
    ssm_outputs: int = 0
    not_checked: int = 0

    def cells(self) -> list[str]:
        return [
            self.product,
            self.account,
            self.region,
            "DRIFTED" if self.drifted else "IN_SYNC",
            str(self.resources),
            str(self.ssm_outputs),
            str(self.not_checked),
        ]


DRIFT_HEADERS = ["product", "account", "region", "drift", "resources", "SSM outputs", "not checked"]


def drift(fleet: Fleet, target: Target) -> DriftRow:
    from ml_provisioner.aws.drift import check_drift

    names = target.names
    aws = fleet.session(target, "fleet drift")
    with aws_errors(f"drift of {names.stack_name}"):
        report = check_drift(aws, names)
    return DriftRow(
        target.key,
        names.account,
        names.region,
        names.stack_name,
        report.drifted,
        len(report.resources),
        len(report.ssm_mismatches),
        len(report.not_checked),
    )

"""What the lifecycle commands (deploy-product, test-deploy, show-changes, check-drift,
delete-product) do to one deployment of a product: its own stack, or a test deployment's.

The command line reads the options and renders the outcome; this module reaches the product's
account, takes the current template, and drives aws/ through the steps; fleet/operations.py
shares its saved-plan steps. What needs the person at the terminal in the middle of a deploy goes
through a Console. boto3 and the synthesizer are imported only when a function here runs: the CLI
imports this module when it starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from ml_provisioner.errors import BadInput, OperationFailed
from ml_provisioner.naming import Names

if TYPE_CHECKING:
    from pathlib import Path

    from ml_provisioner.aws.drift import DriftReport
    from ml_provisioner.aws.expiring import ExpiringStack, Found, Pruned
    from ml_provisioner.aws.lifecycle import DeployResult
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.aws.stack import RetainedResource, StackState
    from ml_provisioner.changes import ChangeSet, ResourceChange
    from ml_provisioner.config.loader import LoadedConfig
    from ml_provisioner.cost import Assumptions, CostChange
    from ml_provisioner.plan import Plan
    from ml_provisioner.synth import Synthesized
    from ml_provisioner.workspace import Workspace

Notify = Callable[[str], None]
OnEvent = Callable[[dict[str, Any]], None]  # a stack event, as CloudFormation reports it


@dataclass(frozen=True)
class Reach:
    """How a command reaches the product's account: the options every AWS command takes."""

    endpoint_url: str | None = None
    service_role: bool = False  # CloudFormation acts with the product's execution role
    role_arn: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Deployment:
    """A deployment of the product, and a session in its account for the command named ``what``
    (AWS's failures are reported under that name)."""

    loaded: LoadedConfig
    names: Names
    aws: AwsSession
    what: str
    caller: str  # the caller's ARN

    @property
    def where(self) -> str:
        """Who acts where, for the execution log."""
        return f"caller={self.caller} account={self.names.account} region={self.names.region}"


class Console(Protocol):
    """The person a deploy runs for, met while it runs: what they see and what they decide."""

    def say(self, text: str) -> None:
        """Progress worth reading."""

    def warn(self, text: str) -> None: ...

    def event(self, event: dict[str, Any]) -> None:
        """A stack event, as CloudFormation reports it."""

    def confirm(self, question: str) -> None:
        """Return when the person agrees; raise when they do not."""

    def review(self, stack_name: str, changes: list[ResourceChange]) -> None:
        """Show the changes, then confirm their execution."""


def connect(loaded: LoadedConfig, reach: Reach, what: str, stack_name: str | None = None) -> Deployment:
    """The product's deployment (or the test deployment ``stack_name`` names) and a session in
    the config's account, through the product's role when it has one (aws.access)."""
    from ml_provisioner.aws.access import Caller, route_for
    from ml_provisioner.aws.session import aws_errors

    names = deployment_names(loaded, stack_name)
    route = route_for(loaded, reach.role_arn, reach.external_id)
    with aws_errors(what):
        aws = Caller(reach.endpoint_url).session(
            names, route, cloudformation_role_arn=names.execution_role_arn if reach.service_role else None
        )
        caller = aws.caller_identity()["Arn"]
    return Deployment(loaded, names, aws, what, caller)


def deployment_names(loaded: LoadedConfig, stack_name: str | None) -> Names:
    """The product's names, or those of one of its test deployments named by --stack-name."""
    names = Names(loaded.config)
    if stack_name is not None and not stack_name.strip():  # an empty shell variable must never mean "production"
        raise BadInput(
            "--stack-name is empty",
            "give the test deployment's stack name (test-deploy prints it), or leave --stack-name out for "
            f"the product's own stack {names.stack_name}",
        )
    if stack_name is None or stack_name == names.stack_name:
        return names
    test = names.test_deployment(stack_name)
    if not test:
        raise BadInput(
            f"--stack-name {stack_name} is neither {names.stack_name} nor one of its test deployments",
            f"test deployments are named t<4 hex>--{names.stack_name}",
        )
    return test


# -- deploy ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTestDeployment:
    """A test deployment to make: its names' marker and when it expires (UTC)."""

    marker: str
    expires_at: str


def deploy(
    deployment: Deployment,
    workspace: Workspace,
    console: Console,
    *,
    force: bool,
    fresh: bool = False,
    staging_bucket: str | None = None,
    allow_destructive: bool = False,
    revert_drift: bool = False,
    new_test: NewTestDeployment | None = None,
) -> tuple[Names, DeployResult]:
    """Deploy the current template (or a test copy's) through a change set that ``console``
    reviews; the names deployed, and how it went."""
    from ml_provisioner import catalog
    from ml_provisioner.aws import lifecycle
    from ml_provisioner.aws.session import aws_errors

    result = current_template(workspace, deployment.loaded, console.warn, new_test, fresh=fresh)
    # a test deployment's stack carries its expiry
    names = replace(result.names, expires_at=new_test.expires_at if new_test else None)
    refuse_findings(result)
    with aws_errors(deployment.what):
        deployed = lifecycle.deploy(
            deployment.aws,
            names,
            result.template,
            result.template_yaml(),
            force=force,
            review=lambda change_set: console.review(names.stack_name, change_set.changes),
            confirm=console.confirm,
            expected_outputs=catalog.ssm_outputs(deployment.loaded.config),
            on_event=console.event,
            say=console.say,
            notify=console.warn,
            staging_bucket=staging_bucket,
            allow_destructive=allow_destructive,
            revert_drift=revert_drift,
        )
    return names, deployed


def current_template(
    workspace: Workspace,
    loaded: LoadedConfig,
    notify: Notify,
    new_test: NewTestDeployment | None = None,
    *,
    fresh: bool = False,
) -> Synthesized:
    """The product's current template from templates/ (synthesized and kept there when it is not
    current); a test copy's is synthesized for its marker and not kept."""
    from ml_provisioner.synth import synthesize
    from ml_provisioner.templates import current_templates

    if new_test:
        [result] = synthesize([loaded], test_marker=new_test.marker)
        return result
    [result] = current_templates(workspace, [loaded], fresh=fresh, notify=notify, keep_required=False)
    return result


def refuse_findings(result: Synthesized) -> None:
    """A template with unacknowledged cdk-nag errors is neither deployed nor planned."""
    if result.errors:
        raise OperationFailed(
            f"cdk-nag reports {len(result.errors)} unacknowledged error(s)",
            f"run validate-prov-template --config {result.loaded.path.name} for the findings",
        )


# -- saved plans ----------------------------------------------------------------------------------


def deploy_plan(
    deployment: Deployment,
    workspace: Workspace,
    console: Console,
    plan: Plan,
    path: Path,
    *,
    allow_destructive: bool = False,
) -> tuple[Names, DeployResult]:
    """deploy-product --plan: exactly the planned change set, or a refusal that says why."""
    from ml_provisioner.aws.session import aws_errors

    names = deployment.names

    def review(change_set: ChangeSet) -> None:
        console.say(f"plan {path}: change set {plan.change_set_arn}, made by {plan.created_by} at {plan.created_at}")
        console.review(names.stack_name, change_set.changes)

    with aws_errors(deployment.what):
        deployed = execute_saved_plan(
            deployment.aws,
            workspace,
            deployment.loaded,
            names,
            plan,
            path,
            review=review,
            on_event=console.event,
            allow_destructive=allow_destructive,
        )
    return names, deployed


def execute_saved_plan(
    aws: AwsSession,
    workspace: Workspace,
    loaded: LoadedConfig,
    names: Names,
    plan: Plan,
    path: Path,
    *,
    review: Callable[[ChangeSet], None],
    on_event: OnEvent,
    allow_destructive: bool,
) -> DeployResult:
    """Execute a saved plan, refused unless it is still what its config, the tool and its template
    would plan."""
    from ml_provisioner import catalog
    from ml_provisioner.aws.plans import execute_plan
    from ml_provisioner.plan import require_deployable
    from ml_provisioner.templates import load_template_text

    template_file = workspace.template_for(loaded.stem)
    require_deployable(plan, path, loaded, names, template_file)
    return execute_plan(
        aws,
        names,
        plan,
        load_template_text(template_file.read_text(encoding="utf-8"), str(template_file)),
        expected_outputs=catalog.ssm_outputs(names.config),
        review=review,
        on_event=on_event,
        allow_destructive=allow_destructive,
    )


@dataclass(frozen=True)
class SavedPlan:
    """What saving a plan came to: the plan and where it was written (None: nothing would change)."""

    plan: Plan | None
    path: Path | None
    change_set: ChangeSet


def save_plan(
    aws: AwsSession,
    workspace: Workspace,
    result: Synthesized,
    what: str,
    *,
    notify: Notify = lambda _: None,
    revert_drift: bool = False,
    assumptions: Assumptions | None = None,
) -> SavedPlan:
    """Make the change set a deploy of the kept template would execute now, keep it, and write its
    plan into reports/ (show-changes --save, fleet plan --save)."""
    from ml_provisioner.aws.plans import discard_plan, make_plan
    from ml_provisioner.aws.session import aws_errors
    from ml_provisioner.plan import file_sha256, plan_path

    loaded, names = result.loaded, result.names
    template_file = workspace.template_for(loaded.stem)
    sha256 = file_sha256(template_file)
    if (
        sha256 is None
        or result.fingerprint is None
        or template_file.read_text(encoding="utf-8") != result.template_yaml()
    ):
        raise OperationFailed(f"cannot plan without the template kept in {template_file}", "check the folder")
    with aws_errors(what):
        plan, change_set = make_plan(
            aws,
            names,
            result.template,
            result.template_yaml(),
            config=loaded.path.name,
            template_file=str(template_file),
            template_sha256=sha256,
            fingerprint=result.fingerprint.digest,
            notify=notify,
            revert_drift=revert_drift,
            assumptions=assumptions,
        )
    if plan is None:
        return SavedPlan(None, None, change_set)
    path = plan_path(workspace.reports, loaded.stem)
    try:
        workspace.write(path, plan.to_json())
    except BaseException:  # a change set nobody can find again must not stay
        with aws_errors(what):
            discard_plan(aws, names, plan)
        raise
    return SavedPlan(plan, path, change_set)


def replace_plan(
    deployment: Deployment, workspace: Workspace, console: Console, *, fresh: bool, revert_drift: bool
) -> tuple[SavedPlan, list[str]]:
    """show-changes --save: a new saved plan, and the earlier plans' change sets it removed (a
    product has one plan: the one it replaces, and any whose file is gone, would stay executable)."""
    from ml_provisioner.aws.plans import remove_other_plans
    from ml_provisioner.aws.session import aws_errors
    from ml_provisioner.cost import load_assumptions
    from ml_provisioner.errors import ProvisionerError

    result = current_template(workspace, deployment.loaded, console.warn, fresh=fresh)
    refuse_findings(result)
    saved = save_plan(
        deployment.aws,
        workspace,
        result,
        deployment.what,
        notify=console.warn,
        revert_drift=revert_drift,
        assumptions=load_assumptions(workspace)[0],
    )
    if saved.plan is None:
        return saved, []
    try:
        with aws_errors(deployment.what):
            return saved, remove_other_plans(deployment.aws, deployment.names, keep=saved.plan.change_set_arn)
    except ProvisionerError as error:
        console.warn(f"earlier plans' change sets may remain: {error.message}")
        return saved, []


def discard_plan(deployment: Deployment, plan: Plan, path: Path) -> str:
    """show-changes --discard: the plan's change set deleted when it was never executed, and its
    file; what became of the change set, in words."""
    from ml_provisioner.aws import plans
    from ml_provisioner.aws.session import aws_errors
    from ml_provisioner.workspace import FolderNotWritable

    names = deployment.names
    if plan.account != names.account or plan.stack_name != names.stack_name:
        raise BadInput(
            f"plan {path} is for stack {plan.stack_name} in account {plan.account}, not for "
            f"{deployment.loaded.path.name} (stack {names.stack_name} in account {names.account})",
            "discard a plan with the config it was made from",
        )
    with aws_errors(deployment.what):
        what = plans.discard_plan(deployment.aws, names, plan)
    try:
        path.unlink()
    except OSError as error:
        raise FolderNotWritable(path.parent, error) from None
    return what


# -- show-changes ---------------------------------------------------------------------------------


def preview(
    deployment: Deployment, workspace: Workspace, console: Console, *, fresh: bool, revert_drift: bool
) -> tuple[ChangeSet, CostChange]:
    """What deploying the current template would change (a change set, described then deleted),
    and what that does to the monthly cost estimate; refused when the stack is not deployed."""
    from ml_provisioner.aws import lifecycle
    from ml_provisioner.aws.session import aws_errors
    from ml_provisioner.cost import load_assumptions, template_change

    names = deployment.names
    result = current_template(workspace, deployment.loaded, console.warn, fresh=fresh)
    with aws_errors(deployment.what):
        change_set = lifecycle.preview(
            deployment.aws,
            names,
            result.template,
            result.template_yaml(),
            notify=console.warn,
            revert_drift=revert_drift,
        )
    if change_set is None:
        raise OperationFailed(
            f"stack {names.stack_name} is not deployed", "show-product lists what deploy-product would create"
        )
    assumptions = load_assumptions(workspace)[0]
    return change_set, template_change(change_set.deployed_template, result.template, names.region, assumptions)


# -- check-drift, delete-product, test deployments -----------------------------------------------


def check_drift(deployment: Deployment) -> DriftReport:
    """The drift of the deployed stack and of its SSM outputs (aws.drift's report)."""
    from ml_provisioner.aws.drift import check_drift as detect
    from ml_provisioner.aws.session import aws_errors

    with aws_errors(deployment.what):
        return detect(deployment.aws, deployment.names)


@dataclass(frozen=True)
class Deletable:
    """A deployment as delete-product finds it, before anything is deleted."""

    state: StackState
    retained: list[RetainedResource]  # what would outlive the stack
    leftovers: list[str]  # what an interrupted run had left, removed already


def to_delete(deployment: Deployment) -> Deletable:
    """The stack to delete (refused unless it is this config's), once what an interrupted run left
    is removed: there is none when it was never created."""
    from ml_provisioner.aws.lifecycle import owned_stack_state, remove_leftovers
    from ml_provisioner.aws.session import aws_errors
    from ml_provisioner.aws.stack import retained_resources

    aws, names = deployment.aws, deployment.names
    with aws_errors(deployment.what):
        owned_stack_state(aws, names)
        leftovers = remove_leftovers(aws, names.stack_name)
        state = owned_stack_state(aws, names)
        retained = retained_resources(aws, names.stack_name) if state.exists else []
    return Deletable(state, retained, leftovers)


def delete(deployment: Deployment, found: Deletable, on_event: OnEvent) -> None:
    """Delete the stack (its termination protection turned off first, as decided)."""
    from ml_provisioner.aws.session import aws_errors
    from ml_provisioner.aws.stack import delete_stack

    names = deployment.names
    with aws_errors(deployment.what):
        delete_stack(
            deployment.aws,
            names.stack_name,
            on_event=on_event,
            disable_protection=found.state.termination_protection,
            empty_buckets=names.is_test,
        )


def test_deployments(deployment: Deployment) -> Found:
    """The product's test deployments in the config's account and region (aws.expiring)."""
    from ml_provisioner.aws.expiring import find
    from ml_provisioner.aws.session import aws_errors

    with aws_errors(deployment.what):
        return find(deployment.aws, deployment.names)


def prune(deployment: Deployment, expired: list[ExpiringStack], on_event: OnEvent) -> list[Pruned]:
    """Delete the expired test deployments: how each went (one that fails does not stop the others)."""
    from ml_provisioner.aws.expiring import prune as delete_expired
    from ml_provisioner.aws.session import aws_errors

    with aws_errors(deployment.what):
        return [delete_expired(deployment.aws, stack, on_event=on_event) for stack in expired]

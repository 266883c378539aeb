"""AWS actions: deploy-product, test-deploy, show-changes, check-drift, delete-product.

Each reads its options, makes its call into ml_provisioner.deployments (which synthesizes
in-process, then works through change sets addressed by ARN, never a blind create/update) and
renders what came back. boto3 is imported only when one of these runs."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ml_provisioner.changes import describe_value_change
from ml_provisioner.cli._access import reach_deployment, reaching_aws
from ml_provisioner.cli._common import (
    ConfigOption,
    FreshOption,
    JsonOption,
    Run,
    action,
    table,
)
from ml_provisioner.deployments import Reach
from ml_provisioner.errors import EXIT_DRIFT, EXIT_FAILED, BadInput, Interrupted, OperationFailed
from ml_provisioner.identity import new_test_marker
from ml_provisioner.naming import config_file_name

if TYPE_CHECKING:
    from ml_provisioner.aws.drift import DriftReport
    from ml_provisioner.aws.lifecycle import DeployResult
    from ml_provisioner.aws.stack import RetainedResource
    from ml_provisioner.changes import ResourceChange
    from ml_provisioner.deployments import Deployment, SavedPlan
    from ml_provisioner.naming import Names

StackNameOption = Annotated[
    str | None, typer.Option("--stack-name", help="A test deployment's stack name (default: the product's).")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Do not ask for confirmation (required without a terminal).")
]
WIDENING_SHOWN = 5  # grants listed per resource in the table view
StagingOption = Annotated[
    str | None,
    typer.Option("--staging-bucket", help="S3 bucket for templates over 51,200 bytes (default: created for you)."),
]

PlanOption = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        help="Execute exactly this saved plan's change set (show-changes --save): nothing is synthesized; "
        "refused if the config, the template or the stack changed since.",
    ),
]

AllowDestructiveOption = Annotated[
    bool,
    typer.Option(
        "--allow-destructive",
        help="Go ahead when the change removes or replaces a resource holding data (e.g. a source_control "
        "switch); --force alone does not.",
    ),
]

RevertDriftOption = Annotated[
    bool,
    typer.Option(
        "--revert-drift",
        help="Compare with the resources' live state, not only the last template (a drift-aware change set), "
        "and put back what was changed outside CloudFormation; check-drift shows what drifted.",
    ),
]


@reaching_aws
def deploy_product(
    ctx: typer.Context,
    config: ConfigOption,
    reach: Reach,
    force: ForceOption = False,
    allow_destructive: AllowDestructiveOption = False,
    staging_bucket: StagingOption = None,
    as_json: JsonOption = False,
    plan_file: PlanOption = None,
    fresh: FreshOption = False,
    revert_drift: RevertDriftOption = False,
) -> None:
    """Deploy the product's stack through a change set, then read its SSM outputs back."""
    from ml_provisioner import deployments
    from ml_provisioner.plan import read_plan

    with action(ctx, "deploy-product") as run:
        if plan_file and revert_drift:
            raise BadInput(
                "--revert-drift does not go with --plan: a plan executes the change set it was saved with",
                "save the plan with show-changes --save --revert-drift",
            )
        loaded = run.load(config)
        planned = (read_plan(plan_file), plan_file) if plan_file else None  # no AWS call for a file that is no plan
        deployment = reach_deployment(run, loaded, reach, "deploy-product")
        terminal = Terminal(run, as_json, force)
        if planned:
            names, deployed = deployments.deploy_plan(
                deployment, run.workspace, terminal, *planned, allow_destructive=allow_destructive
            )
            run.summary = f"{names.stack_name}: {deployed.outcome} (plan {plan_file})"
        else:
            names, deployed = deployments.deploy(
                deployment,
                run.workspace,
                terminal,
                force=force,
                fresh=fresh,
                staging_bucket=staging_bucket,
                allow_destructive=allow_destructive,
                revert_drift=revert_drift,
            )
            run.summary = f"{names.stack_name}: {deployed.outcome}"
        _report_outputs(run, deployment, names, deployed, as_json)


@reaching_aws
def test_deploy(
    ctx: typer.Context,
    config: ConfigOption,
    reach: Reach,
    staging_bucket: StagingOption = None,
    as_json: JsonOption = False,
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            metavar="DURATION",
            help="How long the test deployment lives: a number and m, h, d or w, e.g. 12h or 3d (default 7d). "
            "Its stack is tagged ml-provisioner:expires-at (UTC); --prune removes it after that.",
        ),
    ] = None,
    list_: Annotated[
        bool,
        typer.Option(
            "--list",
            help="Deploy nothing: list the product's test deployments in the config's account and region, "
            "with their expiry.",
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Deploy nothing: delete the product's expired test deployments (as delete-product --stack-name "
            "does; retained resources stay). Asks first.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --prune: delete without asking (required without a terminal).")
    ] = False,
) -> None:
    """Deploy an isolated copy (random suffix on every name) beside the real product; it expires
    after --expires-in (7 days). --list shows the product's test deployments, --prune deletes the
    expired ones."""
    from ml_provisioner import deployments
    from ml_provisioner.aws.expiring import DEFAULT_LIFETIME, expiry, lifetime

    with action(ctx, "test-deploy") as run:
        if list_ or prune:
            for given, option in ((expires_in, "--expires-in"), (list_ and prune, "--list")):
                if given:
                    raise BadInput(
                        f"{option} does not go with {'--prune' if option == '--list' else '--list or --prune'}",
                        "test-deploy --list lists, --prune deletes the expired ones (and lists them), "
                        "test-deploy [--expires-in DURATION] deploys",
                    )
            if force and not prune:
                raise BadInput("--force goes with --prune only", "test-deploy --list deletes nothing")
            if prune and as_json and not force:  # a question would break the one JSON document
                raise BadInput("--prune --json needs --force", "the JSON lists what was deleted; --list shows first")
            deployment = reach_deployment(run, run.load(config), reach, "test-deploy")
            _test_deployments(run, deployment, Terminal(run, as_json, force), prune)
            return
        if force:
            raise BadInput("--force goes with --prune only", "test-deploy deploys without asking")
        expires_at = expiry(lifetime(expires_in or DEFAULT_LIFETIME))
        deployment = reach_deployment(run, run.load(config), reach, "test-deploy")
        names, deployed = deployments.deploy(
            deployment,
            run.workspace,
            Terminal(run, as_json, force=True),
            force=True,
            staging_bucket=staging_bucket,
            new_test=deployments.NewTestDeployment(new_test_marker(), expires_at),
        )
        run.summary = f"{names.stack_name}: {deployed.outcome}"
        _report_outputs(run, deployment, names, deployed, as_json)


def _test_deployments(run: Run, deployment: Deployment, terminal: Terminal, prune: bool) -> None:
    """test-deploy --list / --prune."""
    from ml_provisioner import deployments
    from ml_provisioner.aws.expiring import now

    names, as_json = deployment.names, terminal.as_json
    found = deployments.test_deployments(deployment)
    at = now()
    for refused in found.not_ours:
        run.warn(f"left alone: {refused}")
    expired = [d for d in found.deployments if d.expired(at)]
    where = f"{names.product} in {names.account} {names.region}"
    listed = [d.to_json(at) for d in found.deployments]
    if not prune:
        run.summary = f"{len(found.deployments)} test deployment(s), {len(expired)} expired"
        if as_json:
            run.json(
                {
                    "product": names.product,
                    "region": names.region,
                    "test_deployments": listed,
                    "left_alone": found.not_ours,
                }
            )
            return
        rows = [
            [d.stack_name, d.status, d.expires_at or "(none)", "yes" if d.expired(at) else ""]
            for d in found.deployments
        ]
        if rows:
            run.out(table(rows, ["test stack", "status", "expires at (UTC)", "expired"]))
        run.result(f"{len(found.deployments)} test deployment(s) of {where}; {len(expired)} expired")
        return
    if expired:
        if not as_json:
            run.out(table([[d.stack_name, d.expires_at] for d in expired], ["expired test stack", "expired at (UTC)"]))
        terminal.confirm(f"Delete these {len(expired)} expired test deployment(s)?")
    pruned = deployments.prune(deployment, expired, terminal.event)
    failed = [p for p in pruned if p.error]
    run.summary = f"pruned {len(pruned) - len(failed)} expired test deployment(s) of {len(found.deployments)}"
    if as_json:  # every outcome, failures included, before the exit code says there were any
        run.json(
            {
                "product": names.product,
                "region": names.region,
                "pruned": [p.to_json() for p in pruned],
                "left_alone": found.not_ours,
            }
        )
    else:
        for deleted in (p for p in pruned if not p.error):
            run.out(f"deleted {deleted.stack_name}")
            _report_retained(run, deleted.retained, as_json)
        run.result(
            f"pruned {len(pruned) - len(failed)} expired test deployment(s) of {where}; "
            f"{len(found.deployments) - len(pruned) + len(failed)} kept"
        )
    if failed:
        raise OperationFailed(
            f"{len(failed)} of {len(pruned)} expired test deployment(s) not deleted: "
            + "; ".join(str(p.error) for p in failed),
            "the others were deleted; test-deploy --list shows what remains",
        )


@reaching_aws
def show_changes(
    ctx: typer.Context,
    config: ConfigOption,
    reach: Reach,
    as_json: JsonOption = False,
    save: Annotated[
        bool,
        typer.Option(
            "--save",
            help="Keep the change set and write reports/<config>-plan.json: what deploy-product --plan executes.",
        ),
    ] = False,
    discard: Annotated[
        Path | None,
        typer.Option("--discard", help="Delete this saved plan's change set (if never executed) and the plan file."),
    ] = None,
    fresh: FreshOption = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when nothing would change, 2 when something would, 1 on any error (as terraform plan "
            "-detailed-exitcode), for CI steps that branch on it.",
        ),
    ] = False,
    revert_drift: RevertDriftOption = False,
) -> None:
    """Preview what deploying the config now would change (a change set, described then deleted;
    kept as a plan with --save)."""
    from ml_provisioner import deployments
    from ml_provisioner.plan import read_plan

    changed = False
    try:
        with action(ctx, "show-changes") as run:
            loaded = run.load(config)
            if discard and (save or revert_drift):
                raise BadInput(
                    f"--discard does not go with {'--save' if save else '--revert-drift'}",
                    "save a new plan, or discard an old one",
                )
            deployment = reach_deployment(run, loaded, reach, "show-changes")
            if discard:
                plan = read_plan(discard)
                what = deployments.discard_plan(deployment, plan, discard)
                run.summary = f"plan discarded: {discard}"
                if as_json:
                    run.json({"plan": str(discard), "discarded": True, "change_set": plan.change_set_arn, "what": what})
                else:
                    run.result(f"plan {discard} discarded: {what}")
                return
            terminal = Terminal(run, as_json)
            if save:
                saved, removed = deployments.replace_plan(
                    deployment, run.workspace, terminal, fresh=fresh, revert_drift=revert_drift
                )
                changed = saved.plan is not None
                _report_plan(run, deployment, saved, removed, as_json)
                return
            change_set, cost = deployments.preview(
                deployment, run.workspace, terminal, fresh=fresh, revert_drift=revert_drift
            )
            changed = not change_set.empty
            if as_json:
                run.json(
                    {
                        "stack": deployment.names.stack_name,
                        "revert_drift": change_set.revert_drift,
                        "changes": [c.to_json() for c in change_set.changes],
                        "cost": cost.to_json(),
                    }
                )
            else:
                _render_changes(run, deployment.names.stack_name, change_set.changes)
                if change_set.changes:
                    run.result(f"monthly cost estimate: {cost.text}")
    except typer.Exit as stopped:
        if detailed_exitcode and stopped.exit_code:
            raise typer.Exit(EXIT_FAILED) from None  # an error is never read as "changes present"
        raise
    if detailed_exitcode and changed:
        raise typer.Exit(EXIT_CHANGES)


EXIT_CHANGES = 2  # show-changes --detailed-exitcode: something would change


def _report_plan(run: Run, deployment: Deployment, saved: SavedPlan, removed: list[str], as_json: bool) -> None:
    """show-changes --save: the plan saved (or why none was), and how to use it."""
    stack_name, config_name = deployment.names.stack_name, deployment.loaded.path.name
    plan, path = saved.plan, saved.path
    if plan is None or path is None:
        run.summary = "no changes: no plan saved"
        if as_json:
            run.json({"stack": stack_name, "changes": [], "plan": None})
        else:
            run.result(f"{stack_name}: no changes; no plan saved")
        return
    run.summary = f"plan saved: {path}"
    if as_json:
        run.json({"stack": stack_name, "plan": str(path), **json.loads(plan.to_json()), "removed_change_sets": removed})
        return
    for name in removed:
        run.out(f"removed the earlier plan's change set {name}")
    _render_changes(run, stack_name, saved.change_set.changes)
    if plan.cost:
        run.result(f"monthly cost estimate: {plan.cost['text']}")
    run.result(f"plan saved: {path} (change set {plan.change_set_arn})")
    run.out(
        f"review it: ml-provisioner create-review-report --config {config_name} --plan {path}\n"
        f"deploy it:  ml-provisioner deploy-product --config {config_name} --plan {path}\n"
        f"discard it: ml-provisioner show-changes --config {config_name} --discard {path}"
    )


@reaching_aws
def check_drift(
    ctx: typer.Context,
    config: ConfigOption,
    reach: Reach,
    stack_name: StackNameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Detect drift of the deployed stack and of its SSM outputs. Exit 0 in sync, 3 drifted."""
    from ml_provisioner import deployments

    with action(ctx, "check-drift") as run:
        deployment = reach_deployment(run, run.load(config), reach, "check-drift", stack_name)
        report = deployments.check_drift(deployment)
        run.summary = "drifted" if report.drifted else "in sync"
        if as_json:
            run.json(report.to_json())
        else:
            _render_drift(run, deployment.names, report)
        if report.drifted:
            raise typer.Exit(EXIT_DRIFT)


def _render_drift(run: Run, names: Names, report: DriftReport) -> None:
    rows = [
        [r.logical_id, r.resource_type, r.status, d.path if d else "", d.expected if d else "", d.actual if d else ""]
        for r in report.resources
        for d in (r.differences or [None])  # type: ignore[list-item]
    ]
    if rows:
        run.out(table(rows, ["resource", "type", "drift", "property", "expected", "actual"]))
    for mismatch in report.ssm_mismatches:
        run.out(f"SSM output drifted: {mismatch}")
    if report.not_checked:
        run.out(
            table(
                [[r.logical_id, r.resource_type, r.reason] for r in report.not_checked],
                ["not checked", "type", "why"],
            )
        )
    unchecked = f"; {len(report.not_checked)} resource(s) not checked" if report.not_checked else ""
    for stopped in report.polling_disabled:
        run.out(
            f"Polling disabled by AWS since {stopped.since} (30 days idle) on {stopped.pipeline}: "
            f"a push starts nothing; re-enable: {stopped.reenable}"
        )
    run.result(
        f"{names.stack_name}: "
        + (
            f"DRIFTED ({len(report.resources)} resource(s), {len(report.ssm_mismatches)} SSM output(s){unchecked})"
            if report.drifted
            else f"IN_SYNC{f' ({unchecked[2:]})' if unchecked else ''}"
        )
    )
    if report.drifted and report.resources and not names.is_test:
        config_name = config_file_name(names.config)
        run.out(
            "to put the template's values back: "
            f"ml-provisioner show-changes --config {config_name} --revert-drift (what it would change), then "
            f"ml-provisioner deploy-product --config {config_name} --revert-drift"
        )


@reaching_aws
def delete_product(
    ctx: typer.Context,
    config: ConfigOption,
    reach: Reach,
    force: ForceOption = False,
    stack_name: StackNameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the product's stack (or a test deployment's) and report what was retained."""
    from ml_provisioner import deployments

    with action(ctx, "delete-product") as run:
        deployment = reach_deployment(run, run.load(config), reach, "delete-product", stack_name)
        names, terminal = deployment.names, Terminal(run, as_json, force)
        found = deployments.to_delete(deployment)
        if not found.state.exists:
            if found.leftovers:  # an interrupted first deploy: nothing was ever created
                run.summary = f"{names.stack_name} was never created; removed {len(found.leftovers)} leftover(s)"
                _report_deleted(run, names.stack_name, [], as_json, found.leftovers)
                return
            # what the user asked for is already so: not an error (as `terraform destroy` of nothing)
            run.summary = f"{names.stack_name} is not deployed: nothing to delete"
            if as_json:
                run.json({"stack": names.stack_name, "deleted": False, "deployed": False, "removed_leftovers": []})
            else:
                run.result(f"stack {names.stack_name} is not deployed: nothing to delete")
            return
        unprotected = found.state.termination_protection
        if unprotected:
            _decide_on_protection(names.stack_name, names.region, found.retained, force)
        else:
            terminal.confirm(f"Delete stack {names.stack_name}?")
        try:
            deployments.delete(deployment, found, terminal.event)
        except Interrupted:
            _report_retained(run, found.retained, as_json)  # whatever happens next, this is what survives
            raise
        run.summary = (
            f"deleted {names.stack_name}"
            + ("; termination protection turned off" if unprotected else "")
            + f"; {len(found.retained)} resource(s) retained"
        )
        if unprotected and not as_json:
            run.result(f"termination protection of {names.stack_name} turned off")
        _report_deleted(run, names.stack_name, found.retained, as_json, found.leftovers, unprotected)


FORCE_KEEPS_PROTECTION = "ML_PROVISIONER_FORCE_KEEPS_PROTECTION"


def _decide_on_protection(stack_name: str, region: str, retained: list[RetainedResource], force: bool) -> None:
    """Turning termination protection off is a decision the user sees: asked for once in a
    terminal, naming what is deleted and what is kept; --force decides it without asking (the
    spec's container has no terminal) unless ML_PROVISIONER_FORCE_KEEPS_PROTECTION=1, which teams
    set where --force must stop at protection (CI for production)."""
    undo = (
        f"turn it off deliberately first: aws cloudformation update-termination-protection "
        f"--no-enable-termination-protection --stack-name {stack_name} --region {region}"
    )
    if force and os.environ.get(FORCE_KEEPS_PROTECTION) == "1":
        raise BadInput(f"stack {stack_name} has termination protection, and {FORCE_KEEPS_PROTECTION}=1 keeps it", undo)
    if force:
        return
    if not sys.stdin.isatty():
        raise BadInput(
            f"stack {stack_name} has termination protection; confirmation needed but stdin is not a terminal",
            f"pass --force to turn it off and delete the stack, or {undo}",
        )
    kept = "".join(f"\n  kept:    {r.resource_type} {r.name}" for r in retained) or "\n  kept:    nothing"
    typer.echo(f"Stack {stack_name} has termination protection.{kept}\n  deleted: everything else in the stack")
    _confirm(f"Turn off termination protection of {stack_name} and delete it?", force=False)


def _report_deleted(
    run: Run,
    stack_name: str,
    retained: list[RetainedResource],
    as_json: bool,
    leftovers: list[str],
    unprotected: bool = False,
) -> None:
    if as_json:
        run.json(
            {
                "stack": stack_name,
                "deleted": True,
                "termination_protection_turned_off": unprotected,
                "removed_leftovers": leftovers,
                "retained": [r.__dict__ | {"removal": r.removal_hint} for r in retained],
            }
        )
        return
    for leftover in leftovers:
        run.out(f"removed {leftover}, left by an interrupted run")
    run.result(
        f"deleted stack {stack_name}"
        if not leftovers or retained
        else f"stack {stack_name} was never created; removed what an interrupted deploy left"
    )
    _report_retained(run, retained, as_json)


def _report_retained(run: Run, retained: list[RetainedResource], as_json: bool) -> None:
    if retained and not as_json:
        run.out("\nRetained (data outlives the stack); to remove them by hand:")
        run.out(table([[r.resource_type, r.name, r.removal_hint] for r in retained], ["type", "name", "how to remove"]))
    elif retained:
        run.json({"retained": [r.__dict__ | {"removal": r.removal_hint} for r in retained]})


def _report_outputs(run: Run, deployment: Deployment, names: Names, deployed: DeployResult, as_json: bool) -> None:
    outputs, config_name = deployed.outputs, deployment.loaded.path.name
    if as_json:
        run.json(
            {
                "stack": names.stack_name,
                "test_deployment": names.is_test,
                "outcome": deployed.outcome,
                "ssm_prefix": names.ssm_prefix,
                "outputs": outputs,
                "seed_code": deployed.seeded,
                **({"expires_at": names.expires_at} if names.is_test else {}),
            }
        )
        return
    run.out(table([[names.ssm_parameter(k), v] for k, v in outputs.items()], ["SSM parameter", "value"]))
    run.result(f"stack {names.stack_name}: {deployed.outcome}; {len(outputs)} SSM output(s) read back and checked")
    for line in deployed.seeded:
        run.result(line)
    if names.is_test:
        run.result(f"test stack name: {names.stack_name}")
        run.out(f"expires at {names.expires_at} (UTC): test-deploy --config {config_name} --prune removes it then")
        run.out(
            f"remove it with: ml-provisioner delete-product --config {config_name} "
            f"--stack-name {names.stack_name} --force\n"
            f"           or: aws cloudformation delete-stack --stack-name {names.stack_name} --region {names.region}"
        )


def _render_changes(run: Run, stack_name: str, changes: list[ResourceChange]) -> None:
    if not changes:
        run.result(f"{stack_name}: no changes")
        return
    run.out(
        table(
            [[c.action, c.logical_id, c.resource_type, c.physical_id, c.flags] for c in changes],
            ["action", "resource", "type", "physical id", "flags"],
        )
    )
    for change in changes:
        for value in change.properties:
            run.out(f"  ~ {change.logical_id}{value['path']}: {describe_value_change(value)}")
        for grant in change.iam_widening[:WIDENING_SHOWN]:
            run.out(f"IAM widening in {change.logical_id}: {grant}")
        if len(change.iam_widening) > WIDENING_SHOWN:
            run.out(
                f"IAM widening in {change.logical_id}: ... and {len(change.iam_widening) - WIDENING_SHOWN} more "
                "(--json lists all)"
            )
    run.result(
        f"{stack_name}: {len(changes)} change(s), "
        f"{sum(1 for c in changes if c.replacement == 'True')} replacement(s), "
        f"{sum(1 for c in changes if c.iam_widening)} IAM-widening"
    )


def _confirm(question: str, force: bool) -> None:
    if force:
        return
    if not sys.stdin.isatty():
        raise BadInput("confirmation needed but stdin is not a terminal", "pass --force to proceed without asking")
    try:
        confirmed = typer.confirm(question, default=False)
    except typer.Abort:  # Ctrl-C or end of input at the prompt
        raise Interrupted("cancelled; nothing was changed") from None
    if not confirmed:
        raise OperationFailed("cancelled; nothing was changed")


@dataclass(frozen=True)
class Terminal:
    """The lifecycle commands' console (deployments.Console): their run's output, where --json
    keeps stdout for the one document, and their questions, which --force answers."""

    run: Run
    as_json: bool
    force: bool = False

    def say(self, text: str) -> None:
        if not self.as_json:
            self.run.out(text)

    def warn(self, text: str) -> None:
        self.run.warn(text)

    def event(self, event: dict[str, Any]) -> None:
        if self.as_json:
            return
        when = event["Timestamp"].strftime("%H:%M:%S") if hasattr(event["Timestamp"], "strftime") else ""
        reason = event.get("ResourceStatusReason") or ""
        self.run.out(f"{when}  {event['ResourceStatus']:<28} {event['LogicalResourceId']:<40} {reason}".rstrip())

    def confirm(self, question: str) -> None:
        _confirm(question, self.force)

    def review(self, stack_name: str, changes: list[ResourceChange]) -> None:
        if not self.as_json:
            _render_changes(self.run, stack_name, changes)
        self.confirm(f"Execute these {len(changes)} change(s) on {stack_name}?")

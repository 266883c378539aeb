"""AWS actions: deploy-product, test-deploy, show-changes, check-drift, delete-product.

Each synthesizes in-process, then works through change sets addressed by ARN (never a blind
create/update). boto3 is imported only when one of these runs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ml_provisioner import catalog
from ml_provisioner.changes import describe_value_change
from ml_provisioner.cli._access import ExternalIdOption, RoleArnOption
from ml_provisioner.cli._common import (
    ConfigOption,
    EndpointOption,
    FreshOption,
    JsonOption,
    Run,
    action,
    table,
)
from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.cost import load_assumptions
from ml_provisioner.errors import EXIT_DRIFT, EXIT_FAILED, BadInput, Interrupted, OperationFailed, ProvisionerError
from ml_provisioner.identity import new_test_marker
from ml_provisioner.naming import Names, config_file_name
from ml_provisioner.workspace import FolderNotWritable

if TYPE_CHECKING:
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.aws.stack import RetainedResource
    from ml_provisioner.changes import ChangeSet, ResourceChange
    from ml_provisioner.cost import CostChange
    from ml_provisioner.synth import Synthesized

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


ServiceRoleOption = Annotated[
    bool,
    typer.Option(
        "--service-role",
        help="Let CloudFormation act with the product's execution role (create-policy --service-role), not with "
        "your credentials.",
    ),
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


def deploy_product(
    ctx: typer.Context,
    config: ConfigOption,
    force: ForceOption = False,
    allow_destructive: AllowDestructiveOption = False,
    endpoint_url: EndpointOption = None,
    staging_bucket: StagingOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    plan: PlanOption = None,
    fresh: FreshOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
    revert_drift: RevertDriftOption = False,
) -> None:
    """Deploy the product's stack through a change set, then read its SSM outputs back."""
    with action(ctx, "deploy-product") as run:
        if plan and revert_drift:
            raise BadInput(
                "--revert-drift does not go with --plan: a plan executes the change set it was saved with",
                "save the plan with show-changes --save --revert-drift",
            )
        if plan:
            _deploy_plan(
                run,
                run.load(config),
                plan,
                force=force,
                endpoint_url=endpoint_url,
                as_json=as_json,
                allow_destructive=allow_destructive,
                service_role=service_role,
                access=(role_arn, external_id),
            )
            return
        _deploy(
            run,
            run.load(config),
            None,
            force=force,
            endpoint_url=endpoint_url,
            staging_bucket=staging_bucket,
            as_json=as_json,
            allow_destructive=allow_destructive,
            service_role=service_role,
            fresh=fresh,
            access=(role_arn, external_id),
            revert_drift=revert_drift,
        )


def test_deploy(
    ctx: typer.Context,
    config: ConfigOption,
    endpoint_url: EndpointOption = None,
    staging_bucket: StagingOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
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
            _test_deployments(run, config, endpoint_url, as_json, prune, force, service_role, (role_arn, external_id))
            return
        if force:
            raise BadInput("--force goes with --prune only", "test-deploy deploys without asking")
        expires_at = expiry(lifetime(expires_in or DEFAULT_LIFETIME))
        _deploy(
            run,
            run.load(config),
            new_test_marker(),
            force=True,
            endpoint_url=endpoint_url,
            staging_bucket=staging_bucket,
            as_json=as_json,
            service_role=service_role,
            access=(role_arn, external_id),
            expires_at=expires_at,
        )


def _test_deployments(
    run: Run,
    config: str,
    endpoint_url: str | None,
    as_json: bool,
    prune: bool,
    force: bool,
    service_role: bool,
    access: tuple[str | None, str | None],
) -> None:
    """test-deploy --list / --prune."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.expiring import find, now
    from ml_provisioner.aws.expiring import prune as delete_expired

    names, aws = _connect(run, config, None, endpoint_url, "test-deploy", service_role=service_role, access=access)
    with aws_errors("test-deploy"):
        found = find(aws, names)
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
        _confirm(f"Delete these {len(expired)} expired test deployment(s)?", force)
    pruned = []
    with aws_errors("test-deploy"):
        for deployment in expired:
            pruned.append(delete_expired(aws, deployment, on_event=_event_printer(run, as_json)))
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


def show_changes(
    ctx: typer.Context,
    config: ConfigOption,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
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
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
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
    try:
        changed = _show_changes(
            ctx, config, endpoint_url, as_json, service_role, save, discard, fresh, role_arn, external_id, revert_drift
        )
    except typer.Exit as stopped:
        if detailed_exitcode and stopped.exit_code:
            raise typer.Exit(EXIT_FAILED) from None  # an error is never read as "changes present"
        raise
    if detailed_exitcode and changed:
        raise typer.Exit(EXIT_CHANGES)


EXIT_CHANGES = 2  # show-changes --detailed-exitcode: something would change


def _show_changes(
    ctx: typer.Context,
    config: str,
    endpoint_url: str | None,
    as_json: bool,
    service_role: bool,
    save: bool,
    discard: Path | None,
    fresh: bool,
    role_arn: str | None,
    external_id: str | None,
    revert_drift: bool,
) -> bool:
    """show-changes; whether something would change."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.lifecycle import preview

    with action(ctx, "show-changes") as run:
        loaded = run.load(config)
        if discard and (save or revert_drift):
            raise BadInput(
                f"--discard does not go with {'--save' if save else '--revert-drift'}",
                "save a new plan, or discard an old one",
            )
        names, aws = _connect(
            run, loaded, None, endpoint_url, "show-changes", service_role=service_role, access=(role_arn, external_id)
        )
        if discard:
            _discard_plan(run, loaded, names, aws, discard, as_json)
            return False
        result = _template(run, loaded, fresh=fresh)
        if save:
            return _save_plan(run, loaded, result, aws, as_json, revert_drift)
        with aws_errors("show-changes"):
            change_set = preview(
                aws, names, result.template, result.template_yaml(), notify=run.warn, revert_drift=revert_drift
            )
        if change_set is None:
            raise OperationFailed(
                f"stack {names.stack_name} is not deployed", "show-product lists what deploy-product would create"
            )
        cost = _cost_change(run, change_set, result)
        if as_json:
            run.json(
                {
                    "stack": names.stack_name,
                    "revert_drift": change_set.revert_drift,
                    "changes": [c.to_json() for c in change_set.changes],
                    "cost": cost.to_json(),
                }
            )
        else:
            _render_changes(run, names, change_set.changes)
            if change_set.changes:
                run.result(f"monthly cost estimate: {cost.text}")
        return not change_set.empty
    return False  # not reached: action() turns every failure into an exit


def _save_plan(
    run: Run, loaded: LoadedConfig, result: Synthesized, aws: AwsSession, as_json: bool, revert_drift: bool
) -> bool:
    """show-changes --save; whether a plan was saved (something would change)."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.plans import make_plan
    from ml_provisioner.plan import file_sha256, plan_path

    names = result.names
    if result.errors:
        raise OperationFailed(
            f"cdk-nag reports {len(result.errors)} unacknowledged error(s): such a template cannot be deployed",
            "run validate-prov-template for the findings",
        )
    template_file = run.workspace.template_for(loaded.stem)
    sha256 = file_sha256(template_file)
    if (
        sha256 is None
        or result.fingerprint is None
        or template_file.read_text(encoding="utf-8") != result.template_yaml()
    ):
        raise OperationFailed(f"cannot plan without the template kept in {template_file}", "check the folder")
    with aws_errors("show-changes"):
        plan, change_set = make_plan(
            aws,
            names,
            result.template,
            result.template_yaml(),
            config=loaded.path.name,
            template_file=str(template_file),
            template_sha256=sha256,
            fingerprint=result.fingerprint.digest,
            notify=run.warn,
            revert_drift=revert_drift,
            assumptions=load_assumptions(run.workspace)[0],
        )
    if plan is None:
        run.summary = "no changes: no plan saved"
        if as_json:
            run.json({"stack": names.stack_name, "changes": [], "plan": None})
        else:
            run.result(f"{names.stack_name}: no changes; no plan saved")
        return False
    path = plan_path(run.workspace.reports, loaded.stem)
    try:
        run.workspace.write(path, plan.to_json())
    except BaseException:  # a change set nobody can find again must not stay
        from ml_provisioner.aws.plans import discard_plan

        with aws_errors("show-changes"):
            discard_plan(aws, names, plan)
        raise
    from ml_provisioner.aws.plans import remove_other_plans

    try:  # one plan per product: the one it replaces, and any whose file is gone, would stay executable
        with aws_errors("show-changes"):
            for removed in remove_other_plans(aws, names, keep=plan.change_set_arn):
                run.out(f"removed the earlier plan's change set {removed}")
    except ProvisionerError as error:
        run.warn(f"earlier plans' change sets may remain: {error.message}")
    run.summary = f"plan saved: {path}"
    if as_json:
        run.json({"stack": names.stack_name, "plan": str(path), **json.loads(plan.to_json())})
        return True
    _render_changes(run, names, change_set.changes)
    if plan.cost:
        run.result(f"monthly cost estimate: {plan.cost['text']}")
    run.result(f"plan saved: {path} (change set {plan.change_set_arn})")
    run.out(
        f"review it: ml-provisioner create-review-report --config {loaded.path.name} --plan {path}\n"
        f"deploy it:  ml-provisioner deploy-product --config {loaded.path.name} --plan {path}\n"
        f"discard it: ml-provisioner show-changes --config {loaded.path.name} --discard {path}"
    )
    return True


def _discard_plan(run: Run, loaded: LoadedConfig, names: Names, aws: AwsSession, path: Path, as_json: bool) -> None:
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.plans import discard_plan
    from ml_provisioner.plan import read_plan

    plan = read_plan(path)
    if plan.account != names.account or plan.stack_name != names.stack_name:
        raise BadInput(
            f"plan {path} is for stack {plan.stack_name} in account {plan.account}, not for {loaded.path.name} "
            f"(stack {names.stack_name} in account {names.account})",
            "discard a plan with the config it was made from",
        )
    with aws_errors("show-changes"):
        what = discard_plan(aws, names, plan)
    try:
        path.unlink()
    except OSError as error:
        raise FolderNotWritable(path.parent, error) from None
    run.summary = f"plan discarded: {path}"
    if as_json:
        run.json({"plan": str(path), "discarded": True, "change_set": plan.change_set_arn, "what": what})
        return
    run.result(f"plan {path} discarded: {what}")


def check_drift(
    ctx: typer.Context,
    config: ConfigOption,
    stack_name: StackNameOption = None,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Detect drift of the deployed stack and of its SSM outputs. Exit 0 in sync, 3 drifted."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.drift import check_drift as detect

    with action(ctx, "check-drift") as run:
        names, aws = _connect(
            run,
            config,
            stack_name,
            endpoint_url,
            "check-drift",
            service_role=service_role,
            access=(role_arn, external_id),
        )
        with aws_errors("check-drift"):
            report = detect(aws, names)
        run.summary = "drifted" if report.drifted else "in sync"
        if as_json:
            run.json(report.to_json())
        else:
            rows = [
                [
                    r.logical_id,
                    r.resource_type,
                    r.status,
                    d.path if d else "",
                    d.expected if d else "",
                    d.actual if d else "",
                ]
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
                    f"DRIFTED ({len(report.resources)} resource(s), "
                    f"{len(report.ssm_mismatches)} SSM output(s){unchecked})"
                    if report.drifted
                    else f"IN_SYNC{f' ({unchecked[2:]})' if unchecked else ''}"
                )
            )
        if report.drifted:
            if not as_json and report.resources and not names.is_test:
                config_name = config_file_name(names.config)
                run.out(
                    "to put the template's values back: "
                    f"ml-provisioner show-changes --config {config_name} --revert-drift (what it would change), then "
                    f"ml-provisioner deploy-product --config {config_name} --revert-drift"
                )
            raise typer.Exit(EXIT_DRIFT)


def delete_product(
    ctx: typer.Context,
    config: ConfigOption,
    force: ForceOption = False,
    stack_name: StackNameOption = None,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Delete the product's stack (or a test deployment's) and report what was retained."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.lifecycle import owned_stack_state, remove_leftovers
    from ml_provisioner.aws.stack import delete_stack, retained_resources

    with action(ctx, "delete-product") as run:
        names, aws = _connect(
            run,
            config,
            stack_name,
            endpoint_url,
            "delete-product",
            service_role=service_role,
            access=(role_arn, external_id),
        )
        with aws_errors("delete-product"):
            owned_stack_state(aws, names)
            leftovers = remove_leftovers(aws, names.stack_name)
            state = owned_stack_state(aws, names)
            if not state.exists:
                if leftovers:  # an interrupted first deploy: nothing was ever created
                    run.summary = f"{names.stack_name} was never created; removed {len(leftovers)} leftover(s)"
                    _report_deleted(run, names.stack_name, [], as_json, leftovers)
                    return
                # what the user asked for is already so: not an error (as `terraform destroy` of nothing)
                run.summary = f"{names.stack_name} is not deployed: nothing to delete"
                if as_json:
                    run.json({"stack": names.stack_name, "deleted": False, "deployed": False, "removed_leftovers": []})
                else:
                    run.result(f"stack {names.stack_name} is not deployed: nothing to delete")
                return
            retained = retained_resources(aws, names.stack_name)
            if state.termination_protection:
                _decide_on_protection(names.stack_name, names.region, retained, force)
            else:
                _confirm(f"Delete stack {names.stack_name}?", force)
            try:
                delete_stack(
                    aws,
                    names.stack_name,
                    on_event=_event_printer(run, as_json),
                    disable_protection=state.termination_protection,
                    empty_buckets=names.is_test,
                )
            except Interrupted:
                _report_retained(run, retained, as_json)  # whatever happens next, this is what survives
                raise
        unprotected = state.termination_protection
        run.summary = (
            f"deleted {names.stack_name}"
            + ("; termination protection turned off" if unprotected else "")
            + f"; {len(retained)} resource(s) retained"
        )
        if unprotected and not as_json:
            run.result(f"termination protection of {names.stack_name} turned off")
        _report_deleted(run, names.stack_name, retained, as_json, leftovers, unprotected)


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


# -- shared steps ---------------------------------------------------------------------------------


def _deploy(
    run: Run,
    loaded: LoadedConfig,
    test_marker: str | None,
    *,
    force: bool,
    endpoint_url: str | None,
    staging_bucket: str | None,
    as_json: bool,
    allow_destructive: bool = False,
    service_role: bool = False,
    fresh: bool = False,
    access: tuple[str | None, str | None] = (None, None),
    revert_drift: bool = False,
    expires_at: str | None = None,
) -> None:
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.lifecycle import deploy

    what = "test-deploy" if test_marker else "deploy-product"
    _, aws = _connect(run, loaded, None, endpoint_url, what, service_role=service_role, access=access)
    result = _template(run, loaded, test_marker, fresh=fresh)
    names = replace(result.names, expires_at=expires_at)  # a test deployment's stack carries its expiry
    if result.errors:
        raise OperationFailed(
            f"cdk-nag reports {len(result.errors)} unacknowledged error(s)",
            "run validate-prov-template for the findings",
        )

    def review(change_set: ChangeSet) -> None:
        if not as_json:
            _render_changes(run, names, change_set.changes)
        _confirm(f"Execute these {len(change_set.changes)} change(s) on {names.stack_name}?", force)

    with aws_errors(what):
        deployed = deploy(
            aws,
            names,
            result.template,
            result.template_yaml(),
            force=force,
            review=review,
            confirm=lambda question: _confirm(question, force),
            expected_outputs=catalog.ssm_outputs(loaded.config),
            on_event=_event_printer(run, as_json),
            say=(lambda _: None) if as_json else run.out,
            notify=run.warn,
            staging_bucket=staging_bucket,
            allow_destructive=allow_destructive,
            revert_drift=revert_drift,
        )
    run.summary = f"{names.stack_name}: {deployed.outcome}"
    _report_outputs(run, loaded, names, deployed.outputs, as_json, deployed.outcome, deployed.seeded)


def _deploy_plan(
    run: Run,
    loaded: LoadedConfig,
    path: Path,
    *,
    force: bool,
    endpoint_url: str | None,
    as_json: bool,
    allow_destructive: bool,
    service_role: bool,
    access: tuple[str | None, str | None] = (None, None),
) -> None:
    """deploy-product --plan: exactly the planned change set, or a refusal that says why."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.plans import execute_plan
    from ml_provisioner.plan import read_plan, require_deployable
    from ml_provisioner.templates import load_template_text

    plan = read_plan(path)
    names, aws = _connect(run, loaded, None, endpoint_url, "deploy-product", service_role=service_role, access=access)
    template_file = run.workspace.template_for(loaded.stem)
    require_deployable(plan, path, loaded, names, template_file)
    template = load_template_text(template_file.read_text(encoding="utf-8"), str(template_file))

    def review(change_set: ChangeSet) -> None:
        if not as_json:
            run.out(f"plan {path}: change set {plan.change_set_arn}, made by {plan.created_by} at {plan.created_at}")
            _render_changes(run, names, change_set.changes)
        _confirm(f"Execute these {len(change_set.changes)} change(s) on {names.stack_name}?", force)

    with aws_errors("deploy-product"):
        deployed = execute_plan(
            aws,
            names,
            plan,
            template,
            expected_outputs=catalog.ssm_outputs(loaded.config),
            review=review,
            on_event=_event_printer(run, as_json),
            allow_destructive=allow_destructive,
        )
    run.summary = f"{names.stack_name}: {deployed.outcome} (plan {path})"
    _report_outputs(run, loaded, names, deployed.outputs, as_json, deployed.outcome, deployed.seeded)


def _template(run: Run, loaded: LoadedConfig, test_marker: str | None = None, *, fresh: bool = False) -> Synthesized:
    """The product's current template from templates/ (synthesized and kept there when it is not
    current); a test deployment's is synthesized for its new marker and not kept."""
    from ml_provisioner.synth import synthesize
    from ml_provisioner.templates import current_templates

    if test_marker:
        [result] = synthesize([loaded], test_marker=test_marker)
        return result
    [result] = current_templates(run.workspace, [loaded], fresh=fresh, notify=run.warn, keep_required=False)
    return result


def _report_outputs(
    run: Run,
    loaded: LoadedConfig,
    names: Names,
    outputs: dict[str, str],
    as_json: bool,
    outcome: str,
    seeded: list[str],
) -> None:
    if as_json:
        run.json(
            {
                "stack": names.stack_name,
                "test_deployment": names.is_test,
                "outcome": outcome,
                "ssm_prefix": names.ssm_prefix,
                "outputs": outputs,
                "seed_code": seeded,
                **({"expires_at": names.expires_at} if names.is_test else {}),
            }
        )
        return
    run.out(table([[names.ssm_parameter(k), v] for k, v in outputs.items()], ["SSM parameter", "value"]))
    run.result(f"stack {names.stack_name}: {outcome}; {len(outputs)} SSM output(s) read back and checked")
    for line in seeded:
        run.result(line)
    if names.is_test:
        run.result(f"test stack name: {names.stack_name}")
        run.out(f"expires at {names.expires_at} (UTC): test-deploy --config {loaded.path.name} --prune removes it then")
        run.out(
            f"remove it with: ml-provisioner delete-product --config {loaded.path.name} "
            f"--stack-name {names.stack_name} --force\n"
            f"           or: aws cloudformation delete-stack --stack-name {names.stack_name} --region {names.region}"
        )


def _cost_change(run: Run, change_set: ChangeSet, result: Synthesized) -> CostChange:
    """What the change does to the monthly cost estimate: the deployed template's against the new one's."""
    from ml_provisioner.cost import template_change

    assumptions = load_assumptions(run.workspace)[0]
    return template_change(change_set.deployed_template, result.template, result.names.region, assumptions)


def _render_changes(run: Run, names: Names, changes: list[ResourceChange]) -> None:
    if not changes:
        run.result(f"{names.stack_name}: no changes")
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
        f"{names.stack_name}: {len(changes)} change(s), "
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


def _connect(
    run: Run,
    config: str | LoadedConfig,
    stack_name: str | None,
    endpoint_url: str | None,
    what: str,
    *,
    service_role: bool = False,
    access: tuple[str | None, str | None] = (None, None),
) -> tuple[Names, AwsSession]:
    """The product's (or a test deployment's) names and an AWS session in the config's account,
    through the product's role when it has one (aws.access)."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.access import Caller, route_for

    loaded = run.load(config) if isinstance(config, str) else config
    names = _target(loaded, stack_name)
    route = route_for(loaded, *access)
    with aws_errors(what):
        aws = Caller(endpoint_url).session(
            names, route, cloudformation_role_arn=names.execution_role_arn if service_role else None
        )
        run.where = f"caller={aws.caller_identity()['Arn']} account={names.account} region={names.region}"
    return names, aws


def _target(loaded: LoadedConfig, stack_name: str | None) -> Names:
    """The product's names, or those of one of its test deployments named by --stack-name."""
    names = loaded.names()
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


def _event_printer(run: Run, as_json: bool) -> Callable[[dict[str, Any]], None]:
    def show(event: dict[str, Any]) -> None:
        if as_json:
            return
        when = event["Timestamp"].strftime("%H:%M:%S") if hasattr(event["Timestamp"], "strftime") else ""
        reason = event.get("ResourceStatusReason") or ""
        run.out(f"{when}  {event['ResourceStatus']:<28} {event['LogicalResourceId']:<40} {reason}".rstrip())

    return show

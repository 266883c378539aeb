"""AWS actions: deploy-product, test-deploy, show-changes, check-drift, delete-product.

Each synthesizes in-process, then works through change sets addressed by ARN (never a blind
create/update). boto3 is imported only when one of these runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ml_provisioner import catalog
from ml_provisioner.cli import app
from ml_provisioner.cli._access import ExternalIdOption, RoleArnOption
from ml_provisioner.cli._common import ConfigOption, EndpointOption, JsonOption, Session, action, table
from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.errors import EXIT_DRIFT, BadInput, Interrupted, OperationFailed
from ml_provisioner.identity import new_test_marker
from ml_provisioner.naming import Names
from ml_provisioner.workspace import FolderNotWritable

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

AllowDestructiveOption = Annotated[
    bool,
    typer.Option(
        "--allow-destructive",
        help="Go ahead when the change removes or replaces a resource holding data (e.g. a source_control "
        "switch); --force alone does not.",
    ),
]


@app.command("deploy-product")
def deploy_product(
    ctx: typer.Context,
    config: ConfigOption,
    force: ForceOption = False,
    allow_destructive: AllowDestructiveOption = False,
    endpoint_url: EndpointOption = None,
    staging_bucket: StagingOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Deploy the product's stack through a change set, then read its SSM outputs back."""
    with action(ctx, "deploy-product") as s:
        _deploy(
            s,
            s.load(config),
            None,
            force=force,
            endpoint_url=endpoint_url,
            staging_bucket=staging_bucket,
            as_json=as_json,
            allow_destructive=allow_destructive,
            service_role=service_role,
            access=(role_arn, external_id),
        )


@app.command("test-deploy")
def test_deploy(
    ctx: typer.Context,
    config: ConfigOption,
    endpoint_url: EndpointOption = None,
    staging_bucket: StagingOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Deploy an isolated copy (random suffix on every name) beside the real product."""
    with action(ctx, "test-deploy") as s:
        _deploy(
            s,
            s.load(config),
            new_test_marker(),
            force=True,
            endpoint_url=endpoint_url,
            staging_bucket=staging_bucket,
            as_json=as_json,
            service_role=service_role,
            access=(role_arn, external_id),
        )


@app.command("show-changes")
def show_changes(
    ctx: typer.Context,
    config: ConfigOption,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Preview what deploying the config now would change (a change set, described then deleted)."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.lifecycle import preview
    from ml_provisioner.synth import synthesize

    with action(ctx, "show-changes") as s:
        loaded = s.load(config)
        names, aws = _connect(
            s, loaded, None, endpoint_url, "show-changes", service_role=service_role, access=(role_arn, external_id)
        )
        [result] = synthesize([loaded])
        with aws_errors("show-changes"):
            change_set = preview(aws, names, result.template, result.template_yaml(), notify=s.warn)
        if change_set is None:
            raise OperationFailed(
                f"stack {names.stack_name} is not deployed", "show-product lists what deploy-product would create"
            )
        if as_json:
            s.json({"stack": names.stack_name, "changes": [c.to_json() for c in change_set.changes]})
            return
        _render_changes(s, names, change_set.changes)


@app.command("check-drift")
def check_drift(
    ctx: typer.Context,
    config: ConfigOption,
    stack_name: Annotated[
        str | None, typer.Option("--stack-name", help="A test deployment's stack name (default: the product's).")
    ] = None,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Detect drift of the deployed stack and of its SSM outputs. Exit 0 in sync, 3 drifted."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.drift import check_drift as detect

    with action(ctx, "check-drift") as s:
        names, aws = _connect(
            s,
            config,
            stack_name,
            endpoint_url,
            "check-drift",
            service_role=service_role,
            access=(role_arn, external_id),
        )
        with aws_errors("check-drift"):
            report = detect(aws, names)
        s.summary = "drifted" if report.drifted else "in sync"
        if as_json:
            s.json(report.to_json())
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
                s.out(table(rows, ["resource", "type", "drift", "property", "expected", "actual"]))
            for mismatch in report.ssm_mismatches:
                s.out(f"SSM output drifted: {mismatch}")
            if report.not_checked:
                s.out(
                    table(
                        [[r.logical_id, r.resource_type, r.reason] for r in report.not_checked],
                        ["not checked", "type", "why"],
                    )
                )
            unchecked = f"; {len(report.not_checked)} resource(s) not checked" if report.not_checked else ""
            for stopped in report.polling_disabled:
                s.out(
                    f"Polling disabled by AWS since {stopped.since} (30 days idle) on {stopped.pipeline}: "
                    f"a push starts nothing; re-enable: {stopped.reenable}"
                )
            s.result(
                f"{names.stack_name}: "
                + (
                    f"DRIFTED ({len(report.resources)} resource(s), "
                    f"{len(report.ssm_mismatches)} SSM output(s){unchecked})"
                    if report.drifted
                    else f"IN_SYNC{f' ({unchecked[2:]})' if unchecked else ''}"
                )
            )
        if report.drifted:
            raise typer.Exit(EXIT_DRIFT)


@app.command("delete-product")
def delete_product(
    ctx: typer.Context,
    config: ConfigOption,
    force: ForceOption = False,
    stack_name: Annotated[
        str | None, typer.Option("--stack-name", help="A test deployment's stack name (default: the product's).")
    ] = None,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    role_arn: RoleArnOption = None,
    external_id: ExternalIdOption = None,
) -> None:
    """Delete the product's stack (or a test deployment's) and report what was retained."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.lifecycle import delete_stack, owned_stack_state, remove_leftovers, retained_resources

    with action(ctx, "delete-product") as s:
        names, aws = _connect(
            s,
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
                    s.summary = f"{names.stack_name} was never created; removed {len(leftovers)} leftover(s)"
                    _report_deleted(s, names.stack_name, [], as_json, leftovers)
                    return
                raise OperationFailed(f"stack {names.stack_name} does not exist")
            if state.termination_protection and not force:
                raise BadInput(
                    f"stack {names.stack_name} has termination protection",
                    "run again with --force to turn it off and delete the stack",
                )
            _confirm(s, f"Delete stack {names.stack_name}?", force)
            retained = retained_resources(aws, names.stack_name)
            try:
                delete_stack(
                    aws,
                    names.stack_name,
                    on_event=_event_printer(s, as_json),
                    disable_protection=state.termination_protection,
                    empty_buckets=names.is_test,
                )
            except Interrupted:
                _report_retained(s, retained, as_json)  # whatever happens next, this is what survives
                raise
        s.summary = f"deleted {names.stack_name}; {len(retained)} resource(s) retained"
        _report_deleted(s, names.stack_name, retained, as_json, leftovers)


def _report_deleted(s: Session, stack_name: str, retained: list, as_json: bool, leftovers: list[str]) -> None:
    if as_json:
        s.json(
            {
                "stack": stack_name,
                "deleted": True,
                "removed_leftovers": leftovers,
                "retained": [r.__dict__ | {"removal": r.removal_hint} for r in retained],
            }
        )
        return
    for leftover in leftovers:
        s.out(f"removed {leftover}, left by an interrupted run")
    s.result(
        f"deleted stack {stack_name}"
        if not leftovers or retained
        else f"stack {stack_name} was never created; removed what an interrupted deploy left"
    )
    _report_retained(s, retained, as_json)


def _report_retained(s: Session, retained: list, as_json: bool) -> None:
    if retained and not as_json:
        s.out("\nRetained (data outlives the stack); to remove them by hand:")
        s.out(table([[r.resource_type, r.name, r.removal_hint] for r in retained], ["type", "name", "how to remove"]))
    elif retained:
        s.json({"retained": [r.__dict__ | {"removal": r.removal_hint} for r in retained]})


# -- shared steps ---------------------------------------------------------------------------------


def _deploy(
    s: Session,
    loaded: LoadedConfig,
    test_marker: str | None,
    *,
    force: bool,
    endpoint_url: str | None,
    staging_bucket: str | None,
    as_json: bool,
    allow_destructive: bool = False,
    service_role: bool = False,
    access: tuple[str | None, str | None] = (None, None),
) -> None:
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.lifecycle import deploy
    from ml_provisioner.synth import synthesize

    what = "test-deploy" if test_marker else "deploy-product"
    _, aws = _connect(s, loaded, None, endpoint_url, what, service_role=service_role, access=access)
    [result] = synthesize([loaded], test_marker=test_marker)
    names = result.names
    if result.errors:
        raise OperationFailed(
            f"cdk-nag reports {len(result.errors)} unacknowledged error(s)",
            "run validate-prov-template for the findings",
        )
    if not test_marker:  # the deployed template is kept where create-prov-template puts it
        try:
            s.workspace.write(s.workspace.template_for(loaded.stem), result.template_yaml())
        except FolderNotWritable as error:  # a copy for the user: not a reason to stop the deploy
            s.warn(f"{error.message}: the deployed template is not kept there; {error.hint}")

    def review(change_set) -> None:
        if not as_json:
            _render_changes(s, names, change_set.changes)
        _confirm(s, f"Execute these {len(change_set.changes)} change(s) on {names.stack_name}?", force)

    with aws_errors(what):
        deployed = deploy(
            aws,
            names,
            result.template,
            result.template_yaml(),
            force=force,
            review=review,
            confirm=lambda question: _confirm(s, question, force),
            expected_outputs=catalog.ssm_outputs(loaded.config),
            on_event=_event_printer(s, as_json),
            say=(lambda _: None) if as_json else s.out,
            notify=s.warn,
            staging_bucket=staging_bucket,
            allow_destructive=allow_destructive,
        )
    s.summary = f"{names.stack_name}: {deployed.outcome}"
    _report_outputs(s, loaded, names, deployed.outputs, as_json, deployed.outcome)


def _report_outputs(
    s: Session, loaded: LoadedConfig, names: Names, outputs: dict[str, str], as_json: bool, outcome: str
) -> None:
    if as_json:
        s.json(
            {
                "stack": names.stack_name,
                "test_deployment": names.is_test,
                "outcome": outcome,
                "ssm_prefix": names.ssm_prefix,
                "outputs": outputs,
            }
        )
        return
    s.out(table([[names.ssm_parameter(k), v] for k, v in outputs.items()], ["SSM parameter", "value"]))
    s.result(f"stack {names.stack_name}: {outcome}; {len(outputs)} SSM output(s) read back and checked")
    if names.is_test:
        s.result(f"test stack name: {names.stack_name}")
        s.out(
            f"remove it with: ml-provisioner delete-product --config {loaded.path.name} "
            f"--stack-name {names.stack_name} --force\n"
            f"           or: aws cloudformation delete-stack --stack-name {names.stack_name}"
        )


def _render_changes(s: Session, names: Names, changes: list) -> None:
    if not changes:
        s.result(f"{names.stack_name}: no changes")
        return
    s.out(
        table(
            [[c.action, c.logical_id, c.resource_type, c.physical_id, c.flags] for c in changes],
            ["action", "resource", "type", "physical id", "flags"],
        )
    )
    for change in changes:
        for grant in change.iam_widening[:WIDENING_SHOWN]:
            s.out(f"IAM widening in {change.logical_id}: {grant}")
        if len(change.iam_widening) > WIDENING_SHOWN:
            s.out(
                f"IAM widening in {change.logical_id}: ... and {len(change.iam_widening) - WIDENING_SHOWN} more "
                "(--json lists all)"
            )
    s.result(
        f"{names.stack_name}: {len(changes)} change(s), "
        f"{sum(1 for c in changes if c.replacement == 'True')} replacement(s), "
        f"{sum(1 for c in changes if c.iam_widening)} IAM-widening"
    )


def _confirm(s: Session, question: str, force: bool) -> None:
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
    s: Session,
    config: str | LoadedConfig,
    stack_name: str | None,
    endpoint_url: str | None,
    what: str,
    *,
    service_role: bool = False,
    access: tuple[str | None, str | None] = (None, None),
):
    """The product's (or a test deployment's) names and an AWS session in the config's account,
    through the product's role when it has one (aws.access)."""
    from ml_provisioner.aws import aws_errors
    from ml_provisioner.aws.access import Caller, route_for

    loaded = s.load(config) if isinstance(config, str) else config
    names = _target(loaded, stack_name)
    route = route_for(loaded, *access)
    with aws_errors(what):
        aws = Caller(endpoint_url).session(
            names, route, cloudformation_role_arn=names.execution_role_arn if service_role else None
        )
    return names, aws


def _target(loaded: LoadedConfig, stack_name: str | None) -> Names:
    """The product's names, or those of one of its test deployments named by --stack-name."""
    names = loaded.names()
    if not stack_name or stack_name == names.stack_name:
        return names
    test = names.test_deployment(stack_name)
    if not test:
        raise BadInput(
            f"--stack-name {stack_name} is neither {names.stack_name} nor one of its test deployments",
            f"test deployments are named t<4 hex>--{names.stack_name}",
        )
    return test


def _event_printer(s: Session, as_json: bool):
    def show(event: dict) -> None:
        if as_json:
            return
        when = event["Timestamp"].strftime("%H:%M:%S") if hasattr(event["Timestamp"], "strftime") else ""
        reason = event.get("ResourceStatusReason") or ""
        s.out(f"{when}  {event['ResourceStatus']:<28} {event['LogicalResourceId']:<40} {reason}".rstrip())

    return show

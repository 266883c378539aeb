"""Review actions: create-policy (the deployer's least-privilege IAM policy) and
create-review-report (one self-contained HTML page for the reviewer who approves a deployment).
Both use the current template in templates/ (synthesizing it only when it is not current) and
call no AWS API, except create-review-report --preview."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ml_provisioner.cli._common import (
    ConfigsOption,
    EndpointOption,
    FreshOption,
    JsonOption,
    Run,
    action,
    table,
)
from ml_provisioner.errors import BadInput, ProvisionerError

if TYPE_CHECKING:  # the policy and report modules load cfn-lint: imported when a command runs
    from ml_provisioner.changes import ChangeSet, ResourceChange
    from ml_provisioner.config.loader import LoadedConfig
    from ml_provisioner.plan import Plan
    from ml_provisioner.policy import DeployerPolicy
    from ml_provisioner.synth import LintFinding, Synthesized

PreviewOption = Annotated[
    bool,
    typer.Option("--preview/--no-preview", help="Add the change-set preview of the deployed stack (calls AWS)."),
]


ServiceRoleOption = Annotated[
    bool,
    typer.Option(
        "--service-role",
        help="Two parts instead of one: the caller may only drive CloudFormation on the product's stacks and "
        "pass one execution role (policies/<config>-deployer-<n>.json); the execution role holds the resource "
        "permissions (policies/<config>-cfn-execution-trust.json and -cfn-execution-<n>.json).",
    ),
]
ApproverOption = Annotated[
    bool,
    typer.Option(
        "--approver",
        help="Two-person rule: the deployer plans but cannot execute; policies/<config>-approver-<n>.json "
        "executes only the product's saved plans (deploy-product --plan).",
    ),
]


def create_policy(
    ctx: typer.Context,
    config: ConfigsOption,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    fresh: FreshOption = False,
    approver: ApproverOption = False,
) -> None:
    """Write the least-privilege IAM policy for deploying, testing, checking and deleting the product
    into policies/<config>-deployer-<n>.json (each document within IAM's managed-policy limit), and
    the product's permission boundary, for its administrator, into policies/<config>-boundary.json."""
    from ml_provisioner.policy import generate_policy
    from ml_provisioner.templates import current_templates

    with action(ctx, "create-policy") as run:
        loaded = [run.load(given) for given in config]
        results = current_templates(run.workspace, loaded, fresh=fresh, notify=run.warn, keep_required=False)
        # all derived before any is written
        policies = [generate_policy(result, service_role=service_role, approver=approver) for result in results]
        for policy in policies:
            run.workspace.write_policies(policy.config_stem, policy.files())
        run.summary = f"{sum(len(p.documents) for p in policies)} policy document(s) written"
        if as_json:
            run.json([{**p.summary(), "directory": str(run.workspace.policies)} for p in policies])
            return
        for policy in policies:
            _print_policy(run, policy)


def _print_policy(run: Run, policy: DeployerPolicy) -> None:
    summary = policy.summary()
    run.out(
        table(
            [
                [str(run.workspace.policies / d["file"]), d["statements"], f"{d['characters']:,} of {d['limit']:,}"]
                for d in summary["documents"]
            ],
            ["document", "statements", "characters"],
        )
    )
    if summary["unscoped_actions"]:
        run.out(f'actions without resource-level scoping (Resource "*"): {", ".join(summary["unscoped_actions"])}')
    if summary["omitted"]:
        run.out(
            f"{len(summary['omitted'])} handler permission(s) left out: features the template does not use "
            "(--json lists them)"
        )
    if policy.execution_role:
        run.out(
            f"execution role {policy.execution_role.arn}: create it with "
            + ", ".join(str(run.workspace.policies / f) for f in policy.execution_file_names())
        )
    run.out(
        f"permission boundary {policy.boundary_arn}: an administrator creates it once (ml-provisioner bootstrap, "
        f"or by hand from {run.workspace.policies / policy.boundary_file_name})"
    )
    run.out(policy.holder_can_and_cannot)
    if policy.two_person_rule:
        run.out(policy.two_person_rule)
        run.out("approver: " + ", ".join(str(run.workspace.policies / name) for name in policy.approver_file_names()))
    run.result(
        f"{policy.config_stem}: {summary['statements']} statements, {summary['actions']} actions, "
        f"{len(summary['services'])} services, {len(policy.documents)} document(s)\n"
    )


def create_review_report(
    ctx: typer.Context,
    config: ConfigsOption,
    preview: PreviewOption = False,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
    fresh: FreshOption = False,
    approver: ApproverOption = False,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Render this saved plan (show-changes --save) as the change preview, once AWS confirms its "
            "change set (calls AWS): the approver approves that change set, which deploy-product --plan executes.",
        ),
    ] = None,
) -> None:
    """Write reports/<config>-review.html: config, tier, resources, pipelines diagram, SSM outputs,
    deployer policy, cdk-nag and cfn-lint findings and (with --preview) the change-set preview."""
    from ml_provisioner.cost import load_assumptions, template_change
    from ml_provisioner.policy import generate_policy
    from ml_provisioner.report import ReviewInput, build_report
    from ml_provisioner.templates import current_templates

    with action(ctx, "create-review-report") as run:
        loaded = [run.load(given) for given in config]
        plan = _plan_for(run, loaded, plan_file, preview=preview, fresh=fresh) if plan_file else None
        results = current_templates(run.workspace, loaded, fresh=fresh, notify=run.warn, keep_required=False)
        generated_at = report_time()
        rows = []
        assumptions = load_assumptions(run.workspace)[0]
        for result in results:
            # A plan's changes are AWS's word on its change set, never the file's (which its holder wrote).
            change_set = _confirmed(result, plan, endpoint_url) if plan else None
            changes: list[ResourceChange] | None = change_set.changes if change_set else None
            why_not = "" if plan else "--preview not given"
            compared = change_set is not None
            if preview:
                change_set, why_not = _preview(run, result, endpoint_url)
                changes = change_set.changes if change_set else None
                compared = change_set is not None or why_not == not_deployed(result)
            review = ReviewInput(
                synthesized=result,
                lint=_lint(run, result),
                policy=generate_policy(result, service_role=service_role, approver=approver),
                preview=changes,
                preview_note=why_not,
                plan=plan,
                assumptions=assumptions,
                # the change's cost: against the deployed template, or against nothing for a new stack
                cost_change=template_change(
                    change_set.deployed_template if change_set else None,
                    result.template,
                    result.names.region,
                    assumptions,
                )
                if compared
                else None,
            )
            path = run.workspace.write(
                run.workspace.reports / f"{result.loaded.stem}-review.html", build_report(review, generated_at)
            )
            rows.append({"config": result.loaded.stem, "report": str(path), **review.counts()})
        run.summary = f"{len(rows)} review report(s) written"
        if as_json:
            run.json(rows)
            return
        for row in rows:
            run.result(
                f"{row['report']}: {row['resources']} resources, {row['nag_findings']} cdk-nag and "
                f"{row['lint_findings']} cfn-lint finding(s), preview: {row['preview']}"
            )


def _plan_for(run: Run, loaded: list[LoadedConfig], path: Path, *, preview: bool, fresh: bool) -> Plan:
    """The saved plan to render, refused (exit 2) unless it was made from this config's current
    template: the report must show what the plan's change set deploys."""
    from ml_provisioner.fingerprint import fingerprint
    from ml_provisioner.plan import file_sha256, read_plan, refusals

    if len(loaded) != 1 or preview or fresh:
        raise BadInput("--plan takes one --config, without --preview or --fresh", "the plan is the preview")
    [config] = loaded
    plan = read_plan(path)
    names = config.names()
    why = refusals(
        plan,
        config=config.path.name,
        account=names.account,
        stack_name=names.stack_name,
        fingerprint=fingerprint(config).digest,
        template_sha256=file_sha256(run.workspace.template_for(config.stem)),
    )
    if why:
        raise BadInput(
            f"plan {path} does not match {config.path.name} now: " + "; ".join(why),
            f"make a new plan: ml-provisioner show-changes --config {config.path.name} --save",
        )
    return plan


def _confirmed(result: Synthesized, plan: Plan, endpoint_url: str | None) -> ChangeSet:
    from ml_provisioner.aws import confirmed_plan_changes
    from ml_provisioner.aws.access import route_for

    return confirmed_plan_changes(result.names, plan, endpoint_url, route_for(result.loaded))


def _lint(run: Run, result: Synthesized) -> list[LintFinding]:
    """cfn-lint's findings on the template exactly as create-prov-template writes it (those
    validate-prov-template recorded for the same text, cfn-lint version and region, or the stamp's
    of a template an older version wrote, give the same findings)."""
    from ml_provisioner.lint import lint_recorded

    if result.lint is not None:
        return result.lint
    return lint_recorded(run.workspace, result.template_yaml(), result.names.region)


def not_deployed(result: Synthesized) -> str:
    return f"stack {result.names.stack_name} is not deployed"


def _preview(run: Run, result: Synthesized, endpoint_url: str | None) -> tuple[ChangeSet | None, str]:
    """(the change set, why there is none): a failed preview is reported, not fatal, since the
    rest of the report stands on its own."""
    from ml_provisioner.aws import preview_changes
    from ml_provisioner.aws.access import route_for

    try:
        route = route_for(result.loaded)  # the config's deployment.role_arn, or ML_PROVISIONER_ROLE_ARN
        change_set = preview_changes(result.names, result.template, result.template_yaml(), endpoint_url, route)
    except ProvisionerError as error:
        run.warn(f"{result.loaded.stem}: change-set preview failed: {error.message}")
        return None, f"the preview failed: {error.message}"
    return change_set, "" if change_set is not None else not_deployed(result)


def report_time() -> dt.datetime:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible-builds.org): the same inputs then give
    byte-identical reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch:
        return dt.datetime.now(dt.UTC)
    if not epoch.isdigit():
        raise BadInput(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds", "unset it, or give e.g. 1767225600")
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC)

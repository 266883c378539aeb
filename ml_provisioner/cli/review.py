"""Review actions: create-policy (the deployer's least-privilege IAM policy) and
create-review-report (one self-contained HTML page for the reviewer who approves a deployment).
Both synthesize in-process and call no AWS API, except create-review-report --preview."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from ml_provisioner.cli import app
from ml_provisioner.cli._common import ConfigsOption, EndpointOption, JsonOption, Session, action, table
from ml_provisioner.errors import ProvisionerError

if TYPE_CHECKING:  # the policy and report modules load cfn-lint: imported when a command runs
    from ml_provisioner.checks import LintFinding
    from ml_provisioner.policy import DeployerPolicy
    from ml_provisioner.synth import Synthesized

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


@app.command("create-policy")
def create_policy(
    ctx: typer.Context, config: ConfigsOption, as_json: JsonOption = False, service_role: ServiceRoleOption = False
) -> None:
    """Write the least-privilege IAM policy for deploying, testing, checking and deleting the product
    into policies/<config>-deployer-<n>.json (each document within IAM's managed-policy limit)."""
    from ml_provisioner.policy import generate_policy, write_policy
    from ml_provisioner.synth import synthesize

    with action(ctx, "create-policy") as s:
        loaded = [s.load(given) for given in config]
        # all derived before any is written
        policies = [generate_policy(result, service_role=service_role) for result in synthesize(loaded)]
        for policy in policies:
            write_policy(s.workspace, policy)
        s.summary = f"{sum(len(p.documents) for p in policies)} policy document(s) written"
        if as_json:
            s.json([{**p.summary(), "directory": str(s.workspace.policies)} for p in policies])
            return
        for policy in policies:
            _print_policy(s, policy)


def _print_policy(s: Session, policy: DeployerPolicy) -> None:
    summary = policy.summary()
    s.out(
        table(
            [
                [str(s.workspace.policies / d["file"]), d["statements"], f"{d['characters']:,} of {d['limit']:,}"]
                for d in summary["documents"]
            ],
            ["document", "statements", "characters"],
        )
    )
    if summary["unscoped_actions"]:
        s.out(f'actions without resource-level scoping (Resource "*"): {", ".join(summary["unscoped_actions"])}')
    if summary["omitted"]:
        s.out(
            f"{len(summary['omitted'])} handler permission(s) left out: features the template does not use "
            "(--json lists them)"
        )
    if policy.execution_role:
        s.out(
            f"execution role {policy.execution_role.arn}: create it with "
            + ", ".join(str(s.workspace.policies / f) for f in policy.execution_file_names())
        )
    s.out(policy.holder_can_and_cannot)
    s.result(
        f"{policy.config_stem}: {summary['statements']} statements, {summary['actions']} actions, "
        f"{len(summary['services'])} services, {len(policy.documents)} document(s)\n"
    )


@app.command("create-review-report")
def create_review_report(
    ctx: typer.Context,
    config: ConfigsOption,
    preview: PreviewOption = False,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
    service_role: ServiceRoleOption = False,
) -> None:
    """Write reports/<config>-review.html: config, tier, resources, pipelines diagram, SSM outputs,
    deployer policy, cdk-nag and cfn-lint findings and (with --preview) the change-set preview."""
    from ml_provisioner.policy import generate_policy
    from ml_provisioner.report import ReviewInput, build_report
    from ml_provisioner.synth import synthesize

    with action(ctx, "create-review-report") as s:
        loaded = [s.load(given) for given in config]
        results = synthesize(loaded)
        generated_at = dt.datetime.now(dt.UTC)
        rows = []
        for result in results:
            changes, why_not = _preview(s, result, endpoint_url) if preview else (None, "--preview not given")
            review = ReviewInput(
                synthesized=result,
                lint=_lint(result),
                policy=generate_policy(result, service_role=service_role),
                preview=changes,
                preview_note=why_not,
            )
            path = s.workspace.write(
                s.workspace.reports / f"{result.loaded.stem}-review.html", build_report(review, generated_at)
            )
            rows.append({"config": result.loaded.stem, "report": str(path), **review.counts()})
        s.summary = f"{len(rows)} review report(s) written"
        if as_json:
            s.json(rows)
            return
        for row in rows:
            s.result(
                f"{row['report']}: {row['resources']} resources, {row['nag_findings']} cdk-nag and "
                f"{row['lint_findings']} cfn-lint finding(s), preview: {row['preview']}"
            )


def _lint(result: Synthesized) -> list[LintFinding]:
    """cfn-lint on the rendered template, exactly as create-prov-template writes it."""
    from ml_provisioner.checks import cfn_lint

    return cfn_lint(result.template_yaml(), result.names.region)


def _preview(s: Session, result: Synthesized, endpoint_url: str | None) -> tuple[list | None, str]:
    """(changes, why there are none): a failed preview is reported, not fatal, since the rest
    of the report stands on its own."""
    from ml_provisioner.aws import preview_changes
    from ml_provisioner.aws.access import route_for

    try:
        route = route_for(result.loaded)  # the config's deployment.role_arn, or ML_PROVISIONER_ROLE_ARN
        changes = preview_changes(result.names, result.template, result.template_yaml(), endpoint_url, route)
    except ProvisionerError as error:
        s.warn(f"{result.loaded.stem}: change-set preview failed: {error.message}")
        return None, f"the preview failed: {error.message}"
    return changes, "" if changes is not None else f"stack {result.names.stack_name} is not deployed"

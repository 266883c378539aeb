"""Local actions: nothing here calls AWS. list-products, show-product and validate-config never
import aws_cdk; create-prov-template synthesizes in-process unless the template is current;
validate-prov-template checks the written template and never synthesizes."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ml_provisioner import catalog
from ml_provisioner.cli._common import ConfigOption, ConfigsOption, FreshOption, JsonOption, action, table
from ml_provisioner.errors import BadInput, OperationFailed

if TYPE_CHECKING:
    from constructs_lib.names import Kind
    from ml_provisioner.naming import Names


def list_products(ctx: typer.Context, config: ConfigOption = "", as_json: JsonOption = False) -> None:
    """List the tiers (products) and what each one provisions."""
    with action(ctx, "list-products") as run:
        current = run.load(config).config.tier if config else None
        rows: list[dict[str, Any]] = [
            {
                "tier": info.tier.value,
                "example_prefix": info.token,
                "use": info.use,
                "network": info.network,
                "iam": info.iam,
                "resources_codecommit_s3": info.counts,
                "selected": info.tier == current,
            }
            for info in catalog.TIERS.values()
        ]
        if as_json:
            run.json(rows)
            return
        run.out(
            table(
                [
                    [
                        ("* " if r["selected"] else "  ") + r["tier"],
                        r["use"],
                        r["network"],
                        r["iam"],
                        r["resources_codecommit_s3"],
                    ]
                    for r in rows
                ],
                ["  tier", "use", "network", "IAM", "resources (codecommit / s3, codeconnections)"],
            )
        )
        if current:
            run.out(f"\n* the tier of {config}")


def show_product(ctx: typer.Context, config: ConfigOption, as_json: JsonOption = False) -> None:
    """Show every resource the config's tier creates, with its physical name."""
    from ml_provisioner.cost import billables_from_catalog, estimate, load_assumptions
    from ml_provisioner.cost.text import cost_text

    with action(ctx, "show-product") as run:
        loaded = run.load(config)
        names = loaded.names()
        resources = catalog.resources_for(loaded.config, names)
        assumptions, assumptions_file = load_assumptions(run.workspace)
        estimated = estimate(billables_from_catalog(loaded.config), names.region, assumptions)
        if as_json:
            run.json(
                {
                    "stack": names.stack_name,
                    "tier": loaded.config.tier.value,
                    "resource_count": catalog.counted(resources),
                    "ssm_prefix": names.ssm_prefix,
                    "resources": [r.__dict__ for r in resources],
                    "cost": {**estimated.to_json(), "assumptions_file": assumptions_file and str(assumptions_file)},
                }
            )
            return
        run.out(f"{names.stack_name}  ({loaded.config.tier.value} tier, region {names.region})\n")
        run.result(  # the table is the result: --quiet keeps it
            table(
                [[r.construct, r.type, r.purpose, r.physical_name] for r in resources],
                ["construct", "type", "purpose", "physical name"],
            )
        )
        run.result(
            f"\n{catalog.counted(resources)} resources (+1 TLS-only bucket policy); "
            f"SSM outputs under {names.ssm_prefix}/"
        )
        run.result("\n" + cost_text(estimated, assumptions_file))


def validate_config(
    ctx: typer.Context,
    config: ConfigsOption,
    as_json: JsonOption = False,
    strict_names: Annotated[
        bool,
        typer.Option(
            "--strict-names",
            help="Refuse a file whose name differs from the naming convention (default: a warning), e.g. in CI.",
        ),
    ] = False,
) -> None:
    """Check config file(s) against the tier schema and AWS naming limits; a file name that differs
    from the convention is a warning (an error with --strict-names)."""
    with action(ctx, "validate-config") as run:
        checked = [run.load(given, strict_file_name=strict_names) for given in config]
        if as_json:
            run.json(
                [
                    {"config": str(c.path), "valid": True, "tier": c.config.tier.value, "stack": c.names().stack_name}
                    for c in checked
                ]
            )
            return
        for loaded in checked:
            run.result(f"{loaded.path}: valid {loaded.config.tier.value} config (stack {loaded.names().stack_name})")


def create_prov_template(
    ctx: typer.Context, config: ConfigsOption, as_json: JsonOption = False, fresh: FreshOption = False
) -> None:
    """Synthesize CloudFormation templates into templates/<config>.yaml (several configs: one process).
    A template that is current (its fingerprint matches its config and this tool) is kept as it is."""
    from ml_provisioner.templates import current_templates

    with action(ctx, "create-prov-template") as run:
        loaded = [run.load(given) for given in config]
        # all or nothing: no file is written unless every config synthesizes
        results = current_templates(run.workspace, loaded, fresh=fresh)
        current = sum(r.kept for r in results)
        rows = [
            {
                "config": r.loaded.stem,
                "stack": r.names.stack_name,
                "template": str(run.workspace.template_for(r.loaded.stem)),
                "synthesized": not r.kept,
                "fingerprint": r.fingerprint.digest if r.fingerprint else None,
                "resources": len(r.template["Resources"]),
                "nag_errors": len(r.errors),
                "nag_acknowledged": len(r.acknowledged),
            }
            for r in results
        ]
        run.summary = f"{len(results) - current} template(s) written, {current} current"
        if as_json:
            run.json(rows)
        else:
            for row in rows:
                kept = "" if row["synthesized"] else " (current: kept, not synthesized again)"
                run.result(f"{row['template']}: {row['resources']} resources, stack {row['stack']}{kept}")
        if any(r.errors for r in results):
            raise OperationFailed(
                "cdk-nag reported unacknowledged errors", "run validate-prov-template for the findings"
            )


def validate_prov_template(ctx: typer.Context, config: ConfigsOption, as_json: JsonOption = False) -> None:
    """cfn-lint the written template and report cdk-nag AwsSolutions findings; exit 1 on any error
    (a template that is not current, by its fingerprint, is one)."""
    from ml_provisioner.checks import check_template
    from ml_provisioner.templates import template_state

    with action(ctx, "validate-prov-template") as run:
        loaded = [run.load(given) for given in config]
        states = [template_state(run.workspace, item) for item in loaded]
        for item, state in zip(loaded, states, strict=True):
            if state.text is None:
                raise BadInput(
                    f"template not found: {state.path}",
                    f"run `ml-provisioner create-prov-template --config {item.path.name}` first",
                )
        checks = [check_template(state, item, run.workspace) for item, state in zip(loaded, states, strict=True)]
        if as_json:
            run.json(
                [
                    {
                        "template": str(c.template_path),
                        "errors": c.errors,
                        "warnings": c.warnings,
                        "stale": c.stale,
                        "cfn_lint": [f.__dict__ for f in c.lint],
                        "cdk_nag": [f.__dict__ for f in c.nag],
                        "acknowledged": [
                            {"rule": f.rule, "resource": f.construct_path, "reason": f.reason} for f in c.acknowledged
                        ],
                    }
                    for c in checks
                ]
            )
        else:
            for c in checks:
                findings = [["cfn-lint", f.severity, f.rule, f"line {f.line}", f.message] for f in c.lint]
                findings += [[f.plugin, f.severity, f.rule, f.construct_path, f.description] for f in c.nag]
                if c.stale:
                    findings.append(
                        [
                            "staleness",
                            "error",
                            "-",
                            str(c.template_path),
                            f"not current: {c.why_stale}; run create-prov-template",
                        ]
                    )
                if findings:
                    run.out(table(findings, ["check", "severity", "rule", "where", "message"]))
                run.result(
                    f"{c.template_path}: {c.errors} error(s), {c.warnings} warning(s), "
                    f"{len(c.acknowledged)} acknowledged cdk-nag finding(s)"
                )
        run.summary = f"{sum(c.errors for c in checks)} error(s)"
        if any(c.errors for c in checks):
            raise OperationFailed(f"{sum(c.errors for c in checks)} error(s) in the template(s)")


def seed_code(
    ctx: typer.Context,
    config: ConfigOption,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder to write model-build/ and model-deploy/ into (default: the workspace's seed/<config>/); "
            "an existing file is never replaced.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the product's seed code (model-build and model-deploy), with the commands to push it."""
    from ml_provisioner import seed

    with action(ctx, "seed-code") as run:
        loaded = run.load(config)
        names = loaded.names()
        out = out or run.workspace.seed / loaded.stem
        try:
            folders = seed.write(names, out)
        except FileExistsError as error:
            raise BadInput(
                f"--out: {error.filename} exists; the seed code never replaces a file (nothing was written)",
                "name an empty or new folder",
            ) from None
        except OSError as error:
            raise BadInput(f"--out: cannot write to {out} ({error.strerror})", "name a folder you can write") from None
        pushes = {kind: _push_commands(names, kind, folder) for kind, folder in folders.items()}
        run.summary = f"seed code in {out}"
        if as_json:
            run.json({"folders": {seed.FOLDERS[k]: str(f) for k, f in folders.items()}, "push": pushes})
            return
        for folder in folders.values():
            run.result(f"{folder}: {len(list(folder.iterdir()))} files")
        for kind, commands in pushes.items():
            run.out(f"\nto deliver {seed.FOLDERS[kind]}:\n  " + "\n  ".join(commands))


def _push_commands(names: Names, kind: Kind, folder: Path) -> list[str]:
    """How the folder reaches the product's source (what the pipeline of its kind reads)."""
    product = names.config.ml_product
    control = product.source_control.value
    here = shlex.quote(str(folder))
    if control == "s3":
        archive = shlex.quote(str(folder.parent / f"{folder.name}.zip"))
        return [
            f"(cd {here} && zip -qr {archive} .)",
            f"aws s3 cp {archive} s3://{names.artifacts_bucket}/{names.source_object_key(kind)} "
            f"--region {names.region}",
        ]
    if control == "codecommit":
        host = f"https://git-codecommit.{names.region}.amazonaws.com"
        remote, branch = f"{host}/v1/repos/{names.repository(kind)}", "main"
        how = "  # with git's AWS credential helper (aws codecommit credential-helper) or git-remote-codecommit"
    else:
        assert product.branch  # the model requires it for a codeconnections source
        remote, branch, how = f"<the clone URL of {product.repository(kind)}>", product.branch, ""
    return [
        f"cd {here} && git init -q -b {branch} && git add . && git commit -qm 'Seed code from ML Provisioner'",
        f"git remote add origin {remote} && git push -u origin {branch}{how}",
    ]

"""`ml-provisioner bootstrap`: what deploying needs in each target account and region (per product
its permission boundary and a deployer role, trusted only by the given principals, holding
create-policy's deployer policy; the staging bucket). One account and region: a stack. Several,
or --org-unit: a StackSet."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ml_provisioner.cli._common import EndpointOption, JsonOption, action, table
from ml_provisioner.cli.fleet import AccountOption, RegionOption, SourcesArgument, TierOption
from ml_provisioner.errors import BadInput, OperationFailed


def bootstrap(
    ctx: typer.Context,
    sources: SourcesArgument = None,
    trust: Annotated[
        list[str],
        typer.Option("--trust", help="A principal (role, user or account root ARN) the deployer roles trust; repeat."),
    ] = [],  # noqa: B006 - typer reads the default
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="Require this external id when the roles are assumed.")
    ] = None,
    tier: TierOption = [],  # noqa: B006
    account: AccountOption = [],  # noqa: B006
    region: RegionOption = [],  # noqa: B006
    stack_set: Annotated[
        bool, typer.Option("--stack-set", help="Use a StackSet even for one account (default for several).")
    ] = False,
    org_unit: Annotated[
        list[str],
        typer.Option(
            "--org-unit",
            help="Service-managed StackSet: deploy to the accounts of this Organizations OU, and to accounts that "
            "join it later (repeat).",
        ),
    ] = [],  # noqa: B006
    stack_set_region: Annotated[
        str | None,
        typer.Option("--stack-set-region", help="The region the StackSet lives in (default: the first product's)."),
    ] = None,
    administration_role_arn: Annotated[
        str | None, typer.Option("--administration-role-arn", help="Self-managed StackSet: its administration role.")
    ] = None,
    execution_role_name: Annotated[
        str | None, typer.Option("--execution-role-name", help="Self-managed StackSet: the role in each target.")
    ] = None,
    delegated_admin: Annotated[
        bool, typer.Option("--delegated-admin", help="Service-managed: run as a delegated administrator account.")
    ] = False,
    service_role: Annotated[
        bool,
        typer.Option(
            "--service-role",
            help="Deploy through a CloudFormation execution role: bootstrap creates it (create-policy --service-role).",
        ),
    ] = False,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put each product's permission boundary and deployer role (trusted only by --trust) and the
    staging bucket into each account and region of the selected configs."""
    from ml_provisioner import bootstrap_template as plan
    from ml_provisioner.aws import AwsSession, aws_errors
    from ml_provisioner.aws.access import Caller, Route
    from ml_provisioner.aws.bootstrap_deploy import StackSetTargets, deploy_stack, deploy_stack_set
    from ml_provisioner.fleet.selection import select
    from ml_provisioner.policy import generate_policy
    from ml_provisioner.synth import synthesize

    with action(ctx, "bootstrap") as run:
        principals = plan.check_principals(trust)
        chosen = select(run.workspace, sources or [], tiers=tier, accounts=account, regions=region)
        run.configs += [str(c.path) for c in chosen]
        places = sorted({(c.config.client.account_id, c.config.environment.region) for c in chosen})
        run.out(f"synthesizing {len(chosen)} template(s) for their deployer policies ...")
        results = synthesize(chosen)
        if any(r.errors for r in results):
            failing = [r.loaded.path.name for r in results if r.errors]
            raise OperationFailed(
                f"cdk-nag reports unacknowledged errors in {', '.join(failing)}", "run validate-prov-template"
            )
        policies = [generate_policy(r, service_role=service_role) for r in results]
        deployers = [
            plan.Deployer(
                r.names,
                p.documents,
                p.boundary,
                (p.execution_role.trust, p.execution_role.documents) if p.execution_role else None,
            )
            for r, p in zip(results, policies, strict=True)
        ]
        one_stack = len(places) == 1 and not (stack_set or org_unit)
        # A StackSet holds no staging bucket: a fixed name per account that an earlier deploy, an
        # earlier single-account bootstrap or a removed instance (it is retained) may already hold;
        # deploy-product creates it in an account on first need.
        template = plan.template(deployers, principals, external_id, staging_bucket=one_stack)
        roles = [
            [
                d.names.deployment_id,
                d.names.account,
                d.names.region,
                d.names.deployer_role_arn,
                d.names.permission_boundary_arn,
                d.names.execution_role_arn if d.execution else None,
            ]
            for d in deployers
        ]
        home = stack_set_region or places[0][1]  # a StackSet's region
        if one_stack:
            [(target_account, target_region)] = places
            with aws_errors("bootstrap"):
                aws = Caller(endpoint_url).session(results[0].names, Route())
                run.where = f"caller={aws.caller_identity()['Arn']} account={target_account} region={target_region}"
                outcome = deploy_stack(aws, template, say=run.out)
            run.summary = f"stack {plan.STACK_NAME} in {target_account} ({target_region}): {outcome}"
            instances = []
        else:
            if org_unit and account:
                raise BadInput("--org-unit and --account do not go together", "the OUs decide the accounts")
            targets = StackSetTargets(
                regions=sorted({r for _, r in places}),
                accounts=[] if org_unit else sorted({a for a, _ in places}),
                product_accounts=tuple(sorted({a for a, _ in places})),
                org_units=org_unit,
                administration_role_arn=administration_role_arn,
                execution_role_name=execution_role_name,
                delegated_admin=delegated_admin,
            )
            shown: dict[tuple[str, str], str] = {}

            def show(found: Any) -> None:
                for instance in found:
                    state = f"{instance.status} {instance.detailed}".strip()
                    if shown.get((instance.account, instance.region)) != state and not as_json:
                        run.out(f"{instance.account} {instance.region}: {state} {instance.reason}".rstrip())
                    shown[(instance.account, instance.region)] = state

            with aws_errors("bootstrap"):
                administrator = AwsSession(home, endpoint_url)
                run.where = f"caller={administrator.caller_identity()['Arn']} region={home}"
                instances = deploy_stack_set(administrator, template, targets, on_instances=show)
            failed = [i for i in instances if not i.ok]
            run.summary = f"StackSet {plan.STACK_NAME}: {len(instances)} instance(s), {len(failed)} not current"
            outcome = run.summary
        if as_json:
            run.json(
                {
                    "outcome": outcome,
                    "roles": [
                        dict(
                            zip(
                                ["product", "account", "region", "role_arn", "boundary_arn", "execution_role_arn"],
                                r,
                                strict=True,
                            )
                        )
                        for r in roles
                    ],
                    "instances": [vars(i) for i in instances],
                }
            )
        else:
            if instances:
                run.out(
                    table(
                        [[i.account, i.region, i.status, i.detailed, i.reason] for i in instances],
                        ["account", "region", "status", "detail", "reason"],
                    )
                )
            run.out(table([r[:4] for r in roles], ["product", "account", "region", "deployer role"]))
            run.out(
                "deploy through them: put each role in its config's deployment.role_arn"
                + (" and pass --service-role to the lifecycle commands" if service_role else "")
            )
            run.result(outcome if not instances else run.summary)
        covered = {(i.account, i.region) for i in instances}
        uncovered = [f"{a}/{r}" for a, r in places if instances and (a, r) not in covered]
        if uncovered:
            raise OperationFailed(
                f"no stack instance in {', '.join(uncovered)}, where selected products live: a service-managed "
                "StackSet reaches only the member accounts under its OUs, never the organization's management "
                "account",
                "bootstrap such an account on its own: ml-provisioner bootstrap with its configs only (one account "
                "and region: a stack), or add its OU with --org-unit",
            )
        failed = [i for i in instances if not i.ok]
        if failed:
            raise OperationFailed(
                f"{len(failed)} stack instance(s) did not succeed: "
                + ", ".join(f"{i.account}/{i.region} {i.detailed} {i.reason}".rstrip() for i in failed),
                f"aws cloudformation list-stack-instances --stack-set-name {plan.STACK_NAME} --region {home}",
            )

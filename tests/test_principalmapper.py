"""An independent judge of what bootstrap and the products leave in IAM: principalmapper's graph of
the sandbox's account (tests/support/principalmapper.py), after `bootstrap` and one product of each
tier, and again after the attacker's change set (the deployer writes a product role with an inline
`*:*` and a trust naming itself, as its policy lets it through CloudFormation).

principalmapper is AGPL-3.0 and used by the tests only: nothing of it ships with the tool.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_provisioner.config.loader import load_config
from ml_provisioner.templates import load_template_text
from tests.support.principalmapper import allowed, can_escalate, graph
from tests.support.sandbox import ACCOUNT, cli, product

pytestmark = pytest.mark.synth

TIERS = ("techcorp s3", "edge s3", "globalbank s3 standalone direct")
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def fleet(endpoint, tmp_path_factory):
    """bootstrap and deploy one product per tier, as an administrator and a deployer would."""
    import boto3

    folder = tmp_path_factory.mktemp("principalmapper")
    with pytest.MonkeyPatch.context() as environment:  # the CLI in this process reads both
        environment.setenv("AWS_ENDPOINT_URL", endpoint)
        environment.setenv("AWS_ACCESS_KEY_ID", "sandbox")
        environment.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
        environment.chdir(folder)

        def client(service: str, region: str):
            return boto3.client(service, region_name=region, endpoint_url=endpoint)

        configs = [product(fragment, client, boundary=False)[0] for fragment in TIERS]
        names = [load_config(Path("ml/configs") / config).names() for config in configs]
        for config in configs:
            code, _, err = cli("bootstrap", config, "--trust", f"arn:aws:iam::{ACCOUNT}:root")
            assert code == 0, err
            code, _, err = cli("deploy-product", "-c", config, "--force")
            assert code == 0, err
        yield client, configs, names, folder


def regions(names) -> list[str]:
    return sorted({n.region for n in names})


def node(found, arn: str):
    return next(n for n in found.nodes if n.arn == arn)


def roles_of(found, n) -> list:
    return [x for x in found.nodes if f":role{n.iam_path}" in x.arn]


def test_after_bootstrap_and_one_product_per_tier_no_principal_can_escalate_or_reach_another(endpoint, fleet):
    _, _, names, _ = fleet
    found = graph(endpoint, regions(names))
    for n in names:
        deployer = node(found, n.deployer_role_arn)
        products = roles_of(found, n)
        assert len(products) == 3
        assert {p.permissions_boundary.arn for p in products} == {n.permission_boundary_arn}
        assert not can_escalate(found, deployer)
    # (the sandbox's IAM may hold other modules' principals too: judged here are this module's)
    ours = {n.deployer_role_arn for n in names} | {x.arn for n in names for x in roles_of(found, n)}
    assert not [x.arn for x in found.nodes if x.is_admin and x.arn in ours]
    assert not [(e.source.arn, e.destination.arn) for e in found.edges if e.source.arn in ours]


def test_the_attackers_change_set_gives_the_deployer_a_role_that_reaches_nothing_outside_its_product(endpoint, fleet):
    client, configs, names, folder = fleet
    starter = names[0]
    template = load_template_text((folder / "ml/templates" / f"{Path(configs[0]).stem}.yaml").read_text(), "t")
    # What the deployer policy lets a change set do: a role on the product's path, with the one
    # boundary it must carry, an inline *:* and a trust naming the deployer.
    template["Resources"]["AttackerRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Path": starter.iam_path,
            "PermissionsBoundary": starter.permission_boundary_arn,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": starter.deployer_role_arn}, "Action": "sts:AssumeRole"}
                ],
            },
            "Policies": [{"PolicyName": "everything", "PolicyDocument": EVERYTHING}],
        },
    }
    cfn = client("cloudformation", starter.region)
    cfn.create_change_set(
        StackName=starter.stack_name,
        ChangeSetName="attacker",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    cfn.get_waiter("change_set_create_complete").wait(StackName=starter.stack_name, ChangeSetName="attacker")
    cfn.execute_change_set(StackName=starter.stack_name, ChangeSetName="attacker")
    cfn.get_waiter("stack_update_complete").wait(StackName=starter.stack_name)

    found = graph(endpoint, regions(names))
    deployer = node(found, starter.deployer_role_arn)
    [attacker] = [x for x in roles_of(found, starter) if "AttackerRole" in x.arn]
    # principalmapper sees the way in (the trust) ...
    assert [e.destination.arn for e in found.edges if e.source is deployer] == [attacker.arn]
    # ... and that it leads nowhere: no administrator, no escalation, no other product's role
    assert not attacker.is_admin and not can_escalate(found, deployer) and not can_escalate(found, attacker)
    ours = {n.deployer_role_arn for n in names} | {x.arn for n in names for x in roles_of(found, n)}
    assert [e.source.arn for e in found.edges if e.source.arn in ours] == [deployer.arn]
    for other in names[1:]:
        for action, resource in (
            ("sts:AssumeRole", other.deployer_role_arn),
            ("s3:GetObject", f"arn:aws:s3:::{other.artifacts_bucket}/data.csv"),
            ("iam:PassRole", roles_of(found, other)[0].arn),
            ("codebuild:StartBuild", other.arn("codebuild", f"project/{other.codebuild_project('build')}")),
        ):
            assert not allowed(attacker, action, resource), (action, resource)
    assert not allowed(attacker, "iam:AttachRolePolicy", deployer.arn)
    assert not allowed(attacker, "iam:CreatePolicyVersion", starter.permission_boundary_arn)
    assert allowed(attacker, "s3:GetObject", f"arn:aws:s3:::{starter.artifacts_bucket}/data.csv")  # its own

    # Teeth: the same graph with the boundaries ignored (principalmapper as released) calls the
    # attacker's role an administrator the deployer can escalate to.
    unbounded = graph(endpoint, regions(names), role_boundaries=False)
    assert node(unbounded, attacker.arn).is_admin
    assert can_escalate(unbounded, node(unbounded, starter.deployer_role_arn))

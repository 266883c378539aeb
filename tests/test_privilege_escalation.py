"""The deployer policy is not administrator in disguise: none of the known IAM privilege-escalation
paths (tests/escalation_paths.py) is open to its holder, for every example, in both modes.

The holder acts two ways. Directly: its own policy (direct mode: the deployer policy; service-role
mode: the caller's policy), requests made without CloudFormation. Through a change set on the
product's stack: CloudFormation acting with the deployer's credentials (direct mode) or with the
execution role (service-role mode), each call carrying ``aws:CalledVia``. Each path is evaluated
with the resources and conditions it would really use (tests/iam_eval.py).
"""

from __future__ import annotations

import re

import pytest

from ml_provisioner.policy import generate_policy
from tests.conftest import EXAMPLES, PROJECT
from tests.escalation_paths import CATALOGUE, OUTSIDE, REVIEWED, UNBOUNDED, Path, bind, targets
from tests.iam_eval import Request, evaluate

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

STEMS = [p.stem for p in EXAMPLES]
MODES = ("direct", "service-role")
VIA_CLOUDFORMATION = {"aws:CalledVia": ["cloudformation.amazonaws.com"], "aws:ViaAWSService": "true"}


@pytest.fixture(scope="module")
def policies(synthesized):
    return {
        (stem, mode): generate_policy(result, service_role=mode == "service-role")
        for stem, result in synthesized.items()
        for mode in MODES
    }


def open_steps(path: Path, documents: list[dict], names, context: dict) -> bool:
    """Is every step of the path allowed?"""
    bound = targets(names)
    principal = f"arn:{names.partition}:iam::{names.account}:user/deployer"
    base = {"aws:RequestedRegion": names.region, "aws:PrincipalAccount": names.account, **context}
    return all(
        evaluate(
            Request(step.action, bind(step.resource, bound), principal, {**base, **bind(step.context, bound)}),
            documents,
        )
        for step in path.steps
    )


def holder(policy) -> list[dict]:
    return policy.documents


def through_stack(policy) -> list[dict]:
    return policy.execution_role.documents if policy.execution_role else policy.documents


def must_stay_closed_through_stack(path: Path, bounded: bool) -> bool:
    return path.leads == OUTSIDE or (path.leads == UNBOUNDED and bounded)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stem", STEMS)
def test_no_escalation_path_is_open_to_direct_calls(synthesized, policies, stem, mode):
    policy, names = policies[stem, mode], synthesized[stem].names
    opened = [p.name for p in CATALOGUE if open_steps(p, holder(policy), names, {})]
    assert not opened, f"open to the holder's direct calls: {opened}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stem", STEMS)
def test_a_change_set_cannot_reach_outside_the_product_or_unbound_a_role(synthesized, policies, stem, mode):
    policy, names = policies[stem, mode], synthesized[stem].names
    opened = [
        p.name
        for p in CATALOGUE
        if must_stay_closed_through_stack(p, policy.bounded)
        and open_steps(p, through_stack(policy), names, VIA_CLOUDFORMATION)
    ]
    assert not opened, f"open through a change set: {opened}"


@pytest.mark.parametrize("mode", MODES)
def test_a_change_set_can_still_do_what_the_stack_needs(synthesized, policies, mode):
    """The guard is not a wall: the reviewed changes (the product's own roles and policies, the
    boundary's document) stay possible through CloudFormation, or deploys would fail."""
    for stem in (STEMS[0], next(s for s in STEMS if "-standalone-" in s)):
        policy, names = policies[stem, mode], synthesized[stem].names
        reviewed = [p for p in CATALOGUE if p.leads == REVIEWED and "SetDefault" not in p.name]
        if not policy.bounded:
            reviewed = [p for p in reviewed if "boundary" not in p.name and "product policy" not in p.name]
        closed = [p.name for p in reviewed if not open_steps(p, through_stack(policy), names, VIA_CLOUDFORMATION)]
        assert not closed, f"{stem}: CloudFormation could not {closed}"


def test_the_catalogue_covers_the_published_paths():
    actions = {step.action for p in CATALOGUE for step in p.steps}
    readme = (PROJECT / "README.md").read_text()
    said = re.search(r"\(`tests/test_privilege_escalation.py`\): (\d+) escalation paths", readme)
    assert said and int(said[1]) == len(CATALOGUE), "the README's count is the catalogue's"
    assert {
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:CreateAccessKey",
        "iam:CreateLoginProfile",
        "iam:UpdateLoginProfile",
        "iam:AttachUserPolicy",
        "iam:AttachGroupPolicy",
        "iam:AttachRolePolicy",
        "iam:PutUserPolicy",
        "iam:PutGroupPolicy",
        "iam:PutRolePolicy",
        "iam:AddUserToGroup",
        "iam:UpdateAssumeRolePolicy",
        "ec2:RunInstances",
        "lambda:CreateFunction",
        "lambda:UpdateFunctionCode",
        "glue:CreateDevEndpoint",
        "glue:UpdateDevEndpoint",
        "cloudformation:CreateStack",
        "datapipeline:CreatePipeline",
        "codebuild:StartBuild",
        "sagemaker:CreatePresignedNotebookInstanceUrl",
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
    } <= actions


def test_the_catalogue_finds_the_holes_of_an_unguarded_policy(synthesized):
    """The policy create-policy wrote before the delegation guard: iam:* writes on the product's
    roles and policies with no condition. The test must see the four-call escalation."""
    stem = next(s for s in STEMS if "-standalone-direct" in s)
    names = synthesized[stem].names
    bound = targets(names)
    unguarded = [
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Resource": [bound["product_role"].rsplit("/", 1)[0] + "/*"],
                    "Action": [
                        "iam:CreateRole",
                        "iam:AttachRolePolicy",
                        "iam:PutRolePolicy",
                        "iam:DeleteRolePermissionsBoundary",
                    ],
                }
            ]
        }
    ]
    opened = {p.name for p in CATALOGUE if open_steps(p, unguarded, names, {})}
    assert {
        "AttachRolePolicy AdministratorAccess to a product role",
        "CreateRole without the boundary + PutRolePolicy",
        "DeleteRolePermissionsBoundary",
    } <= opened


# What the holder may change with its own calls, outside a change set: the lifecycle the CLI
# drives, written out here (not read from the generator), each with why.
DIRECT_CHANGES = {
    "cloudformation:CreateChangeSet": "plans and deploys are change sets",
    "cloudformation:DeleteChangeSet": "cleaning up an unexecuted change set",
    "cloudformation:ExecuteChangeSet": "the deploy itself",
    "cloudformation:DeleteStack": "delete-product",
    "cloudformation:TagResource": "the stack's ownership tags",
    "cloudformation:UntagResource": "the stack's ownership tags",
    "cloudformation:UpdateTerminationProtection": "production stacks are protected",
    "iam:PassRole": "handing the product's roles (or the execution role) to CloudFormation's calls",
    "s3:CreateBucket": "the staging bucket for templates over 51,200 bytes",
    "s3:PutBucketPublicAccessBlock": "the staging bucket",
    "s3:PutEncryptionConfiguration": "the staging bucket",
    "s3:PutLifecycleConfiguration": "the staging bucket",
    "s3:PutObject": "the staged template",
    "s3:DeleteObject": "emptying a test deployment's bucket before delete-product removes it",
    "s3:DeleteObjectVersion": "emptying a test deployment's bucket before delete-product removes it",
}
EMPTIED_OR_STAGED = ("ml-provisioner-staging-", "t????--")  # where the s3 writes may go


@pytest.mark.parametrize("mode", MODES)
def test_every_other_change_is_cloudformation_s_call_for_a_change_set(synthesized, policies, mode):
    """Path C: a direct UpdateProject, PutBucketPolicy, PutRule or PutKeyPolicy would change what a
    product role runs or who reaches its data without any change set. Every action that changes
    something (the IAM reference's Write, Permissions management and Tagging levels) is allowed only
    with aws:CalledVia = CloudFormation, but the lifecycle calls listed above."""
    from ml_provisioner.policy.iam_reference import changes_something

    for stem in STEMS:
        policy = policies[stem, mode]
        for statement in (s for s in policy.statements if s["Effect"] == "Allow"):
            through_stack = statement.get("Condition", {}).get("ForAnyValue:StringEquals", {}).get("aws:CalledVia")
            for action in statement["Action"]:
                if not changes_something(action) or through_stack == ["cloudformation.amazonaws.com"]:
                    continue
                assert action in DIRECT_CHANGES, f"{stem} ({mode}): {action} is a direct change ({statement['Sid']})"
                if action.startswith("s3:"):
                    for resource in statement["Resource"]:
                        assert any(mark in resource for mark in EMPTIED_OR_STAGED), (stem, action, resource)

"""The deployer policy is not administrator in disguise: none of the known IAM privilege-escalation
paths (tests/escalation_paths.py) is open to its holder beyond its product, for every example, in
both modes.

The holder writes the templates. It acts three ways. Directly: its own policy (direct mode: the
deployer policy; service-role mode: the caller's policy), requests made without CloudFormation.
Through a change set: CloudFormation acting with the deployer's credentials (direct mode) or with
the execution role (service-role mode), each call carrying ``aws:CalledVia``; such a change set may
give a product role any inline policy and a trust naming the holder, so ``sts:AssumeRole`` of a role
it can write is decided by that trust. And as such a role: the widest one a change set can write
(an inline ``*:*``), which still carries the administrator's boundary. Each path is evaluated
with the resources and conditions it would really use (tests/iam_eval.py).
"""

from __future__ import annotations

import re

import pytest

from ml_provisioner.policy import generate_policy
from ml_provisioner.policy.boundary import boundary_document
from ml_provisioner.policy.delegation import ATTACHMENTS, BOUNDARY_WRITES, NEVER, ROLE_CHANGES
from ml_provisioner.policy.generator import MANAGED_POLICY_LIMIT, policy_size
from tests.conftest import EXAMPLES, PROJECT
from tests.escalation_paths import CATALOGUE, OUTSIDE, UNBOUNDED, WITHIN_BOUNDARY, Path, bind, targets
from tests.iam_eval import Request, evaluate

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

STEMS = [p.stem for p in EXAMPLES]
MODES = ("direct", "service-role")
VIA_CLOUDFORMATION = {"aws:CalledVia": ["cloudformation.amazonaws.com"], "aws:ViaAWSService": "true"}
# The widest policy a change set can write into a product role.
EVERYTHING = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]


@pytest.fixture(scope="module")
def policies(synthesized):
    return {
        (stem, mode): generate_policy(result, service_role=mode == "service-role")
        for stem, result in synthesized.items()
        for mode in MODES
    }


def open_steps(
    path: Path, documents: list[dict], names, context: dict, *, principal: str = "", boundary: dict | None = None
) -> bool:
    """Is every step of the path allowed to principal (default: the holder)?"""
    bound = targets(names)
    principal = principal or f"arn:{names.partition}:iam::{names.account}:user/deployer"
    base = {"aws:RequestedRegion": names.region, "aws:PrincipalAccount": names.account, **context}
    return all(
        evaluate(
            Request(step.action, bind(step.resource, bound), principal, {**base, **bind(step.context, bound)}),
            documents,
            boundary=boundary,
            resource_policy=trust(step.action, bind(step.resource, bound), principal, bound),
        )
        for step in path.steps
    )


def trust(action: str, resource: str, principal: str, bound: dict) -> dict | None:
    """The trust of a role being assumed: for a role a change set writes (the product's, a new
    one, a test deployment's), one naming the caller; for any other, one naming the account only
    (so the caller's own policies decide, as IAM does)."""
    if action != "sts:AssumeRole":
        return None
    written = resource in (bound["product_role"], bound["new_role"], bound["test_role"])
    who = principal if written else principal.split(":user/")[0].split(":role/")[0] + ":root"
    statement = {"Effect": "Allow", "Principal": {"AWS": who}, "Action": "sts:AssumeRole", "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement]}


def holder(policy) -> list[dict]:
    return policy.documents


def through_stack(policy) -> list[dict]:
    return policy.execution_role.documents if policy.execution_role else policy.documents


def acting(policy, path: Path) -> list[dict]:
    """Who makes the path's calls: the holder for CloudFormation's own API, else CloudFormation."""
    own = all(step.action.startswith("cloudformation:") for step in path.steps)
    return holder(policy) if own else through_stack(policy)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stem", STEMS)
def test_no_escalation_path_is_open_to_direct_calls(synthesized, policies, stem, mode):
    policy, names = policies[stem, mode], synthesized[stem].names
    opened = [p.name for p in CATALOGUE if p.leads != WITHIN_BOUNDARY and open_steps(p, holder(policy), names, {})]
    assert not opened, f"open to the holder's direct calls: {opened}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stem", STEMS)
def test_a_change_set_cannot_reach_outside_the_product_or_unbound_a_role(synthesized, policies, stem, mode):
    policy, names = policies[stem, mode], synthesized[stem].names
    opened = [
        p.name
        for p in CATALOGUE
        if p.leads in (OUTSIDE, UNBOUNDED) and open_steps(p, through_stack(policy), names, VIA_CLOUDFORMATION)
    ]
    assert not opened, f"open through a change set: {opened}"


@pytest.mark.parametrize("stem", STEMS)
def test_the_widest_role_a_change_set_can_write_reaches_nothing_outside_the_product(synthesized, stem):
    """Paths A and B of the threat model: a change set writes a product role with an inline *:* and
    a trust naming the holder, who assumes it. The administrator's boundary is all that stands
    between that session and the account: every OUTSIDE and UNBOUNDED path stays closed to it."""
    names = synthesized[stem].names
    bound = targets(names)
    boundary = boundary_document(names)
    for role in (bound["new_role"], bound["test_role"]):
        opened = [
            p.name
            for p in CATALOGUE
            if p.leads in (OUTSIDE, UNBOUNDED)
            and open_steps(p, EVERYTHING, names, {}, principal=role, boundary=boundary)
        ]
        assert not opened, f"a widened role {role} reaches: {opened}"


def test_without_the_boundary_that_role_is_an_administrator(synthesized):
    """The check above has teeth: the same role, uncapped, opens the account."""
    names = synthesized[STEMS[0]].names
    role = targets(names)["new_role"]
    opened = {p.name for p in CATALOGUE if p.leads == OUTSIDE and open_steps(p, EVERYTHING, names, {}, principal=role)}
    assert {
        "iam:AttachRolePolicy AdministratorAccess to the deployer role",
        "s3:GetObject in another product's bucket",
        "CreatePolicyVersion on the boundary",
        "sts:AssumeRole of the deployer role",
    } <= opened


@pytest.mark.parametrize("mode", MODES)
def test_a_change_set_can_still_do_what_the_stack_needs(synthesized, policies, mode):
    """The guard is not a wall: the product's own roles and policies stay changeable through
    CloudFormation (with the boundary), or deploys would fail; and a role the holder's change set
    writes to trust it can be assumed, which is why the boundary above must hold."""
    for stem in (STEMS[0], next(s for s in STEMS if "-standalone-" in s)):
        policy, names = policies[stem, mode], synthesized[stem].names
        within = [p for p in CATALOGUE if p.leads == WITHIN_BOUNDARY and "SetDefault" not in p.name]
        closed = [p.name for p in within if not open_steps(p, acting(policy, p), names, VIA_CLOUDFORMATION)]
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
    "s3:PutObject": "the staged template and seed code; a new s3 product's seed archives, create-only",
    "kms:GenerateDataKey": "those archives, in an enterprise bucket: encrypted with the product's key, through S3",
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
                if statement["Sid"] == "S3SeedSourceArchivesKey":  # only S3 may use it, only the product's key
                    assert statement["Condition"]["StringEquals"]["kms:ViaService"].startswith("s3."), stem
                    assert "aws:ResourceTag/ml-provisioner:product" in statement["Condition"]["StringEquals"]
                elif statement["Sid"].startswith("S3SeedSourceArchives"):  # never over the team's source
                    assert statement["Condition"] == {"StringEquals": {"s3:if-none-match": "*"}}, stem
                    assert all(
                        r.endswith(("/source/model-build.zip", "/source/model-deploy.zip"))
                        for r in statement["Resource"]
                    )
                elif action.startswith("s3:"):
                    for resource in statement["Resource"]:
                        assert any(mark in resource for mark in EMPTIED_OR_STAGED), (stem, action, resource)


@pytest.mark.parametrize("mode", MODES)
def test_every_role_change_requires_the_one_boundary_no_grant_can_write(synthesized, policies, mode):
    """For all examples, the holder's and the execution role's documents alike: each grant of a role
    change names exactly the administrator's boundary (one ARN, no wildcard, no test variant), and
    no Allow reaches that policy's document, versions or existence."""
    for stem in STEMS:
        policy, names = policies[stem, mode], synthesized[stem].names
        boundary = names.permission_boundary_arn
        assert "*" not in boundary and "?" not in boundary
        documents = [*policy.documents, *(policy.execution_role.documents if policy.execution_role else [])]
        statements = [s for d in documents for s in d["Statement"]]
        for statement in (s for s in statements if s["Effect"] == "Allow"):
            if set(statement["Action"]) & {*ROLE_CHANGES, *ATTACHMENTS}:
                assert statement["Condition"]["ArnEquals"] == {"iam:PermissionsBoundary": boundary}, stem
            assert not set(statement["Action"]) & set(NEVER), stem
        for action in BOUNDARY_WRITES:
            request = Request(action, boundary, "arn:aws:iam::1:user/deployer", VIA_CLOUDFORMATION)
            assert not evaluate(request, documents), f"{stem} ({mode}): {action} on the boundary"


@pytest.mark.parametrize("stem", STEMS)
def test_the_boundary_allows_no_data_compute_key_role_or_session_action_on_any_resource(synthesized, stem):
    names = synthesized[stem].names
    document = boundary_document(names)
    for statement in (s for s in document["Statement"] if s["Effect"] == "Allow"):
        assert not any(a.endswith(":*") or a == "*" for a in statement["Action"]), statement["Sid"]
        if "*" in statement["Resource"]:
            # calls AWS authorizes on no resource, none touching data: the registry login, metrics, and
            # (enterprise) the EC2 reads SageMaker makes to place a job in the product's subnets
            assert statement["Action"] in (
                ["ecr:GetAuthorizationToken"],
                ["cloudwatch:PutMetricData"],
                ["ec2:Describe*"],
            ), statement
        for resource in statement["Resource"]:
            assert resource == "*" or names.account in resource or ":s3:::" in resource or ":ecr:" in resource
    denied = {a for s in document["Statement"] if s["Effect"] == "Deny" for a in s["Action"]}
    assert {"iam:Create*", "iam:Put*", "iam:Attach*", "iam:Delete*", "sts:AssumeRole"} <= denied
    assert policy_size(document) <= MANAGED_POLICY_LIMIT

"""create-policy --approver: a two-person rule that IAM enforces. The deployer policy's holder (the
author) plans but cannot execute any change set; the approver executes the product's saved plans
and nothing else: no change set of its own, no deletion, no other stack.

Offline, every example in both modes is evaluated with tests/iam_eval.py. Against the sandbox, the
calls the two real commands make (show-changes --save, deploy-product --plan) are recorded as
botocore sends them and each is evaluated against the policy of the person who runs it."""

from __future__ import annotations

from pathlib import Path

import botocore.client
import pytest
import yaml

from ml_provisioner.config.loader import load_config
from ml_provisioner.policy import generate_policy
from ml_provisioner.policy.generator import template_types
from ml_provisioner.policy.iam_reference import changes_something
from ml_provisioner.synth import Synthesized
from ml_provisioner.templates import load_template_text
from tests.conftest import EXAMPLES
from tests.iam_eval import Request, evaluate
from tests.support.sandbox import cli, product

pytestmark = pytest.mark.synth

STEMS = [p.stem for p in EXAMPLES]
MODES = ("direct", "service-role")
PLAN = "ml-provisioner-plan-20261207012345678901"


@pytest.fixture(scope="module")
def split(synthesized):
    return {
        (stem, mode): generate_policy(result, service_role=mode == "service-role", approver=True)
        for stem, result in synthesized.items()
        for mode in MODES
    }


def allowed(documents, action: str, resource: str, names, **context) -> bool:
    principal = f"arn:{names.partition}:iam::{names.account}:role/someone"
    base = {"aws:RequestedRegion": names.region, "aws:PrincipalAccount": names.account}
    return evaluate(Request(action, resource, principal, {**base, **context}), documents).allowed


def stack_arn(names, stack_name: str | None = None) -> str:
    return names.arn("cloudformation", f"stack/{stack_name or names.stack_name}/1a2b3c4d-0000-4000-8000-000000000000")


@pytest.mark.parametrize("mode", MODES)
def test_the_author_plans_but_cannot_execute_any_change_set(synthesized, split, mode):
    for stem in STEMS:
        policy, names = split[stem, mode], synthesized[stem].names
        author = policy.documents
        types = {"cloudformation:ResourceTypes": template_types(synthesized[stem].template)}
        assert allowed(author, "cloudformation:CreateChangeSet", stack_arn(names), names, **_role(policy), **types)
        for name in (PLAN, "ml-provisioner-20261207012345678901", "anything"):
            assert not allowed(
                author,
                "cloudformation:ExecuteChangeSet",
                stack_arn(names),
                names,
                **{"cloudformation:ChangeSetName": name},
            ), (stem, name)


@pytest.mark.parametrize("mode", MODES)
def test_the_approver_executes_the_product_s_saved_plans_and_nothing_else(synthesized, split, mode):
    for stem in STEMS:
        policy, names = split[stem, mode], synthesized[stem].names
        approver = policy.approver_documents
        execute = "cloudformation:ExecuteChangeSet"
        assert allowed(approver, execute, stack_arn(names), names, **{"cloudformation:ChangeSetName": PLAN}), stem
        for name in ("ml-provisioner-20261207012345678901", "someone-elses"):
            assert not allowed(approver, execute, stack_arn(names), names, **{"cloudformation:ChangeSetName": name})
        other = names.stack_name.replace("--ml", "-batch--ml")
        assert not allowed(approver, execute, stack_arn(names, other), names, **{"cloudformation:ChangeSetName": PLAN})
        for action in ("CreateChangeSet", "DeleteStack", "DeleteChangeSet", "UpdateStack", "CreateStack"):
            assert not allowed(approver, f"cloudformation:{action}", stack_arn(names), names, **_role(policy)), action


# Writing a new s3 product's seed archives: only where no object is (If-None-Match), and the key
# only through S3.
SEED_ARCHIVE_CONDITIONS = [{"StringEquals": {"s3:if-none-match": "*"}}] + [
    {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com", "aws:ResourceTag/ml-provisioner:product": p}}
    for region in ("eu-west-1",)
    for p in ("globalbank-prod-c001-demand-forecasting", "globalbank-prod-c001-demand-forecasting-batch")
]


@pytest.mark.parametrize("mode", MODES)
def test_everything_else_the_approver_may_do_is_reading_or_cloudformation_s_own_calls(split, mode):
    """Besides executing plans and keeping production protected: reads, passing the product's roles
    (CloudFormation checks it as the executor's in direct mode), what CloudFormation does for the
    change set (aws:CalledVia), and a new s3 product's seed archives (create-only: If-None-Match)."""
    for stem in STEMS:
        policy = split[stem, mode]
        for statement in (s for s in policy.approver_statements if s["Effect"] == "Allow"):
            through_stack = "aws:CalledVia" in str(statement.get("Condition", {}))
            for action in statement["Action"]:
                assert (
                    not changes_something(action)
                    or through_stack
                    or action in ("iam:PassRole", "cloudformation:UpdateTerminationProtection")
                    or (
                        action == "cloudformation:ExecuteChangeSet"
                        and statement["Sid"] == "CloudformationExecuteSavedPlans"
                    )
                    or statement.get("Condition") in SEED_ARCHIVE_CONDITIONS
                ), (stem, mode, statement["Sid"], action)


def test_without_approver_there_is_one_policy_that_may_execute(synthesized):
    result: Synthesized = synthesized[STEMS[0]]
    policy = generate_policy(result)
    assert policy.approver_statements is None and policy.two_person_rule == ""
    assert any("cloudformation:ExecuteChangeSet" in s["Action"] for s in policy.statements)


def _role(policy) -> dict[str, str]:
    """Service-role mode: change sets name the execution role."""
    return {"cloudformation:RoleArn": policy.execution_role.arn} if policy.execution_role else {}


# -- the real commands, call by call ------------------------------------------------------------------


def _recording(monkeypatch) -> list[tuple[str, str, dict]]:
    calls: list[tuple[str, str, dict]] = []
    send = botocore.client.BaseClient._make_api_call

    def record(client, operation, params):
        calls.append((client.meta.service_model.signing_name, operation, dict(params)))
        return send(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def _request(names, service: str, operation: str, params: dict) -> tuple[str, str, dict] | None:
    """The IAM action, resource and context of one recorded call (None: no permission is checked)."""
    if (service, operation) == ("sts", "GetCallerIdentity"):
        return None  # AWS authorizes it for everyone
    action = f"{service}:{operation}"
    if service == "cloudformation":
        context = {}
        change_set = str(params.get("ChangeSetName", ""))
        if change_set:
            context["cloudformation:ChangeSetName"] = (
                change_set.split("/")[1] if change_set.startswith("arn:") else change_set
            )
        if "RoleARN" in params:
            context["cloudformation:RoleArn"] = params["RoleARN"]
        if "ResourceTypes" in params:
            context["cloudformation:ResourceTypes"] = params["ResourceTypes"]
        if "ResourcesToImport" in params:
            context["cloudformation:ImportResourceTypes"] = [r["ResourceType"] for r in params["ResourcesToImport"]]
        return action, stack_arn(names), context
    if service == "ssm":
        path = params.get("Path") or params.get("Name") or (params.get("Names") or [""])[0]
        return action, names.arn("ssm", f"parameter{path}"), {}
    if service == "s3":  # S3's operations are authorized as these actions (Service Authorization Reference)
        bucket = f"arn:{names.partition}:s3:::{params['Bucket']}"
        action, on_object = S3_ACTIONS[operation]
        return action, f"{bucket}/{params['Key']}" if on_object else bucket, {}
    if service == "iam" and "PolicyArn" in params:  # the boundary check reads the policy by its ARN
        return action, params["PolicyArn"], {}
    if service == "ec2" and "VpcId" in params:  # the VPC preflight: DescribeVpcAttribute acts on the VPC
        return action, names.arn("ec2", f"vpc/{params['VpcId']}"), {}
    return action, "*", {}


S3_ACTIONS = {
    "HeadBucket": ("s3:ListBucket", False),
    "CreateBucket": ("s3:CreateBucket", False),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration", False),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", False),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", False),
    "PutObject": ("s3:PutObject", True),
}


@pytest.mark.parametrize("fragment", ["techcorp s3", "globalbank s3 standalone direct"])
def test_each_call_of_the_real_commands_is_allowed_for_the_person_who_runs_it(aws, monkeypatch, fragment):
    config, data = product(fragment, aws)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    path = Path("ml/configs") / config
    changed = yaml.safe_load(path.read_text())
    changed["tags"]["owner"] = "another-owner@example.com"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    loaded = load_config(path)
    names = loaded.names()
    calls = _recording(monkeypatch)

    assert cli("show-changes", "-c", config, "--save")[0] == 0
    authored = list(calls)
    calls.clear()
    code, _, err = cli("deploy-product", "-c", config, "--plan", f"ml/reports/{path.stem}-plan.json", "--force")
    assert code == 0, err
    executed = list(calls)

    template = load_template_text((Path("ml/templates") / f"{path.stem}.yaml").read_text(), "template")
    result = Synthesized(loaded, names, template)
    policy = generate_policy(result, approver=True)
    assert any(op == "ExecuteChangeSet" for _, op, _ in executed)
    for who, documents, made in (
        ("author", policy.documents, authored),
        ("approver", policy.approver_documents, executed),
    ):
        for service, operation, params in made:
            request = _request(names, service, operation, params)
            if request is not None:
                action, resource, context = request
                assert allowed(documents, action, resource, names, **context), (who, action, resource, context)
    assert not any(op == "ExecuteChangeSet" for _, op, _ in authored)

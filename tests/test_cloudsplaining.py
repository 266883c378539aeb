"""cloudsplaining (Salesforce's IAM policy scanner, a judge nobody here wrote) on every generated
document of every example, in both modes and with the two-person split: no finding in any of its
categories, or the finding is listed below with its reason. A policy with the classic problems is
scanned too, so a silent scanner cannot pass for a clean policy."""

from __future__ import annotations

from typing import Any

import pytest
from cloudsplaining.scan.policy_document import PolicyDocument

from ml_provisioner.policy import generate_policy

pytestmark = pytest.mark.synth

# cloudsplaining's categories, by the PolicyDocument property that reports each.
CATEGORIES = (
    "allows_privilege_escalation",
    "allows_data_exfiltration_actions",
    "permissions_management_without_constraints",
    "write_actions_without_constraints",
    "tagging_actions_without_constraints",
    "credentials_exposure",
    "infrastructure_modification",
)
ACCEPTED: dict[tuple[str, str], str] = {  # (category, finding) -> why it stays
    ("credentials_exposure", "ecr:GetAuthorizationToken"): "the permission boundary lets a SageMaker job log in "
    "to ECR to pull its image (the call supports no resource); what the token may pull is still only AWS's "
    "images and the product's own repositories (the boundary's pull statements)",
}


def findings(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    document = PolicyDocument({"Version": "2012-10-17", "Statement": statements})
    return {category: list(getattr(document, category)) for category in CATEGORIES}


def unexplained(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        category: [f for f in found if (category, str(f)) not in ACCEPTED]
        for category, found in findings(statements).items()
        if any((category, str(f)) not in ACCEPTED for f in found)
    }


@pytest.mark.parametrize("mode", ["direct", "service-role"])
def test_no_generated_document_has_an_unexplained_finding(synthesized, mode):
    for stem, result in synthesized.items():
        policy = generate_policy(result, service_role=mode == "service-role", approver=True)
        documents = {
            "author": policy.statements,
            "approver": policy.approver_statements or [],
            "boundary": policy.boundary["Statement"],
        }
        if policy.execution_role:
            documents["execution role"] = policy.execution_role.statements
        for who, statements in documents.items():
            assert unexplained(statements) == {}, f"{stem} ({mode}, {who})"


def test_the_scanner_finds_the_classic_problems():
    wide_open = [
        {"Effect": "Allow", "Action": ["iam:CreatePolicyVersion", "iam:PassRole", "s3:GetObject"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["iam:CreateAccessKey", "ec2:RunInstances", "s3:PutBucketPolicy"],
            "Resource": "*",
        },
    ]
    found = findings(wide_open)
    assert found["allows_privilege_escalation"], "iam:CreatePolicyVersion on *"
    assert "s3:GetObject" in found["allows_data_exfiltration_actions"]
    assert "iam:CreateAccessKey" in found["credentials_exposure"]
    assert "s3:PutBucketPolicy" in found["permissions_management_without_constraints"]

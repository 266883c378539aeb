"""How the deployer may change the product's IAM roles and managed policies (AWS: "permissions
boundaries for delegating IAM administration").

The resource handlers of AWS::IAM::Role and AWS::IAM::ManagedPolicy need calls that, granted as
they are, let their holder make any role of the product an administrator (write any inline
policy, attach AdministratorAccess, trust anyone, remove the boundary). Here each of them is
granted only as the stack needs it:

- every call that changes what a role may do, who may assume it, or a managed policy's document
  only when CloudFormation makes it for a stack operation (``aws:CalledVia``: CloudFormation makes
  every resource call through a forward access session, with or without a service role), so the
  holder cannot make these changes outside a change set;
- every role change only on roles carrying the product's permission boundary, and every role
  created with it (``iam:PermissionsBoundary`` equal to its one fixed ARN): a role a change set
  makes or widens, whatever its inline policy or trust says, can do no more than the boundary,
  which an administrator wrote (policy/boundary.py) and no statement here may create, version,
  re-default, delete, attach as a permission or remove from a role (explicit Denies: they also
  cover anything some other statement of the holder's would allow);
- Attach/DetachRolePolicy only for the product's own managed policies (``iam:PolicyARN``).

IAM has no condition key on a trust policy's or an inline policy's content: a change set may say
anything there. The boundary is what makes that safe, not a review.
"""

from __future__ import annotations

from typing import Any

from ml_provisioner.naming import Names
from ml_provisioner.policy import scopes
from ml_provisioner.policy.tables import ROLE

THROUGH_CLOUDFORMATION = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}
POLICY: tuple[str, str] = ("iam", "policy")
ANY = "*"  # a Deny on every resource: stronger than any scope

# What a role may do or who may assume it (all of them accept iam:PermissionsBoundary).
ROLE_CHANGES = (
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
)
ATTACHMENTS = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")
# A managed policy's document (the boundary is one): a new version, or the policy deleted and
# created again under its name.
POLICY_VERSIONS = (
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
# The boundary's document and existence: the administrator's alone.
BOUNDARY_WRITES = (*POLICY_VERSIONS, "iam:TagPolicy", "iam:UntagPolicy")
# Never granted: removing a boundary frees the role from it.
NEVER = ("iam:DeleteRolePermissionsBoundary",)
GUARDED = (*ROLE_CHANGES, *ATTACHMENTS, *POLICY_VERSIONS, *NEVER)


def guard(statements: list[dict[str, Any]], names: Names) -> list[dict[str, Any]]:
    """statements with every guarded IAM action taken out and granted again with its conditions,
    plus the explicit denies."""
    kept: list[dict[str, Any]] = []
    found: set[str] = set()
    for statement in statements:
        actions = [a for a in statement["Action"] if a not in GUARDED]
        found |= set(statement["Action"]) - set(actions)
        if actions:
            kept.append({**statement, "Action": actions})
    roles = scopes.product_arns(ROLE, names)
    policies = scopes.product_arns(POLICY, names)
    boundary = names.permission_boundary_arn
    with_boundary = {"iam:PermissionsBoundary": boundary}
    guarded = [
        _allow(
            "IamChangeProductRolesThroughStack",
            found & set(ROLE_CHANGES),
            roles,
            {**THROUGH_CLOUDFORMATION, "ArnEquals": with_boundary},
        ),
        _allow(
            "IamAttachProductPoliciesThroughStack",
            found & set(ATTACHMENTS),
            roles,
            {**THROUGH_CLOUDFORMATION, "ArnEquals": with_boundary, "ArnLike": {"iam:PolicyARN": policies}},
        ),
        _allow("IamChangeProductPoliciesThroughStack", found & set(POLICY_VERSIONS), policies, THROUGH_CLOUDFORMATION),
        {"Sid": "IamNeverRemoveBoundaries", "Effect": "Deny", "Action": list(NEVER), "Resource": [ANY]},
        {
            "Sid": "IamNeverWriteTheBoundary",
            "Effect": "Deny",
            "Action": list(BOUNDARY_WRITES),
            "Resource": [boundary],
        },
        {
            "Sid": "IamNeverAttachTheBoundaryAsPermissions",
            "Effect": "Deny",
            "Action": list(ATTACHMENTS[:1]),
            "Resource": [ANY],
            "Condition": {"ArnEquals": {"iam:PolicyARN": boundary}},
        },
    ]
    return kept + [s for s in guarded if s["Action"]]


def _allow(sid: str, actions: set[str], resources: list[str], condition: dict[str, Any]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, "Condition": condition}

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
- Attach/DetachRolePolicy only for the product's own managed policies (``iam:PolicyARN``);
- enterprise: every role change only on roles carrying the product's permission boundary
  (``iam:PermissionsBoundary``), the boundary never attached as a permissions policy, and the
  boundary never removed from a role of the product (explicit Deny: also covers a policy that
  some other statement of the holder's would allow).

IAM has no condition key on a trust policy's content, so the trust a role gets cannot be pinned
to the template's services by a condition: it can only change through a change set.
"""

from __future__ import annotations

from typing import Any

from ml_provisioner.config.models import EnterpriseConfig
from ml_provisioner.naming import Names
from ml_provisioner.policy import scopes
from ml_provisioner.policy.tables import ROLE

THROUGH_CLOUDFORMATION = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}
POLICY: tuple[str, str] = ("iam", "policy")

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
# Never granted: removing a boundary frees the role from it.
NEVER = ("iam:DeleteRolePermissionsBoundary",)
GUARDED = (*ROLE_CHANGES, *ATTACHMENTS, *POLICY_VERSIONS, *NEVER)


def bounded(names: Names) -> bool:
    return isinstance(names.config, EnterpriseConfig)


def boundary_arns(names: Names) -> list[str]:
    """The product's boundary and its test deployments' (``t????`` in the ARN)."""
    return [d.permission_boundary_arn for d in scopes.deployments(names)]


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
    boundary = {"iam:PermissionsBoundary": boundary_arns(names)} if bounded(names) else {}
    guarded = [
        _allow(
            "IamChangeProductRolesThroughStack",
            found & set(ROLE_CHANGES),
            roles,
            {**THROUGH_CLOUDFORMATION, **({"ArnLike": boundary} if boundary else {})},
        ),
        _allow(
            "IamAttachProductPoliciesThroughStack",
            found & set(ATTACHMENTS),
            roles,
            {**THROUGH_CLOUDFORMATION, "ArnLike": {**boundary, "iam:PolicyARN": policies}},
        ),
        _allow("IamChangeProductPoliciesThroughStack", found & set(POLICY_VERSIONS), policies, THROUGH_CLOUDFORMATION),
        {"Sid": "IamNeverRemoveBoundaries", "Effect": "Deny", "Action": list(NEVER), "Resource": roles},
    ]
    if bounded(names):
        guarded.append(
            {
                "Sid": "IamNeverAttachTheBoundaryAsPermissions",
                "Effect": "Deny",
                "Action": list(ATTACHMENTS[:1]),
                "Resource": roles,
                "Condition": {"ArnLike": {"iam:PolicyARN": boundary_arns(names)}},
            }
        )
    return kept + [s for s in guarded if s["Action"]]


def _allow(sid: str, actions: set[str], resources: list[str], condition: dict[str, Any]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, "Condition": condition}

"""CloudFormation change sets: create -> wait -> describe, always addressed by their ARN.

A change set with no changes is a result ("no changes"), not an error. IAM-widening changes
(new principals, actions or resources in any policy document) are flagged by comparing the
deployed template's documents with the new template's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import botocore.exceptions

from ml_provisioner.aws.session import AwsSession
from ml_provisioner.errors import BadInput, OperationFailed

NO_CHANGES_REASONS = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]  # the enterprise boundary has a fixed name
CHANGE_SET_PREFIX = "ml-provisioner-"  # how the change sets this tool makes are recognised
PLAN_PREFIX = CHANGE_SET_PREFIX + "plan-"  # ... and those kept for a saved plan (never leftovers)

# Properties holding IAM-style policy documents, by resource type.
POLICY_PROPERTIES = {
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies"),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::EC2::VPCEndpoint": ("PolicyDocument",),
}
# Where a product's data lives: removing or replacing one of these orphans or loses that data.
DATA_TYPES = frozenset(
    {
        "AWS::S3::Bucket",
        "AWS::CodeCommit::Repository",
        "AWS::SageMaker::ModelPackageGroup",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
    }
)


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    physical_id: str
    resource_type: str
    replacement: str  # True | False | Conditional | "" (not a Modify)
    iam_widening: list[str] = field(default_factory=list)  # what the change newly allows
    fixed_name: bool = False  # the product gives the resource its physical name
    recreated_by: list[str] = field(default_factory=list)  # properties whose change forces the replacement

    @property
    def replaces(self) -> bool:
        return self.replacement in ("True", "Conditional")

    @property
    def destructive(self) -> bool:
        """Removes or (possibly) replaces a resource that holds the product's data."""
        return self.resource_type in DATA_TYPES and (self.action == "Remove" or self.replaces)

    @property
    def name_clash(self) -> bool:
        """Replaces a resource with a fixed name that stays the same: CloudFormation creates the new
        one first, under the name the old one still holds, and the update fails."""
        renamed = any(prop.endswith("Name") for prop in self.recreated_by)  # a new name frees the way
        return self.fixed_name and self.replaces and not renamed

    @property
    def flags(self) -> str:
        flags = ["DATA"] if self.destructive else []
        if self.name_clash:
            flags.append(f"FIXED NAME ({', '.join(self.recreated_by) or 'replacement'})")
        if self.replacement in ("True", "Conditional"):
            flags.append("REPLACEMENT" if self.replacement == "True" else "may replace")
        if self.iam_widening:
            flags.append("IAM WIDENING")
        return ", ".join(flags)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChangeSet:
    arn: str | None  # None when CloudFormation found nothing to change (it is deleted then)
    change_type: str  # CREATE | UPDATE | IMPORT
    changes: list[ResourceChange]

    @property
    def empty(self) -> bool:
        return not self.changes


def refuse_unsafe_changes(change_set: ChangeSet, *, allow_data_loss: bool = False) -> None:
    """Refuse (exit 2) a change set that removes or replaces data-bearing resources (unless
    allow_data_loss), or that replaces a resource with a fixed name: CloudFormation creates the new
    one first, under the name the old one still holds, so that update fails on AWS whatever we allow."""
    refused = [c for c in change_set.changes if c.name_clash or (c.destructive and not allow_data_loss)]
    if not refused:
        return
    what = ", ".join(
        f"{'replace' if c.replaces else c.action.lower()} {c.logical_id} "
        f"({c.resource_type}{', fixed name' if c.name_clash else ''})"
        + (f" because {', '.join(c.recreated_by)} changed" if c.replaces and c.recreated_by else "")
        for c in refused
    )
    if any(c.name_clash for c in refused):
        raise BadInput(
            f"the change set would {what}: a replacement cannot take the name the resource holds",
            "keep the property as deployed, or delete the resource first (its data too); show-changes flags FIXED NAME",
        )
    raise BadInput(
        f"the change set would {what}: data would be orphaned or lost",
        "review with show-changes; deploy with --allow-destructive if you mean it",
    )


def create_change_set(
    aws: AwsSession,
    *,
    stack_name: str,
    change_type: str,
    template: dict[str, str],
    tags: dict[str, str],
    new_template: dict[str, Any],
    resources_to_import: list[dict[str, Any]] | None = None,
    fixed_name_types: frozenset[str] = frozenset(),
    name_prefix: str = CHANGE_SET_PREFIX,
) -> ChangeSet:
    """Create and describe a change set. ``template`` is {"TemplateBody": ...} or {"TemplateURL": ...};
    an IMPORT names its existing resources in ``resources_to_import``; resources of
    ``fixed_name_types`` carry physical names the product fixes."""
    cfn = aws.client("cloudformation")
    name = name_prefix + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    arn = cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType=change_type,
        Capabilities=CAPABILITIES,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        Description="Created by ml-provisioner",
        **template,
        **({"ResourcesToImport": resources_to_import} if resources_to_import else {}),
        **aws.stack_role(),
    )["Id"]
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=arn, WaiterConfig={"Delay": 2, "MaxAttempts": 300}
        )
    except botocore.exceptions.WaiterError as error:
        reason = (error.last_response or {}).get("StatusReason", "")
        if any(marker in reason for marker in NO_CHANGES_REASONS):
            cfn.delete_change_set(ChangeSetName=arn)
            return ChangeSet(None, change_type, [])
        raise OperationFailed(f"change set for {stack_name} failed: {reason or error}") from None
    # Widening is judged against what is deployed; a new stack's grants are reviewed as a whole
    # (show-product, create-review-report), not line by line here.
    old_template = deployed_template(aws, stack_name) if change_type == "UPDATE" else None
    return ChangeSet(arn, change_type, _describe(cfn, arn, old_template, new_template, fixed_name_types))


def delete_change_set(aws: AwsSession, change_set: ChangeSet) -> None:
    if change_set.arn:
        aws.client("cloudformation").delete_change_set(ChangeSetName=change_set.arn)


def _describe(
    cfn: Any, arn: str, old_template: dict | None, new_template: dict, fixed_name_types: frozenset[str]
) -> list[ResourceChange]:
    changes, token = [], None
    while True:
        page = cfn.describe_change_set(ChangeSetName=arn, **({"NextToken": token} if token else {}))
        for item in page.get("Changes", []):
            rc = item.get("ResourceChange", {})
            logical_id = rc.get("LogicalResourceId", "")
            resource_type = rc.get("ResourceType", "")
            changes.append(
                ResourceChange(
                    action=rc.get("Action", ""),
                    logical_id=logical_id,
                    physical_id=rc.get("PhysicalResourceId", ""),
                    resource_type=resource_type,
                    replacement=rc.get("Replacement", "") if rc.get("Action") == "Modify" else "",
                    iam_widening=iam_widening(
                        resource_type,
                        old_template.get("Resources", {}).get(logical_id),
                        new_template.get("Resources", {}).get(logical_id),
                    )
                    if old_template is not None
                    else [],
                    fixed_name=resource_type in fixed_name_types,
                    recreated_by=sorted(
                        {
                            d["Target"]["Name"]
                            for d in rc.get("Details", [])
                            if d.get("Target", {}).get("RequiresRecreation") in ("Always", "Conditionally")
                            and d["Target"].get("Name")
                        }
                    ),
                )
            )
        token = page.get("NextToken")
        if not token:
            return changes


def deployed_template(aws: AwsSession, stack_name: str) -> dict[str, Any]:
    import yaml

    body = aws.client("cloudformation").get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    return body if isinstance(body, dict) else yaml.safe_load(body)


# -- IAM widening --------------------------------------------------------------------------------


def iam_widening(resource_type: str, old: dict | None, new: dict | None) -> list[str]:
    """What the new resource's policy documents allow that the old ones did not."""
    if resource_type not in POLICY_PROPERTIES or not new:
        return []
    before = _grants(resource_type, old or {})
    return sorted(_describe_grant(g) for g in _grants(resource_type, new) - before)


def _grants(resource_type: str, resource: dict) -> set[tuple[str, str, str]]:
    """Allow statements flattened to (principal, action, resource) triples."""
    properties = resource.get("Properties", {})
    documents = []
    for name in POLICY_PROPERTIES[resource_type]:
        value = properties.get(name)
        if name == "Policies":
            documents += [p.get("PolicyDocument", {}) for p in value or []]
        elif value:
            documents.append(value)
    grants = set()
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            if statement.get("Effect") != "Allow":
                continue
            for principal in _principals(statement.get("Principal")):
                for action in _as_list(statement.get("Action")) or ["(NotAction)"]:
                    for target in _as_list(statement.get("Resource")) or ["(any)"]:
                        grants.add((principal, _text(action), _text(target)))
    return grants


def _principals(principal: Any) -> list[str]:
    if principal is None:
        return ["(the policy's holder)"]
    if isinstance(principal, str):
        return [principal]
    return [f"{kind}:{_text(p)}" for kind, value in principal.items() for p in _as_list(value)]


def _describe_grant(grant: tuple[str, str, str]) -> str:
    principal, action, target = grant
    return f"{principal} may {action} on {target}"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

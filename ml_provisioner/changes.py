"""What a change set would do, as typed values: the judgement of each change (data loss, fixed
names, replacement, IAM widening) needs no AWS call, so it lives here; ``aws.changes`` makes and
reads the change sets."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ml_provisioner.errors import BadInput

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


# Properties a resource reads only when it is created: a Modify of these alone changes nothing live
# (CloudFormation User Guide, AWS::CodeCommit::Repository Code: "only used in resource creation").
CREATION_ONLY = {"AWS::CodeCommit::Repository": ("Code",)}


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
    # Each changed value, as CloudFormation describes it (IncludePropertyValues): path, before,
    # after (None: absent), change (Add | Remove | Modify) and recreation (Never | Conditionally | Always);
    # in a drift-aware change set "before" is the live value where before_from is ACTUAL_STATE, and
    # "deployed" what the last deployment had set where it drifted.
    properties: list[dict[str, str | None]] = field(default_factory=list)
    # Drift-aware change sets (--revert-drift) only: the resource's live state against its template
    # (IN_SYNC | MODIFIED | DELETED | UNSUPPORTED | UNKNOWN); "" in a plain change set.
    drift: str = ""

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
    def reverts_drift(self) -> bool:
        """Puts back template values over changes made outside CloudFormation."""
        return self.drift in ("MODIFIED", "DELETED")

    @property
    def creation_only(self) -> bool:
        """A Modify of properties the resource reads only when created (a product made before seed
        code gets its repositories' Code): CloudFormation records it and nothing else changes."""
        properties = CREATION_ONLY.get(self.resource_type, ())
        paths = [(p.get("path") or "").split("/")[2:3] for p in self.properties]
        return bool(
            properties and self.action == "Modify" and paths and all(path and path[0] in properties for path in paths)
        )

    @property
    def flags(self) -> str:
        if self.creation_only:
            return f"NO EFFECT ({', '.join(CREATION_ONLY[self.resource_type])} is read only at creation)"
        flags = ["DATA"] if self.destructive else []
        if self.reverts_drift:
            flags.append(f"REVERTS DRIFT ({self.drift.lower()})")
        if self.name_clash:
            flags.append(f"FIXED NAME ({', '.join(self.recreated_by) or 'replacement'})")
        if self.replacement in ("True", "Conditional"):
            flags.append("REPLACEMENT" if self.replacement == "True" else "may replace")
        if self.iam_widening:
            flags.append("IAM WIDENING")
        return ", ".join(flags)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_description(
        cls,
        item: dict[str, Any],
        old_template: dict[str, Any] | None,
        new_template: dict[str, Any],
        fixed_name_types: frozenset[str] = frozenset(),
    ) -> ResourceChange:
        """One entry of DescribeChangeSet's ``Changes``; widening is judged against old_template
        (None for a new stack, whose grants are reviewed as a whole)."""
        rc = item.get("ResourceChange", {})
        logical_id = rc.get("LogicalResourceId", "")
        resource_type = rc.get("ResourceType", "")
        return cls(
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
            properties=[
                {
                    "path": target["Path"],
                    "before": target.get("BeforeValue"),
                    "after": target.get("AfterValue"),
                    "change": target.get("AttributeChangeType", "Modify"),
                    "recreation": target.get("RequiresRecreation", ""),
                    **({"before_from": target["BeforeValueFrom"]} if "BeforeValueFrom" in target else {}),
                    # drifted: what the last deployment set, before it was changed outside CloudFormation
                    **({"deployed": target["Drift"].get("PreviousValue")} if "Drift" in target else {}),
                }
                for detail in rc.get("Details", [])
                if (target := detail.get("Target", {})).get("Path")
            ],
            drift=rc.get("ResourceDriftStatus", ""),
        )


def describe_value_change(value: dict[str, str | None], width: int = 80) -> str:
    """One changed value for a person: before -> after, and whether it recreates the resource."""

    def shown(text: str | None) -> str:
        if text is None:
            return "(none)"
        quoted = json.dumps(text)
        return quoted if len(quoted) <= width else quoted[: width - 2] + '…"'

    recreation = {"Always": " [replaces the resource]", "Conditionally": " [may replace the resource]"}
    live = ""
    if "deployed" in value:
        live = f" (changed outside CloudFormation; deployed as {shown(value['deployed'])})"
    elif value.get("before_from") == "ACTUAL_STATE":
        live = " (live)"
    return f"{shown(value.get('before'))}{live} -> {shown(value.get('after'))}" + recreation.get(
        str(value.get("recreation")), ""
    )


def brought_back_only(deployed: dict[str, Any]) -> bool:
    """Whether a deployed template holds nothing but data-bearing resources: what an IMPORT of a
    product's retained data makes (aws.restore), never a product's own template (that always has
    roles and pipelines). The update that completes such a stack is judged as the creation of a new
    stack: the same roles then count as the same IAM widening whether they arrive in a new stack
    or after an import."""
    resources = deployed.get("Resources", {})
    return bool(resources) and all(r.get("Type") in DATA_TYPES for r in resources.values())


@dataclass(frozen=True)
class ChangeSet:
    arn: str | None  # None when CloudFormation found nothing to change (it is deleted then)
    change_type: str  # CREATE | UPDATE | IMPORT
    changes: list[ResourceChange]
    revert_drift: bool = False  # drift-aware (DeploymentMode REVERT_DRIFT): compared with the live state
    # The deployed stack's template the change set was compared with (None: a new stack, or not
    # read): what the change's cost is measured against.
    deployed_template: dict[str, Any] | None = field(default=None, compare=False, repr=False)

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


# -- IAM widening --------------------------------------------------------------------------------


def iam_widening(resource_type: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """What the new resource's policy documents allow that the old ones did not."""
    if resource_type not in POLICY_PROPERTIES or not new:
        return []
    before = _grants(resource_type, old or {})
    return sorted(_describe_grant(g) for g in _grants(resource_type, new) - before)


def _grants(resource_type: str, resource: dict[str, Any]) -> set[tuple[str, str, str]]:
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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

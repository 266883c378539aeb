"""CloudFormation change sets: create -> wait -> describe, always addressed by their ARN.

A change set with no changes is a result ("no changes"), not an error. Each change is judged
(data, fixed names, IAM widening against the deployed template) by ``ml_provisioner.changes``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import botocore.exceptions

from ml_provisioner.aws.session import AwsSession
from ml_provisioner.changes import ChangeSet, ResourceChange, brought_back_only
from ml_provisioner.errors import OperationFailed
from ml_provisioner.identity import CHANGE_SET_PREFIX

NO_CHANGES_REASONS = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]  # the enterprise boundary has a fixed name


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
    revert_drift: bool = False,
) -> ChangeSet:
    """Create and describe a change set. ``template`` is {"TemplateBody": ...} or {"TemplateURL": ...};
    an IMPORT names its existing resources in ``resources_to_import``; resources of
    ``fixed_name_types`` carry physical names the product fixes. ``revert_drift`` makes an UPDATE
    drift-aware: compared with the resources' live state, it puts back what was changed outside
    CloudFormation (a stack that does not exist yet has nothing to revert)."""
    revert_drift = revert_drift and change_type == "UPDATE"
    cfn = aws.client("cloudformation")
    name = name_prefix + dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    arn = cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType=change_type,
        Capabilities=CAPABILITIES,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        Description="Created by ml-provisioner",
        # the types the template holds: the deployer policy allows change sets only of its own
        # product's types, and CloudFormation refuses a template with a type outside this list
        ResourceTypes=sorted({r["Type"] for r in new_template.get("Resources", {}).values()}),
        **template,
        **({"ResourcesToImport": resources_to_import} if resources_to_import else {}),
        **({"DeploymentMode": "REVERT_DRIFT"} if revert_drift else {}),
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
            # what is deployed stays: its cost is the cost before, as after
            deployed = deployed_template(aws, stack_name) if change_type == "UPDATE" else None
            return ChangeSet(None, change_type, [], revert_drift, deployed_template=deployed)
        raise OperationFailed(f"change set for {stack_name} failed: {reason or error}") from None
    old_template = deployed_template(aws, stack_name) if change_type == "UPDATE" else None
    changes = _describe(cfn, arn, old_template, new_template, fixed_name_types)
    return ChangeSet(arn, change_type, changes, revert_drift, deployed_template=old_template)


def delete_change_set(aws: AwsSession, change_set: ChangeSet) -> None:
    if change_set.arn:
        aws.client("cloudformation").delete_change_set(ChangeSetName=change_set.arn)


def _describe(
    cfn: Any,
    arn: str,
    old_template: dict[str, Any] | None,
    new_template: dict[str, Any],
    fixed_name_types: frozenset[str],
) -> list[ResourceChange]:
    if old_template is not None and brought_back_only(old_template):
        old_template = None  # IAM widening is judged as for a new stack (changes.brought_back_only)
    changes: list[ResourceChange] = []
    token = None
    while True:
        page = cfn.describe_change_set(
            ChangeSetName=arn, IncludePropertyValues=True, **({"NextToken": token} if token else {})
        )
        changes += [
            ResourceChange.from_description(item, old_template, new_template, fixed_name_types)
            for item in page.get("Changes", [])
        ]
        token = page.get("NextToken")
        if not token:
            return changes


def described_with_template(
    aws: AwsSession,
    arn: str,
    *,
    change_type: str,
    stack_name: str,
    new_template: dict[str, Any],
    fixed_name_types: frozenset[str],
) -> tuple[list[ResourceChange], dict[str, Any] | None]:
    """What CloudFormation says a change set does, and the deployed template it was judged against
    (None for a new stack). Widening is judged against what is deployed; a new stack's grants are
    reviewed as a whole (show-product, create-review-report), not line by line."""
    old_template = deployed_template(aws, stack_name) if change_type == "UPDATE" else None
    return _describe(aws.client("cloudformation"), arn, old_template, new_template, fixed_name_types), old_template


def change_set_template_text(aws: AwsSession, arn: str) -> str:
    """The template a change set was made from, as CloudFormation keeps it."""
    body = aws.client("cloudformation").get_template(ChangeSetName=arn, TemplateStage="Original")["TemplateBody"]
    return body if isinstance(body, str) else json.dumps(body)


def deployed_template(aws: AwsSession, stack_name: str) -> dict[str, Any]:
    import yaml

    body = aws.client("cloudformation").get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    return body if isinstance(body, dict) else yaml.safe_load(body)

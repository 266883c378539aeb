"""Stack lifecycle: deploy through a change set, watch it settle, read the outputs back; delete
and say what was retained. Waiting is done by botocore waiters; a background reader only shows
the stack's events while a waiter waits."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ml_provisioner import staging
from ml_provisioner.aws.changes import ChangeSet, create_change_set, delete_change_set, deployed_template
from ml_provisioner.aws.ownership import SOURCE_TAG, require_ours
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.errors import BadInput, OperationFailed
from ml_provisioner.naming import Names

WAIT = {"Delay": 5, "MaxAttempts": 720}  # up to an hour for a stack to settle
FAILED_STATUSES = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "IMPORT_FAILED")


@dataclass
class StackState:
    name: str
    status: str | None  # None: the stack does not exist
    termination_protection: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.status is not None and self.status != "REVIEW_IN_PROGRESS"

    @property
    def busy(self) -> bool:
        return bool(self.status and self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS")


def stack_state(aws: AwsSession, stack_name: str) -> StackState:
    try:
        [stack] = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return StackState(stack_name, None)
        raise
    return StackState(
        stack_name,
        stack["StackStatus"],
        bool(stack.get("EnableTerminationProtection")),
        {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        {t["Key"]: t["Value"] for t in stack.get("Tags", [])},
    )


def owned_stack_state(aws: AwsSession, names: Names) -> StackState:
    """The state of the deployment's stack, refused (exit 2) when the stack is not this config's."""
    state = stack_state(aws, names.stack_name)
    require_ours(names.stack_name, state.tags if state.status else None, names)
    return state


# -- deploy --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployResult:
    stack_name: str
    change_set: ChangeSet
    outputs: dict[str, str]  # SSM output name -> value, read back from SSM and checked


def prepare_stack(aws: AwsSession, names: Names, *, force: bool, on_event: Callable[[dict], None],
                  allow_destructive: bool = False) -> str:  # fmt: skip
    """Decide CREATE or UPDATE; clear a ROLLBACK_COMPLETE stack (with force); refuse a busy one,
    another's, and for a test deployment any existing one (a new marker must name a new stack)."""
    state = owned_stack_state(aws, names)
    if names.is_test and state.status:
        raise BadInput(f"stack {names.stack_name} already exists", "run test-deploy again: it picks a new name")
    deployed_source, source = state.tags.get(SOURCE_TAG), names.config.ml_product.source_control.value
    if state.exists and deployed_source and deployed_source != source and not allow_destructive:
        raise BadInput(
            f"stack {names.stack_name} was deployed with source_control {deployed_source}; this config has "
            f"{source}: switching removes the {deployed_source} source from the stack (its data is orphaned)",
            "if that is what you mean, deploy with --allow-destructive; show-changes lists what changes",
        )
    if state.busy:
        raise OperationFailed(
            f"stack {names.stack_name} is {state.status}",
            "wait until the running operation finishes, then try again",
        )
    if state.status == "ROLLBACK_COMPLETE":
        if not force:
            raise BadInput(
                f"stack {names.stack_name} is ROLLBACK_COMPLETE (its first creation failed) and must be deleted",
                "run again with --force to delete it and create it anew",
            )
        delete_stack(aws, names.stack_name, on_event=on_event)
        return "CREATE"
    return "UPDATE" if state.exists else "CREATE"


def plan_deploy(aws: AwsSession, names: Names, template: dict[str, Any], template_text: str, *,
                change_type: str, staging_bucket: str | None = None) -> ChangeSet:  # fmt: skip
    source = _template_source(aws, names, template_text, staging_bucket)
    return create_change_set(
        aws, stack_name=names.stack_name, change_type=change_type, template=source,
        tags=names.tags, new_template=template,
    )  # fmt: skip


def preview(aws: AwsSession, names: Names, template: dict[str, Any], template_text: str) -> ChangeSet | None:
    """What deploying the template would change: a change set created, described and deleted,
    never executed. None when the stack is not deployed."""
    if not owned_stack_state(aws, names).exists:
        return None
    change_set = plan_deploy(aws, names, template, template_text, change_type="UPDATE")
    delete_change_set(aws, change_set)
    return change_set


def discard_change_set(aws: AwsSession, stack_name: str, change_set: ChangeSet) -> None:
    """Delete an unexecuted change set; for a CREATE, also the empty REVIEW_IN_PROGRESS stack
    CloudFormation made for it (it would otherwise linger)."""
    delete_change_set(aws, change_set)
    if change_set.change_type == "CREATE":
        aws.client("cloudformation").delete_stack(StackName=stack_name, **aws.stack_role())


def refuse_destructive(aws: AwsSession, names: Names, change_set: ChangeSet) -> None:
    """A change set that removes or replaces data-bearing resources is discarded and refused."""
    destructive = [c for c in change_set.changes if c.destructive]
    if destructive:
        discard_change_set(aws, names.stack_name, change_set)
        what = ", ".join(f"{c.action.lower()} {c.logical_id} ({c.resource_type})" for c in destructive)
        raise BadInput(f"the change set would {what}: data would be orphaned or lost",
                       "review with show-changes; deploy with --allow-destructive if you mean it")  # fmt: skip


def execute(aws: AwsSession, names: Names, change_set: ChangeSet, *, on_event: Callable[[dict], None]) -> None:
    """Execute the change set and wait for the stack to settle, showing its events meanwhile."""
    cfn = aws.client("cloudformation")
    waiter = "stack_create_complete" if change_set.change_type == "CREATE" else "stack_update_complete"
    with _EventTail(aws, names.stack_name, on_event) as tail:
        cfn.execute_change_set(ChangeSetName=change_set.arn)
        try:
            cfn.get_waiter(waiter).wait(StackName=names.stack_name, WaiterConfig=WAIT)
        except botocore.exceptions.WaiterError:
            tail.flush()
            cause = _first_failure(aws, names.stack_name, tail.before)
            hint = ("a resource of that name already exists, often one retained by an earlier delete-product: "
                    "remove it as delete-product described, then deploy again with --force") if re.search(
                "already exists?|AlreadyExists", cause) else None  # fmt: skip
            raise OperationFailed(cause, hint) from None
    protect = names.config.environment.is_production and not names.is_test
    if protect:
        cfn.update_termination_protection(StackName=names.stack_name, EnableTerminationProtection=True)


def read_back_outputs(aws: AwsSession, names: Names, expected: list[str]) -> dict[str, str]:
    """Every SSM output must exist and hold the value the stack reports for it."""
    state = stack_state(aws, names.stack_name)
    found = ssm_outputs(aws, names)
    problems = []
    for output in expected:
        if output not in found:
            problems.append(f"{names.ssm_parameter(output)} is missing")
        elif state.outputs.get(output) not in (None, found[output]):
            problems.append(f"{names.ssm_parameter(output)} holds {found[output]!r}, the stack says "
                            f"{state.outputs[output]!r}")  # fmt: skip
    if problems:
        raise OperationFailed("SSM outputs do not match the stack: " + "; ".join(problems))
    return {output: found[output] for output in expected}


def ssm_outputs(aws: AwsSession, names: Names) -> dict[str, str]:
    ssm = aws.client("ssm")
    found, token = {}, None
    while True:
        page = ssm.get_parameters_by_path(Path=names.ssm_prefix, **({"NextToken": token} if token else {}))
        for parameter in page["Parameters"]:
            found[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
        token = page.get("NextToken")
        if not token:
            return found


def _template_source(aws: AwsSession, names: Names, text: str, staging_bucket: str | None) -> dict[str, str]:
    if not staging.needs_staging(text):
        return {"TemplateBody": text}
    bucket = staging_bucket or staging.staging_bucket(names)
    _ensure_staging_bucket(aws, bucket, names.region)
    key = f"{staging.staging_prefix(names)}{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), ServerSideEncryption="AES256")
    url = f"https://{bucket}.s3.{names.region}.amazonaws.com/{key}"
    if aws.endpoint:  # a local endpoint serves S3 by path
        url = f"{aws.endpoint.rstrip('/')}/{bucket}/{key}"
    return {"TemplateURL": url}


def _ensure_staging_bucket(aws: AwsSession, bucket: str, region: str) -> None:
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **location)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "expire-staged-templates", "Status": "Enabled", "Filter": {"Prefix": "templates/"},
        "Expiration": {"Days": 7}}]})  # fmt: skip


# -- delete --------------------------------------------------------------------------------------


# The property holding a retained resource's name (its Ref is an id or ARN for some types).
_NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodeCommit::Repository": "RepositoryName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::Logs::LogGroup": "LogGroupName",
}
_REMOVAL = {
    "AWS::S3::Bucket": "delete every object version, then: aws s3api delete-bucket --bucket {}",
    "AWS::KMS::Key": "aws kms schedule-key-deletion --key-id {} --pending-window-in-days 30",
    "AWS::Logs::LogGroup": "aws logs delete-log-group --log-group-name {}",
    "AWS::CodeCommit::Repository": "aws codecommit delete-repository --repository-name {}",
    "AWS::SageMaker::ModelPackageGroup": "delete its model packages, then: "
    "aws sagemaker delete-model-package-group --model-package-group-name {}",
}


@dataclass(frozen=True)
class RetainedResource:
    logical_id: str
    resource_type: str
    name: str

    @property
    def removal_hint(self) -> str:
        return _REMOVAL.get(self.resource_type, "remove it in the console: {}").format(self.name)


def retained_resources(aws: AwsSession, stack_name: str) -> list[RetainedResource]:
    """The resources the deployed template retains on deletion, with their names."""
    template = deployed_template(aws, stack_name)
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in aws.client("cloudformation").describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    return [
        RetainedResource(logical_id, resource["Type"], str(
            resource.get("Properties", {}).get(_NAME_PROPERTIES.get(resource["Type"], ""), physical.get(logical_id, ""))
        ))
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    ]  # fmt: skip


def delete_stack(aws: AwsSession, stack_name: str, *, on_event: Callable[[dict], None],
                 disable_protection: bool = False, empty_buckets: bool = False) -> None:  # fmt: skip
    cfn = aws.client("cloudformation")
    if disable_protection:
        cfn.update_termination_protection(StackName=stack_name, EnableTerminationProtection=False)
    if empty_buckets:  # a test deployment's bucket is destroyed with it, so it must be emptied
        for resource in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]:
            if resource["ResourceType"] == "AWS::S3::Bucket" and resource.get("PhysicalResourceId"):
                _empty_bucket(aws, resource["PhysicalResourceId"])
    with _EventTail(aws, stack_name, on_event) as tail:
        cfn.delete_stack(StackName=stack_name, **aws.stack_role())
        try:
            cfn.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
        except botocore.exceptions.WaiterError:
            tail.flush()
            raise OperationFailed(_first_failure(aws, stack_name, tail.before)) from None


def _empty_bucket(aws: AwsSession, bucket: str) -> None:
    s3 = aws.client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]  # fmt: skip
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


# -- events --------------------------------------------------------------------------------------


def _first_failure(aws: AwsSession, stack_name: str, before: set[str]) -> str:
    """The first resource that failed in this operation, and why."""
    events = _events(aws, stack_name)
    failures = [e for e in reversed(events) if e["EventId"] not in before and e["ResourceStatus"] in FAILED_STATUSES
                and e.get("ResourceStatusReason")]  # fmt: skip
    state = stack_state(aws, stack_name)
    if failures:
        first = failures[0]
        return (f"stack {stack_name} is {state.status}: {first['LogicalResourceId']} ({first['ResourceType']}) "
                f"failed: {first['ResourceStatusReason']}")  # fmt: skip
    return f"stack {stack_name} is {state.status}"


def _events(aws: AwsSession, stack_name: str) -> list[dict]:
    try:
        return aws.client("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return []  # the stack is gone (deleted)


class _EventTail:
    """Shows a stack's new events while a waiter waits (display only; the waiter decides)."""

    def __init__(self, aws: AwsSession, stack_name: str, on_event: Callable[[dict], None], interval: float = 3.0):
        self.aws, self.stack_name, self.on_event, self.interval = aws, stack_name, on_event, interval
        self.before = {e["EventId"] for e in _events(aws, stack_name)}  # events of earlier operations
        self.since = set(self.before)  # ... and those already shown
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _EventTail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            for event in reversed(_events(self.aws, self.stack_name)):
                if event["EventId"] not in self.since:
                    self.since.add(event["EventId"])
                    self.on_event(event)

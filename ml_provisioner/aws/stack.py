"""One CloudFormation stack, as every command sees it: its state, executing a change set and
watching the stack settle (its events shown meanwhile), termination protection, deletion, and what
a deletion retains. The lifecycle (aws/lifecycle.py) and bringing retained data back (aws/restore.py)
are both built on these.

What we report is what happened: a watch that fails (throttling beyond the retry budget, a dropped
connection) is not a failed stack, so the stack is looked at again."""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ml_provisioner.aws.changes import deployed_template
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.aws.source_preflight import CODECOMMIT_REFUSED, SOURCE_ALTERNATIVES
from ml_provisioner.changes import ChangeSet
from ml_provisioner.errors import Interrupted, OperationFailed
from ml_provisioner.naming import Names

WAIT = {"Delay": 5, "MaxAttempts": 720}  # up to an hour for a stack to settle
WATCH_RESUMES = 3  # a watch that lost the endpoint resumes this often while the stack is still busy
FAILED_STATUSES = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "IMPORT_FAILED")
STABLE_STATUSES = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
)
AWS_FAULTS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


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

    @property
    def stable(self) -> bool:
        """Settled with its resources in place (a ROLLBACK_COMPLETE stack has none)."""
        return self.status in STABLE_STATUSES

    def describe(self) -> str:
        return f"stack {self.name} is {self.status}" if self.status else f"stack {self.name} does not exist"


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


def look(aws: AwsSession, stack_name: str) -> StackState | None:
    """The stack's state, or None when even looking fails."""
    try:
        return stack_state(aws, stack_name)
    except AWS_FAULTS:
        return None


@contextmanager
def uninterruptible() -> Iterator[None]:
    """A few calls that must finish (cleaning up after Ctrl-C): a second Ctrl-C, or SIGTERM, waits
    for them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def protect(aws: AwsSession, names: Names, state: StackState | None = None) -> None:
    """A production stack gets termination protection (never taken away here: turning it off is
    delete-product's job, with --force)."""
    if not names.config.environment.is_production or names.is_test:
        return
    if state is None or not state.termination_protection:
        aws.client("cloudformation").update_termination_protection(
            StackName=names.stack_name, EnableTerminationProtection=True
        )


def execute(
    aws: AwsSession, names: Names, change_set: ChangeSet, *, on_event: Callable[[dict[str, Any]], None]
) -> None:
    """Execute the change set and wait for the stack to settle, showing its events meanwhile."""
    cfn = aws.client("cloudformation")
    waiter = {"CREATE": "stack_create_complete", "IMPORT": "stack_import_complete"}.get(
        change_set.change_type, "stack_update_complete"
    )
    with _EventTail(aws, names.stack_name, on_event) as tail:
        cfn.execute_change_set(ChangeSetName=change_set.arn)
        with suppress(*AWS_FAULTS):  # as soon as creation starts, if refused before; again once settled
            protect(aws, names, look(aws, names.stack_name))
        state = watch(aws, names.stack_name, waiter)
        if state.status != f"{change_set.change_type}_COMPLETE":
            tail.flush()
            cause = _first_failure(aws, state, tail.before)
            if CODECOMMIT_REFUSED in cause:  # AWS's own answer: this account gets no CodeCommit repository
                raise OperationFailed(
                    f"AWS CodeCommit created no repository for {names.deployment_id} ({CODECOMMIT_REFUSED}): {cause}",
                    SOURCE_ALTERNATIVES,
                )
            hint = (
                (
                    "a resource of that name already exists: if it is the product's, deploy-product --force "
                    "brings it back into the stack; if not, remove or rename it"
                )
                if re.search("already exists?|AlreadyExists", cause)
                else None
            )
            raise OperationFailed(cause, hint)
    protect(aws, names, state)


def watch(aws: AwsSession, stack_name: str, waiter: str) -> StackState:
    """Wait for the stack to settle and return the state it settled in. The waiter can fail for
    reasons of its own (throttling beyond the retry budget, a dropped connection, a timeout): that
    is not the stack failing, so look again, and keep watching while it is still busy."""
    cfn = aws.client("cloudformation")
    problem: Exception | None = None
    state: StackState | None = None
    for _ in range(WATCH_RESUMES + 1):
        try:
            cfn.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig=WAIT)
        except botocore.exceptions.WaiterError as error:
            problem = error
        except AWS_FAULTS as error:
            problem = error
        state = look(aws, stack_name)
        if state is not None and not state.busy:
            return state
        if isinstance(problem, botocore.exceptions.WaiterError) and "Max attempts exceeded" in str(problem):
            break
    where = state.describe() if state else "its state is unknown"
    raise OperationFailed(
        f"lost track of stack {stack_name} ({problem}); {where}",
        f"CloudFormation carries on without us: aws cloudformation describe-stacks --stack-name {stack_name} "
        f"--region {aws.region} "
        "shows where it is; run the command again once it has settled",
    )


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
        RetainedResource(
            logical_id,
            resource["Type"],
            str(
                resource.get("Properties", {}).get(
                    _NAME_PROPERTIES.get(resource["Type"], ""), physical.get(logical_id, "")
                )
            ),
        )
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    ]


def delete_stack(
    aws: AwsSession,
    stack_name: str,
    *,
    on_event: Callable[[dict[str, Any]], None],
    disable_protection: bool = False,
    empty_buckets: bool = False,
) -> None:
    cfn = aws.client("cloudformation")
    try:
        if disable_protection:
            cfn.update_termination_protection(StackName=stack_name, EnableTerminationProtection=False)
        if empty_buckets:  # a test deployment's bucket is destroyed with it, so it must be emptied
            for resource in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]:
                # a retried delete lists the bucket it already removed as DELETE_COMPLETE
                if (
                    resource["ResourceType"] == "AWS::S3::Bucket"
                    and resource.get("PhysicalResourceId")
                    and resource.get("ResourceStatus") != "DELETE_COMPLETE"
                ):
                    _empty_bucket(aws, resource["PhysicalResourceId"])
        with _EventTail(aws, stack_name, on_event) as tail:
            cfn.delete_stack(StackName=stack_name, **aws.stack_role())
            state = watch(aws, stack_name, "stack_delete_complete")
            if state.status is not None:  # still there: DELETE_FAILED
                tail.flush()
                raise OperationFailed(_first_failure(aws, state, tail.before))
    except KeyboardInterrupt:
        with uninterruptible():
            now = look(aws, stack_name)
        where = now.describe() if now else f"the state of stack {stack_name} is unknown"
        if now is not None and now.busy:
            where += "; CloudFormation carries on deleting it"
        raise Interrupted(
            f"interrupted: {where}",
            f"see where it is: aws cloudformation describe-stacks --stack-name {stack_name} --region {aws.region}",
        ) from None


def _empty_bucket(aws: AwsSession, bucket: str) -> None:
    s3 = aws.client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


# -- events --------------------------------------------------------------------------------------


def _first_failure(aws: AwsSession, state: StackState, before: set[str]) -> str:
    """The first resource that failed in this operation, and why."""
    events = _events(aws, state.name)
    failures = [
        e
        for e in reversed(events)
        if e["EventId"] not in before and e["ResourceStatus"] in FAILED_STATUSES and e.get("ResourceStatusReason")
    ]
    if failures:
        first = failures[0]
        return (
            f"{state.describe()}: {first['LogicalResourceId']} ({first['ResourceType']}) "
            f"failed: {first['ResourceStatusReason']}"
        )
    return state.describe()


def _events(aws: AwsSession, stack_name: str) -> list[dict[str, Any]]:
    """The stack's events, newest first; none when the stack is gone or the endpoint fails us
    (events are shown and quoted, never relied on: the stack's status decides)."""
    try:
        events: list[dict[str, Any]] = aws.client("cloudformation").describe_stack_events(StackName=stack_name)[
            "StackEvents"
        ]
        return events
    except AWS_FAULTS:
        return []


class _EventTail:
    """Shows a stack's new events while a waiter waits (display only; the waiter decides)."""

    def __init__(
        self, aws: AwsSession, stack_name: str, on_event: Callable[[dict[str, Any]], None], interval: float = 3.0
    ):
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

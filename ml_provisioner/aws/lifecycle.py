"""A product's deploy: the checks before any change set, what an earlier stack retained brought
back first (aws/restore.py), the change set planned, reviewed, executed and watched, the outputs
read back; previews, leftovers of interrupted runs, the staging bucket. The primitives on one stack
(its state, execute and watch, protection, deletion, its events) are aws/stack.py's.

Ctrl-C removes what the run made before anything changed, and otherwise says what state the stack
is in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ml_provisioner import catalog, staging
from ml_provisioner import seed as seed_code
from ml_provisioner.aws import restore, seed
from ml_provisioner.aws.changes import (
    create_change_set,
    delete_change_set,
)
from ml_provisioner.aws.ownership import require_ours
from ml_provisioner.aws.preflight import before_any_change_set
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.aws.stack import (
    AWS_FAULTS,
    StackState,
    delete_stack,
    execute,
    look,
    protect,
    stack_state,
    uninterruptible,
)
from ml_provisioner.changes import ChangeSet, refuse_unsafe_changes
from ml_provisioner.errors import BadInput, Interrupted, OperationFailed
from ml_provisioner.identity import CHANGE_SET_PREFIX, PLAN_PREFIX
from ml_provisioner.naming import SOURCE_TAG, Names, config_file_name


def owned_stack_state(aws: AwsSession, names: Names) -> StackState:
    """The state of the deployment's stack, refused (exit 2) when the stack is not this config's."""
    state = stack_state(aws, names.stack_name)
    tags = state.tags
    if state.status == "REVIEW_IN_PROGRESS" and not tags:
        tags = _change_set_tags(aws, names.stack_name)
    require_ours(names.stack_name, tags if state.status else None, names)
    return state


def _change_set_tags(aws: AwsSession, stack_name: str) -> dict[str, str]:
    """The ownership of an empty REVIEW_IN_PROGRESS stack whose own tags are missing (an emulator, or
    an endpoint that does not copy a change set's tags to the stack it makes): its change sets'
    tags, when every one of them is this tool's (by name) and they agree; otherwise none."""
    cfn = aws.client("cloudformation")
    summaries = cfn.list_change_sets(StackName=stack_name).get("Summaries", [])
    if not summaries or not all(c.get("ChangeSetName", "").startswith(CHANGE_SET_PREFIX) for c in summaries):
        return {}
    found = [
        {t["Key"]: t["Value"] for t in cfn.describe_change_set(ChangeSetName=c["ChangeSetId"]).get("Tags", [])}
        for c in summaries
    ]
    return found[0] if all(tags == found[0] for tags in found) else {}


# -- deploy --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployResult:
    stack_name: str
    change_set: ChangeSet
    outputs: dict[str, str]  # SSM output name -> value, read back from SSM and checked
    seeded: list[str] = field(default_factory=list)  # where the seed code went (a new s3 product)

    @property
    def outcome(self) -> str:
        return "no changes" if self.change_set.empty else f"{self.change_set.change_type.lower()}d"


def deploy(
    aws: AwsSession,
    names: Names,
    template: dict[str, Any],
    template_text: str,
    *,
    expected_outputs: list[str],
    force: bool,
    review: Callable[[ChangeSet], None],
    confirm: Callable[[str], None],
    on_event: Callable[[dict[str, Any]], None],
    say: Callable[[str], None] = lambda _: None,
    notify: Callable[[str], None] = lambda _: None,
    staging_bucket: str | None = None,
    allow_destructive: bool = False,
    revert_drift: bool = False,
) -> DeployResult:
    """Deploy through a change set: bring back what an earlier stack of the product retained (an
    IMPORT, after ``confirm``), plan the change set, let ``review`` show it (it raises to stop,
    and the change set is discarded then), execute it, watch the stack settle, read the outputs back.
    Termination protection is reconciled on every run, "no changes" included. A change set that
    would remove or replace data-bearing resources is refused unless ``allow_destructive``;
    ``revert_drift`` also puts back what was changed outside CloudFormation."""
    executing = False
    try:
        # read-only checks: a source or a VPC that cannot work fails here, not halfway through a stack
        before_any_change_set(aws, names, notify)
        change_type = prepare_stack(
            aws, names, force=force, on_event=on_event, notify=notify, allow_destructive=allow_destructive
        )
        if change_type == "CREATE":  # what an earlier stack retained comes back first, with its data
            change_type = restore.bring_back(aws, names, template, say=say, confirm=confirm, on_event=on_event)
        change_set = plan_deploy(
            aws,
            names,
            template,
            template_text,
            change_type=change_type,
            staging_bucket=staging_bucket,
            revert_drift=revert_drift,
        )
        if not change_set.empty:
            try:
                refuse_unsafe_changes(change_set, allow_data_loss=allow_destructive)
                review(change_set)
            except BaseException:
                with uninterruptible(), suppress(*AWS_FAULTS):  # if it fails, the next run removes it
                    discard_change_set(aws, names.stack_name, change_set)
                raise
            executing = True
            with restore.left_behind_reported(aws, names, template, change_set.change_type):
                execute(aws, names, change_set, on_event=on_event)
        elif change_set.arn:  # made, but it changes no resource (e.g. only Metadata): never left behind
            discard_change_set(aws, names.stack_name, change_set)
        return deployed(aws, names, change_set, expected_outputs)
    except KeyboardInterrupt:
        with uninterruptible():
            removed = [] if executing else _try_remove_leftovers(aws, names.stack_name)
            state = look(aws, names.stack_name)
            if executing and state is not None and state.exists and state.status != "ROLLBACK_COMPLETE":
                with suppress(*AWS_FAULTS):  # the next deploy reconciles it
                    protect(aws, names, state)
        raise _interrupted(names, state, removed, executing) from None


def _interrupted(names: Names, state: StackState | None, removed: list[str], executing: bool) -> Interrupted:
    """Ctrl-C, and the state the stack is in now."""
    where = state.describe() if state else f"the state of stack {names.stack_name} is unknown (no answer)"
    if executing:
        if state is not None and state.busy:
            where += "; CloudFormation carries on with it"
        return Interrupted(
            f"interrupted: {where}",
            f"when it has settled, run deploy-product --config {config_file_name(names.config)} "
            "again: it reads the outputs back and checks termination protection",
        )
    if removed:
        where += "; removed what this run had made: " + ", ".join(removed)
    return Interrupted(
        f"interrupted: {where}",
        None
        if state
        else f"look with: aws cloudformation describe-stacks --stack-name {names.stack_name} --region {names.region}",
    )


def prepare_stack(
    aws: AwsSession,
    names: Names,
    *,
    force: bool,
    on_event: Callable[[dict[str, Any]], None],
    notify: Callable[[str], None] = lambda _: None,
    allow_destructive: bool = False,
) -> str:
    """Decide CREATE or UPDATE: refuse another's stack, remove what an interrupted run left, clear
    a ROLLBACK_COMPLETE stack (with force), refuse a busy one, a test deployment's existing one (a
    new marker must name a new stack) and an unasked-for source_control switch, and protect a
    production stack before changing it."""
    owned_stack_state(aws, names)
    for leftover in remove_leftovers(aws, names.stack_name):
        notify(f"removed {leftover}, left by an interrupted run")
    state = stack_state(aws, names.stack_name)
    if names.is_test and state.status:
        raise BadInput(f"stack {names.stack_name} already exists", "run test-deploy again: it picks a new name")
    deployed_source, source = state.tags.get(SOURCE_TAG), names.config.ml_product.source_control.value
    # Only CodeCommit keeps a source's data in the stack: leaving s3 (its objects stay in the
    # product's bucket) or codeconnections (the code lives outside AWS) orphans nothing.
    orphans_repositories = deployed_source == "codecommit" and source != deployed_source
    if state.exists and orphans_repositories and not allow_destructive:
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
        delete_stack(aws, names.stack_name, on_event=on_event, disable_protection=state.termination_protection)
        return "CREATE"
    if state.exists:
        protect(aws, names, state)
        return "UPDATE"
    return "CREATE"


def plan_deploy(
    aws: AwsSession,
    names: Names,
    template: dict[str, Any],
    template_text: str,
    *,
    change_type: str,
    staging_bucket: str | None = None,
    name_prefix: str = CHANGE_SET_PREFIX,
    revert_drift: bool = False,
) -> ChangeSet:
    source = _template_source(aws, names, template_text, staging_bucket)
    for bucket in {location["Bucket"] for location in seed_code.initial_commit_locations(template)}:
        _ensure_staging_bucket(aws, bucket, names.region, names.account)  # a new repository's first commit
    seed.stage_initial_commits(aws, names, template)
    change_set = create_change_set(
        aws,
        stack_name=names.stack_name,
        change_type=change_type,
        template=source,
        tags=names.tags,
        new_template=template,
        fixed_name_types=catalog.fixed_name_types(names.config),
        name_prefix=name_prefix,
        revert_drift=revert_drift,
    )
    if change_type == "CREATE":
        # The new stack exists now (REVIEW_IN_PROGRESS): protect it before anything runs in it, so
        # that no interruption after ExecuteChangeSet can leave it unprotected.
        with suppress(botocore.exceptions.ClientError):  # if refused now, execute() sets it
            protect(aws, names)
    return change_set


def preview(
    aws: AwsSession,
    names: Names,
    template: dict[str, Any],
    template_text: str,
    notify: Callable[[str], None] = lambda _: None,
    revert_drift: bool = False,
) -> ChangeSet | None:
    """What deploying the template would change (with ``revert_drift``, what it would also put back
    over changes made outside CloudFormation): a change set created, described and deleted, never
    executed. None when the stack is not deployed."""
    owned_stack_state(aws, names)
    try:
        for leftover in remove_leftovers(aws, names.stack_name):
            notify(f"removed {leftover}, left by an interrupted run")
        state = stack_state(aws, names.stack_name)
        if not state.exists:
            return None
        if not state.stable:
            raise stack_not_ready(names, state, "show what a deploy would change")
        change_set = plan_deploy(aws, names, template, template_text, change_type="UPDATE", revert_drift=revert_drift)
        delete_change_set(aws, change_set)
        return change_set
    except KeyboardInterrupt:
        with uninterruptible():
            removed = _try_remove_leftovers(aws, names.stack_name)
            now = look(aws, names.stack_name)
        raise _interrupted(names, now, removed, executing=False) from None


def stack_not_ready(names: Names, state: StackState, purpose: str) -> OperationFailed:
    """A stack that is not settled with its resources in place: why, and the command that fixes it."""
    config = config_file_name(names.config)
    if state.status == "ROLLBACK_COMPLETE":
        return OperationFailed(
            f"stack {names.stack_name} is ROLLBACK_COMPLETE: its first creation failed and rolled back, so it "
            f"holds no resources; cannot {purpose}",
            f"`ml-provisioner delete-product --config {config}` removes it (the events say why it failed: "
            f"aws cloudformation describe-stack-events --stack-name {names.stack_name} --region {names.region}); "
            f"`ml-provisioner deploy-product --config {config} --force` deletes it and creates it anew",
        )
    if state.busy:
        return OperationFailed(
            f"stack {names.stack_name} is {state.status}; cannot {purpose} now",
            "wait until the running operation finishes, then try again",
        )
    return OperationFailed(
        f"stack {names.stack_name} is {state.status}; cannot {purpose}",
        f"see why: aws cloudformation describe-stack-events --stack-name {names.stack_name} --region {names.region}",
    )


def discard_change_set(aws: AwsSession, stack_name: str, change_set: ChangeSet) -> None:
    """Delete an unexecuted change set; for a CREATE, also the empty REVIEW_IN_PROGRESS stack
    CloudFormation made for it (it would otherwise linger)."""
    delete_change_set(aws, change_set)
    if change_set.change_type == "CREATE":
        _delete_review_stack(aws, stack_name)


def remove_leftovers(aws: AwsSession, stack_name: str) -> list[str]:
    """Remove what an interrupted run of this tool left behind: its change sets that were never
    executed, and the empty REVIEW_IN_PROGRESS stack of a creation that never started. Returns
    what was removed, for the user."""
    cfn = aws.client("cloudformation")
    try:
        summaries = [
            summary
            for page in cfn.get_paginator("list_change_sets").paginate(StackName=stack_name)
            for summary in page.get("Summaries", [])
        ]
    except botocore.exceptions.ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return []
        raise
    removed, remaining = [], []
    for summary in summaries:
        name = summary.get("ChangeSetName", "")
        ours = name.startswith(CHANGE_SET_PREFIX) and not name.startswith(PLAN_PREFIX)  # a plan is kept
        if ours and (summary.get("ExecutionStatus") == "AVAILABLE" or summary.get("Status") == "FAILED"):
            cfn.delete_change_set(ChangeSetName=summary["ChangeSetId"])
            removed.append(f"change set {summary['ChangeSetName']}")
        else:
            remaining.append(summary)
    state = stack_state(aws, stack_name)
    if state.status == "REVIEW_IN_PROGRESS" and not remaining:
        _delete_review_stack(aws, stack_name, state)
        removed.append(f"the empty stack {stack_name} (REVIEW_IN_PROGRESS, never created)")
    return removed


def _try_remove_leftovers(aws: AwsSession, stack_name: str) -> list[str]:
    """remove_leftovers() after Ctrl-C: what it could remove (the next run removes the rest)."""
    try:
        return remove_leftovers(aws, stack_name)
    except AWS_FAULTS:
        return []


def _delete_review_stack(aws: AwsSession, stack_name: str, state: StackState | None = None) -> None:
    """Delete a stack whose creation never started (it holds no resources, so its protection may go)."""
    cfn = aws.client("cloudformation")
    state = state or stack_state(aws, stack_name)
    if state.status != "REVIEW_IN_PROGRESS":
        return
    if state.termination_protection:
        cfn.update_termination_protection(StackName=stack_name, EnableTerminationProtection=False)
    cfn.delete_stack(StackName=stack_name, **aws.stack_role())


def deployed(aws: AwsSession, names: Names, change_set: ChangeSet, expected_outputs: list[str]) -> DeployResult:
    """What a deploy ends with once its change set ran: the outputs read back and checked, and, for
    a stack it created, the seed code delivered."""
    return DeployResult(
        names.stack_name,
        change_set,
        read_back_outputs(aws, names, expected_outputs),
        seed.deliver_seed_code(aws, names) if change_set.change_type == "CREATE" else [],
    )


def read_back_outputs(aws: AwsSession, names: Names, expected: list[str]) -> dict[str, str]:
    """Every SSM output must exist and hold the value the stack reports for it."""
    state = stack_state(aws, names.stack_name)
    found = ssm_outputs(aws, names)
    problems, repairs = [], []
    for output in expected:
        if output in found and state.outputs.get(output) in (None, found[output]):
            continue
        parameter = names.ssm_parameter(output)
        problems.append(
            f"{parameter} is missing"
            if output not in found
            else f"{parameter} holds {found[output]!r}, the stack says {state.outputs[output]!r}"
        )
        if output in state.outputs:
            repairs.append(
                f"aws ssm put-parameter --region {names.region} --name {parameter} --type String "
                f"--overwrite --value '{state.outputs[output]}'"
            )
    if problems:
        # A deploy does not rewrite a parameter whose template did not change: put the stack's value back.
        hint = "run check-drift for what changed; a deploy rewrites a parameter only when its template changes"
        if len(repairs) == len(problems):
            hint = "changed or removed outside CloudFormation; put the stack's values back:\n  " + "\n  ".join(repairs)
        raise OperationFailed("SSM outputs do not match the stack: " + "; ".join(problems), hint)
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
    _ensure_staging_bucket(aws, bucket, names.region, names.account)
    key = f"{staging.staging_prefix(names)}{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    s3 = aws.client("s3")
    s3.put_object(
        Bucket=bucket, Key=key, Body=text.encode(), ServerSideEncryption="AES256", ExpectedBucketOwner=names.account
    )
    return {"TemplateURL": aws.object_url(bucket, key)}


def _ensure_staging_bucket(aws: AwsSession, bucket: str, region: str, account: str) -> None:
    """The staging bucket, this account's (bucket names are global: a bucket of that name another
    account made first would get the template CloudFormation deploys from, so S3 must confirm the
    owner, ExpectedBucketOwner, or the request fails)."""
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("403", "AccessDenied"):
            raise OperationFailed(
                f"the staging bucket {bucket} is not this account's ({account}), or may not be read: no template "
                "is staged where another account could change it",
                "pass --staging-bucket with a bucket of this account",
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
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
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-staged-templates",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "templates/"},
                    "Expiration": {"Days": 7},
                }
            ]
        },
    )

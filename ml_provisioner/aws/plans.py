"""Saved plans on AWS: make one (a change set that is kept), execute exactly that change set,
or discard it. Built on the lifecycle's primitives: the same checks, watching, read-back and
termination protection as a deploy; only the change set comes from the plan."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import botocore.exceptions

from ml_provisioner import catalog
from ml_provisioner.aws import restore, seed
from ml_provisioner.aws.changes import change_set_template_text, described_with_template
from ml_provisioner.aws.lifecycle import (
    DeployResult,
    _interrupted,
    deployed,
    discard_change_set,
    owned_stack_state,
    plan_deploy,
    remove_leftovers,
    stack_not_ready,
)
from ml_provisioner.aws.preflight import before_any_change_set
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.aws.stack import AWS_FAULTS, execute, look, protect, stack_state, uninterruptible
from ml_provisioner.changes import ChangeSet, ResourceChange, refuse_unsafe_changes
from ml_provisioner.cost import Assumptions, template_change
from ml_provisioner.errors import BadInput
from ml_provisioner.identity import PLAN_PREFIX
from ml_provisioner.naming import Names
from ml_provisioner.plan import NEW_PLAN, Plan, now
from ml_provisioner.templates import load_template_text


def make_plan(
    aws: AwsSession,
    names: Names,
    template: dict[str, Any],
    template_text: str,
    *,
    config: str,
    template_file: str,
    template_sha256: str,
    fingerprint: str,
    notify: Callable[[str], None] = lambda _: None,
    staging_bucket: str | None = None,
    revert_drift: bool = False,
    assumptions: Assumptions | None = None,
) -> tuple[Plan | None, ChangeSet]:
    """Create the change set a deploy would execute now and keep it: (the plan, its change set),
    or (None, an empty change set) when there is nothing to change. The plan records what the
    change does to the monthly cost estimate, at these usage assumptions (default: the defaults)."""
    before_any_change_set(aws, names, notify)
    owned_stack_state(aws, names)
    for leftover in remove_leftovers(aws, names.stack_name):
        notify(f"removed {leftover}, left by an interrupted run")
    state = stack_state(aws, names.stack_name)
    if state.exists and not state.stable:
        raise stack_not_ready(names, state, "plan a deploy")
    change_type = "UPDATE" if state.exists else "CREATE"
    if change_type == "CREATE":
        retained = restore.find_retained(aws, names, template)
        retained.require_ours()
        if retained.resources:
            raise BadInput(
                f"{len(retained.resources)} resource(s) of {names.deployment_id} outlived an earlier stack: "
                "they are imported into the new stack before it can be planned",
                f"deploy-product --config {config} (without --plan) brings them back first",
            )
    change_set = plan_deploy(
        aws,
        names,
        template,
        template_text,
        change_type=change_type,
        staging_bucket=staging_bucket,
        name_prefix=PLAN_PREFIX,
        revert_drift=revert_drift,
    )
    if change_set.empty:
        return None, change_set
    assert change_set.arn is not None
    cfn = aws.client("cloudformation")
    plan = Plan(
        config=config,
        account=names.account,
        region=names.region,
        stack_name=names.stack_name,
        stack_id=cfn.describe_change_set(ChangeSetName=change_set.arn)["StackId"],
        change_set_arn=change_set.arn,
        change_type=change_type,
        template=template_file,
        template_sha256=template_sha256,
        fingerprint=fingerprint,
        created_by=aws.client("sts").get_caller_identity()["Arn"],
        created_at=now(),
        changes=[{**change.to_json(), "flags": change.flags} for change in change_set.changes],
        revert_drift=change_set.revert_drift,
        cost=template_change(change_set.deployed_template, template, names.region, assumptions).to_json(),
    )
    return plan, change_set


def planned_change_set(aws: AwsSession, names: Names, plan: Plan) -> ChangeSet:
    """The plan's change set as AWS describes it, refused (exit 2, saying why) unless AWS confirms
    the plan: a change set of this tool's plans for this product's stack, made from the plan's
    template, whose changes are the plan's, and that CloudFormation can still execute (it makes
    it OBSOLETE once the stack changed). What is shown and judged afterwards is AWS's word, never
    the file's: a plan file is written by whoever holds it."""
    hint = NEW_PLAN.format(config=plan.config)
    described = _ours(aws, names, plan)
    cfn = aws.client("cloudformation")
    try:
        [stack] = cfn.describe_stacks(StackName=names.stack_name)["Stacks"]
    except botocore.exceptions.ClientError as error:
        if "does not exist" not in error.response.get("Error", {}).get("Message", ""):
            raise
        stack = {}
    if stack.get("StackId") != plan.stack_id:
        raise BadInput(f"stack {names.stack_name} was deleted (or made anew) since the plan", hint)
    status, execution = described.get("Status"), described.get("ExecutionStatus")
    if execution != "AVAILABLE":
        why = (
            "the stack changed since the plan"
            if execution == "OBSOLETE"
            else "it was executed already"
            if execution and execution.startswith("EXECUTE_")
            else "it cannot be executed"
        )
        raise BadInput(f"the plan's change set is {execution} ({status}): {why}", hint)
    text = change_set_template_text(aws, plan.change_set_arn)
    if hashlib.sha256(text.encode()).hexdigest() != plan.template_sha256:
        raise BadInput(
            f"the change set {plan.change_set_arn} was not made from the plan's template {plan.template} "
            "(its template's SHA-256 differs)",
            hint,
        )
    change_type = described.get("ChangeSetType") or plan.change_type
    if change_type != plan.change_type:
        raise BadInput(f"the plan says {plan.change_type}, the change set is a {change_type}", hint)
    changes, old_template = described_with_template(
        aws,
        plan.change_set_arn,
        change_type=change_type,
        stack_name=names.stack_name,
        new_template=load_template_text(text, plan.template),
        fixed_name_types=catalog.fixed_name_types(names.config),
    )
    if _signatures(changes) != _signatures(plan.resource_changes()):
        raise BadInput(
            f"the plan lists {len(plan.changes)} change(s) that are not what AWS says its change set does "
            f"({len(changes)} change(s)): the file was changed after it was saved",
            hint,
        )
    return ChangeSet(
        plan.change_set_arn,
        change_type,
        changes,
        described.get("DeploymentMode") == "REVERT_DRIFT",
        deployed_template=old_template,
    )


class PlanGone(BadInput):
    """The plan's change set no longer exists."""


def _ours(aws: AwsSession, names: Names, plan: Plan) -> dict[str, Any]:
    """DescribeChangeSet of the plan's change set, refused (exit 2) unless it is named as this
    tool's plans are, in the product's account, region and stack, and on the plan's stack id."""
    hint = NEW_PLAN.format(config=plan.config)
    arn = plan.change_set_arn.split(":", 5)
    name = arn[5].split("/")[1] if len(arn) == 6 and arn[5].count("/") == 2 else ""
    if arn[:2] != ["arn", names.partition] or arn[2:5] != ["cloudformation", names.region, names.account]:
        raise BadInput(f"the plan's change set {plan.change_set_arn} is not in {names.account} {names.region}", hint)
    if not name.startswith(PLAN_PREFIX):
        raise BadInput(f"the plan's change set {plan.change_set_arn} is not one of this tool's plans", hint)
    try:
        described: dict[str, Any] = aws.client("cloudformation").describe_change_set(ChangeSetName=plan.change_set_arn)
    except botocore.exceptions.ClientError as error:
        if not _not_found(error):
            raise
        raise PlanGone(
            f"the plan's change set {plan.change_set_arn} no longer exists (executed, discarded, or its stack "
            "was deleted)",
            hint,
        ) from None
    stack_id = described.get("StackId", "")
    if stack_id != plan.stack_id or stack_id.split(":")[-1].split("/")[1:2] != [names.stack_name]:
        raise BadInput(
            f"the plan's change set belongs to {stack_id or 'no stack'}, not to {names.stack_name} ({plan.stack_id})",
            hint,
        )
    return described


def _signatures(changes: list[ResourceChange]) -> list[tuple[str, str, str, str]]:
    return sorted((c.action, c.logical_id, c.resource_type, c.replacement) for c in changes)


def execute_plan(
    aws: AwsSession,
    names: Names,
    plan: Plan,
    template: dict[str, Any],
    *,
    expected_outputs: list[str],
    review: Callable[[ChangeSet], None],
    on_event: Callable[[dict[str, Any]], None],
    allow_destructive: bool = False,
) -> DeployResult:
    """Execute exactly the plan's change set (nothing is synthesized or planned anew): refused when
    it cannot be executed as planned; then watched, its outputs read back, the stack protected."""
    state = owned_stack_state(aws, names)
    change_set = planned_change_set(aws, names, plan)
    if state.busy:
        raise stack_not_ready(names, state, "execute the plan")
    refuse_unsafe_changes(change_set, allow_data_loss=allow_destructive)
    seed.stage_initial_commits(aws, names, template)  # what the repositories will read is still the seed
    review(change_set)
    executing = False
    try:
        if state.exists:
            protect(aws, names, state)
        executing = True
        with restore.left_behind_reported(aws, names, template, change_set.change_type):
            execute(aws, names, change_set, on_event=on_event)
        return deployed(aws, names, change_set, expected_outputs)
    except KeyboardInterrupt:
        with uninterruptible():
            now_ = look(aws, names.stack_name)
            if executing and now_ is not None and now_.exists and now_.status != "ROLLBACK_COMPLETE":
                with suppress(*AWS_FAULTS):  # the next deploy reconciles it
                    protect(aws, names, now_)
        raise _interrupted(names, now_, [], executing) from None


def discard_plan(aws: AwsSession, names: Names, plan: Plan) -> str:
    """Delete the plan's change set when it was never executed (and the empty stack a planned
    creation made); returns what became of it, in words."""
    try:
        described = _ours(aws, names, plan)  # never another product's change set, whatever the file says
    except PlanGone:
        return "its change set was gone already"
    execution = described.get("ExecutionStatus", "")
    if execution.startswith("EXECUTE_"):
        return f"its change set was executed ({execution}): nothing to delete"
    owned_stack_state(aws, names)
    discard_change_set(aws, names.stack_name, ChangeSet(plan.change_set_arn, plan.change_type, []))
    return f"deleted its change set ({execution or described.get('Status')})"


def remove_other_plans(aws: AwsSession, names: Names, *, keep: str) -> list[str]:
    """Delete every unexecuted plan change set of the product's stack but ``keep``: a product has
    one saved plan (the file show-changes --save writes), so any other is one it replaced, or one
    whose file a concurrent save overwrote. Returns the names of those deleted."""
    cfn = aws.client("cloudformation")
    removed = []
    for page in cfn.get_paginator("list_change_sets").paginate(StackName=names.stack_name):
        for summary in page.get("Summaries", []):
            name = summary.get("ChangeSetName", "")
            if (
                name.startswith(PLAN_PREFIX)
                and summary["ChangeSetId"] != keep
                and summary.get("ExecutionStatus")
                in (
                    "AVAILABLE",
                    "UNAVAILABLE",
                )
            ):
                cfn.delete_change_set(ChangeSetName=summary["ChangeSetId"])
                removed.append(name)
    return removed


def _not_found(error: botocore.exceptions.ClientError) -> bool:
    """A change set that does not exist (AWS says ChangeSetNotFound; some endpoints a ValidationError)."""
    info = error.response.get("Error", {})
    return info.get("Code") == "ChangeSetNotFound" or "does not exist" in info.get("Message", "")

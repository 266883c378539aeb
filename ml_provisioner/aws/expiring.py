"""Test deployments expire: test-deploy tags each one's stack with when it may go
(naming.EXPIRES_TAG, ISO-8601 UTC), ``test-deploy --list`` finds a product's test deployments in
the config's account and region, and ``--prune`` deletes the expired ones.

Found by name (CloudFormation's ListStacks: the only call that lists stacks, on "*"), taken only by
their ownership tags (aws.ownership, as delete-product does), and deleted through the same steps as
``delete-product --stack-name``: what an interrupted run left is removed, the stack is deleted,
retained resources stay and are named. The product's own stack is never a candidate: its name is
not a test deployment's."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ml_provisioner.aws.lifecycle import owned_stack_state, remove_leftovers
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.aws.stack import RetainedResource, delete_stack, retained_resources
from ml_provisioner.errors import BadInput, Interrupted, ProvisionerError
from ml_provisioner.naming import EXPIRES_TAG, Names

DEFAULT_LIFETIME = "7d"
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
LONGEST_LIFETIME = dt.timedelta(days=365)
LIFETIME_FORMS = "a whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), e.g. 3d or 12h"
# Every status but DELETE_COMPLETE: a stack that is gone is no test deployment.
LIVE_STATUSES = [
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def lifetime(text: str, option: str = "--expires-in") -> dt.timedelta:
    """``3d``, ``12h``, ``90m``, ``2w`` as a duration; anything else is refused, naming the option."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text.lower())
    if not match or int(match.group(1)) == 0:
        raise BadInput(f"{option} {text!r} is not a lifetime", f"give {LIFETIME_FORMS} (default {DEFAULT_LIFETIME})")
    try:
        duration = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:  # beyond any date: longer than a year too
        duration = dt.timedelta.max
    if duration > LONGEST_LIFETIME:
        raise BadInput(f"{option} {text} is longer than a year", "a test deployment is short-lived: give at most 365d")
    return duration


def expiry(duration: dt.timedelta) -> str:
    """The EXPIRES_TAG value of a test deployment made now that lives ``duration``."""
    return stamp(now() + duration)


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parsed(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ExpiringStack:
    """One test deployment of the product, as found."""

    names: Names
    status: str
    created: str  # ISO-8601 UTC, or "" when CloudFormation did not say
    expires_at: str | None  # the tag's value; None: the stack has no (readable) expiry tag

    @property
    def stack_name(self) -> str:
        return self.names.stack_name

    def expired(self, at: dt.datetime) -> bool:
        """Past its expiry. A stack without a readable expiry never is: it is removed by name only."""
        when = _parsed(self.expires_at)
        return when is not None and when <= at

    def to_json(self, at: dt.datetime) -> dict[str, Any]:
        return {
            "stack": self.stack_name,
            "test_marker": self.names.test_marker,
            "status": self.status,
            "created": self.created,
            "expires_at": self.expires_at,
            "expired": self.expired(at),
        }


@dataclass
class Found:
    """A product's test deployments in one account and region, and stacks only named like one."""

    deployments: list[ExpiringStack] = field(default_factory=list)
    not_ours: list[str] = field(default_factory=list)  # why each such stack is left alone


def find(aws: AwsSession, names: Names) -> Found:
    """The product's test deployments (by name: t<4 hex>--<its stack name>), each one's expiry,
    and the stacks with such a name whose ownership tags are not that test deployment's."""
    cfn = aws.client("cloudformation")
    found = Found()
    summaries = [
        summary
        for page in cfn.get_paginator("list_stacks").paginate(StackStatusFilter=LIVE_STATUSES)
        for summary in page.get("StackSummaries", [])
    ]
    for summary in sorted(summaries, key=lambda s: s["StackName"]):
        test = names.test_deployment(summary["StackName"])
        if test is None:
            continue  # the product's own stack, and every other stack
        try:
            state = owned_stack_state(aws, test)
        except BadInput as refused:  # the check every command makes before touching a stack
            found.not_ours.append(refused.message)
            continue
        if state.status is None:  # gone since it was listed
            continue
        created = summary.get("CreationTime")
        found.deployments.append(
            ExpiringStack(
                test,
                state.status,
                stamp(created) if isinstance(created, dt.datetime) else "",
                state.tags.get(EXPIRES_TAG),
            )
        )
    return found


@dataclass
class Pruned:
    stack_name: str
    retained: list[RetainedResource] = field(default_factory=list)
    removed_leftovers: list[str] = field(default_factory=list)
    error: str | None = None  # why it could not be deleted; None: deleted

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack_name,
            "deleted": self.error is None,
            "error": self.error,
            "removed_leftovers": self.removed_leftovers,
            "retained": [r.__dict__ | {"removal": r.removal_hint} for r in self.retained],
        }


def prune(aws: AwsSession, expired: ExpiringStack, *, on_event: Callable[[dict[str, Any]], None]) -> Pruned:
    """Delete one expired test deployment as ``delete-product --stack-name`` does: its ownership
    checked again right before, leftovers of an interrupted run removed, its buckets emptied (a test
    deployment's data goes with it), retained resources kept and named. A stack someone gave
    termination protection since is left alone. A failure is returned, so the others still go."""
    names = expired.names
    result = Pruned(names.stack_name)
    try:
        state = owned_stack_state(aws, names)
        still = replace(expired, expires_at=state.tags.get(EXPIRES_TAG))
        if state.exists and not still.expired(now()):  # its expiry was moved since it was listed
            result.error = f"{names.stack_name} now expires at {still.expires_at}: not pruned"
            return result
        result.removed_leftovers = remove_leftovers(aws, names.stack_name)
        state = owned_stack_state(aws, names)
        if not state.exists:  # an interrupted first deploy: removing its leftovers removed it
            return result
        if state.termination_protection:
            result.error = (
                f"{names.stack_name} has termination protection: not pruned (delete-product --stack-name "
                f"{names.stack_name} --force turns it off and deletes it)"
            )
            return result
        result.retained = retained_resources(aws, names.stack_name)
        delete_stack(aws, names.stack_name, on_event=on_event, empty_buckets=True)
    except Interrupted:
        raise  # Ctrl-C stops the whole prune
    except ProvisionerError as error:
        result.error = error.message
    return result

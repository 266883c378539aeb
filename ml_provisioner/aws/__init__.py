"""Everything that talks to AWS (the only package importing boto3): sessions and clients,
change sets, deploy / test-deploy / show-changes / check-drift / delete, SSM read-back."""

from __future__ import annotations

from typing import Any

from ml_provisioner.aws.access import Route
from ml_provisioner.aws.changes import create_change_set, delete_change_set
from ml_provisioner.aws.session import AwsSession, aws_errors
from ml_provisioner.changes import ChangeSet, ResourceChange
from ml_provisioner.naming import Names
from ml_provisioner.plan import Plan

__all__ = [
    "AwsSession",
    "ChangeSet",
    "ResourceChange",
    "aws_errors",
    "confirmed_plan_changes",
    "create_change_set",
    "delete_change_set",
    "preview_changes",
]


def preview_changes(
    names: Names,
    template: dict[str, Any],
    template_text: str,
    endpoint_url: str | None = None,
    route: Route | None = None,
) -> ChangeSet | None:
    """The change-set preview of a deployed stack (created, described, deleted: never executed),
    or None when the stack is not deployed. Through the product's role when route names one."""
    from ml_provisioner.aws.access import Caller
    from ml_provisioner.aws.lifecycle import preview

    with aws_errors("change-set preview"):
        aws = Caller(endpoint_url).session(names, route or Route())
        return preview(aws, names, template, template_text)


def confirmed_plan_changes(
    names: Names, plan: Plan, endpoint_url: str | None = None, route: Route | None = None
) -> ChangeSet:
    """What AWS says the plan's change set does, once AWS confirms it is the plan's (aws.plans);
    BadInput otherwise. Through the product's role when route names one."""
    from ml_provisioner.aws.access import Caller
    from ml_provisioner.aws.plans import planned_change_set

    with aws_errors("plan check"):
        aws = Caller(endpoint_url).session(names, route or Route())
        return planned_change_set(aws, names, plan)

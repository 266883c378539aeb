"""What the professional tier adds to StarterCore's pipeline role, as pure functions of the names.

The approval rule starts the deploy pipeline as the pipeline role: EventBridge may assume that
role for this one rule, and the role may start that one pipeline.
"""

from __future__ import annotations

from constructs_lib.names import ProductNames
from constructs_lib.policy_document import Grant, Json

# The tier's SSM outputs, in the order StarterCore publishes them.
OUTPUT_NAMES = ("BucketName", "DashboardName")


def approval_trigger_trust(names: ProductNames) -> Json:
    """The trust statement that lets EventBridge assume the pipeline role, for the approval rule only."""
    n = names
    return {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": n.account},
            "ArnEquals": {"aws:SourceArn": n.arn("events", f"rule/{n.approval_rule}")},
        },
    }


def deploy_on_approval(names: ProductNames) -> Grant:
    """The pipeline role's permission to start the deploy pipeline (the rule's target)."""
    return Grant(
        sid="StartDeployOnApproval",
        actions=("codepipeline:StartPipelineExecution",),
        resources=(deploy_pipeline_arn(names),),
    )


def deploy_pipeline_arn(names: ProductNames) -> str:
    return names.arn("codepipeline", names.pipeline("deploy"))

"""check-drift: DetectStackDrift -> wait -> DescribeStackResourceDrifts, plus a check that every
SSM output still holds the stack's value (SSM parameters are a product's public contract)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.waiter import WaiterModel, create_waiter_with_client

from ml_provisioner.aws.lifecycle import owned_stack_state, ssm_outputs, stack_not_ready
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.catalog import resources_for
from ml_provisioner.errors import OperationFailed
from ml_provisioner.naming import Names

PIPELINE = "AWS::CodePipeline::Pipeline"

# botocore ships no waiter for drift detection: this one polls DescribeStackDriftDetectionStatus.
_DRIFT_WAITER = WaiterModel(
    {
        "version": 2,
        "waiters": {
            "StackDriftDetectionComplete": {
                "operation": "DescribeStackDriftDetectionStatus",
                "delay": 3,
                "maxAttempts": 200,
                "acceptors": [
                    {"state": state, "matcher": "path", "argument": "DetectionStatus", "expected": status}
                    for state, status in (("success", "DETECTION_COMPLETE"), ("failure", "DETECTION_FAILED"))
                ],
            }
        },
    }
)


@dataclass(frozen=True)
class PropertyDifference:
    path: str
    expected: str
    actual: str
    kind: str  # ADD | REMOVE | NOT_EQUAL


@dataclass(frozen=True)
class ResourceDrift:
    logical_id: str
    physical_id: str
    resource_type: str
    status: str  # MODIFIED | DELETED
    differences: list[PropertyDifference] = field(default_factory=list)


# CloudFormation reports NOT_CHECKED for the resources of types drift detection does not support.
NOT_CHECKED_REASON = "CloudFormation does not detect drift for this resource type"


@dataclass(frozen=True)
class NotChecked:
    logical_id: str
    resource_type: str
    reason: str = NOT_CHECKED_REASON


@dataclass(frozen=True)
class PollingDisabled:
    """A pipeline whose source polling AWS stopped (30 days without activity): a push starts nothing."""

    pipeline: str
    since: str
    reenable: str  # the command that turns polling back on


@dataclass(frozen=True)
class DriftReport:
    stack_name: str
    stack_status: str  # DRIFTED | IN_SYNC
    resources: list[ResourceDrift]
    ssm_mismatches: list[str]  # "<parameter>: holds X, the stack says Y"
    not_checked: list[NotChecked] = field(default_factory=list)
    polling_disabled: list[PollingDisabled] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.resources or self.ssm_mismatches or self.polling_disabled)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"drifted": self.drifted}


def check_drift(aws: AwsSession, names: Names) -> DriftReport:
    cfn = aws.client("cloudformation")
    state = owned_stack_state(aws, names)
    if not state.exists:
        raise OperationFailed(f"stack {names.stack_name} is not deployed", "deploy it with deploy-product first")
    if not state.stable:  # e.g. ROLLBACK_COMPLETE: no resources to compare, nothing is "in sync"
        raise stack_not_ready(names, state, "check its drift")
    detection_id = cfn.detect_stack_drift(StackName=names.stack_name)["StackDriftDetectionId"]
    create_waiter_with_client("StackDriftDetectionComplete", _DRIFT_WAITER, cfn).wait(
        StackDriftDetectionId=detection_id
    )
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    resources, not_checked, token = [], [], None
    while True:
        page = cfn.describe_stack_resource_drifts(
            StackName=names.stack_name,
            StackResourceDriftStatusFilters=["MODIFIED", "DELETED", "NOT_CHECKED"],
            **({"NextToken": token} if token else {}),
        )
        for drift in page["StackResourceDrifts"]:
            if drift["StackResourceDriftStatus"] == "NOT_CHECKED":
                not_checked.append(NotChecked(drift["LogicalResourceId"], drift["ResourceType"]))
                continue
            resources.append(
                ResourceDrift(
                    logical_id=drift["LogicalResourceId"],
                    physical_id=drift.get("PhysicalResourceId", ""),
                    resource_type=drift["ResourceType"],
                    status=drift["StackResourceDriftStatus"],
                    differences=[
                        PropertyDifference(
                            d["PropertyPath"], d.get("ExpectedValue", ""), d.get("ActualValue", ""), d["DifferenceType"]
                        )
                        for d in drift.get("PropertyDifferences", [])
                    ],
                )
            )
        token = page.get("NextToken")
        if not token:
            break
    published = ssm_outputs(aws, names)
    mismatches = [
        f"{names.ssm_parameter(output)}: holds {published.get(output)!r}, the stack says {value!r}"
        for output, value in sorted(state.outputs.items())
        if published.get(output) != value
    ]
    return DriftReport(
        names.stack_name,
        status.get("StackDriftStatus", ""),
        resources,
        mismatches,
        sorted(not_checked, key=lambda r: r.logical_id),
        polling_disabled(aws, names),
    )


def polling_disabled(aws: AwsSession, names: Names) -> list[PollingDisabled]:
    """The product's pipelines whose polling AWS has disabled (GetPipeline metadata.pollingDisabledAt).
    A run of the pipeline is activity again: starting it turns polling back on."""
    codepipeline, found = aws.client("codepipeline"), []
    for pipeline in [r.physical_name for r in resources_for(names.config, names) if r.type == PIPELINE]:
        since = codepipeline.get_pipeline(name=pipeline).get("metadata", {}).get("pollingDisabledAt")
        if since:
            found.append(
                PollingDisabled(
                    pipeline,
                    str(since),
                    f"aws codepipeline start-pipeline-execution --name {pipeline} --region {names.region}",
                )
            )
    return found

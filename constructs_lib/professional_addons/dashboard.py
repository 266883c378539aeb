"""The professional tier's CloudWatch dashboard body: pure JSON from the names."""

from __future__ import annotations

from typing import Any

from constructs_lib.names import KINDS, ProductNames
from constructs_lib.policy_document import Json


def dashboard_body(names: ProductNames, *, alerts_email: str, console_url: str) -> Json:
    """A header with links to the pipelines, then builds by result, build duration and the deploy trigger."""
    n = names
    region = n.region
    pipeline_links = " · ".join(
        f"[{n.pipeline(kind)}]({console_url}/codesuite/codepipeline/pipelines/{n.pipeline(kind)}/view?region={region})"
        for kind in KINDS
    )
    header = (
        f"# ML product {n.deployment_id}\n"
        f"Pipelines: {pipeline_links} · Model registry: `{n.model_package_group}` · "
        f"Alerts contact: {alerts_email}"
    )

    def metric_widget(title: str, metrics: list[list[str]], x: int, y: int, stat: str = "Sum") -> Json:
        properties: dict[str, Any] = {
            "title": title,
            "region": region,
            "stat": stat,
            "period": 300,
            "view": "timeSeries",
            "metrics": metrics,
        }
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": properties}

    builds = [
        ["AWS/CodeBuild", metric, "ProjectName", n.codebuild_project(kind)]
        for kind in KINDS
        for metric in ("SucceededBuilds", "FailedBuilds")
    ]
    durations = [["AWS/CodeBuild", "Duration", "ProjectName", n.codebuild_project(kind)] for kind in KINDS]
    trigger = [
        ["AWS/Events", metric, "RuleName", n.approval_rule] for metric in ("TriggeredRules", "FailedInvocations")
    ]
    return {
        "widgets": [
            {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": header}},
            metric_widget("Builds by result (build and deploy pipelines)", builds, 0, 2),
            metric_widget("Build duration, p90 (seconds)", durations, 12, 2, stat="p90"),
            metric_widget("Deploy trigger: model approvals started / failed", trigger, 0, 8),
        ]
    }

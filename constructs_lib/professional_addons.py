"""ProfessionalAddons: automation and visibility on top of StarterCore.

An EventBridge rule that starts the deploy pipeline when a model version is approved in the
registry, a CloudWatch dashboard of the builds, pipelines and trigger, the build and deploy
permissions as named managed policies, and the SSM outputs BucketName and DashboardName.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib._iam import PolicyDocument
from constructs_lib.starter_core import KINDS, StarterCore
from ml_provisioner.config.regions import console_url
from ml_provisioner.naming import Names


@dataclass(frozen=True, kw_only=True)
class ProfessionalAddonsProps:
    names: Names
    alerts_email: str


class ProfessionalAddons(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, core: StarterCore, props: ProfessionalAddonsProps):
        super().__init__(scope, construct_id)
        self.names = props.names
        self.props = props
        self.core = core
        self.managed_policies = {
            "build": self._managed_policy("BuildPolicy", "Permissions of the model-build project", core.build_policy),
            "deploy": self._managed_policy(
                "DeployPolicy", "Permissions of the model-deploy project", core.deploy_policy
            ),
        }
        self.approval_rule = self._build_approval_trigger()
        self.dashboard = self._build_dashboard()
        core.publish("BucketName", core.artifacts_bucket.ref)
        core.publish("DashboardName", self.dashboard.ref)

    def _managed_policy(self, construct_id: str, purpose: str, document: PolicyDocument) -> iam.CfnManagedPolicy:
        policy = iam.CfnManagedPolicy(
            self,
            construct_id,
            path=self.names.iam_path,
            description=f"{purpose} of ML product {self.names.deployment_id}",
            roles=[self.core.codebuild_role.ref],
            policy_document=document.lazy(),
        )
        document.reported_on(policy)
        return policy

    def _build_approval_trigger(self) -> events.CfnRule:
        """Approving a model version in the registry runs the deploy pipeline."""
        n, core = self.names, self.core
        deploy_pipeline_arn = n.arn("codepipeline", n.pipeline("deploy"))
        rule = events.CfnRule(
            self,
            "ModelApprovedRule",
            name=n.approval_rule,
            description=f"Deploys an approved model version of ML product {n.deployment_id}",
            state="ENABLED",
            event_pattern={
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    "ModelPackageGroupName": [n.model_package_group],
                    "ModelApprovalStatus": ["Approved"],
                },
            },
            targets=[
                events.CfnRule.TargetProperty(
                    id="deploy-pipeline", arn=deploy_pipeline_arn, role_arn=core.pipeline_role.attr_arn
                )
            ],
        )
        rule.add_resource_dependency(core.pipelines["deploy"])
        # The pipeline role is the rule's target role: EventBridge may assume it only for this rule.
        trust = core.pipeline_role.assume_role_policy_document
        trust["Statement"].append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": n.account},
                    "ArnEquals": {"aws:SourceArn": n.arn("events", f"rule/{n.approval_rule}")},
                },
            }
        )
        core.pipeline_role.assume_role_policy_document = trust
        core.pipeline_policy.allow(
            "StartDeployOnApproval", ["codepipeline:StartPipelineExecution"], [deploy_pipeline_arn]
        )
        return rule

    def _build_dashboard(self) -> cloudwatch.CfnDashboard:
        n = self.names
        region = n.region
        console = console_url(region)
        pipeline_links = " · ".join(
            f"[{n.pipeline(kind)}]({console}/codesuite/codepipeline/pipelines/{n.pipeline(kind)}/view?region={region})"
            for kind in KINDS
        )
        header = (
            f"# ML product {n.deployment_id}\n"
            f"Pipelines: {pipeline_links} · Model registry: `{n.model_package_group}` · "
            f"Alerts contact: {self.props.alerts_email}"
        )

        def metric_widget(title: str, metrics: list, x: int, y: int, stat: str = "Sum") -> dict:
            return {
                "type": "metric",
                "x": x,
                "y": y,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": region,
                    "stat": stat,
                    "period": 300,
                    "view": "timeSeries",
                    "metrics": metrics,
                },
            }

        builds = [
            ["AWS/CodeBuild", metric, "ProjectName", n.codebuild_project(kind)]
            for kind in KINDS
            for metric in ("SucceededBuilds", "FailedBuilds")
        ]
        durations = [["AWS/CodeBuild", "Duration", "ProjectName", n.codebuild_project(kind)] for kind in KINDS]
        trigger = [
            ["AWS/Events", metric, "RuleName", n.approval_rule] for metric in ("TriggeredRules", "FailedInvocations")
        ]
        body = {
            "widgets": [
                {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": header}},
                metric_widget("Builds by result (build and deploy pipelines)", builds, 0, 2),
                metric_widget("Build duration, p90 (seconds)", durations, 12, 2, stat="p90"),
                metric_widget("Deploy trigger: model approvals started / failed", trigger, 0, 8),
            ]
        }
        return cloudwatch.CfnDashboard(
            self, "Dashboard", dashboard_name=n.dashboard, dashboard_body=json.dumps(body, sort_keys=True)
        )

"""ProfessionalAddons: automation and visibility on top of StarterCore.

An EventBridge rule that starts the deploy pipeline when a model version is approved in the
registry, a CloudWatch dashboard of the builds, pipelines and trigger, and the build and deploy
permissions as named managed policies. What it needs of StarterCore's roles (EventBridge's trust,
the permission to start the deploy pipeline) and its SSM outputs BucketName and DashboardName go
into StarterCoreProps (policies.py); this construct only reads the core.
"""

from __future__ import annotations

import json

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib._iam import report_wildcards
from constructs_lib.names import ProductNames
from constructs_lib.policy_document import PolicyDocument
from constructs_lib.professional_addons.dashboard import dashboard_body
from constructs_lib.professional_addons.policies import deploy_pipeline_arn
from constructs_lib.professional_addons.props import ProfessionalAddonsProps
from constructs_lib.starter_core import StarterCore


class ProfessionalAddons(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, core: StarterCore, props: ProfessionalAddonsProps
    ) -> None:
        super().__init__(scope, construct_id)
        names = props.names
        self.managed_policies = {
            kind: build_managed_policy(self, names, policy_id, purpose, document, role_ref=core.codebuild_role.ref)
            for kind, policy_id, purpose, document in (
                ("build", "BuildPolicy", "Permissions of the model-build project", core.build_policy),
                ("deploy", "DeployPolicy", "Permissions of the model-deploy project", core.deploy_policy),
            )
        }
        self.approval_rule = self._build_approval_trigger(names, core)
        self.dashboard = cloudwatch.CfnDashboard(
            self,
            "Dashboard",
            dashboard_name=names.dashboard,
            dashboard_body=json.dumps(
                dashboard_body(names, alerts_email=props.alerts_email, console_url=props.console_url), sort_keys=True
            ),
        )

        self.outputs = {"BucketName": core.artifacts_bucket.ref, "DashboardName": self.dashboard.ref}

    def _build_approval_trigger(self, names: ProductNames, core: StarterCore) -> events.CfnRule:
        """Approving a model version in the registry runs the deploy pipeline, as the pipeline role."""
        n = names
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
                    id="deploy-pipeline", arn=deploy_pipeline_arn(n), role_arn=core.pipeline_role.attr_arn
                )
            ],
        )
        rule.add_resource_dependency(core.pipelines["deploy"])
        return rule


def build_managed_policy(
    scope: Construct, names: ProductNames, construct_id: str, purpose: str, document: PolicyDocument, *, role_ref: str
) -> iam.CfnManagedPolicy:
    policy = iam.CfnManagedPolicy(
        scope,
        construct_id,
        path=names.iam_path,
        description=f"{purpose} of ML product {names.deployment_id}",
        roles=[role_ref],
        policy_document=document.to_json(),
    )
    report_wildcards(policy, document)
    return policy

"""The ARNs of the product's own resources, per IAM resource type, from ml_provisioner.naming.

Each builder returns the ARNs of one deployment's names. create-policy calls it twice: with the
real names and with the test-deploy names, whose marker is the IAM pattern ``t????`` (the marker
is "t" plus four hex digits, followed by the delimiter no product id contains), so test
deployments are covered and nothing else is. Where
CloudFormation generates the id (KMS key, VPC endpoint, security group), the ARN can only be
narrowed to the account and region.
"""

from __future__ import annotations

from collections.abc import Callable

from ml_provisioner import catalog
from ml_provisioner.config.models import EnterpriseConfig, VpcIntegration, VpcSource
from ml_provisioner.identity import TEST_MARKER_WILDCARD
from ml_provisioner.naming import Names
from ml_provisioner.policy.tables import Scope


def deployments(names: Names) -> tuple[Names, Names]:
    """The real deployment and the wildcard standing for every test deployment."""
    return names, Names(names.config, TEST_MARKER_WILDCARD)


def _physical_names(names: Names, resource_type: str) -> list[str]:
    return [r.physical_name for r in catalog.resources_for(names.config, names) if r.type == resource_type]


def artifacts_bucket_arn(n: Names) -> str:
    return n.arn("s3", n.artifacts_bucket, region=False, account=False)


def _vpc_integration(n: Names) -> VpcIntegration | None:
    """The VPC the endpoints go into: only enterprise stacks have one."""
    return n.config.vpc_integration if isinstance(n.config, EnterpriseConfig) else None


def _vpc(n: Names) -> list[str]:
    """The config's VPC, or any VPC of the region when CloudFormation reads its id from SSM."""
    vpc = _vpc_integration(n)
    if vpc is None:
        return []
    return [n.arn("ec2", f"vpc/{vpc.vpc_id if vpc.vpc_source is VpcSource.DIRECT else '*'}")]


def _configured(kind: str, ids: Callable[[VpcIntegration], list[str]]) -> Callable[[Names], list[str]]:
    def arns(n: Names) -> list[str]:
        vpc = _vpc_integration(n)
        return [n.arn("ec2", f"{kind}/{i}") for i in ids(vpc)] if vpc else []

    return arns


BUILDERS: dict[Scope, Callable[[Names], list[str]]] = {
    ("s3", "bucket"): lambda n: [artifacts_bucket_arn(n)],
    ("s3", "object"): lambda n: [f"{artifacts_bucket_arn(n)}/*"],
    ("sagemaker", "model-package-group"): lambda n: [
        n.arn("sagemaker", f"model-package-group/{n.model_package_group}")
    ],
    ("codecommit", "repository"): lambda n: [
        n.arn("codecommit", r) for r in _physical_names(n, "AWS::CodeCommit::Repository")
    ],
    ("codebuild", "project"): lambda n: [
        n.arn("codebuild", f"project/{p}") for p in _physical_names(n, "AWS::CodeBuild::Project")
    ],
    ("codepipeline", "pipeline"): lambda n: [
        n.arn("codepipeline", p) for p in _physical_names(n, "AWS::CodePipeline::Pipeline")
    ],
    ("codepipeline", "stage"): lambda n: [
        n.arn("codepipeline", f"{p}/*") for p in _physical_names(n, "AWS::CodePipeline::Pipeline")
    ],
    ("iam", "role"): lambda n: [n.arn("iam", f"role{n.iam_path}*", region=False)],
    ("iam", "policy"): lambda n: [n.arn("iam", f"policy{n.iam_path}*", region=False)],
    # The path itself (GetParametersByPath) and every parameter under it.
    ("ssm", "parameter"): lambda n: [
        n.arn("ssm", f"parameter{n.ssm_prefix}"),
        n.arn("ssm", f"parameter{n.ssm_prefix}/*"),
    ],
    ("events", "rule-on-default-event-bus"): lambda n: [n.arn("events", f"rule/{n.approval_rule}")],
    ("cloudwatch", "dashboard"): lambda n: [n.arn("cloudwatch", f"dashboard/{n.dashboard}", region=False)],
    ("cloudwatch", "alarm"): lambda n: [
        n.arn("cloudwatch", f"alarm:{a}") for a in _physical_names(n, "AWS::CloudWatch::Alarm")
    ],
    ("kms", "key"): lambda n: [n.arn("kms", "key/*")],
    ("kms", "alias"): lambda n: [n.arn("kms", n.kms_alias)],
    ("ec2", "vpc-endpoint"): lambda n: [n.arn("ec2", "vpc-endpoint/*")],
    ("ec2", "security-group"): lambda n: [n.arn("ec2", "security-group/*")],
    ("ec2", "security-group-rule"): lambda n: [n.arn("ec2", "security-group-rule/*")],
    ("ec2", "vpc"): _vpc,
    ("ec2", "subnet"): _configured("subnet", lambda vpc: vpc.subnet_ids),
    ("ec2", "route-table"): _configured("route-table", lambda vpc: vpc.route_table_ids),
    # CloudWatch Logs authorizes log group actions on the group's ARN with and without ":*".
    ("logs", "log-group"): lambda n: [
        n.arn("logs", f"log-group:{n.compliance_log_group}"),
        n.arn("logs", f"log-group:{n.compliance_log_group}:*"),
    ],
    ("sns", "topic"): lambda n: [n.arn("sns", n.alerts_topic)],
    ("cloudformation", "stack"): lambda n: [n.stack_arn_pattern],
}


def product_arns(scope: Scope, names: Names) -> list[str]:
    """The ARNs of scope's resources in the real deployment and in any test deployment."""
    build = BUILDERS[scope]
    return list(dict.fromkeys(arn for deployment in deployments(names) for arn in build(deployment)))

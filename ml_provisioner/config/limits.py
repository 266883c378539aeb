"""AWS's length and character limits on the names a product derives, checked when a config loads.

The limits are AWS's (from each service's API reference); the names come from naming, for the
longest deployment a config can have (a test deployment: the marker makes every name longer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ml_provisioner.config.models import EnterpriseConfig, SecurityGroupMode, SourceControl, StarterConfig
from ml_provisioner.naming import Names
from ml_provisioner.seed import SERVING_NAME_SUFFIXES

_ALNUM_DASH = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"


@dataclass(frozen=True)
class LimitedName:
    what: str  # what AWS calls the name, e.g. "S3 bucket name"
    name: str
    max_length: int
    pattern: str  # the characters AWS allows, as a regular expression

    @property
    def problem(self) -> str | None:
        """Why CloudFormation would reject the name, or None when it fits."""
        if len(self.name) > self.max_length:
            return f"the {self.what} {self.name!r} is {len(self.name)} characters; AWS allows {self.max_length}"
        if not re.match(self.pattern, self.name):
            return f"the {self.what} {self.name!r} has characters AWS does not allow"
        return None


def limited_names(names: Names) -> list[LimitedName]:
    """Every length-limited name this product creates, with its limit."""
    n, config = names, names.config
    limited = [
        LimitedName("CloudFormation stack name", n.stack_name, 128, r"^[a-zA-Z][-a-zA-Z0-9]*$"),
        LimitedName("S3 bucket name", n.artifacts_bucket, 63, r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"),
        LimitedName("SageMaker model package group name", n.model_package_group, 63, _ALNUM_DASH),
        LimitedName("CodeBuild project name", n.codebuild_project("deploy"), 150, r"^[A-Za-z0-9][A-Za-z0-9\-_]*$"),
        LimitedName("CodePipeline name", n.pipeline("deploy"), 100, r"^[A-Za-z0-9.@\-_]+$"),
        LimitedName("IAM path", n.iam_path, 512, r"^/[\x21-\x7e]*/$"),
        LimitedName("SSM parameter name", n.ssm_parameter("VpcEndpointIdSagemakerRuntime"), 1011, r"^/[\w.\-/]+$"),
    ]
    if config.ml_product.seed_code:  # what the seed's model-deploy names (ml_provisioner/seed)
        limited += [
            LimitedName("SageMaker name of the seed's serving", n.name(suffix), 63, _ALNUM_DASH)
            for suffix in SERVING_NAME_SUFFIXES
        ]
    if config.ml_product.source_control is SourceControl.CODECOMMIT:
        limited.append(LimitedName("CodeCommit repository name", n.repository("deploy"), 100, r"^[\w.-]+$"))
    if not isinstance(config, StarterConfig):
        limited += [
            LimitedName("EventBridge rule name", n.approval_rule, 64, r"^[.\-_A-Za-z0-9]+$"),
            LimitedName("CloudWatch dashboard name", n.dashboard, 255, r"^[A-Za-z0-9\-_]+$"),
        ]
    if isinstance(config, EnterpriseConfig):
        limited += [
            LimitedName("KMS alias name", n.kms_alias, 256, r"^alias/[a-zA-Z0-9/_-]+$"),
            LimitedName("CloudWatch log group name", n.compliance_log_group, 512, r"^[\.\-_/#A-Za-z0-9]+$"),
            LimitedName("SNS topic name", n.alerts_topic, 256, r"^[A-Za-z0-9_-]+$"),
            LimitedName("CloudWatch alarm name", n.alarm("access-denied"), 255, r"^[\x20-\x7e]+$"),
            LimitedName("IAM managed policy name", n.permission_boundary, 128, r"^[\w+=,.@-]+$"),
        ]
        if config.vpc_integration.security_group_mode is SecurityGroupMode.STANDALONE:
            limited.append(LimitedName("EC2 security group name", n.endpoint_security_group, 255, r"^[\x20-\x7e]+$"))
    return limited


def name_problems(names: Names) -> list[str]:
    """Why CloudFormation would reject a name this product derives (empty when all fit)."""
    return [problem for limited in limited_names(names) if (problem := limited.problem)]

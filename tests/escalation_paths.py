"""The published IAM privilege-escalation paths, as data (Rhino Security Labs' catalogue of AWS
IAM escalation methods, with the boundary and CloudFormation paths of AWS's "permissions
boundaries for delegating IAM administration" added).

A path is a sequence of calls that together give their caller more than it was given. Each step
names its resource and context by role ("{product_role}", "{admin_policy}", ...), bound per
product by ``targets``. The attacker holds the deployer policy and writes the templates: a
change set may give a product role any inline policy and a trust naming the holder. Where a path
leads decides when it must be closed, and only an IAM statement may close it:

- OUTSIDE: anything that is not the product's (another role, a user, an AWS managed policy,
  another stack or product, a compute service running a role, the administrator's boundary):
  closed, directly, through a change set, and to any role a change set can write;
- UNBOUNDED: a role of the product without the administrator's boundary: closed everywhere;
- WITHIN_BOUNDARY: the product's own roles and policies, whatever a change set writes into them,
  and sessions of them: closed to direct calls, open through a change set (the stack needs it),
  and harmless because every such role carries the boundary (test_privilege_escalation checks
  that the widest such role reaches no OUTSIDE or UNBOUNDED path);
- PRODUCT_RUNS: what a product role runs (a buildspec, a pipeline, a rule's target) and what
  guards its data (bucket policy and ACL, key policy and state, the compliance log group):
  closed to direct calls, for CloudFormation to change in a change set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml_provisioner.naming import Names

OUTSIDE, UNBOUNDED = "outside the product", "a product role without the administrator's boundary"
WITHIN_BOUNDARY = "a product role, within the administrator's boundary"
PRODUCT_RUNS = "the product's compute or data, changed around its stack"
BOUNDED = {"iam:PermissionsBoundary": "{boundary}"}  # a role of the product, carrying its boundary
SELF_MADE = {"iam:PermissionsBoundary": "{self_made_boundary}"}  # a boundary the holder wrote itself


@dataclass(frozen=True)
class Step:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Path:
    name: str
    steps: tuple[Step, ...]
    leads: str


def path(name: str, leads: str, *steps: tuple) -> Path:
    return Path(name, tuple(Step(*s) for s in steps), leads)


def passed_to(service: str) -> dict[str, str]:
    return {"iam:PassedToService": f"{service}.amazonaws.com"}


CATALOGUE = (
    # -- new policy versions ------------------------------------------------------------------------
    path("CreatePolicyVersion on another policy", OUTSIDE, ("iam:CreatePolicyVersion", "{other_policy}")),
    path("SetDefaultPolicyVersion on another policy", OUTSIDE, ("iam:SetDefaultPolicyVersion", "{other_policy}")),
    path("CreatePolicyVersion on a product policy", WITHIN_BOUNDARY, ("iam:CreatePolicyVersion", "{product_policy}")),
    path(
        "SetDefaultPolicyVersion on a product policy",
        WITHIN_BOUNDARY,
        ("iam:SetDefaultPolicyVersion", "{product_policy}"),
    ),
    path("CreatePolicyVersion on the boundary", OUTSIDE, ("iam:CreatePolicyVersion", "{boundary}")),
    path("SetDefaultPolicyVersion on the boundary", OUTSIDE, ("iam:SetDefaultPolicyVersion", "{boundary}")),
    path("DeletePolicyVersion of the boundary", OUTSIDE, ("iam:DeletePolicyVersion", "{boundary}")),
    path(
        "DeletePolicy + CreatePolicy: the boundary again, another document",
        OUTSIDE,
        ("iam:DeletePolicy", "{boundary}"),
        ("iam:CreatePolicy", "{boundary}"),
    ),
    # -- users and groups ---------------------------------------------------------------------------
    path("CreateAccessKey for another user", OUTSIDE, ("iam:CreateAccessKey", "{user}")),
    path("CreateLoginProfile for a user", OUTSIDE, ("iam:CreateLoginProfile", "{user}")),
    path("UpdateLoginProfile of a user", OUTSIDE, ("iam:UpdateLoginProfile", "{user}")),
    path("AttachUserPolicy", OUTSIDE, ("iam:AttachUserPolicy", "{user}", {"iam:PolicyARN": "{admin_policy}"})),
    path("AttachGroupPolicy", OUTSIDE, ("iam:AttachGroupPolicy", "{group}", {"iam:PolicyARN": "{admin_policy}"})),
    path("PutUserPolicy", OUTSIDE, ("iam:PutUserPolicy", "{user}")),
    path("PutGroupPolicy", OUTSIDE, ("iam:PutGroupPolicy", "{group}")),
    path("AddUserToGroup", OUTSIDE, ("iam:AddUserToGroup", "{group}")),
    # -- roles --------------------------------------------------------------------------------------
    path(
        "AttachRolePolicy AdministratorAccess to a product role",
        OUTSIDE,
        ("iam:AttachRolePolicy", "{product_role}", {**BOUNDED, "iam:PolicyARN": "{admin_policy}"}),
    ),
    path(
        "AttachRolePolicy another policy to a product role",
        OUTSIDE,
        ("iam:AttachRolePolicy", "{product_role}", {**BOUNDED, "iam:PolicyARN": "{other_policy}"}),
    ),
    path(
        "AttachRolePolicy to another role",
        OUTSIDE,
        ("iam:AttachRolePolicy", "{other_role}", {"iam:PolicyARN": "{product_policy}"}),
    ),
    path(
        "AttachRolePolicy the boundary as a permissions policy",
        UNBOUNDED,
        ("iam:AttachRolePolicy", "{product_role}", {**BOUNDED, "iam:PolicyARN": "{boundary}"}),
    ),
    path(
        "AttachRolePolicy to a product-path role under another boundary",
        UNBOUNDED,
        (
            "iam:AttachRolePolicy",
            "{product_role}",
            {"iam:PermissionsBoundary": "{admin_policy}", "iam:PolicyARN": "{product_policy}"},
        ),
    ),
    path(
        "AttachRolePolicy a product policy to a product role",
        WITHIN_BOUNDARY,
        ("iam:AttachRolePolicy", "{product_role}", {**BOUNDED, "iam:PolicyARN": "{product_policy}"}),
    ),
    path("PutRolePolicy on a product role", WITHIN_BOUNDARY, ("iam:PutRolePolicy", "{product_role}", BOUNDED)),
    path("PutRolePolicy on another role", OUTSIDE, ("iam:PutRolePolicy", "{other_role}")),
    path("PutRolePolicy on another product's role", OUTSIDE, ("iam:PutRolePolicy", "{other_product_role}", BOUNDED)),
    path("PutRolePolicy on the CloudFormation execution role", OUTSIDE, ("iam:PutRolePolicy", "{execution_role}")),
    path(
        "UpdateAssumeRolePolicy on another role + AssumeRole",
        OUTSIDE,
        ("iam:UpdateAssumeRolePolicy", "{other_role}"),
        ("sts:AssumeRole", "{other_role}"),
    ),
    path(
        "UpdateAssumeRolePolicy on a product role: a trust naming the holder + AssumeRole",
        WITHIN_BOUNDARY,
        ("iam:UpdateAssumeRolePolicy", "{product_role}", BOUNDED),
        ("sts:AssumeRole", "{product_role}"),
    ),
    path(
        "CreateRole with the boundary, an inline *:* and a trust naming the holder + AssumeRole",
        WITHIN_BOUNDARY,
        ("iam:CreateRole", "{new_role}", BOUNDED),
        ("iam:PutRolePolicy", "{new_role}", BOUNDED),
        ("sts:AssumeRole", "{new_role}"),
    ),
    path(
        "CreateRole on a test deployment's path with the boundary + AssumeRole",
        WITHIN_BOUNDARY,
        ("iam:CreateRole", "{test_role}", BOUNDED),
        ("sts:AssumeRole", "{test_role}"),
    ),
    path(
        "CreatePolicy a boundary of one's own (a test deployment's policy) + CreateRole with it",
        UNBOUNDED,
        ("iam:CreatePolicy", "{self_made_boundary}"),
        ("iam:CreateRole", "{new_role}", SELF_MADE),
    ),
    path(
        "CreateRole on a test deployment's path with a self-made boundary",
        UNBOUNDED,
        ("iam:CreateRole", "{test_role}", SELF_MADE),
    ),
    path(
        "PutRolePermissionsBoundary: a self-made boundary",
        UNBOUNDED,
        ("iam:PutRolePermissionsBoundary", "{product_role}", SELF_MADE),
    ),
    path(
        "CreateRole without the boundary + PutRolePolicy",
        UNBOUNDED,
        ("iam:CreateRole", "{new_role}"),
        ("iam:PutRolePolicy", "{new_role}"),
    ),
    path(
        "CreateRole with another boundary + AttachRolePolicy",
        UNBOUNDED,
        ("iam:CreateRole", "{new_role}", {"iam:PermissionsBoundary": "{admin_policy}"}),
        (
            "iam:AttachRolePolicy",
            "{new_role}",
            {"iam:PermissionsBoundary": "{admin_policy}", "iam:PolicyARN": "{product_policy}"},
        ),
    ),
    path("CreateRole outside the product's path", OUTSIDE, ("iam:CreateRole", "{other_role}", BOUNDED)),
    path(
        "PutRolePermissionsBoundary: a weaker boundary",
        UNBOUNDED,
        ("iam:PutRolePermissionsBoundary", "{product_role}", {"iam:PermissionsBoundary": "{admin_policy}"}),
    ),
    path("DeleteRolePermissionsBoundary", UNBOUNDED, ("iam:DeleteRolePermissionsBoundary", "{product_role}", BOUNDED)),
    # -- a compute service running a role ----------------------------------------------------------
    path(
        "PassRole + ec2:RunInstances",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("ec2")),
        ("ec2:RunInstances", "{instance}"),
    ),
    path(
        "PassRole + lambda:CreateFunction + InvokeFunction",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("lambda")),
        ("lambda:CreateFunction", "{function}"),
        ("lambda:InvokeFunction", "{function}"),
    ),
    path(
        "PassRole + lambda:CreateFunction + CreateEventSourceMapping",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("lambda")),
        ("lambda:CreateFunction", "{function}"),
        ("lambda:CreateEventSourceMapping", "*"),
    ),
    path("lambda:UpdateFunctionCode of another function", OUTSIDE, ("lambda:UpdateFunctionCode", "{function}")),
    path(
        "PassRole + glue:CreateDevEndpoint",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("glue")),
        ("glue:CreateDevEndpoint", "{dev_endpoint}"),
    ),
    path("glue:UpdateDevEndpoint", OUTSIDE, ("glue:UpdateDevEndpoint", "{dev_endpoint}")),
    path(
        "PassRole + cloudformation:CreateStack",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("cloudformation")),
        ("cloudformation:CreateStack", "{other_stack}"),
    ),
    path(
        "PassRole the execution role + a change set on another stack",
        OUTSIDE,
        ("iam:PassRole", "{execution_role}", passed_to("cloudformation")),
        ("cloudformation:CreateChangeSet", "{other_stack}", {"cloudformation:RoleArn": "{execution_role}"}),
    ),
    path(
        "PassRole + datapipeline:CreatePipeline",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("datapipeline")),
        ("datapipeline:CreatePipeline", "*"),
        ("datapipeline:PutPipelineDefinition", "*"),
    ),
    path(
        "PassRole another role + codebuild:CreateProject + StartBuild",
        OUTSIDE,
        ("iam:PassRole", "{other_role}", passed_to("codebuild")),
        ("codebuild:CreateProject", "{other_project}"),
        ("codebuild:StartBuild", "{other_project}"),
    ),
    path(
        "codebuild:UpdateProject + StartBuild of another project",
        OUTSIDE,
        ("codebuild:UpdateProject", "{other_project}"),
        ("codebuild:StartBuild", "{other_project}"),
    ),
    path(
        "PassRole + sagemaker:CreateNotebookInstance + CreatePresignedNotebookInstanceUrl",
        OUTSIDE,
        ("iam:PassRole", "{product_role}", passed_to("sagemaker")),
        ("sagemaker:CreateNotebookInstance", "{notebook}"),
        ("sagemaker:CreatePresignedNotebookInstanceUrl", "{notebook}"),
    ),
    path(
        "sagemaker:CreatePresignedNotebookInstanceUrl of an existing notebook",
        OUTSIDE,
        ("sagemaker:CreatePresignedNotebookInstanceUrl", "{notebook}"),
    ),
    path(
        "PassRole another role + sagemaker:CreateTrainingJob",
        OUTSIDE,
        ("iam:PassRole", "{other_role}", passed_to("sagemaker")),
        ("sagemaker:CreateTrainingJob", "{training_job}"),
    ),
    # -- the product's own compute and data, changed by direct calls (path C of the threat model:
    # no role is changed, but a product role runs what the holder wrote, or its data is opened) ----
    path(
        "codebuild:UpdateProject of the product's build project",
        PRODUCT_RUNS,
        ("codebuild:UpdateProject", "{product_project}"),
    ),
    path(
        "codebuild:UpdateProject + StartBuild of the product's build project",
        PRODUCT_RUNS,
        ("codebuild:UpdateProject", "{product_project}"),
        ("codebuild:StartBuild", "{product_project}"),
    ),
    path(
        "codepipeline:UpdatePipeline of the product's pipeline",
        PRODUCT_RUNS,
        ("codepipeline:UpdatePipeline", "{product_pipeline}"),
    ),
    path(
        "codepipeline:StartPipelineExecution of the product's pipeline",
        PRODUCT_RUNS,
        ("codepipeline:StartPipelineExecution", "{product_pipeline}"),
    ),
    path("s3:PutBucketPolicy on the product's bucket", PRODUCT_RUNS, ("s3:PutBucketPolicy", "{product_bucket}")),
    path("s3:PutBucketAcl on the product's bucket", PRODUCT_RUNS, ("s3:PutBucketAcl", "{product_bucket}")),
    path(
        "s3:DeleteBucketPolicy (the TLS-only rule) of the product's bucket",
        PRODUCT_RUNS,
        ("s3:DeleteBucketPolicy", "{product_bucket}"),
    ),
    path(
        "s3:PutBucketPublicAccessBlock on the product's bucket",
        PRODUCT_RUNS,
        ("s3:PutBucketPublicAccessBlock", "{product_bucket}"),
    ),
    path(
        "events:PutRule + PutTargets: a rule that runs the product's pipeline with its role",
        PRODUCT_RUNS,
        ("events:PutRule", "{product_rule}"),
        ("events:PutTargets", "{product_rule}"),
    ),
    path("kms:PutKeyPolicy on a key", PRODUCT_RUNS, ("kms:PutKeyPolicy", "{product_key}")),
    path("kms:ScheduleKeyDeletion of a key", PRODUCT_RUNS, ("kms:ScheduleKeyDeletion", "{product_key}")),
    path("kms:DisableKey of a key", PRODUCT_RUNS, ("kms:DisableKey", "{product_key}")),
    path("logs:DeleteLogGroup of the compliance logs", PRODUCT_RUNS, ("logs:DeleteLogGroup", "{product_log_group}")),
    path(
        "logs:DeleteDataProtectionPolicy (secret masking) of the compliance logs",
        PRODUCT_RUNS,
        ("logs:DeleteDataProtectionPolicy", "{product_log_group}"),
    ),
    path("ssm:SendCommand to an instance", OUTSIDE, ("ssm:SendCommand", "{instance}")),
    path("ssm:StartSession on an instance", OUTSIDE, ("ssm:StartSession", "{instance}")),
    path("sts:AssumeRole of another role", OUTSIDE, ("sts:AssumeRole", "{other_role}")),
    path("sts:AssumeRole of the deployer role", OUTSIDE, ("sts:AssumeRole", "{deployer_role}")),
    # -- another product's data and compute (a product role widened by a change set, reaching out) --
    path("s3:GetObject in another product's bucket", OUTSIDE, ("s3:GetObject", "{other_product_bucket}/data.csv")),
    path("s3:PutObject in another product's bucket", OUTSIDE, ("s3:PutObject", "{other_product_bucket}/x.zip")),
    path(
        "kms:Decrypt with another product's key",
        OUTSIDE,
        ("kms:Decrypt", "{other_product_key}", {"aws:ResourceTag/ml-provisioner:product": "{other_product}"}),
    ),
    path(
        "codebuild:StartBuild of another product's project",
        OUTSIDE,
        ("codebuild:StartBuild", "{other_product_project}"),
    ),
    path(
        "codepipeline:StartPipelineExecution of another product's pipeline",
        OUTSIDE,
        ("codepipeline:StartPipelineExecution", "{other_product_pipeline}"),
    ),
    path(
        "sagemaker:CreateModelPackage in another product's registry",
        OUTSIDE,
        ("sagemaker:CreateModelPackage", "{other_product_models}"),
    ),
    path(
        "iam:PassRole another product's role to SageMaker",
        OUTSIDE,
        ("iam:PassRole", "{other_product_role}", passed_to("sagemaker")),
    ),
    path("sts:AssumeRole of another product's role", OUTSIDE, ("sts:AssumeRole", "{other_product_role}")),
    path(
        "iam:AttachRolePolicy AdministratorAccess to the deployer role",
        OUTSIDE,
        ("iam:AttachRolePolicy", "{deployer_role}", {"iam:PolicyARN": "{admin_policy}"}),
    ),
    path("iam:CreateAccessKey for oneself", OUTSIDE, ("iam:CreateAccessKey", "{user}")),
    # users named like the product, on its own IAM path: still no user, key or login of any kind
    path(
        "CreateUser + CreateAccessKey named like the product",
        OUTSIDE,
        ("iam:CreateUser", "{product_user}"),
        ("iam:CreateAccessKey", "{product_user}"),
    ),
    path("CreateLoginProfile for a user named like the product", OUTSIDE, ("iam:CreateLoginProfile", "{product_user}")),
    path("CreateGroup named like the product", OUTSIDE, ("iam:CreateGroup", "{product_group}")),
    # -- what a change set may hold: the product's types, and only its data resources imported --------
    path(
        "CreateChangeSet of the product's own types",
        WITHIN_BOUNDARY,
        (
            "cloudformation:CreateChangeSet",
            "{product_stack}",
            {"cloudformation:ResourceTypes": ["AWS::IAM::Role"], "cloudformation:RoleArn": "{execution_role}"},
        ),
    ),
    path(
        "CreateChangeSet without naming its resource types (any type's handler)",
        OUTSIDE,
        ("cloudformation:CreateChangeSet", "{product_stack}"),
    ),
    path(
        "CreateChangeSet with an AWS::EC2::SecurityGroupIngress on someone else's group",
        OUTSIDE,
        (
            "cloudformation:CreateChangeSet",
            "{product_stack}",
            {"cloudformation:ResourceTypes": ["AWS::IAM::Role", "AWS::EC2::SecurityGroupIngress"]},
        ),
    ),
    path(
        "CreateChangeSet importing someone else's security group, to change it through the stack",
        OUTSIDE,
        (
            "cloudformation:CreateChangeSet",
            "{product_stack}",
            {
                "cloudformation:ResourceTypes": ["AWS::EC2::SecurityGroup"],
                "cloudformation:ImportResourceTypes": ["AWS::EC2::SecurityGroup"],
            },
        ),
    ),
    path(
        "kms:PutKeyPolicy on another product's key imported into the stack",
        OUTSIDE,
        ("kms:PutKeyPolicy", "{other_product_key}", {"aws:ResourceTag/ml-provisioner:product": "{other_product}"}),
    ),
    path(
        "kms:ScheduleKeyDeletion of another product's retained key imported into the stack",
        OUTSIDE,
        (
            "kms:ScheduleKeyDeletion",
            "{other_product_key}",
            {"aws:ResourceTag/ml-provisioner:product": "{other_product}"},
        ),
    ),
)


def targets(names: Names) -> dict[str, str]:
    """What each placeholder stands for in one product's account."""
    n = names
    account = f"arn:{n.partition}:iam::{n.account}"
    product_role = f"{account}:role{n.iam_path}{n.stack_name}-StarterCoreCodeBuildRole-1A2B3C4D5E6F"
    test = Names(n.config, "t1a2b")
    other = Names(n.config.model_copy(update={"ml_product": n.config.ml_product.model_copy(update={"workload": "x"})}))
    return {
        "product_role": product_role,
        "new_role": f"{account}:role{n.iam_path}{n.stack_name}-NewRole-0Z9Y8X7W6V5U",
        "test_role": f"{account}:role{test.iam_path}{test.stack_name}-NewRole-0Z9Y8X7W6V5U",
        "self_made_boundary": f"{account}:policy{test.iam_path}{test.stack_name}-OpenBoundary-1A2B3C4D5E6F",
        "other_product_role": product_role.replace(n.deployment_id, f"{n.deployment_id}-batch"),
        "deployer_role": n.deployer_role_arn,
        "product_user": f"{account}:user{n.iam_path}{n.stack_name}-Operator-1A2B3C4D5E6F",
        "product_group": f"{account}:group{n.iam_path}{n.stack_name}-Operators-1A2B3C4D5E6F",
        "product_stack": n.arn("cloudformation", f"stack/{n.stack_name}/1a2b3c4d"),
        "other_product": other.product,
        "other_product_bucket": f"arn:{n.partition}:s3:::{other.artifacts_bucket}",
        "other_product_key": n.arn("kms", "key/99999999-12ab-34cd-56ef-1234567890ab"),
        "other_product_project": n.arn("codebuild", f"project/{other.codebuild_project('build')}"),
        "other_product_pipeline": n.arn("codepipeline", other.pipeline("deploy")),
        "other_product_models": n.arn("sagemaker", f"model-package-group/{other.model_package_group}"),
        "other_role": f"{account}:role/ops/administrator",
        "execution_role": n.execution_role_arn,
        "product_policy": f"{account}:policy{n.iam_path}{n.stack_name}-ProfessionalAddonsBuildPolicy-1A2B3C4D5E6F",
        "boundary": n.permission_boundary_arn,
        "admin_policy": f"arn:{n.partition}:iam::aws:policy/AdministratorAccess",
        "other_policy": f"{account}:policy/ops/wide-open",
        "user": f"{account}:user/alice",
        "group": f"{account}:group/administrators",
        "instance": n.arn("ec2", "instance/i-0123456789abcdef0"),
        "function": n.arn("lambda", "function:ops-tool"),
        "dev_endpoint": n.arn("glue", "devEndpoint/ops"),
        "other_stack": n.arn("cloudformation", "stack/ops-network/1a2b3c4d"),
        "other_project": n.arn("codebuild", "project/ops-build"),
        "notebook": n.arn("sagemaker", "notebook-instance/ops"),
        "training_job": n.arn("sagemaker", "training-job/ops-train"),
        "product_project": n.arn("codebuild", f"project/{n.codebuild_project('build')}"),
        "product_pipeline": n.arn("codepipeline", n.pipeline("build")),
        "product_bucket": n.arn("s3", n.artifacts_bucket, region=False, account=False),
        "product_rule": n.arn("events", f"rule/{n.approval_rule}"),
        "product_key": n.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        "product_log_group": n.arn("logs", f"log-group:{n.compliance_log_group}"),
    }


def bind(value: Any, bound: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**bound) if value.startswith("{") else value
    if isinstance(value, list):
        return [bind(v, bound) for v in value]
    return {k: bind(v, bound) for k, v in value.items()}

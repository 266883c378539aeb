"""Drift detection (moto 5.2 answers HTTP 500).

Each resource's template properties, resolved against the stack, are compared with what moto's
service backends hold now, so a change made with a plain API call (ssm put-parameter --overwrite,
iam put-role-policy, ...) is reported like AWS reports it. Types without a reader below are
NOT_CHECKED, as AWS does for types it cannot check. Detection is synchronous: the status is
DETECTION_COMPLETE as soon as DetectStackDrift returns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack
from moto.cloudformation.parsing import clean_json
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.ssm.models import ssm_backends
from moto.utilities.utils import get_partition

from .shapes import json_value, tag_list

# (resource, account, region) -> the live value of every property the reader checks, None if deleted
Reader = Callable[[Any, str, str], dict[str, Any] | None]


def install() -> None:
    CloudFormationResponse.detect_stack_drift = _detect_stack_drift  # type: ignore[attr-defined]
    CloudFormationResponse.detect_stack_resource_drift = _detect_stack_resource_drift  # type: ignore[attr-defined]
    CloudFormationResponse.describe_stack_drift_detection_status = _describe_detection_status  # type: ignore[attr-defined]
    CloudFormationResponse.describe_stack_resource_drifts = _describe_stack_resource_drifts  # type: ignore[attr-defined]


# --- live state, in CloudFormation's property shapes -------------------------------------------


def _ssm_parameter(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    backend = ssm_backends[account][region]
    parameter = backend.get_parameter(resource.name)
    if parameter is None:
        return None
    return {
        "Type": parameter.parameter_type,
        "Value": parameter.value,
        "Description": parameter.description,
        "AllowedPattern": parameter.allowed_pattern,
        "Tags": backend.list_tags_for_resource("Parameter", parameter.name),
    }


def _s3_bucket(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    backend = s3_backends[account][get_partition(region)]
    bucket = backend.buckets.get(resource.name)
    if bucket is None:
        return None
    live: dict[str, Any] = {
        "Tags": tag_list(backend.tagger.get_tag_dict_for_resource(bucket.arn)),
        "BucketEncryption": None,
        "VersioningConfiguration": None,
        "PublicAccessBlockConfiguration": None,
    }
    if bucket.encryption:
        rule = bucket.encryption["Rule"]
        rule = rule[0] if isinstance(rule, list) else rule
        cfn_rule = {"ServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]}
        if "BucketKeyEnabled" in rule:
            cfn_rule["BucketKeyEnabled"] = rule["BucketKeyEnabled"]
        live["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [cfn_rule]}
    if bucket.versioning_status:
        live["VersioningConfiguration"] = {"Status": bucket.versioning_status}
    if block := bucket.public_access_block:
        live["PublicAccessBlockConfiguration"] = {
            "BlockPublicAcls": block.block_public_acls,
            "BlockPublicPolicy": block.block_public_policy,
            "IgnorePublicAcls": block.ignore_public_acls,
            "RestrictPublicBuckets": block.restrict_public_buckets,
        }
    return live


def _iam_role(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    backend = iam_backends[account][get_partition(region)]
    role = next((r for r in backend.roles.values() if r.name == resource.name), None)
    if role is None:
        return None
    policy_resources = {p.policy_name for p in backend.inline_policies.values() if role.name in (p.role_names or [])}
    return {
        "AssumeRolePolicyDocument": role.assume_role_policy_document,
        "Description": role.description,
        "ManagedPolicyArns": [  # without those attached through AWS::IAM::ManagedPolicy's Roles
            arn
            for arn, policy in role.managed_policies.items()
            if role.name not in getattr(policy, "declared_roles", ())
        ],
        "Policies": [
            {"PolicyName": name, "PolicyDocument": document}
            for name, document in role.policies.items()
            if name not in policy_resources  # those belong to AWS::IAM::Policy resources
        ],
        "PermissionsBoundary": role.permissions_boundary_arn,
        "Path": role.path,
        "MaxSessionDuration": role.max_session_duration,
        "Tags": role.tags,
    }


def _iam_managed_policy(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    policy = iam_backends[account][get_partition(region)].managed_policies.get(resource.arn)
    if policy is None:
        return None
    document = next(v.document for v in policy.versions if v.is_default)
    return {"PolicyDocument": document, "Description": policy.description}


def _logs_log_group(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    backend = logs_backends[account][region]
    group = backend.groups.get(resource.name)
    if group is None:
        return None
    return {
        "RetentionInDays": group.retention_in_days,
        "KmsKeyId": group.kms_key_id,
        "Tags": tag_list(backend.tagger.get_tag_dict_for_resource(group.arn)),
    }


def _kms_key(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    key = kms_backends[account][region].keys.get(resource.id)
    if key is None or key.key_state == "PendingDeletion":
        return None
    return {
        "Description": key.description,
        "EnableKeyRotation": key.key_rotation_status,
        "Enabled": key.enabled,
        "KeyPolicy": None if key.policy == key.generate_default_policy() else key.policy,
    }


def _sns_topic(resource: Any, account: str, region: str) -> dict[str, Any] | None:
    topic = sns_backends[account][region].topics.get(resource.arn)
    if topic is None:
        return None
    return {"DisplayName": topic.display_name, "KmsMasterKeyId": topic.kms_master_key_id, "Tags": tag_list(topic._tags)}


READERS: dict[str, Reader] = {
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::IAM::Role": _iam_role,
    "AWS::IAM::ManagedPolicy": _iam_managed_policy,
    "AWS::Logs::LogGroup": _logs_log_group,
    "AWS::KMS::Key": _kms_key,
    "AWS::SNS::Topic": _sns_topic,
}

# Defaults AWS fills in when the template leaves a property out.
DEFAULTS: dict[str, dict[str, Any]] = {
    "AWS::KMS::Key": {"EnableKeyRotation": False, "Enabled": True},
    "AWS::IAM::Role": {"Path": "/", "MaxSessionDuration": 3600},
}


# --- comparison --------------------------------------------------------------------------------


def _normalize(value: Any) -> Any:
    """Make template and API values comparable; empty values count as absent."""
    value = json_value(value) if isinstance(value, str) and value[:1] in "{[" else value
    if isinstance(value, dict):
        value = {k: n for k, v in value.items() if (n := _normalize(v)) is not None}
        return value or None
    if isinstance(value, list):
        items = [n for v in value if (n := _normalize(v)) is not None]
        if items and all(isinstance(i, dict) and "Key" in i for i in items):  # tags: no order, no aws: keys
            items = sorted((i for i in items if not str(i["Key"]).startswith("aws:")), key=lambda i: i["Key"])
        elif items and all(isinstance(i, dict) and "PolicyName" in i for i in items):
            items = sorted(items, key=lambda i: i["PolicyName"])
        return items or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return None
    return str(value)


def _differences(expected: Any, actual: Any, path: str) -> list[dict[str, str]]:
    if expected == actual:
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [
            d
            for key in sorted(expected.keys() | actual.keys())
            for d in _differences(expected.get(key), actual.get(key), f"{path}/{key}")
        ]
    if isinstance(expected, list) and isinstance(actual, list):
        return [
            d
            for i in range(max(len(expected), len(actual)))
            for d in _differences(
                expected[i] if i < len(expected) else None, actual[i] if i < len(actual) else None, f"{path}/{i}"
            )
        ]
    kind = "ADD" if expected is None else "REMOVE" if actual is None else "NOT_EQUAL"
    return [
        {"PropertyPath": path, "ExpectedValue": _shown(expected), "ActualValue": _shown(actual), "DifferenceType": kind}
    ]


def _shown(value: Any) -> str:
    return "null" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def resource_drift(stack: Stack, logical_id: str) -> dict[str, Any]:
    resource_map = stack.resource_map
    resource = resource_map._parsed_resources.get(logical_id)
    resource_type = resource_map._resource_json_map[logical_id]["Type"]
    drift: dict[str, Any] = {
        "StackId": stack.stack_id,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": getattr(resource, "physical_resource_id", None),
        "ResourceType": resource_type,
        "Timestamp": utcnow(),
    }
    reader = READERS.get(resource_type)
    if reader is None:
        return {**drift, "StackResourceDriftStatus": "NOT_CHECKED"}
    template_properties = clean_json(resource_map._resource_json_map[logical_id].get("Properties", {}), resource_map)
    expected = {**DEFAULTS.get(resource_type, {}), **template_properties}
    live = reader(resource, stack.account_id, stack.region_name)
    if live is None:
        expected = _normalize(expected) or {}
        return {
            **drift,
            "ExpectedProperties": json.dumps(expected, sort_keys=True),
            "StackResourceDriftStatus": "DELETED",
        }
    # Only what the reader checks is compared; other template properties are not.
    expected = _normalize({k: v for k, v in expected.items() if k in live}) or {}
    actual = _normalize(live) or {}
    for side in (expected, actual):  # attachment order carries no meaning
        if "ManagedPolicyArns" in side:
            side["ManagedPolicyArns"].sort()
    differences = _differences(expected, actual, "")
    return {
        **drift,
        "ExpectedProperties": json.dumps(expected, sort_keys=True),
        "ActualProperties": json.dumps(actual, sort_keys=True),
        "PropertyDifferences": differences,
        "StackResourceDriftStatus": "MODIFIED" if differences else "IN_SYNC",
    }


# --- API actions -------------------------------------------------------------------------------


# What drift detection records on moto's Stack (which has no such attributes).
def _stack_drifts(stack: Stack) -> dict[str, dict[str, Any]]:
    drifts: dict[str, dict[str, Any]] = vars(stack).setdefault("resource_drifts", {})
    return drifts


def _drift_detections(stack: Stack) -> dict[str, dict[str, Any]]:
    detections: dict[str, dict[str, Any]] = vars(stack).setdefault("drift_detections", {})
    return detections


def _detect_stack_drift(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    drifts = _stack_drifts(stack)
    wanted = self._get_param("LogicalResourceIds") or list(stack.resource_map._resource_json_map)
    for logical_id in wanted:
        if stack.resource_map._parsed_resources.get(logical_id) is not None:
            drifts[logical_id] = resource_drift(stack, logical_id)
    drifted = [d for d in drifts.values() if d["StackResourceDriftStatus"] in ("MODIFIED", "DELETED")]
    detection_id = str(uuid.uuid4())
    now = utcnow()
    status = "DRIFTED" if drifted else "IN_SYNC"
    _drift_detections(stack)[detection_id] = {
        "StackId": stack.stack_id,
        "StackDriftDetectionId": detection_id,
        "StackDriftStatus": status,
        "DetectionStatus": "DETECTION_COMPLETE",
        "DriftedStackResourceCount": len(drifted),
        "Timestamp": now,
    }
    vars(stack)["drift_information"] = {
        "StackDriftStatus": status,
        "LastCheckTimestamp": now,
    }  # DescribeStacks shows it
    return ActionResult({"StackDriftDetectionId": detection_id})


def _detect_stack_resource_drift(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    logical_id = self._get_param("LogicalResourceId")
    if stack.resource_map._parsed_resources.get(logical_id) is None:
        raise ValidationError(message=f"Resource {logical_id} does not exist for stack {stack.name}")
    drift = _stack_drifts(stack)[logical_id] = resource_drift(stack, logical_id)
    return ActionResult({"StackResourceDrift": drift})


def _describe_detection_status(self: CloudFormationResponse) -> ActionResult:
    detection_id = self._get_param("StackDriftDetectionId")
    backend = self.cloudformation_backend
    for stack in [*backend.stacks.values(), *backend.deleted_stacks.values()]:
        if detection_id in _drift_detections(stack):
            return ActionResult(_drift_detections(stack)[detection_id])
    raise ValidationError(message=f"No drift detection with id {detection_id}")


def _describe_stack_resource_drifts(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    statuses = self._get_param("StackResourceDriftStatusFilters") or []
    drifts = [d for d in _stack_drifts(stack).values() if not statuses or d["StackResourceDriftStatus"] in statuses]
    return ActionResult({"StackResourceDrifts": drifts})

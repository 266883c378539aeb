"""Change sets with the AWS semantics a deploy tool depends on.

moto 5.2: no stack Outputs after ExecuteChangeSet; Changes without Replacement/Details and blind to
parameter changes; "No updates are to be performed." raised by CreateChangeSet instead of a FAILED
change set; a second CREATE change set on a REVIEW_IN_PROGRESS stack makes a duplicate stack;
executing a FAILED change set "works"; ListChangeSets ignores StackName.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import generate_changeset_id, generate_stack_id, validate_create_change_set
from moto.core.responses import ActionResult
from moto.ssm.models import ssm_backends

from . import drift, stack_lifecycle

_EXECUTING = threading.Lock()
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."

# Properties whose change makes CloudFormation replace the resource ("Update requires: Replacement"):
# the createOnlyProperties of each type's registry schema (tests/sandbox/test_resources.py compares
# them with the schemas cfn-lint ships). AWS::KMS::Key has none: CloudFormation refuses a change of
# its KeySpec or KeyUsage rather than replace a key.
REPLACEMENT_PROPERTIES = {
    "AWS::CloudWatch::Alarm": {"AlarmName"},
    "AWS::CloudWatch::Dashboard": {"DashboardName"},
    "AWS::CodeBuild::Project": {"Name"},
    "AWS::CodePipeline::Pipeline": {"Name"},
    "AWS::EC2::SecurityGroup": {"GroupName", "GroupDescription", "VpcId"},
    "AWS::EC2::VPCEndpoint": {
        "DnsOptions",
        "ResourceConfigurationArn",
        "ServiceName",
        "ServiceNetworkArn",
        "ServiceRegion",
        "VpcEndpointType",
        "VpcId",
    },
    "AWS::Events::Rule": {"Name"},
    "AWS::IAM::ManagedPolicy": {"ManagedPolicyName", "Path", "Description"},
    "AWS::IAM::Role": {"RoleName", "Path"},
    "AWS::KMS::Alias": {"AliasName"},
    "AWS::Logs::LogGroup": {"LogGroupName"},
    "AWS::Logs::MetricFilter": {"FilterName", "LogGroupName"},
    "AWS::S3::Bucket": {"BucketName", "BucketNamePrefix", "BucketNamespace"},
    "AWS::S3::BucketPolicy": {"Bucket"},
    "AWS::SNS::Subscription": {"Endpoint", "Protocol", "TopicArn"},
    "AWS::SNS::Topic": {"TopicName", "FifoTopic"},
    "AWS::SSM::Parameter": {"Name"},
    "AWS::SageMaker::ModelPackageGroup": {"ModelPackageGroupName", "ModelPackageGroupDescription"},
}


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


class ResourceChange:
    """One entry of DescribeChangeSet's Changes (serialized through moto's ChangeDTO)."""

    def __init__(self, action: str, logical_id: str, resource_type: str, **fields: Any):
        self.action = action
        self.logical_resource_id = logical_id
        self.resource_type = resource_type
        self.physical_resource_id = fields.get("physical_resource_id")
        self.replacement = fields.get("replacement")
        self.scope = fields.get("scope")
        self.details = fields.get("details")
        self.policy_action = fields.get("policy_action")
        self.resource_drift_status = fields.get("resource_drift_status")  # drift-aware change sets only
        self.reverts_drift = bool(fields.get("reverts_drift"))  # executing it puts template values back


class SandboxChangeSet(ChangeSet):
    capabilities: list[str]  # DescribeChangeSet shows them (moto's ChangeSet drops them)
    deployment_mode: str | None = None  # REVERT_DRIFT: a drift-aware change set
    stack_drift_status: str | None = None

    def diff(self) -> list[ResourceChange]:  # type: ignore[override]
        resource_map = self.stack.resource_map
        self.changed_parameters = changed_parameters(resource_map, self.template_dict, self.parameters)
        return resource_changes(resource_map, self.template_dict, self.changed_parameters)

    def make_drift_aware(self) -> None:
        """DeploymentMode REVERT_DRIFT: each change carries its resource's drift status against the
        last deployment, and a resource the template leaves as it is but that was changed outside
        CloudFormation gets a Modify that puts the template's values back (before: the live value)."""
        self.deployment_mode = "REVERT_DRIFT"
        changes: list[ResourceChange] = self.changes  # type: ignore[assignment]
        listed = {c.logical_resource_id: c for c in changes}
        old = self.stack.resource_map._resource_json_map
        new = self.template_dict.get("Resources") or {}
        drifted = False
        for name in [n for n in new if n in old]:
            status, details = _drift_details(self.stack, name, new[name])
            drifted = drifted or status in ("MODIFIED", "DELETED")
            if name in listed:  # the template changes it too: its drifted values are put back as well
                listed[name].resource_drift_status = status
                shown = {d["Target"].get("Path") for d in listed[name].details or []}
                listed[name].details = [
                    *(listed[name].details or []),
                    *(d for d in details if d["Target"]["Path"] not in shown),
                ]
            elif status == "MODIFIED":  # a deleted resource is not put back here: see the module's gaps
                revert = ResourceChange(
                    "Modify",
                    name,
                    new[name]["Type"],
                    physical_resource_id=_physical_id(self.stack.resource_map, name),
                    replacement="False",
                    scope=["Properties"],
                    details=details,
                    resource_drift_status=status,
                    reverts_drift=True,
                )
                changes.append(revert)
        for change in changes:
            if change.resource_drift_status is None and change.action == "Modify":
                change.resource_drift_status = "UNSUPPORTED"
        self.stack_drift_status = "DRIFTED" if drifted else "IN_SYNC"

    def apply(self) -> None:
        # moto's update modifies what _build_resource_diff lists; drift reverts are not in the template diff
        changes: list[ResourceChange] = self.changes  # type: ignore[assignment]
        resource_map = vars(self.stack.resource_map)
        resource_map["reverting"] = {c.logical_resource_id for c in changes if c.reverts_drift}
        try:
            super().apply()
        finally:
            resource_map.pop("reverting", None)


def _drift_details(stack: Stack, name: str, resource: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(the resource's drift status, DescribeChangeSet details of reverting it)."""
    if resource["Type"] not in drift.READERS:
        return "UNSUPPORTED", []
    found = drift.resource_drift(stack, name)
    recreate = REPLACEMENT_PROPERTIES.get(resource["Type"], set())
    details = []
    for difference in found.get("PropertyDifferences", []):
        path = difference["PropertyPath"]
        deployed, actual = ({"null": None}.get(difference[k], difference[k]) for k in ("ExpectedValue", "ActualValue"))
        prop = path.split("/")[1]
        target: dict[str, Any] = {
            "Attribute": "Properties",
            "Name": prop,
            "RequiresRecreation": "Always" if prop in recreate else "Never",
            "Path": f"/Properties{path}",
            "AttributeChangeType": "Add" if actual is None else "Remove" if deployed is None else "Modify",
            "BeforeValueFrom": "ACTUAL_STATE",
            "AfterValueFrom": "TEMPLATE",
            "Drift": {"PreviousValue": deployed, "ActualValue": actual},
        }
        target |= {k: v for k, v in (("BeforeValue", actual), ("AfterValue", deployed)) if v is not None}
        details.append({"Target": target, "Evaluation": "Static", "ChangeSource": "DirectModification"})
    return found["StackResourceDriftStatus"], details


def install() -> None:
    # ResourceMap.update (ExecuteChangeSet, UpdateStack) then modifies exactly what the change set showed.
    ResourceMap.build_resource_diff = _build_resource_diff  # type: ignore[method-assign]
    CloudFormationBackend.create_change_set = _create_change_set  # type: ignore[method-assign]
    CloudFormationBackend.execute_change_set = _execute_change_set  # type: ignore[method-assign]
    CloudFormationBackend.update_stack = _refuse_empty_update(CloudFormationBackend.update_stack)  # type: ignore[method-assign]
    CloudFormationResponse.create_change_set = _create_change_set_action  # type: ignore[method-assign]
    CloudFormationResponse.list_change_sets = _list_change_sets_action  # type: ignore[method-assign]
    CloudFormationResponse.describe_change_set = _describe_change_set_action  # type: ignore[method-assign]
    CloudFormationResponse.get_template = _get_template_action(CloudFormationResponse.get_template)  # type: ignore[method-assign]


# --- the diff ----------------------------------------------------------------------------------


def resolve_parameters(resource_map: ResourceMap, template: dict[str, Any], inputs: dict[str, Any]) -> dict[str, str]:
    """Parameter values as the new template would see them (defaults applied, SSM types looked up)."""
    ssm = ssm_backends[resource_map._account_id][resource_map._region_name]
    resolved = {}
    for key, declaration in (template.get("Parameters") or {}).items():
        value = inputs.get(key, declaration.get("Default"))
        if declaration.get("Type", "").startswith("AWS::SSM::Parameter::Value") and value is not None:
            parameter = ssm.get_parameter(value)
            value = parameter.value if parameter else value
        resolved[key] = _text(value)
    return resolved


def changed_parameters(resource_map: ResourceMap, template: dict[str, Any], inputs: dict[str, Any]) -> set[str]:
    old = {key: _text(value) for key, value in resource_map.resolved_parameters.items()}
    return {key for key, value in resolve_parameters(resource_map, template, inputs).items() if old.get(key) != value}


def resource_changes(resource_map: ResourceMap, template: dict[str, Any], changed: set[str]) -> list[ResourceChange]:
    old = resource_map._resource_json_map
    new = template.get("Resources") or {}
    modified: dict[str, list[dict[str, Any]]] = {}
    replaced: set[str] = set()
    while True:  # a replaced resource has a new Ref/GetAtt value, which changes the resources using it
        for name in new:
            if name in old and (details := _property_details(old[name], new[name], changed, replaced)):
                modified[name] = details
        newly_replaced = {n for n, d in modified.items() if any(_recreates(x) for x in d)} - replaced
        if not newly_replaced:
            break
        replaced |= newly_replaced
    changes = [ResourceChange("Add", name, new[name]["Type"]) for name in new if name not in old]
    for name in _dependencies_first(modified, new):
        changes.append(
            ResourceChange(
                "Modify",
                name,
                new[name]["Type"],
                physical_resource_id=_physical_id(resource_map, name),
                replacement="True" if name in replaced else "False",
                scope=["Properties"],
                details=modified[name],
            )
        )
    for name in old:
        if name not in new:
            retain = old[name].get("DeletionPolicy") == "Retain"
            changes.append(
                ResourceChange(
                    "Remove",
                    name,
                    old[name]["Type"],
                    physical_resource_id=_physical_id(resource_map, name),
                    policy_action="Retain" if retain else "Delete",
                )
            )
    return changes


def _property_details(
    old: dict[str, Any], new: dict[str, Any], changed: set[str], replaced: set[str]
) -> list[dict[str, Any]]:
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    recreate = REPLACEMENT_PROPERTIES.get(new["Type"], set())
    details = []
    for prop in sorted(old_props.keys() | new_props.keys()):
        references = _references(new_props.get(prop))
        if old_props.get(prop) != new_props.get(prop):
            source, causes = "DirectModification", set()
        elif causes := references & changed:
            source = "ParameterReference"
        elif causes := references & replaced:
            source = "ResourceReference"
        else:
            continue
        target = {
            "Attribute": "Properties",
            "Name": prop,
            "RequiresRecreation": "Always" if prop in recreate else "Never",
        }
        # What DescribeChangeSet adds with IncludePropertyValues: one entry per changed value, by
        # its path (a reference's new value is known only at execution, as AWS says: no values).
        values: list[tuple[str | None, str | None, str | None, str | None]] = list(
            _value_changes(old_props.get(prop), new_props.get(prop), f"/Properties/{prop}")
        )
        for path, before, after, kind in values or [(None, None, None, None)]:
            detail: dict[str, Any] = {"Target": dict(target), "Evaluation": "Static", "ChangeSource": source}
            if path is not None and source == "DirectModification":
                detail["Target"] |= {"Path": path, "AttributeChangeType": kind}
                detail["Target"] |= {k: v for k, v in (("BeforeValue", before), ("AfterValue", after)) if v is not None}
            if causes:
                detail["CausingEntity"] = ",".join(sorted(causes))
            details.append(detail)
    return details


def _value_changes(before: Any, after: Any, path: str) -> Iterator[tuple[str, str | None, str | None, str]]:
    """(path, before, after, Add|Remove|Modify) for each changed leaf, values as text (JSON for
    structures), as CloudFormation reports them."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            yield from _value_changes(before.get(key), after.get(key), f"{path}/{key}")
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from _value_changes(old, new, f"{path}/{index}")
        return
    kind = "Add" if before is None else "Remove" if after is None else "Modify"
    yield path, _value_text(before), _value_text(after), kind


def _value_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _without_property_values(change_set: ChangeSet) -> ChangeSet:
    """The change set as DescribeChangeSet shows it without IncludePropertyValues."""
    shown = copy.copy(change_set)
    shown.changes = []
    for original in change_set.changes:
        change: Any = copy.copy(original)
        if change.details:
            hidden = ("Path", "BeforeValue", "AfterValue", "AttributeChangeType")
            targets: list[dict[str, Any]] = []
            for detail in change.details:
                target = {k: v for k, v in detail["Target"].items() if k not in hidden}
                if (target, detail.get("ChangeSource")) not in [(t["Target"], t.get("ChangeSource")) for t in targets]:
                    targets.append({**detail, "Target": target})
            change.details = targets
        shown.changes.append(change)
    return shown


def _recreates(detail: dict[str, Any]) -> bool:
    return bool(detail["Target"]["RequiresRecreation"] == "Always")


def _dependencies_first(modified: dict[str, Any], resources: dict[str, Any]) -> list[str]:
    """moto updates in list order and resolves Ref/GetAtt when it gets there: referenced ones first."""
    ordered: list[str] = []

    def visit(name: str, path: frozenset[str]) -> None:
        if name in ordered or name in path:
            return
        for dependency in sorted(_references(resources[name]) & modified.keys()):
            visit(dependency, path | {name})
        ordered.append(name)

    for name in modified:
        visit(name, frozenset())
    return ordered


def _references(value: Any) -> set[str]:
    """Logical names a template fragment reads through Ref, Fn::GetAtt or ${Name} in Fn::Sub."""
    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return {target.split(".")[0] if isinstance(target, str) else target[0]}
    if "Fn::Sub" in value:
        text, local = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        names = {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)} - set(local)
        return names | _references(list(local.values()))
    return _references(list(value.values()))


def _physical_id(resource_map: ResourceMap, logical_id: str) -> str | None:
    return getattr(resource_map._parsed_resources.get(logical_id), "physical_resource_id", None)


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _build_resource_diff(
    self: ResourceMap, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    changes = resource_changes(self, other_template, changed_parameters(self, other_template, parameters or {}))
    by_action = {
        action: [c.logical_resource_id for c in changes if c.action == action] for action in ("Add", "Modify", "Remove")
    }
    by_action["Modify"] += sorted(vars(self).get("reverting", set()) - set(by_action["Modify"]))
    return by_action


# --- backend -----------------------------------------------------------------------------------


def review_in_progress_stack(
    backend: CloudFormationBackend, stack_name: str, parameters: Any, tags: Any, **options: Any
) -> Stack:
    """The empty stack a first change set (CREATE or IMPORT) makes: it waits in REVIEW_IN_PROGRESS."""
    stack = Stack(  # type: ignore[abstract]  # moto's Stack misses two CloudFormationModel class methods
        stack_id=generate_stack_id(stack_name, backend.region_name, backend.account_id),
        name=stack_name,
        template={},
        parameters=parameters,
        account_id=backend.account_id,
        region_name=backend.region_name,
        tags=tags,
        cross_stack_resources=backend.exports,
        **options,
    )
    backend.stacks[stack.stack_id] = stack
    stack.status = "REVIEW_IN_PROGRESS"
    stack_lifecycle.add_event(stack, "REVIEW_IN_PROGRESS", "User Initiated")
    return stack


def _create_change_set(
    self: CloudFormationBackend,
    stack_name: str,
    change_set_name: str,
    template: str,
    parameters: dict[str, str],
    description: str,
    change_set_type: str,
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
    capabilities: list[str] | None = None,
    deployment_mode: str | None = None,
) -> tuple[str, str]:
    validate_create_change_set(change_set_name)
    if deployment_mode not in (None, "REVERT_DRIFT"):
        raise ValidationError(message=f"DeploymentMode {deployment_mode} is not one of [REVERT_DRIFT]")
    if deployment_mode and change_set_type != "UPDATE":  # the sandbox's reading: a new stack has no drift
        raise ValidationError(message=f"DeploymentMode {deployment_mode} is for UPDATE change sets only")
    stack = next((s for s in self.stacks.values() if stack_name in (s.name, s.stack_id)), None)
    reviewing = stack is not None and stack.status == "REVIEW_IN_PROGRESS"
    if change_set_type == "UPDATE" and (stack is None or reviewing):
        raise ValidationError(stack_name)
    if change_set_type == "UPDATE" and stack is not None and stack.status == "ROLLBACK_COMPLETE":
        raise ValidationError(message=f"Stack:{stack.stack_id} is in ROLLBACK_COMPLETE state and can not be updated.")
    if change_set_type == "CREATE" and stack is not None and not reviewing:
        raise ValidationError(
            message=f"Stack [{stack_name}] already exists and cannot be created again "
            f"with the changeSet [{change_set_name}]."
        )
    if stack is None:  # CREATE: an empty stack waits in REVIEW_IN_PROGRESS, as in AWS
        stack = review_in_progress_stack(
            self, stack_name, parameters, tags, notification_arns=notification_arns, role_arn=role_arn
        )
    change_set = SandboxChangeSet(
        change_set_type=change_set_type,
        change_set_id=generate_changeset_id(change_set_name, self.region_name, self.account_id),
        change_set_name=change_set_name,
        stack=stack,
        template=template,
        parameters=parameters,
        description=description,
        notification_arns=notification_arns,
        tags=tags,
        role_arn=role_arn,
    )
    change_set.capabilities = capabilities or []
    if deployment_mode:
        change_set.make_drift_aware()
    unchanged = (
        change_set_type == "UPDATE"
        and not change_set.changes
        and not change_set.changed_parameters
        and change_set.template_dict == stack.template_dict
    )
    change_set.status = "FAILED" if unchanged else "CREATE_COMPLETE"
    change_set.execution_status = "UNAVAILABLE" if unchanged else "AVAILABLE"
    change_set.status_reason = NO_CHANGES if unchanged else None
    self.change_sets[change_set.change_set_id] = change_set
    return change_set.change_set_id, stack.stack_id


def _execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = _find_change_set(self, change_set_name, stack_name)
    with _EXECUTING:  # the endpoint serves requests on threads: one execution of a change set, as on AWS
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.status}]"
            )
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
    stack = self.stacks[change_set.stack_id]
    for other in self.change_sets.values():  # as in AWS: the stack changes, its other change sets go stale
        if other is not change_set and other.stack_id == stack.stack_id and other.execution_status == "AVAILABLE":
            other.execution_status = "OBSOLETE"
    creating = change_set.change_set_type == "CREATE"
    previous = (stack.template, stack.parameters)
    vars(stack)["status_reason"] = None
    stack.status = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS"
    stack_lifecycle.add_event(stack, stack.status, "User Initiated")
    try:
        change_set.apply()
    except Exception as error:
        change_set.execution_status = "EXECUTE_FAILED"
        if creating:
            stack_lifecycle.roll_back_create(stack, error)
        else:
            stack_lifecycle.roll_back_update(stack, *previous, error)
        return
    stack.template, stack.parameters = change_set.template, change_set.parameters
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()  # moto kept the outputs of the empty placeholder
    for name in [name for name, export in self.exports.items() if export.exporting_stack_id == stack.stack_id]:
        del self.exports[name]
    self._validate_export_uniqueness(stack)
    self.exports.update({export.name: export for export in stack.exports})
    stack.status = "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE"
    stack_lifecycle.add_event(stack, stack.status)
    change_set.execution_status = "EXECUTE_COMPLETE"


def _refuse_empty_update(update_stack: Callable[..., Stack]) -> Callable[..., Stack]:
    """UpdateStack without changes is an error in AWS (moto only noticed it when parameters were passed)."""

    @functools.wraps(update_stack)
    def wrapper(
        self: CloudFormationBackend, name: str, template: str, role_arn: str | None, parameters: Any, tags: Any
    ) -> Stack:
        stack = self.get_stack(name)
        new = Stack.parse_template(template)
        inputs = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
        changed = changed_parameters(stack.resource_map, new, inputs)
        if not changed and new == stack.template_dict and not resource_changes(stack.resource_map, new, changed):
            raise ValidationError(stack.name, message="No updates are to be performed.")
        return update_stack(self, name, template, role_arn, parameters, tags)

    return wrapper


def _describe_change_set_action(self: CloudFormationResponse) -> ActionResult:
    """DescribeChangeSet; each changed value (path, before, after) only with IncludePropertyValues."""
    change_set = self.cloudformation_backend.describe_change_set(change_set_name=self._get_param("ChangeSetName"))
    if change_set is None:
        return ActionResult(change_set)
    if str(self._get_param("IncludePropertyValues")).lower() != "true":
        change_set = _without_property_values(change_set)
    else:
        change_set = copy.copy(change_set)
    # moto keeps a change set's tags as a mapping and answers none; AWS answers them as CreateChangeSet got them
    shown: Any = change_set
    shown.tags = [{"Key": key, "Value": value} for key, value in (change_set.tags or {}).items()]
    return ActionResult(change_set)


def _get_template_action(get_template: Callable[[CloudFormationResponse], ActionResult]) -> Any:
    """GetTemplate of a change set (ChangeSetName): the template it was made from, as AWS returns
    it; moto ignores the parameter and returns the stack's."""

    def wrapper(self: CloudFormationResponse) -> ActionResult:
        name = self._get_param("ChangeSetName")
        if not name:
            return get_template(self)
        change_set = _find_change_set(self.cloudformation_backend, name, self._get_param("StackName"))
        return ActionResult({"TemplateBody": change_set.template, "StagesAvailable": ["Original", "Processed"]})

    return wrapper


def _find_change_set(backend: CloudFormationBackend, name_or_arn: str, stack_name: str | None) -> ChangeSet:
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name == name_or_arn and stack_name in (change_set.stack_name, change_set.stack_id):
            return change_set
    raise ValidationError(message=f"ChangeSet [{name_or_arn}] does not exist")


# --- API actions -------------------------------------------------------------------------------


def _create_change_set_action(self: CloudFormationResponse) -> ActionResult:
    stack_name = self._get_param("StackName")
    change_set_type = self._get_param("ChangeSetType", "CREATE")
    self.validate_template_and_stack_body()
    stack = self.cloudformation_backend.get_stack(stack_name) if change_set_type == "UPDATE" else None
    template = self._get_param("TemplateBody")
    if self._get_param("TemplateURL"):
        template = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    elif stack is not None and self._get_bool_param("UsePreviousTemplate", False):
        template = stack.template
    parameters = {}
    for parameter in self._get_param("Parameters", []):
        key = parameter["ParameterKey"]
        if not parameter.get("UsePreviousValue"):
            parameters[key] = parameter["ParameterValue"]
        elif stack is not None and key in stack.parameters:  # the raw input (an SSM name stays a name)
            parameters[key] = stack.parameters[key]
    capabilities = self._get_param("Capabilities", [])
    parsed = Stack.parse_template(template)
    stack_lifecycle.require_capabilities(parsed, capabilities)
    _require_listed_types(parsed, self._get_param("ResourceTypes", []))
    # The backend's create_change_set is this module's _create_change_set, which takes capabilities.
    change_set_id, stack_id = self.cloudformation_backend.create_change_set(  # type: ignore[call-arg]
        stack_name=stack_name,
        change_set_name=self._get_param("ChangeSetName"),
        template=template,
        parameters=parameters,
        description=self._get_param("Description"),
        change_set_type=change_set_type,
        notification_arns=self._get_param("NotificationARNs", []),
        tags={tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])},
        role_arn=self._get_param("RoleARN"),
        capabilities=capabilities,
        deployment_mode=self._get_param("DeploymentMode"),
    )
    return ActionResult({"Id": change_set_id, "StackId": stack_id})


def _require_listed_types(template: dict[str, Any], listed: list[str]) -> None:
    """With ResourceTypes (AWS::*, AWS::EC2::*, Custom::* allowed), every resource of the template
    must be of a listed type, or CloudFormation refuses it."""
    if not listed:
        return
    types = sorted({r.get("Type", "") for r in (template.get("Resources") or {}).values()})
    outside = [t for t in types if not any(fnmatch.fnmatchcase(t, pattern) for pattern in listed)]
    if outside:
        raise ValidationError(message=f"Resource types {outside} are not in the request's ResourceTypes {listed}")


def _list_change_sets_action(self: CloudFormationResponse) -> ActionResult:
    stack_name = self._get_param("StackName")
    change_sets = [
        change_set
        for change_set in self.cloudformation_backend.list_change_sets()
        if stack_name in (change_set.stack_name, change_set.stack_id)
    ]
    return ActionResult({"Summaries": change_sets})

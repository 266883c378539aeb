"""Stack lifecycle details a deploy tool relies on and moto 5.2 gets wrong.

- per-resource stack events (moto only records stack-level ones);
- a failing create/update ends in ROLLBACK_COMPLETE / UPDATE_ROLLBACK_COMPLETE with a reason,
  instead of an HTTP error that leaves the stack IN_PROGRESS forever;
- DeletionPolicy Retain also holds when an update removes the resource;
- DeleteStack honours termination protection (UpdateTerminationProtection is added) and a failed
  delete leaves the stack DELETE_FAILED instead of half-removed, its failed resource DELETE_FAILED and
  the ones it deleted DELETE_COMPLETE (reading the stack no longer creates them again);
- TemplateURL may point at this endpoint (http://127.0.0.1:<port>/bucket/key);
- IAM resources require CAPABILITY_IAM / CAPABILITY_NAMED_IAM like in AWS;
- SSM-typed parameters keep their SSM name as ParameterValue (resolved value in ResolvedValue).

What the sandbox records on moto's objects beyond their declared attributes (a stack's
`status_reason`, which DescribeStacks shows as StackStatusReason) goes through `vars()`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack, cloudformation_backends
from moto.cloudformation.parsing import OutputMap, ResourceMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.s3.models import s3_backends

IAM_TYPES = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}


CANCELLED = {"CREATE": "Resource creation cancelled", "UPDATE": "Resource update cancelled"}


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


def install() -> None:
    # Replacing moto's methods: mypy forbids assigning to a method (method-assign) and reads a
    # wrapper's Callable type as another type than the method's (assignment).
    # moto's models and responses import get_stack_from_s3_url from its utils: both names are rebound.
    vars(models)["get_stack_from_s3_url"] = vars(responses)["get_stack_from_s3_url"] = get_stack_from_s3_url
    parsing.parse_and_create_resource = _with_events(parsing.parse_and_create_resource, "CREATE")
    parsing.parse_and_update_resource = _with_events(parsing.parse_and_update_resource, "UPDATE")
    ResourceMap._delete_resource = _delete_resource(ResourceMap._delete_resource)  # type: ignore[method-assign]
    ResourceMap.delete = _delete_with_retain_events(ResourceMap.delete)  # type: ignore[method-assign,assignment]
    ResourceMap.__getitem__ = _nothing_created_after_delete(ResourceMap.__getitem__)  # type: ignore[method-assign]
    ResourceMap.update = _update(ResourceMap.update)  # type: ignore[method-assign]
    Stack.create_resources = _create_resources(Stack.create_resources)  # type: ignore[method-assign,assignment]
    Stack.update = _stack_update(Stack.update)  # type: ignore[method-assign]
    Stack.parameter_list = property(_parameter_list)  # type: ignore[assignment,method-assign]
    Stack.stack_resources = property(_recorded_resources)  # type: ignore[assignment,method-assign]
    CloudFormationBackend.delete_stack = _delete_stack  # type: ignore[method-assign]
    CloudFormationResponse.update_termination_protection = _update_termination_protection  # type: ignore[attr-defined]
    CloudFormationResponse.validate_template = _validate_template  # type: ignore[method-assign]
    CloudFormationResponse.list_stack_resources = _list_stack_resources  # type: ignore[method-assign]
    responses.StackResourceDTO.__init__ = _resource_dto_init(responses.StackResourceDTO.__init__)  # type: ignore[method-assign]
    CloudFormationResponse.create_stack = _capabilities_checked(CloudFormationResponse.create_stack)  # type: ignore[method-assign,assignment]
    CloudFormationResponse.update_stack = _capabilities_checked(CloudFormationResponse.update_stack)  # type: ignore[method-assign,assignment]


# --- events ------------------------------------------------------------------------------------


def stack_of(resource_map: ResourceMap) -> Stack | None:
    backend = cloudformation_backends[resource_map._account_id][resource_map._region_name]
    return backend.stacks.get(resource_map.stack_id)


def add_event(
    stack: Stack | None,
    status: str,
    reason: str | None = None,
    logical_id: str | None = None,
    physical_id: str | None = None,
    resource_type: str = "AWS::CloudFormation::Stack",
) -> None:
    if stack is None:  # e.g. the hidden stacks of service-managed stack sets
        return
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id or stack.name,
        physical_resource_id=(physical_id or "") if logical_id else stack.stack_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _with_events(parse: Callable[..., Any], verb: str) -> Callable[..., Any]:
    @functools.wraps(parse)
    def wrapper(
        logical_id: str, resource_json: dict[str, Any], resources_map: ResourceMap, *args: Any, **kw: Any
    ) -> Any:
        stack = stack_of(resources_map)
        resource_type = resource_json["Type"]
        try:
            resource = parse(logical_id, resource_json, resources_map, *args, **kw)
        except Exception as error:
            # Resources are created lazily through Ref/GetAtt, so one failure unwinds its dependents too.
            first = not hasattr(error, "failed_resource")
            if first:
                error.failed_resource = logical_id  # type: ignore[attr-defined]
            reason = str(error) if first else CANCELLED[verb]
            last = stack.events[-1] if stack and stack.events else None
            if last is None or (last.logical_resource_id, last.resource_status_reason) != (logical_id, reason):
                add_event(stack, f"{verb}_IN_PROGRESS", None, logical_id, "", resource_type)
                add_event(stack, f"{verb}_FAILED", reason, logical_id, "", resource_type)
            raise
        if resource is not None:  # None: a false Condition, or a type nothing models
            physical_id = getattr(resource, "physical_resource_id", "")
            add_event(stack, f"{verb}_IN_PROGRESS", None, logical_id, physical_id, resource_type)
            add_event(stack, f"{verb}_COMPLETE", None, logical_id, physical_id, resource_type)
        return resource

    return wrapper


@dataclass(frozen=True)
class DeletedResource:
    """What the stack still records of a resource it deleted (the model object may no longer resolve)."""

    logical_resource_id: str
    physical_resource_id: str
    cf_resource_type: str


def _delete_resource(delete: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(delete)
    def wrapper(self: ResourceMap, resource: Any, resource_json: dict[str, Any]) -> None:
        logical_id = resource.logical_resource_id
        physical_id = getattr(resource, "physical_resource_id", "")
        if resource_json.get("DeletionPolicy") == "Retain":  # reached when an update removes it
            add_event(stack_of(self), "DELETE_SKIPPED", None, logical_id, physical_id, resource_json["Type"])
            return
        try:
            delete(self, resource, resource_json)
        except Exception as error:
            error.failed_deletion = (logical_id, physical_id, resource_json["Type"])  # type: ignore[attr-defined]
            raise
        deleted = DeletedResource(logical_id, physical_id, resource_json["Type"])  # still listed, DELETE_COMPLETE
        self.__dict__.setdefault("deleted_resources", {})[logical_id] = deleted
        add_event(stack_of(self), "DELETE_IN_PROGRESS", None, logical_id, physical_id, resource_json["Type"])
        add_event(stack_of(self), "DELETE_COMPLETE", None, logical_id, physical_id, resource_json["Type"])

    return wrapper


def _delete_with_retain_events(delete: Callable[[ResourceMap], None]) -> Callable[[ResourceMap], None]:
    @functools.wraps(delete)
    def wrapper(self: ResourceMap) -> None:
        self.deleted = True  # type: ignore[attr-defined]
        for logical_id, resource_json in self._resource_json_map.items():
            resource = self._parsed_resources.get(logical_id)
            if resource_json.get("DeletionPolicy") == "Retain" and resource is not None:
                physical_id = getattr(resource, "physical_resource_id", "")
                add_event(stack_of(self), "DELETE_SKIPPED", None, logical_id, physical_id, resource_json["Type"])
        delete(self)

    return wrapper


def _nothing_created_after_delete(getitem: Callable[[ResourceMap, str], Any]) -> Callable[[ResourceMap, str], Any]:
    """moto's resource map creates a resource the first time it is looked up. Once the stack's resources
    are deleted (DELETE_FAILED, or a rolled-back create), a lookup is a read: what is gone stays gone."""

    @functools.wraps(getitem)
    def wrapper(self: ResourceMap, key: str) -> Any:
        if getattr(self, "deleted", False) and key in self._resource_json_map and key not in self._parsed_resources:
            return None
        return getitem(self, key)

    return wrapper


def _update(update: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(update)
    def wrapper(self: ResourceMap, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        # moto keeps the previous inputs when none are given; AWS falls back to the defaults.
        self.input_parameters = parameters or {}
        update(self, template, parameters)
        # moto forgets to drop removed resources, so re-adding the logical id later was a no-op.
        for logical_id in list(self._parsed_resources):
            if logical_id not in self._resource_json_map and hasattr(
                self._parsed_resources[logical_id], "logical_resource_id"
            ):
                del self._parsed_resources[logical_id]

    return wrapper


def resource_status(stack: Stack, logical_id: str) -> tuple[str, str | None]:
    """A resource's status is its latest event (moto reported the stack's status for every resource)."""
    for event in reversed(stack.events):
        if event.logical_resource_id == logical_id:
            return event.resource_status, event.resource_status_reason
    return stack.status, None


def _resource_dto_init(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: Any, stack: Stack, resource: Any) -> None:
        init(self, stack, resource)
        self.resource_status, self.resource_status_reason = resource_status(stack, self.logical_resource_id)

    return wrapper


def _recorded_resources(self: Stack) -> list[Any]:
    """The stack's resources as CloudFormation records them, deleted ones (DELETE_COMPLETE) included.
    moto listed its lazy resource map, which creates a resource it has not got: reading a DELETE_FAILED
    or rolled-back stack re-created what the delete had removed."""
    resource_map = self.resource_map
    deleted = getattr(resource_map, "deleted_resources", {})
    recorded = []
    for logical_id in resource_map._resource_json_map:
        resource = resource_map._parsed_resources.get(logical_id, deleted.get(logical_id))
        if resource is not None:
            recorded.append(resource)
    return recorded


def _list_stack_resources(self: CloudFormationResponse) -> ActionResult:
    stack, resources = self.cloudformation_backend.list_stack_resources(self._get_param("StackName"))
    summaries = []
    resource: Any  # moto's model objects (its signature says their classes)
    for resource in resources:
        if resource is None:  # a type nothing models
            continue
        status, reason = resource_status(stack, resource.logical_resource_id)
        summaries.append(
            {
                "LogicalResourceId": resource.logical_resource_id,
                "PhysicalResourceId": getattr(resource, "physical_resource_id", ""),
                "ResourceType": resource.cf_resource_type,
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
                "LastUpdatedTimestamp": stack.creation_time,
            }
        )
    return ActionResult({"StackResourceSummaries": summaries})


# --- failures and rollback ---------------------------------------------------------------------


def _failure_reason(error: Exception, verb: str) -> str:
    failed = getattr(error, "failed_resource", None)
    if failed is None:
        return str(error)
    return f"The following resource(s) failed to {verb}: [{failed}]. Rollback requested by user."


def roll_back_create(stack: Stack, error: Exception) -> None:
    vars(stack)["status_reason"] = reason = _failure_reason(error, "create")
    stack.status = "ROLLBACK_IN_PROGRESS"
    add_event(stack, stack.status, reason)
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)  # a rolled-back stack has no outputs
    try:
        stack.resource_map.delete()
    except Exception as rollback_error:
        stack.status = "ROLLBACK_FAILED"
        add_event(stack, stack.status, str(rollback_error))
        return
    stack.status = "ROLLBACK_COMPLETE"
    add_event(stack, stack.status)


def roll_back_update(stack: Stack, template: Any, parameters: dict[str, Any], error: Exception) -> None:
    """CloudFormation's rollback is an update back to the previous template; do the same."""
    vars(stack)["status_reason"] = reason = _failure_reason(error, "update")
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    add_event(stack, stack.status, reason)
    stack.template, stack.parameters = template, parameters
    stack._parse_template()
    try:
        stack.resource_map.update(stack.template_dict, parameters)
    except Exception as rollback_error:
        stack.status = "UPDATE_ROLLBACK_FAILED"
        add_event(stack, stack.status, str(rollback_error))
        return
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    add_event(stack, stack.status)


def _create_resources(create: Callable[[Stack], None]) -> Callable[[Stack], None]:
    @functools.wraps(create)
    def wrapper(self: Stack) -> None:
        try:
            create(self)
        except Exception as error:
            roll_back_create(self, error)

    return wrapper


def _stack_update(update: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(update)
    def wrapper(self: Stack, template: str, *args: Any, **kwargs: Any) -> None:
        previous = (self.template, self.parameters)
        vars(self)["status_reason"] = None
        try:
            update(self, template, *args, **kwargs)
        except Exception as error:
            roll_back_update(self, *previous, error)

    return wrapper


def _delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    stack = next((s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)), None)
    if stack is None:  # AWS: deleting a stack that does not exist succeeds
        return
    if stack.enable_termination_protection:
        raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
    vars(stack)["status_reason"] = None
    stack.outputs  # noqa: B018 - read while their resources exist: a DELETE_FAILED stack keeps its outputs
    try:
        stack.delete()
    except Exception as error:
        if hasattr(error, "failed_deletion"):
            logical_id, physical_id, resource_type = error.failed_deletion
            add_event(stack, "DELETE_IN_PROGRESS", None, logical_id, physical_id, resource_type)
            add_event(stack, "DELETE_FAILED", str(error), logical_id, physical_id, resource_type)
        stack.status = "DELETE_FAILED"
        vars(stack)["status_reason"] = str(error)
        add_event(stack, stack.status, str(error))
        return
    del self.stacks[stack.stack_id]
    self.deleted_stacks[stack.stack_id] = stack
    for name in [name for name, export in self.exports.items() if export.exporting_stack_id == stack.stack_id]:
        del self.exports[name]


def _update_termination_protection(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = bool(self._get_param("EnableTerminationProtection"))
    return ActionResult({"StackId": stack.stack_id})


# --- templates, capabilities, parameters -------------------------------------------------------


def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
    """Read a template from moto's S3: virtual-hosted AWS URLs or path-style ones on any host."""
    url = urlparse(template_url)
    host = url.hostname or ""
    path = unquote(url.path.lstrip("/"))
    if host.endswith("amazonaws.com") and not host.startswith("s3"):
        bucket, key = host[: host.index(".s3")], path
    else:
        bucket, key = path.split("/", 1)
    stored = s3_backends[account_id][partition].get_object(bucket, key)
    if stored is None:
        raise ValidationError(
            message=f"TemplateURL must reference a valid S3 object to which you have access: {template_url}"
        )
    return stored.value.decode("utf-8")


def required_capabilities(template: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The capability AWS demands for a template's IAM resources, and the types that need it."""
    needed, types = None, []
    for resource in (template or {}).get("Resources", {}).values():
        resource_type = resource.get("Type")
        if resource_type not in IAM_TYPES:
            continue
        types.append(resource_type)
        name_property = IAM_TYPES[resource_type]
        if name_property and name_property in resource.get("Properties", {}):
            needed = "CAPABILITY_NAMED_IAM"
        elif needed is None:
            needed = "CAPABILITY_IAM"
    return needed, sorted(set(types))


def require_capabilities(template: dict[str, Any], capabilities: list[str]) -> None:
    needed, _ = required_capabilities(template)
    if needed == "CAPABILITY_IAM" and "CAPABILITY_NAMED_IAM" in capabilities:
        return
    if needed and needed not in capabilities:
        raise InsufficientCapabilities(f"Requires capabilities : [{needed}]")


def _validate_template(self: CloudFormationResponse) -> ActionResult:
    """AWS checks the template's structure; moto ran cfn-lint and failed on its *warnings*."""
    body = self._get_param("TemplateBody")
    if self._get_param("TemplateURL"):
        body = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    try:
        template = Stack.parse_template(body)
    except ValueError as error:
        raise ValidationError(message=f"Template format error: {error}") from error
    if not isinstance(template, dict) or not template.get("Resources"):
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    for name, resource in template["Resources"].items():
        if not isinstance(resource, dict) or "Type" not in resource:
            raise ValidationError(
                message=f"Template format error: [/Resources/{name}] Every Resources object must contain a Type member."
            )
    result: dict[str, Any] = {
        "Description": template.get("Description"),
        "Parameters": [
            {
                "ParameterKey": key,
                "DefaultValue": None if "Default" not in p else str(p["Default"]),
                "NoEcho": str(p.get("NoEcho", False)).lower() == "true",
                "Description": p.get("Description"),
            }
            for key, p in (template.get("Parameters") or {}).items()
        ],
    }
    needed, types = required_capabilities(template)
    if needed:
        result["Capabilities"] = [needed]
        result["CapabilitiesReason"] = f"The following resource(s) require capabilities: [{', '.join(types)}]"
    return ActionResult(result)


def _capabilities_checked(action: Callable[[CloudFormationResponse], Any]) -> Callable[[CloudFormationResponse], Any]:
    @functools.wraps(action)
    def wrapper(self: CloudFormationResponse) -> Any:
        body = self._get_param("TemplateBody")
        if not body and self._get_param("TemplateURL"):
            body = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
        if body:
            require_capabilities(Stack.parse_template(body), self._get_param("Capabilities", []))
        return action(self)

    return wrapper


def _parameter_list(self: Stack) -> list[dict[str, Any]]:
    declared = self.template_dict.get("Parameters") or {}
    resource_map = self.resource_map
    result = []
    for key, value in resource_map.resolved_parameters.items():
        if key not in declared:  # left over from a previous template
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        entry = {"ParameterKey": key, "ParameterValue": text}
        if declared[key].get("Type", "").startswith("AWS::SSM::Parameter::Value"):
            entry["ParameterValue"] = str(self.parameters.get(key, declared[key].get("Default")))
            entry["ResolvedValue"] = text
        if key in getattr(resource_map, "no_echo_parameter_keys", []):
            entry["ParameterValue"] = "****"
        result.append(entry)
    return result

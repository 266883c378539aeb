"""Resource import: CreateChangeSet with ChangeSetType=IMPORT and ResourcesToImport (moto 5.2 has none).

The rules are AWS's ("Bringing existing resources into CloudFormation management"): the template
describes the whole stack, i.e. its current resources plus those to import, nothing else is added,
changed or removed, and Outputs stay as they are; each resource to import has a DeletionPolicy, is
named by its type's primary identifier, exists, and belongs to no other stack. A new stack waits in
REVIEW_IN_PROGRESS like a CREATE. Executing adopts the service backends' own objects (nothing is
created), so Ref/GetAtt, DescribeStackResources, drift and later updates see them like created ones.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import clean_json
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import generate_changeset_id, validate_create_change_set
from moto.codecommit.models import codecommit_backends
from moto.core.responses import ActionResult
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends
from moto.utilities.utils import get_partition

from . import stack_lifecycle
from .change_sets import ResourceChange, SandboxChangeSet, review_in_progress_stack
from .cloudformation_models import CodeCommitRepository, ModelPackageGroup

# (account, region, identifier value, template properties) -> the existing resource, None if absent
Finder = Callable[[str, str, str, dict[str, Any]], Any]


def _bucket(account: str, region: str, name: str, _: dict[str, Any]) -> Any:
    return s3_backends[account][get_partition(region)].buckets.get(name)


def _repository(account: str, region: str, repository_id: str, properties: dict[str, Any]) -> Any:
    backend = codecommit_backends[account][region]
    for name, repository in backend.repositories.items():
        if repository.repository_metadata["repositoryId"] == repository_id:
            return CodeCommitRepository(name, properties, account, region)
    return None


def _model_package_group(account: str, region: str, arn: str, properties: dict[str, Any]) -> Any:
    for name, group in sagemaker_backends[account][region].model_package_groups.items():
        if group.arn == arn:
            return ModelPackageGroup(name, properties, account, region)
    return None


def _kms_key(account: str, region: str, key_id: str, _: dict[str, Any]) -> Any:
    key = kms_backends[account][region].keys.get(key_id)
    return None if key is None or key.key_state == "PendingDeletion" else key


def _log_group(account: str, region: str, name: str, _: dict[str, Any]) -> Any:
    return logs_backends[account][region].groups.get(name)


# Each type's primary identifier (its CloudFormation registry schema's primaryIdentifier).
IMPORTABLE: dict[str, tuple[str, Finder]] = {
    "AWS::S3::Bucket": ("BucketName", _bucket),
    "AWS::CodeCommit::Repository": ("RepositoryId", _repository),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupArn", _model_package_group),
    "AWS::KMS::Key": ("KeyId", _kms_key),
    "AWS::Logs::LogGroup": ("LogGroupName", _log_group),
}


class ImportChangeSet(SandboxChangeSet):
    def __init__(self, *, resources_to_import: list[dict[str, Any]], **fields: Any):
        self.resources_to_import = resources_to_import  # diff() reads them during __init__
        super().__init__(**fields)

    def diff(self) -> list[ResourceChange]:  # type: ignore[override]
        self.changed_parameters = set()
        return [
            ResourceChange(
                "Import",
                r["LogicalResourceId"],
                r["ResourceType"],
                physical_resource_id=next(iter(r["ResourceIdentifier"].values())),
            )
            for r in self.resources_to_import
        ]


def install() -> None:
    CloudFormationResponse.create_change_set = _imports_too(CloudFormationResponse.create_change_set)  # type: ignore[method-assign]
    CloudFormationBackend.execute_change_set = _executes_imports(CloudFormationBackend.execute_change_set)  # type: ignore[method-assign]


# --- CreateChangeSet ---------------------------------------------------------------------------


def _imports_too(create_change_set: Callable[[CloudFormationResponse], ActionResult]) -> Callable[..., ActionResult]:
    @functools.wraps(create_change_set)
    def wrapper(self: CloudFormationResponse) -> ActionResult:
        if self._get_param("ChangeSetType") != "IMPORT":
            return create_change_set(self)
        template = self._get_param("TemplateBody")
        if self._get_param("TemplateURL"):
            template = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
        change_set = create_import_change_set(
            self.cloudformation_backend,
            stack_name=self._get_param("StackName"),
            change_set_name=self._get_param("ChangeSetName"),
            template=template,
            parameters={p["ParameterKey"]: p["ParameterValue"] for p in self._get_param("Parameters", [])},
            resources_to_import=self._get_param("ResourcesToImport", []),
            tags={tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])},
            description=self._get_param("Description"),
        )
        return ActionResult({"Id": change_set.change_set_id, "StackId": change_set.stack_id})

    return wrapper


def create_import_change_set(
    backend: CloudFormationBackend,
    *,
    stack_name: str,
    change_set_name: str,
    template: str,
    parameters: dict[str, str],
    resources_to_import: list[dict[str, Any]],
    tags: dict[str, str],
    description: str | None,
) -> ImportChangeSet:
    validate_create_change_set(change_set_name)
    stack = next((s for s in backend.stacks.values() if stack_name in (s.name, s.stack_id)), None)
    new_stack = stack is None or stack.status == "REVIEW_IN_PROGRESS"
    if stack is not None and not new_stack and not stack.status.endswith("_COMPLETE"):
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    wanted = Stack.parse_template(template)
    _validate(backend, stack if not new_stack else None, wanted, resources_to_import)
    if stack is None:  # as for CREATE: an empty stack waits in REVIEW_IN_PROGRESS
        stack = review_in_progress_stack(backend, stack_name, parameters, tags)
    change_set = ImportChangeSet(
        resources_to_import=resources_to_import,
        change_set_type="IMPORT",
        change_set_id=generate_changeset_id(change_set_name, backend.region_name, backend.account_id),
        change_set_name=change_set_name,
        stack=stack,
        template=template,
        parameters=parameters,
        description=description or "",
        tags=tags,
    )
    change_set.capabilities = []
    change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
    backend.change_sets[change_set.change_set_id] = change_set
    return change_set


def _validate(
    backend: CloudFormationBackend, stack: Stack | None, wanted: dict[str, Any], to_import: list[dict[str, Any]]
) -> None:
    resources = wanted.get("Resources") or {}
    current = stack.resource_map._resource_json_map if stack else {}
    importing = {r["LogicalResourceId"] for r in to_import}
    if not to_import:
        raise ValidationError(message="ResourcesToImport must name at least one resource")
    changed = sorted(
        n for n in resources.keys() | current.keys() if n not in importing and resources.get(n) != current.get(n)
    )
    if changed:
        raise ValidationError(
            message=f"As part of the import operation, you cannot modify or add [{', '.join(changed)}]"
        )
    if (wanted.get("Outputs") or {}) != ((stack.template_dict.get("Outputs") or {}) if stack else {}):
        raise ValidationError(message="As part of the import operation, you cannot modify or add [Outputs]")
    for request in to_import:
        logical_id, resource_type = request["LogicalResourceId"], request["ResourceType"]
        declared = resources.get(logical_id)
        if declared is None or declared.get("Type") != resource_type:
            raise ValidationError(message=f"Resource {logical_id} of type {resource_type} is not in the template")
        if logical_id in current:
            raise ValidationError(message=f"Resource {logical_id} already exists in stack {stack.name}")  # type: ignore[union-attr]
        if "DeletionPolicy" not in declared:
            raise ValidationError(
                message=f"The following resources to import [{logical_id}] must have DeletionPolicy attribute "
                "specified in the template."
            )
        if resource_type not in IMPORTABLE:
            raise ValidationError(message=f"Resource type {resource_type} does not support resource import")
        key, find = IMPORTABLE[resource_type]
        identifier = request.get("ResourceIdentifier") or {}
        if set(identifier) != {key}:
            raise ValidationError(
                message=f"Invalid resource identifier {sorted(identifier)} for {logical_id}: "
                f"{resource_type} is identified by [{key}]"
            )
        value = identifier[key]
        if find(backend.account_id, backend.region_name, value, {}) is None:
            raise ValidationError(message=f"Resource {value} of type {resource_type} does not exist")
        owner = _owning_stack(backend, resource_type, value)
        if owner is not None:
            raise ValidationError(
                message=f"Resource {value} of type {resource_type} already belongs to stack {owner.stack_id}"
            )


def _owning_stack(backend: CloudFormationBackend, resource_type: str, identifier: str) -> Stack | None:
    for stack in backend.stacks.values():
        if stack.status == "REVIEW_IN_PROGRESS":
            continue
        for logical_id, json in stack.resource_map._resource_json_map.items():
            resource = stack.resource_map._parsed_resources.get(logical_id)
            if json.get("Type") == resource_type and resource is not None and identifier in _identities(resource):
                return stack
    return None


def _identities(resource: Any) -> set[str]:
    """Every value an identifier of the resource may take (its name, id and ARN)."""
    values = {getattr(resource, "physical_resource_id", None), getattr(resource, "name", None)}
    for attribute in ("id", "arn"):
        with contextlib.suppress(KeyError, AttributeError):  # a sandbox model whose resource is gone
            values.add(getattr(resource, attribute, None))
    return {v for v in values if isinstance(v, str)}


# --- ExecuteChangeSet --------------------------------------------------------------------------


def _executes_imports(execute_change_set: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(execute_change_set)
    def wrapper(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name)
        if not isinstance(change_set, ImportChangeSet) or change_set.execution_status != "AVAILABLE":
            return execute_change_set(self, change_set_name, stack_name)
        _execute_import(self, change_set)
        return None

    return wrapper


def _execute_import(backend: CloudFormationBackend, change_set: ImportChangeSet) -> None:
    stack = backend.stacks[change_set.stack_id]
    new_stack = stack.status == "REVIEW_IN_PROGRESS"
    stack.status, vars(stack)["status_reason"] = "IMPORT_IN_PROGRESS", None
    stack_lifecycle.add_event(stack, stack.status, "User Initiated")
    found = {}
    for request in change_set.resources_to_import:
        key, find = IMPORTABLE[request["ResourceType"]]
        value = request["ResourceIdentifier"][key]
        properties = change_set.template_dict["Resources"][request["LogicalResourceId"]].get("Properties", {})
        resource = find(backend.account_id, backend.region_name, value, properties)
        if resource is None or _owning_stack(backend, request["ResourceType"], value) is not None:
            reason = f"Resource {value} of type {request['ResourceType']} no longer exists or belongs to another stack"
            stack_lifecycle.add_event(
                stack, "IMPORT_FAILED", reason, request["LogicalResourceId"], value, request["ResourceType"]
            )
            stack.status = "IMPORT_ROLLBACK_COMPLETE"
            vars(stack)["status_reason"] = reason
            stack_lifecycle.add_event(stack, stack.status, reason)
            change_set.execution_status = "EXECUTE_FAILED"
            return
        resource.logical_resource_id, resource.cf_resource_type = request["LogicalResourceId"], request["ResourceType"]
        found[request["LogicalResourceId"]] = resource
    resource_map = stack.resource_map
    resource_map._template = change_set.template_dict
    resource_map._resource_json_map = change_set.template_dict["Resources"]
    if new_stack:
        resource_map.input_parameters = change_set.parameters
        resource_map.load_mapping()
        resource_map.load_parameters()
        resource_map.load_conditions()
    resource_map._parsed_resources.update(found)  # adopted before any property refers to one of them
    for logical_id, resource in found.items():
        if hasattr(resource, "properties"):  # sandbox models compare later updates with these
            json = resource_map._resource_json_map[logical_id]
            resource.properties = clean_json(json.get("Properties", {}), resource_map)
        physical_id = getattr(resource, "physical_resource_id", "")
        stack_lifecycle.add_event(stack, "IMPORT_IN_PROGRESS", None, logical_id, physical_id, resource.cf_resource_type)
        stack_lifecycle.add_event(stack, "IMPORT_COMPLETE", None, logical_id, physical_id, resource.cf_resource_type)
    stack.template, stack.parameters = change_set.template, change_set.parameters
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    stack.status = "IMPORT_COMPLETE"
    stack_lifecycle.add_event(stack, stack.status)
    change_set.execution_status = "EXECUTE_COMPLETE"

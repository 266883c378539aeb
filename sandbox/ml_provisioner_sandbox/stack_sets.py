"""CloudFormation StackSets across the sandbox's accounts, for a bootstrap that puts a role and a
bucket into many accounts.

moto 5.2 keeps service-managed instances in hidden stacks no account can see, never updates an
instance's stack when the stack set changes, reports every instance CURRENT whatever its stack
did, and has no auto-deployment. Here each stack instance is a real stack in its account and
region (named StackSet-<name>-<uuid>, as in AWS), made, updated and deleted through that
account's CloudFormation, and its status is what its stack did:

- CreateStackSet / UpdateStackSet / DescribeStackSet / DeleteStackSet (SELF_MANAGED with
  AdministrationRoleARN and ExecutionRoleName; SERVICE_MANAGED with AutoDeployment);
- CreateStackInstances (Accounts + Regions, or DeploymentTargets.OrganizationalUnitIds resolved
  through moto's Organizations, sub-OUs included and the management account excluded, as in AWS),
  DeleteStackInstances (the same targets, RetainStacks), ListStackInstances, DescribeStackInstance;
- DescribeStackSetOperation, ListStackSetOperations, ListStackSetOperationResults;
- auto-deployment: an account created in or moved into a targeted OU gets the stack set's instances;
  one moved out loses them unless RetainStacksOnAccountRemoval;
- trusted access with Organizations (Activate/Deactivate/DescribeOrganizationsAccess): off until
  activated, and a SERVICE_MANAGED stack set is refused without it, as in AWS.

A self-managed instance needs the execution role in its account (AWS assumes it there); without
it the instance fails with AWS's reason. Operations complete synchronously (no concurrency or
failure tolerance: the first failed instance fails the operation, the others still run).
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.cloudformation.exceptions import (
    StackInstanceNotFound,
    StackSetNotEmpty,
    StackSetNotFoundException,
    ValidationError,
)
from moto.cloudformation.models import CloudFormationBackend, Event, Stack, cloudformation_backends
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.organizations.models import OrganizationsBackend, organizations_backends
from moto.utilities.utils import get_partition

from . import stack_lifecycle

DEFAULT_ADMIN_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"


@dataclass
class StackInstance:
    account: str
    region: str
    organizational_unit: str | None
    stack_id: str | None = None
    status: str = "CURRENT"  # CURRENT | OUTDATED | INOPERABLE
    reason: str | None = None
    detailed: str = "SUCCEEDED"  # SUCCEEDED | FAILED | CANCELLED | ...
    last_operation: str = ""

    def summary(self, stack_set: StackSet) -> dict[str, Any]:
        summary = {
            "StackSetId": stack_set.id,
            "Account": self.account,
            "Region": self.region,
            "StackId": self.stack_id,
            "Status": self.status,
            "StatusReason": self.reason,
            "StackInstanceStatus": {"DetailedStatus": self.detailed},
            "DriftStatus": "NOT_CHECKED",
            "LastOperationId": self.last_operation,
        }
        if self.organizational_unit:
            summary["OrganizationalUnitId"] = self.organizational_unit
        return {k: v for k, v in summary.items() if v is not None}


@dataclass
class Operation:
    id: str
    action: str  # CREATE | UPDATE | DELETE
    retain_stacks: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    created: datetime = field(default_factory=utcnow)
    ended: datetime | None = None

    @property
    def status(self) -> str:
        return "FAILED" if any(r["Status"] == "FAILED" for r in self.results) else "SUCCEEDED"

    def record(self, instance: StackInstance, status: str, reason: str | None) -> None:
        result = {"Account": instance.account, "Region": instance.region, "Status": status}
        if reason:
            result["StatusReason"] = reason
        if instance.organizational_unit:
            result["OrganizationalUnitId"] = instance.organizational_unit
        self.results.append(result)

    def summary(self, stack_set: StackSet) -> dict[str, Any]:
        return {
            "OperationId": self.id,
            "StackSetId": stack_set.id,
            "Action": self.action,
            "Status": self.status,
            "RetainStacks": self.retain_stacks,
            "AdministrationRoleARN": stack_set.admin_role_arn,
            "ExecutionRoleName": stack_set.execution_role_name,
            "CreationTimestamp": self.created,
            "EndTimestamp": self.ended,
            "OperationPreferences": {"RegionConcurrencyType": "SEQUENTIAL"},
        }


@dataclass
class StackSet:
    name: str
    account: str  # the administrator account
    region: str
    template: str
    parameters: dict[str, str]
    capabilities: list[str]
    description: str | None
    tags: dict[str, str]
    permission_model: str
    admin_role_arn: str
    execution_role_name: str
    auto_deployment: dict[str, bool] | None
    id: str = ""
    status: str = "ACTIVE"
    instances: dict[tuple[str, str], StackInstance] = field(default_factory=dict)
    targeted: dict[str, set[str]] = field(default_factory=dict)  # OU id -> regions (service-managed)
    operations: dict[str, Operation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = f"{self.name}:{uuid.uuid4()}"

    @property
    def arn(self) -> str:
        return f"arn:{get_partition(self.region)}:cloudformation:{self.region}:{self.account}:stackset/{self.id}"

    @property
    def service_managed(self) -> bool:
        return self.permission_model == "SERVICE_MANAGED"

    def description_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "StackSetName": self.name,
            "StackSetId": self.id,
            "StackSetARN": self.arn,
            "Description": self.description,
            "Status": self.status,
            "TemplateBody": self.template,
            "Parameters": dict(self.parameters),  # moto's serializer makes them lists
            "Capabilities": self.capabilities,
            "Tags": dict(self.tags),
            "PermissionModel": self.permission_model,
            "ManagedExecution": {"Active": False},
        }
        if self.service_managed:
            described["AutoDeployment"] = self.auto_deployment or {"Enabled": False}
            described["OrganizationalUnitIds"] = sorted(self.targeted)
        else:
            described["AdministrationRoleARN"] = self.admin_role_arn
            described["ExecutionRoleName"] = self.execution_role_name
        return {k: v for k, v in described.items() if v is not None}

    # --- instances ---------------------------------------------------------------------------

    def start(self, action: str, operation_id: str | None = None, retain_stacks: bool = False) -> Operation:
        operation = Operation(operation_id or str(uuid.uuid4()), action, retain_stacks)
        self.operations[operation.id] = operation
        return operation

    def create_instance(self, operation: Operation, account: str, region: str, ou: str | None) -> None:
        if (account, region) in self.instances:  # AWS: an existing instance is left as it is
            return
        instance = self.instances[(account, region)] = StackInstance(account, region, ou)
        instance.last_operation = operation.id
        missing_role = self._missing_execution_role(account)
        if missing_role:
            self._fail(operation, instance, missing_role)
            return
        backend = cloudformation_backends[account][region]
        stack = backend.create_stack(
            name=f"StackSet-{self.name}-{uuid.uuid4()}",
            template=self.template,
            parameters=dict(self.parameters),
            tags=dict(self.tags),
        )
        instance.stack_id = stack.stack_id
        self._settle(operation, instance, stack, "CREATE_COMPLETE", since=0)

    def update_instance(self, operation: Operation, instance: StackInstance) -> None:
        instance.last_operation = operation.id
        stack = self._stack(instance)
        if stack is None:  # its create failed before a stack existed: create it now
            del self.instances[(instance.account, instance.region)]
            self.create_instance(operation, instance.account, instance.region, instance.organizational_unit)
            return
        if stack.status == "ROLLBACK_COMPLETE":  # a failed create can only be deleted and made again
            cloudformation_backends[instance.account][instance.region].delete_stack(stack.stack_id)
            del self.instances[(instance.account, instance.region)]
            self.create_instance(operation, instance.account, instance.region, instance.organizational_unit)
            return
        since = len(stack.events)
        stack.update(self.template, parameters=dict(self.parameters), tags=dict(self.tags))
        self._settle(operation, instance, stack, "UPDATE_COMPLETE", since)

    def delete_instance(self, operation: Operation, instance: StackInstance) -> None:
        instance.last_operation = operation.id
        stack = self._stack(instance)
        if stack is not None and not operation.retain_stacks:
            cloudformation_backends[instance.account][instance.region].delete_stack(stack.stack_id)
            if stack.stack_id in cloudformation_backends[instance.account][instance.region].stacks:
                self._fail(operation, instance, vars(stack).get("status_reason") or stack.status)
                return
        del self.instances[(instance.account, instance.region)]
        operation.record(instance, "SUCCEEDED", None)

    def _stack(self, instance: StackInstance) -> Stack | None:
        stacks = cloudformation_backends[instance.account][instance.region].stacks
        return stacks.get(instance.stack_id) if instance.stack_id else None

    def _settle(self, operation: Operation, instance: StackInstance, stack: Stack, success: str, since: int) -> None:
        """The instance's status from what its stack did (the stack's events from `since` on)."""
        if stack.status == success:
            instance.status, instance.reason, instance.detailed = "CURRENT", None, "SUCCEEDED"
            operation.record(instance, "SUCCEEDED", None)
        else:
            failure = _first_failure(stack.events[since:]) or vars(stack).get("status_reason") or stack.status
            self._fail(operation, instance, failure)

    @staticmethod
    def _fail(operation: Operation, instance: StackInstance, reason: str) -> None:
        instance.status, instance.reason, instance.detailed = "OUTDATED", reason, "FAILED"
        operation.record(instance, "FAILED", reason)

    def _missing_execution_role(self, account: str) -> str | None:
        if self.service_managed:  # AWS makes its own service-linked roles in member accounts
            return None
        roles = iam_backends[account][get_partition(self.region)].roles.values()
        if any(role.name == self.execution_role_name for role in roles):
            return None
        admin_role = self.admin_role_arn.rsplit("/", 1)[-1]
        return (
            f"Account {account} should have '{self.execution_role_name}' role with trust relationship "
            f"to Role '{admin_role}'."
        )


def _first_failure(events: list[Event]) -> str | None:
    """AWS's instance reason names the first failed resource: "ResourceLogicalId:..., ResourceType:...,
    ResourceStatusReason:..."."""
    for event in events:
        if event.resource_status.endswith("_FAILED") and event.resource_type != "AWS::CloudFormation::Stack":
            return (
                f"ResourceLogicalId:{event.logical_resource_id}, ResourceType:{event.resource_type}, "
                f"ResourceStatusReason:{event.resource_status_reason}."
            )
    return None


# --- where stack sets live ---------------------------------------------------------------------

_ADMINISTRATORS: set[tuple[str, str]] = set()  # (account, region) of every backend holding stack sets
# The endpoint serves requests on threads; one operation at a time, as AWS runs one per stack set.
_OPERATING = threading.RLock()


def _one_at_a_time(action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(action)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _OPERATING:
            return action(*args, **kwargs)

    return wrapper


def stack_sets(backend: CloudFormationBackend) -> dict[str, StackSet]:
    """The backend's stack sets by name (moto's backend keeps its own, which this module replaces)."""
    _ADMINISTRATORS.add((backend.account_id, backend.region_name))
    held: dict[str, StackSet] = vars(backend).setdefault("sandbox_stack_sets", {})
    return held


def all_stack_sets() -> Iterator[StackSet]:
    for account, region in sorted(_ADMINISTRATORS):
        yield from stack_sets(cloudformation_backends[account][region]).values()


def find(backend: CloudFormationBackend, name_or_id: str) -> StackSet:
    for stack_set in stack_sets(backend).values():
        if stack_set.status == "ACTIVE" and name_or_id in (stack_set.name, stack_set.id, stack_set.arn):
            return stack_set
    raise StackSetNotFoundException(name_or_id)


# --- Organizations -----------------------------------------------------------------------------


def _organization(stack_set: StackSet) -> OrganizationsBackend:
    backend = organizations_backends[stack_set.account][get_partition(stack_set.region)]
    if backend.org is None:
        raise ValidationError(message="StackSets with SERVICE_MANAGED permission model require AWS Organizations.")
    return backend


def _ancestors(organization: OrganizationsBackend, parent_id: str) -> list[str]:
    chain = []
    while parent_id:
        chain.append(parent_id)
        unit = next((ou for ou in organization.ou if ou.id == parent_id), None)
        parent_id = getattr(unit, "parent_id", None) or ""
    return chain


def _accounts_in(stack_set: StackSet, ou_ids: list[str]) -> list[tuple[str, str]]:
    """(account, targeted OU) for the accounts under the OUs, sub-OUs included; never the management account."""
    organization = _organization(stack_set)
    assert organization.org is not None
    management = organization.org.master_account_id
    found = []
    for account in organization.accounts:
        if account.id == management or account.status != "ACTIVE":
            continue
        chain = _ancestors(organization, account.parent_id)
        ou = next((ou_id for ou_id in ou_ids if ou_id in chain), None)
        if ou is not None:
            found.append((account.id, ou))
    return found


def _trusted_access(backend: CloudFormationBackend) -> dict[str, bool]:
    """StackSets' trusted access with the caller's organization (off until activated)."""
    organization = organizations_backends[backend.account_id][get_partition(backend.region_name)]
    access: dict[str, bool] = vars(organization).setdefault("stack_sets_trusted_access", {"active": False})
    return access


def _describe_organizations_access(self: CloudFormationResponse) -> ActionResult:
    active = _trusted_access(self.cloudformation_backend)["active"]
    return ActionResult({"Status": "ENABLED" if active else "DISABLED"})


def _activate_organizations_access(self: CloudFormationResponse) -> EmptyResult:
    backend = self.cloudformation_backend
    if organizations_backends[backend.account_id][get_partition(backend.region_name)].org is None:
        raise ValidationError(message="The account is not the management account of an organization")
    _trusted_access(backend)["active"] = True
    return EmptyResult()


def _deactivate_organizations_access(self: CloudFormationResponse) -> EmptyResult:
    _trusted_access(self.cloudformation_backend)["active"] = False
    return EmptyResult()


def _account_placed(organization: OrganizationsBackend, account_id: str) -> None:
    """Auto-deployment: the account now sits where it sits; give or take the instances that follow."""
    account = next((a for a in organization.accounts if a.id == account_id), None)
    if account is None or organization.org is None:
        return
    chain = _ancestors(organization, account.parent_id)
    for stack_set in list(all_stack_sets()):
        deployment = stack_set.auto_deployment or {}
        if stack_set.status != "ACTIVE" or not stack_set.service_managed or not deployment.get("Enabled"):
            continue
        if stack_set.account != organization.org.master_account_id:
            continue
        wanted = {region: ou for ou, regions in stack_set.targeted.items() if ou in chain for region in regions}
        held = [i for i in stack_set.instances.values() if i.account == account_id]
        if wanted:
            operation = stack_set.start("CREATE")
            for region, ou in sorted(wanted.items()):
                stack_set.create_instance(operation, account_id, region, ou)
            operation.ended = utcnow()
        elif held:
            retain = bool(deployment.get("RetainStacksOnAccountRemoval"))
            operation = stack_set.start("DELETE", retain_stacks=retain)
            for instance in held:
                stack_set.delete_instance(operation, instance)
            operation.ended = utcnow()


def _after_create_account(create: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(create)
    def wrapper(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
        created = create(self, **kwargs)
        _account_placed(self, created["CreateAccountStatus"]["AccountId"])
        return created

    return wrapper


def _after_move_account(move: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(move)
    def wrapper(self: OrganizationsBackend, **kwargs: Any) -> None:
        move(self, **kwargs)
        _account_placed(self, kwargs["AccountId"])

    return wrapper


# --- API actions -------------------------------------------------------------------------------


def _template(self: CloudFormationResponse) -> str | None:
    if self._get_param("TemplateURL"):
        body: str = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
        return body
    body_param: str | None = self._get_param("TemplateBody")
    return body_param


def _create_stack_set(self: CloudFormationResponse) -> ActionResult:
    backend = self.cloudformation_backend
    name = self._get_param("StackSetName")
    if any(s.name == name and s.status == "ACTIVE" for s in stack_sets(backend).values()):
        raise ValidationError(message=f"StackSet {name} already exists")  # NameAlreadyExistsException in AWS
    template = _template(self)
    if not template:
        raise ValidationError(message="Either TemplateBody or TemplateURL must be specified")
    capabilities = self._get_param("Capabilities", [])
    stack_lifecycle.require_capabilities(Stack.parse_template(template), capabilities)
    model = self._get_param("PermissionModel") or "SELF_MANAGED"
    if model == "SERVICE_MANAGED" and not _trusted_access(backend)["active"]:
        raise ValidationError(message="You must enable organizations access to operate a service managed stack set")
    partition = get_partition(backend.region_name)
    stack_set = StackSet(
        name=name,
        account=backend.account_id,
        region=backend.region_name,
        template=template,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in self._get_param("Parameters", [])},
        capabilities=capabilities,
        description=self._get_param("Description"),
        tags={t["Key"]: t["Value"] for t in self._get_param("Tags", [])},
        permission_model=model,
        admin_role_arn=self._get_param("AdministrationRoleARN")
        or f"arn:{partition}:iam::{backend.account_id}:role/{DEFAULT_ADMIN_ROLE}",
        execution_role_name=self._get_param("ExecutionRoleName") or DEFAULT_EXECUTION_ROLE,
        auto_deployment=_auto_deployment(self, model),
    )
    stack_sets(backend)[stack_set.id] = stack_set
    return ActionResult({"StackSetId": stack_set.id})


def _auto_deployment(self: CloudFormationResponse, model: str) -> dict[str, bool] | None:
    given = self._get_params().get("AutoDeployment")
    if not given:
        return None
    if model != "SERVICE_MANAGED":
        raise ValidationError(message="AutoDeployment is only supported for SERVICE_MANAGED stack sets")
    deployment = {"Enabled": str(given.get("Enabled")).lower() == "true"}
    if "RetainStacksOnAccountRemoval" in given:
        deployment["RetainStacksOnAccountRemoval"] = str(given["RetainStacksOnAccountRemoval"]).lower() == "true"
    return deployment


def _describe_stack_set(self: CloudFormationResponse) -> ActionResult:
    return ActionResult(
        {"StackSet": find(self.cloudformation_backend, self._get_param("StackSetName")).description_dict()}
    )


def _list_stack_sets(self: CloudFormationResponse) -> ActionResult:
    status = self._get_param("Status")
    summaries = [
        {
            "StackSetName": s.name,
            "StackSetId": s.id,
            "Description": s.description,
            "Status": s.status,
            "PermissionModel": s.permission_model,
            **({"AutoDeployment": s.auto_deployment} if s.auto_deployment else {}),
        }
        for s in stack_sets(self.cloudformation_backend).values()
        if status is None or s.status == status
    ]
    return ActionResult({"Summaries": [{k: v for k, v in s.items() if v is not None} for s in summaries]})


def _targets(self: CloudFormationResponse, stack_set: StackSet) -> list[tuple[str, str, str | None]]:
    """(account, region, OU) the request names: Accounts x Regions, or the accounts of DeploymentTargets' OUs."""
    regions = self._get_param("Regions", [])
    targets = self._get_params().get("DeploymentTargets") or {}
    ou_ids = targets.get("OrganizationalUnitIds") or []
    accounts = self._get_param("Accounts", []) or targets.get("Accounts") or []
    if stack_set.service_managed:
        if not ou_ids:
            raise ValidationError(
                message="StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
            )
        return [(account, region, ou) for account, ou in _accounts_in(stack_set, ou_ids) for region in regions]
    if ou_ids:
        raise ValidationError(message="StackSets with SELF_MANAGED permission model can only have accounts as target")
    return [(account, region, None) for account in accounts for region in regions]


def _create_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    targets = _targets(self, stack_set)
    if stack_set.service_managed:
        ou_ids = (self._get_params().get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []
        for ou in ou_ids:
            stack_set.targeted.setdefault(ou, set()).update(self._get_param("Regions", []))
    operation = stack_set.start("CREATE", self._get_param("OperationId"))
    for account, region, ou in targets:
        stack_set.create_instance(operation, account, region, ou)
    operation.ended = utcnow()
    return ActionResult({"OperationId": operation.id})


def _update_stack_set(self: CloudFormationResponse) -> ActionResult:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    template = stack_set.template if self._get_bool_param("UsePreviousTemplate", False) else _template(self)
    if template:
        capabilities = self._get_param("Capabilities", [])
        stack_lifecycle.require_capabilities(Stack.parse_template(template), capabilities)
        stack_set.template, stack_set.capabilities = template, capabilities
    for parameter in self._get_param("Parameters", []):
        if not parameter.get("UsePreviousValue"):
            stack_set.parameters[parameter["ParameterKey"]] = parameter["ParameterValue"]
    if self._get_param("Description") is not None:
        stack_set.description = self._get_param("Description")
    if self._get_param("Tags") is not None:
        stack_set.tags = {t["Key"]: t["Value"] for t in self._get_param("Tags")}
    stack_set.admin_role_arn = self._get_param("AdministrationRoleARN") or stack_set.admin_role_arn
    stack_set.execution_role_name = self._get_param("ExecutionRoleName") or stack_set.execution_role_name
    if self._get_params().get("AutoDeployment"):
        stack_set.auto_deployment = _auto_deployment(self, stack_set.permission_model)
    operation = stack_set.start("UPDATE", self._get_param("OperationId"))
    named = {(a, r) for a, r, _ in _targets(self, stack_set)} if self._get_param("Regions") else None
    for key, instance in sorted(stack_set.instances.items()):
        if named is None or key in named:
            stack_set.update_instance(operation, instance)
        else:  # AWS: the instances left out keep the old template and show it
            instance.status = "OUTDATED"
    operation.ended = utcnow()
    return ActionResult({"OperationId": operation.id})


def _delete_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    named = {(account, region) for account, region, _ in _targets(self, stack_set)}
    operation = stack_set.start(
        "DELETE", self._get_param("OperationId"), retain_stacks=self._get_bool_param("RetainStacks", False)
    )
    for key in sorted(named & set(stack_set.instances)):
        stack_set.delete_instance(operation, stack_set.instances[key])
    if stack_set.service_managed:
        remaining = {i.organizational_unit for i in stack_set.instances.values()}
        for ou in [ou for ou in stack_set.targeted if ou not in remaining]:
            del stack_set.targeted[ou]
    operation.ended = utcnow()
    return ActionResult({"OperationId": operation.id})


def _delete_stack_set(self: CloudFormationResponse) -> EmptyResult:
    backend = self.cloudformation_backend
    name = self._get_param("StackSetName")
    for stack_set in stack_sets(backend).values():
        if stack_set.status == "ACTIVE" and name in (stack_set.name, stack_set.id):
            if stack_set.instances:
                raise StackSetNotEmpty()
            stack_set.status = "DELETED"
    return EmptyResult()


def _list_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    account, region = self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion")
    summaries = [
        instance.summary(stack_set)
        for (a, r), instance in sorted(stack_set.instances.items())
        if account in (None, a) and region in (None, r)
    ]
    return ActionResult({"Summaries": summaries})


def _describe_stack_instance(self: CloudFormationResponse) -> ActionResult:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    key = (self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion"))
    if key not in stack_set.instances:
        raise StackInstanceNotFound()
    described = stack_set.instances[key].summary(stack_set)
    described["ParameterOverrides"] = []
    return ActionResult({"StackInstance": described})


def _operation(self: CloudFormationResponse) -> tuple[StackSet, Operation]:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    operation_id = self._get_param("OperationId")
    if operation_id not in stack_set.operations:
        raise ValidationError(message=f"Operation {operation_id} not found")  # OperationNotFoundException in AWS
    return stack_set, stack_set.operations[operation_id]


def _describe_stack_set_operation(self: CloudFormationResponse) -> ActionResult:
    stack_set, operation = _operation(self)
    return ActionResult({"StackSetOperation": operation.summary(stack_set)})


def _list_stack_set_operations(self: CloudFormationResponse) -> ActionResult:
    stack_set = find(self.cloudformation_backend, self._get_param("StackSetName"))
    summaries = [
        {
            k: v
            for k, v in o.summary(stack_set).items()
            if k in ("OperationId", "Action", "Status", "CreationTimestamp", "EndTimestamp")
        }
        for o in reversed(stack_set.operations.values())
    ]
    return ActionResult({"Summaries": summaries})


def _list_stack_set_operation_results(self: CloudFormationResponse) -> ActionResult:
    _, operation = _operation(self)
    return ActionResult({"Summaries": operation.results})


def install() -> None:
    # Replacing moto's handlers: mypy forbids assigning to a method.
    actions: dict[str, Callable[[CloudFormationResponse], Any]] = {
        "create_stack_set": _create_stack_set,
        "update_stack_set": _update_stack_set,
        "describe_stack_set": _describe_stack_set,
        "list_stack_sets": _list_stack_sets,
        "delete_stack_set": _delete_stack_set,
        "create_stack_instances": _create_stack_instances,
        "delete_stack_instances": _delete_stack_instances,
        "list_stack_instances": _list_stack_instances,
        "describe_stack_instance": _describe_stack_instance,
        "describe_stack_set_operation": _describe_stack_set_operation,
        "list_stack_set_operations": _list_stack_set_operations,
        "list_stack_set_operation_results": _list_stack_set_operation_results,
        "describe_organizations_access": _describe_organizations_access,
        "activate_organizations_access": _activate_organizations_access,
        "deactivate_organizations_access": _deactivate_organizations_access,
    }
    for name, action in actions.items():
        setattr(CloudFormationResponse, name, _one_at_a_time(action))
    create_account = _one_at_a_time(_after_create_account(OrganizationsBackend.create_account))
    move_account = _one_at_a_time(_after_move_account(OrganizationsBackend.move_account))
    OrganizationsBackend.create_account = create_account  # type: ignore[method-assign]
    OrganizationsBackend.move_account = move_account  # type: ignore[method-assign]

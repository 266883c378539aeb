"""Deploying the bootstrap template (ml_provisioner.bootstrap_template): into one account as a stack,
through a change set; into many as a CloudFormation StackSet (self-managed with explicit
accounts, or service-managed targeting Organizations OUs with automatic deployment to accounts
that join them), watching the StackSet operation and reporting every stack instance."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from ml_provisioner import staging
from ml_provisioner.aws.changes import create_change_set
from ml_provisioner.aws.lifecycle import _ensure_staging_bucket
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.aws.stack import stack_state, watch
from ml_provisioner.bootstrap_template import STACK_NAME
from ml_provisioner.config.regions import partition_of
from ml_provisioner.errors import BadInput, OperationFailed
from ml_provisioner.synth import render_yaml

TAGS = {"ml-provisioner:bootstrap": "true"}
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"  # a self-managed StackSet acts through it
OPERATION_DONE = ("SUCCEEDED", "FAILED", "STOPPED")
POLL_SECONDS = 3.0


# -- one account: a stack ---------------------------------------------------------------------------


def deploy_stack(aws: AwsSession, template: dict[str, Any], *, say: Callable[[str], None] = lambda _: None) -> str:
    """Create or update the bootstrap stack; the outcome ("created", "updated", "no changes").
    A template too large for TemplateBody goes through the staging bucket, which the stack's first
    version creates when it does not exist yet."""
    cfn = aws.client("cloudformation")
    state = stack_state(aws, STACK_NAME)
    if state.busy:
        raise OperationFailed(f"stack {STACK_NAME} is {state.status}", "wait until it settles, then run again")
    if state.status == "ROLLBACK_COMPLETE":
        raise OperationFailed(
            f"stack {STACK_NAME} is ROLLBACK_COMPLETE (its creation failed)",
            f"see why: aws cloudformation describe-stack-events --stack-name {STACK_NAME} --region {aws.region}; "
            "then delete it",
        )
    instance = _stack_set_instance(cfn)
    if instance and not state.exists:
        raise BadInput(
            f"this account and region hold the bootstrap StackSet's instance {instance}: a {STACK_NAME} stack "
            "would create the same boundaries and roles, and fail",
            "bootstrap it with the StackSet (run bootstrap with the StackSet's configs and --stack-set or "
            "--org-unit), or remove the instance first",
        )
    managed = state.exists and "StagingBucket" in _resources(aws)
    bucket = staging.STAGING_BUCKET_FORMAT.format(account=aws.caller_account(), region=aws.region)
    if not managed and _bucket_exists(aws, bucket):  # made earlier by a deploy: keep it as it is
        say(f"staging bucket {bucket} exists already (not this stack's): left as it is")
        template = _without_staging_bucket(template)
    text = render_yaml(template)
    outcome = "updated" if state.exists else "created"
    if staging.needs_staging(text) and not managed and "StagingBucket" in template["Resources"]:
        say(f"the template is over {staging.TEMPLATE_BODY_LIMIT} bytes: the staging bucket first")
        _apply(aws, _only_staging_bucket(template), "UPDATE" if state.exists else "CREATE")
        state = stack_state(aws, STACK_NAME)
    changed = _apply(aws, template, "UPDATE" if state.exists else "CREATE", bucket=bucket)
    cfn.update_termination_protection(StackName=STACK_NAME, EnableTerminationProtection=True)
    return outcome if changed or outcome == "created" else "no changes"


def _stack_set_instance(cfn: Any) -> str | None:
    """The live stack of a bootstrap StackSet instance here (AWS names it StackSet-<set>-<id>), if any."""
    prefix = f"StackSet-{STACK_NAME}-"
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackName"].startswith(prefix) and summary["StackStatus"] != "DELETE_COMPLETE":
                return str(summary["StackName"])
    return None


def _apply(aws: AwsSession, template: dict[str, Any], change_type: str, bucket: str | None = None) -> bool:
    text = render_yaml(template)
    source = _source(aws, text, bucket) if bucket else {"TemplateBody": text}
    change_set = create_change_set(
        aws, stack_name=STACK_NAME, change_type=change_type, template=source, tags=TAGS, new_template=template
    )
    if change_set.empty:
        return False
    aws.client("cloudformation").execute_change_set(ChangeSetName=change_set.arn)
    state = watch(aws, STACK_NAME, "stack_create_complete" if change_type == "CREATE" else "stack_update_complete")
    if state.status != f"{change_type}_COMPLETE":
        raise OperationFailed(
            state.describe(),
            f"see why: aws cloudformation describe-stack-events --stack-name {STACK_NAME} --region {aws.region}",
        )
    return True


def _source(aws: AwsSession, text: str, bucket: str) -> dict[str, str]:
    if not staging.needs_staging(text):
        return {"TemplateBody": text}
    return {"TemplateURL": _upload(aws, text, bucket)}


def _upload(aws: AwsSession, text: str, bucket: str) -> str:
    key = f"templates/{STACK_NAME}/{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    aws.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=text.encode(),
        ServerSideEncryption="AES256",
        ExpectedBucketOwner=aws.caller_account(),  # never into another account's bucket of that name
    )
    return aws.object_url(bucket, key)


def _resources(aws: AwsSession) -> set[str]:
    resources = aws.client("cloudformation").describe_stack_resources(StackName=STACK_NAME)["StackResources"]
    return {r["LogicalResourceId"] for r in resources}


def _bucket_exists(aws: AwsSession, bucket: str) -> bool:
    try:
        aws.client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=aws.caller_account())
        return True
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def _without_staging_bucket(template: dict[str, Any]) -> dict[str, Any]:
    resources = {k: v for k, v in template["Resources"].items() if not k.startswith("StagingBucket")}
    return {**template, "Resources": resources}


def _only_staging_bucket(template: dict[str, Any]) -> dict[str, Any]:
    resources = {k: v for k, v in template["Resources"].items() if k.startswith("StagingBucket")}
    return {k: v for k, v in template.items() if k != "Conditions"} | {"Resources": resources}


# -- many accounts: a StackSet ----------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    account: str
    region: str
    status: str  # CURRENT | OUTDATED | INOPERABLE
    detailed: str  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | INOPERABLE | SKIPPED_SUSPENDED_ACCOUNT
    reason: str = ""
    org_unit: str = ""  # service-managed: the targeted OU the account was found under

    @property
    def ok(self) -> bool:
        return self.status == "CURRENT" and self.detailed in ("SUCCEEDED", "")


@dataclass(frozen=True)
class StackSetTargets:
    regions: list[str]
    accounts: list[str]  # self-managed: the accounts; service-managed: [] (the OUs decide)
    org_units: list[str]  # service-managed: the OUs, with automatic deployment
    administration_role_arn: str | None = None  # self-managed
    execution_role_name: str | None = None  # self-managed
    delegated_admin: bool = False  # service-managed, run from a delegated administrator account
    max_concurrent: int = 10
    # The selected products' accounts: service-managed, the OUs decide the targets, and these are
    # the ones checked for a single-account bootstrap stack before anything is created.
    product_accounts: tuple[str, ...] = ()

    @property
    def service_managed(self) -> bool:
        return bool(self.org_units)


def deploy_stack_set(
    aws: AwsSession,
    template: dict[str, Any],
    targets: StackSetTargets,
    *,
    on_instances: Callable[[list[Instance]], None] = lambda _: None,
) -> list[Instance]:
    """Create or update the StackSet, add the missing stack instances, wait for each operation and
    return every instance's status (shown as it changes through on_instances)."""
    cfn = aws.client("cloudformation")
    call_as = {"CallAs": "DELEGATED_ADMIN"} if targets.delegated_admin else {}
    if targets.service_managed:
        require_trusted_access(cfn, call_as)
    refuse_single_stacks(aws, targets)
    text = render_yaml(template)
    source: dict[str, str] = {"TemplateBody": text}
    if staging.needs_staging(text):  # StackSets read a large template from S3 in this (the administrator) account
        bucket = staging.STAGING_BUCKET_FORMAT.format(account=aws.caller_account(), region=aws.region)
        _ensure_staging_bucket(aws, bucket, aws.region, aws.caller_account())
        source = {"TemplateURL": _upload(aws, text, bucket)}
    preferences = {
        "FailureToleranceCount": 0,
        "MaxConcurrentCount": targets.max_concurrent,
        "RegionConcurrencyType": "PARALLEL",
    }
    common: dict[str, Any] = {
        "StackSetName": STACK_NAME,
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()],
        **source,
        **call_as,
    }
    permissions: dict[str, Any]
    if targets.service_managed:
        permissions = {
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": True},
        }
    else:
        permissions = {"PermissionModel": "SELF_MANAGED"}
        if targets.administration_role_arn:
            permissions["AdministrationRoleARN"] = targets.administration_role_arn
        if targets.execution_role_name:
            permissions["ExecutionRoleName"] = targets.execution_role_name
    if _stack_set_exists(cfn, call_as):
        operation = cfn.update_stack_set(**common, **permissions, OperationPreferences=preferences)["OperationId"]
        _wait(cfn, operation, call_as, lambda: on_instances(instances(aws, call_as)))
    else:
        cfn.create_stack_set(**common, **permissions, Description="ml-provisioner bootstrap (see its README)")
    found = instances(aws, call_as)
    existing = {(i.account, i.region) for i in found}
    if targets.service_managed:
        # per region, the OUs with no instance there yet: an OU added later, in a region the StackSet
        # already serves, gets its instances too (an OU without accounts is asked again: a no-op)
        placed = {(i.org_unit, i.region) for i in found}
        for region in targets.regions:
            new_units = [ou for ou in targets.org_units if (ou, region) not in placed]
            if not new_units:
                continue
            operation = cfn.create_stack_instances(
                StackSetName=STACK_NAME,
                DeploymentTargets={"OrganizationalUnitIds": new_units},
                Regions=[region],
                OperationPreferences=preferences,
                **call_as,
            )["OperationId"]
            _wait(cfn, operation, call_as, lambda: on_instances(instances(aws, call_as)))
    else:
        missing = [a for a in targets.accounts if any((a, r) not in existing for r in targets.regions)]
        if missing:
            operation = cfn.create_stack_instances(
                StackSetName=STACK_NAME,
                Accounts=missing,
                Regions=targets.regions,
                OperationPreferences=preferences,
                **call_as,
            )["OperationId"]
            _wait(cfn, operation, call_as, lambda: on_instances(instances(aws, call_as)))
    found = instances(aws, call_as)
    on_instances(found)
    return found


def require_trusted_access(cfn: Any, call_as: dict[str, str]) -> None:
    """A service-managed StackSet needs StackSets' trusted access with Organizations (AWS refuses
    one without it); turning it on is the management account's decision, never made here."""
    status = cfn.describe_organizations_access(**call_as).get("Status")
    if status != "ENABLED":
        raise BadInput(
            f"trusted access between CloudFormation StackSets and AWS Organizations is {status}: a StackSet for "
            "--org-unit cannot be created",
            "in the management account, once: aws cloudformation activate-organizations-access (or the StackSets "
            'console\'s "Activate trusted access"); or target accounts with --account (a self-managed StackSet)',
        )


def refuse_single_stacks(aws: AwsSession, targets: StackSetTargets) -> None:
    """Refuse (exit 2) targets that hold the single-account bootstrap stack: its boundaries and
    roles have the names the StackSet's instance would create there, so that instance would fail.
    The targets are the accounts (self-managed) or, service-managed, the selected products'
    accounts. Each is read through the execution role, as the StackSet acts; one that cannot be
    read is left to the StackSet, which reports a conflict as the instance's reason."""
    role = targets.execution_role_name or DEFAULT_EXECUTION_ROLE
    found = []
    for account in targets.product_accounts if targets.service_managed else targets.accounts:
        target = _through_execution_role(aws, account, role)
        if target is None:
            continue
        for region in targets.regions:
            try:
                [stack] = target(region).describe_stacks(StackName=STACK_NAME)["Stacks"]
            except botocore.exceptions.ClientError as error:
                if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                    continue
                raise
            if stack.get("StackStatus") != "DELETE_COMPLETE":
                found.append(f"{account}/{region}")
    if found:
        raise BadInput(
            f"{', '.join(found)} already hold(s) the single-account bootstrap stack {STACK_NAME}: a StackSet "
            "instance there would create the same boundaries and roles, and fail",
            "bootstrap those accounts one by one as before (without --stack-set), or delete their "
            f"{STACK_NAME} stack first (it is termination-protected) and run this again",
        )


def _through_execution_role(aws: AwsSession, account: str, role: str) -> Callable[[str], Any] | None:
    """CloudFormation clients in the account, by region, through the StackSet's execution role (None
    when the caller may not assume it: the StackSet's administration role may, the caller need not)."""
    if account == aws.caller_account():
        return lambda region: AwsSession(region, aws.endpoint_url, profile=aws.profile).client("cloudformation")
    arn = f"arn:{partition_of(aws.region)}:iam::{account}:role/{role}"
    try:
        credentials = aws.client("sts").assume_role(RoleArn=arn, RoleSessionName="ml-provisioner-bootstrap-check")
    except botocore.exceptions.ClientError:
        return None
    keys = credentials["Credentials"]

    def client(region: str) -> Any:
        session = boto3.Session(
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
            region_name=region,
        )
        return AwsSession(region, aws.endpoint_url, boto_session=session).client("cloudformation")

    return client


def instances(aws: AwsSession, call_as: dict[str, str] | None = None) -> list[Instance]:
    cfn = aws.client("cloudformation")
    found, token = [], None
    while True:
        paging: dict[str, str] = {"NextToken": token} if token else {}
        page = cfn.list_stack_instances(StackSetName=STACK_NAME, **(call_as or {}), **paging)
        for summary in page.get("Summaries", []):
            found.append(
                Instance(
                    summary["Account"],
                    summary["Region"],
                    summary.get("Status", ""),
                    summary.get("StackInstanceStatus", {}).get("DetailedStatus", ""),
                    summary.get("StatusReason", ""),
                    summary.get("OrganizationalUnitId", ""),
                )
            )
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=lambda i: (i.account, i.region))


def _stack_set_exists(cfn: Any, call_as: dict[str, str]) -> bool:
    try:
        status = cfn.describe_stack_set(StackSetName=STACK_NAME, **call_as)["StackSet"].get("Status")
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("StackSetNotFoundException", "StackSetNotFound"):
            return False
        raise
    return bool(status != "DELETED")


def _wait(cfn: Any, operation: str, call_as: dict[str, str], show: Callable[[], None], limit: float = 3600) -> None:
    """Wait for a StackSet operation; a failed one is reported by its instances (the caller shows them)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        status = cfn.describe_stack_set_operation(StackSetName=STACK_NAME, OperationId=operation, **call_as)[
            "StackSetOperation"
        ]["Status"]
        show()
        if status in OPERATION_DONE:
            return
        time.sleep(POLL_SECONDS)
    raise OperationFailed(
        f"StackSet operation {operation} still running after {limit:.0f} s",
        f"aws cloudformation describe-stack-set-operation --stack-set-name {STACK_NAME} --operation-id {operation} "
        f"--region {cfn.meta.region_name}",
    )

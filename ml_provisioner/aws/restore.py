"""Bringing a product back with its data.

The data-bearing resources (artifacts bucket, repositories, model registry, KMS key, compliance
log group) are retained when the stack is deleted, and when its first creation fails and rolls
back. They are found by the product's names (the template's name properties, which naming.Names
derives) and, for the KMS key whose id is generated, by the product's ownership tag; a resource is
taken only when it carries this product's ownership tag. A new stack adopts them through an IMPORT
change set (a template of just those resources, each with its DeletionPolicy, and each named by its
type's primary identifier, as AWS's "Importing existing resources" requires); the deploy's normal
UPDATE change set then adds the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ml_provisioner.aws.changes import create_change_set, delete_change_set
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.aws.stack import RetainedResource, execute, stack_state
from ml_provisioner.errors import BadInput, OperationFailed
from ml_provisioner.naming import PRODUCT_TAG, Names

RETAINED = ("Retain", "RetainExceptOnCreate")
# Each type's primary identifier (the primaryIdentifier of its CloudFormation registry schema).
IDENTIFIERS = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodeCommit::Repository": "RepositoryId",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupArn",
    "AWS::KMS::Key": "KeyId",
    "AWS::Logs::LogGroup": "LogGroupName",
}
# Kept from the product's template for the import; Outputs may not change in an import.
IMPORT_SECTIONS = ("AWSTemplateFormatVersion", "Description", "Parameters", "Mappings", "Conditions")


@dataclass(frozen=True)
class FoundResource(RetainedResource):
    identifier: str = ""  # the value of its type's primary identifier
    owner: str | None = None  # the value of its ownership tag; None when it has none


@dataclass
class Retained:
    """What exists of a product's retained resources outside any stack."""

    deployment_id: str
    resources: list[FoundResource] = field(default_factory=list)  # this product's, one per logical id
    others: list[FoundResource] = field(default_factory=list)  # further keys of earlier attempts: not imported
    foreign: list[FoundResource] = field(default_factory=list)  # the product's names, someone else's resource

    def require_ours(self) -> None:
        if self.foreign:
            whose = "; ".join(
                f"the {r.resource_type} {r.name} "
                + (f"belongs to {r.owner}" if r.owner else f"has no {PRODUCT_TAG} tag")
                for r in self.foreign
            )
            raise BadInput(
                f"resources with this product's names exist but are not {self.deployment_id}'s: {whose}",
                f"deploy-product adopts only resources tagged {PRODUCT_TAG}={self.deployment_id}; remove or rename "
                "them, or give the product another name (use_case, workload or tenant_id)",
            )

    def listing(self) -> str:
        lines = [f"  {r.resource_type:<36} {r.name}" for r in self.resources]
        lines += [f"  {r.resource_type:<36} {r.name} (not imported: {r.removal_hint})" for r in self.others]
        return "\n".join(lines)


# -- finding them --------------------------------------------------------------------------------


def find_retained(aws: AwsSession, names: Names, template: dict[str, Any]) -> Retained:
    """The template's retained resources that already exist (call when the stack does not)."""
    found = Retained(names.deployment_id)
    retained = {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") in RETAINED and resource["Type"] in IDENTIFIERS
    }
    for logical_id, resource in retained.items():
        if resource["Type"] == "AWS::KMS::Key":
            continue  # found by tag, once the bucket tells which key its data is encrypted with
        lookup = _LOOKUPS[resource["Type"]]
        name = resource.get("Properties", {}).get(_NAME_PROPERTIES[resource["Type"]])
        hit = lookup(aws, names, name) if isinstance(name, str) else None
        if hit:
            item = FoundResource(logical_id, resource["Type"], name, *hit)
            (found.resources if item.owner == names.deployment_id else found.foreign).append(item)
    key = next((lid for lid, r in retained.items() if r["Type"] == "AWS::KMS::Key"), None)
    if key is not None:
        keys = [
            FoundResource(key, "AWS::KMS::Key", k, k, names.deployment_id) for k in _product_keys(aws, names, found)
        ]
        found.resources += keys[:1]
        found.others += keys[1:]
    return found


# The template property holding each named type's physical name.
_NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodeCommit::Repository": "RepositoryName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _bucket(aws: AwsSession, names: Names, name: str) -> tuple[str, str | None] | None:
    try:
        tags = aws.client("s3").get_bucket_tagging(Bucket=name, ExpectedBucketOwner=names.account)["TagSet"]
    except botocore.exceptions.ClientError as error:
        if _code(error) in ("NoSuchBucket", "404"):
            return None
        if _code(error) == "NoSuchTagSet":
            return name, None
        if _code(error) in ("AccessDenied", "403"):  # S3 names are global: another account's bucket
            return name, "another AWS account"
        raise
    return name, {t["Key"]: t["Value"] for t in tags}.get(PRODUCT_TAG)


def _repository(aws: AwsSession, names: Names, name: str) -> tuple[str, str | None] | None:
    codecommit = aws.client("codecommit")
    try:
        metadata = codecommit.get_repository(repositoryName=name)["repositoryMetadata"]
    except botocore.exceptions.ClientError as error:
        if _code(error) == "RepositoryDoesNotExistException":
            return None
        raise
    tags = codecommit.list_tags_for_resource(resourceArn=metadata["Arn"]).get("tags", {})
    return metadata["repositoryId"], tags.get(PRODUCT_TAG)


def _model_package_group(aws: AwsSession, names: Names, name: str) -> tuple[str, str | None] | None:
    sagemaker = aws.client("sagemaker")
    try:
        arn = sagemaker.describe_model_package_group(ModelPackageGroupName=name)["ModelPackageGroupArn"]
    except botocore.exceptions.ClientError as error:
        if _code(error) == "ValidationException" and "does not exist" in str(error):
            return None
        raise
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}
    return arn, tags.get(PRODUCT_TAG)


def _log_group(aws: AwsSession, names: Names, name: str) -> tuple[str, str | None] | None:
    logs = aws.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == name), None)
    if group is None:
        return None
    arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
    return name, logs.list_tags_for_resource(resourceArn=arn).get("tags", {}).get(PRODUCT_TAG)


_LOOKUPS: dict[str, Callable[[AwsSession, Names, str], tuple[str, str | None] | None]] = {
    "AWS::S3::Bucket": _bucket,
    "AWS::CodeCommit::Repository": _repository,
    "AWS::SageMaker::ModelPackageGroup": _model_package_group,
    "AWS::Logs::LogGroup": _log_group,
}


def _product_keys(aws: AwsSession, names: Names, found: Retained) -> list[str]:
    """Ids of the usable KMS keys tagged as this product's: first the one its retained bucket's data
    is encrypted with, then the newest (a failed creation used to leave one key per attempt)."""
    kms = aws.client("kms")
    keys = []
    for page in kms.get_paginator("list_keys").paginate():
        for entry in page["Keys"]:
            metadata = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
            if metadata.get("KeyManager") != "CUSTOMER" or metadata["KeyState"] not in ("Enabled", "Disabled"):
                continue
            tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=entry["KeyId"]).get("Tags", [])}
            if tags.get(PRODUCT_TAG) == names.deployment_id:
                keys.append(metadata)
    in_use = _bucket_key(aws, found)
    keys.sort(key=lambda k: (in_use in (k["KeyId"], k["Arn"]), k["CreationDate"]), reverse=True)
    return [k["KeyId"] for k in keys]


def _bucket_key(aws: AwsSession, found: Retained) -> str | None:
    bucket = next((r.name for r in found.resources if r.resource_type == "AWS::S3::Bucket"), None)
    if bucket is None:
        return None
    try:
        rules = aws.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except botocore.exceptions.ClientError:
        return None
    return next((r["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") for r in rules), None)


# -- importing them ------------------------------------------------------------------------------


def import_template(template: dict[str, Any], logical_ids: set[str]) -> dict[str, Any]:
    """The product's template cut down to the resources to import. A property that refers to a
    resource not imported is left out: the UPDATE that follows sets it."""
    known = logical_ids | set(template.get("Parameters", {}))
    resources = {}
    for logical_id in sorted(logical_ids):
        resource = dict(template["Resources"][logical_id])
        properties = resource.get("Properties", {})
        resource["Properties"] = {k: v for k, v in properties.items() if _references(v) <= known}
        resources[logical_id] = resource
    return {k: template[k] for k in IMPORT_SECTIONS if k in template} | {"Resources": resources}


def _references(value: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, Fn::GetAtt, ${Name} in Fn::Sub; parameters included)."""
    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value and not str(value["Ref"]).startswith("AWS::"):
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return {target.split(".")[0] if isinstance(target, str) else target[0]}
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return {n.split(".")[0] for n in re.findall(r"\$\{([^!}][^}]*)\}", text) if not n.startswith("AWS::")}
    return _references(list(value.values()))


def import_retained(
    aws: AwsSession,
    names: Names,
    template: dict[str, Any],
    retained: Retained,
    *,
    on_event: Callable[[dict[str, Any]], None],
) -> None:
    """Create the stack from the retained resources: an IMPORT change set, executed and watched."""
    body = import_template(template, {r.logical_id for r in retained.resources})
    to_import = [
        {
            "ResourceType": r.resource_type,
            "LogicalResourceId": r.logical_id,
            "ResourceIdentifier": {IDENTIFIERS[r.resource_type]: r.identifier},
        }
        for r in retained.resources
    ]
    change_set = None
    try:
        change_set = create_change_set(
            aws,
            stack_name=names.stack_name,
            change_type="IMPORT",
            template={"TemplateBody": json.dumps(body)},
            tags=names.tags,
            new_template=body,
            resources_to_import=to_import,
        )
    except BaseException:
        _remove_empty_stack(aws, names, change_set)
        raise
    execute(aws, names, change_set, on_event=on_event)


def _remove_empty_stack(aws: AwsSession, names: Names, change_set: Any) -> None:
    """A failed import leaves nothing behind: its change set and the empty stack made for it go."""
    if change_set is not None:
        delete_change_set(aws, change_set)
    if stack_state(aws, names.stack_name).status == "REVIEW_IN_PROGRESS":
        aws.client("cloudformation").delete_stack(StackName=names.stack_name, **aws.stack_role())


def bring_back(
    aws: AwsSession,
    names: Names,
    template: dict[str, Any],
    *,
    say: Callable[[str], None],
    confirm: Callable[[str], None],
    on_event: Callable[[dict[str, Any]], None],
) -> str:
    """Before creating the product's stack: import what an earlier one retained. Returns the change
    type the deploy goes on with: UPDATE after an import, CREATE when nothing was retained."""
    retained = find_retained(aws, names, template)
    retained.require_ours()
    if not retained.resources:
        return "CREATE"
    say(
        f"{len(retained.resources)} resource(s) of {names.deployment_id} outlived an earlier stack; "
        f"{names.stack_name} is created from them, with their data:\n{retained.listing()}"
    )
    confirm(f"Import these {len(retained.resources)} resource(s) into a new stack {names.stack_name}?")
    import_retained(aws, names, template, retained, on_event=on_event)
    say(f"imported {len(retained.resources)} retained resource(s) into {names.stack_name}")
    return "UPDATE"


@contextmanager
def left_behind_reported(aws: AwsSession, names: Names, template: dict[str, Any], change_type: str) -> Iterator[None]:
    """A failed first creation rolls back, but its retained resources stay: name them, and the ways on."""
    try:
        yield
    except OperationFailed as failure:
        if change_type != "CREATE":
            raise
        try:
            if stack_state(aws, names.stack_name).status not in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
                raise failure  # not a failed creation (still busy, or unknown): the failure says what is known
            retained = find_retained(aws, names, template)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            raise failure from None  # the failure itself matters more than the list
        if not retained.resources:
            raise
        left = retained.resources + retained.others
        message = f"{failure.message}; it left behind {len(left)} retained resource(s): " + ", ".join(
            f"{r.resource_type} {r.name}" for r in left
        )
        hint = (
            "run deploy-product again with --force: it deletes the failed stack and imports these with "
            "their data. Or remove them:\n"
            + "\n".join(f"  {r.removal_hint}" for r in left)
            + (f"\n{failure.hint}" if failure.hint else "")  # and what the failure itself calls for
        )
        raise OperationFailed(message, hint) from None

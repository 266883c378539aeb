"""What `ml-provisioner bootstrap` puts into each target account and region, as one CloudFormation
template (pure: no AWS calls, no CDK).

- the staging bucket for templates over CloudFormation's TemplateBody limit (staging.py names it):
  encrypted, versioned, TLS only, public access blocked, retained when the stack goes;
- per product, its permission boundary (policy/boundary.py): every role of the product must carry
  it, and nothing the deployer holds may write it, so only this administrator's stack creates it;
- per product, a deployer role trusted only by the given principals (of the tooling account),
  holding the deployer policy create-policy derives from the product's template; with
  --service-role, the caller's policy, and the CloudFormation execution role holding the resource
  permissions (trusted by CloudFormation only, outside every path the product or its deployer
  may write). One role per
  product keeps each product's least privilege as derived (a role per account would hold the
  union, and IAM attaches at most 10 managed policies to a role) and keeps products apart: a
  product's deploy cannot touch another product's resources.

The same template serves every account: each role is conditional on its account and region, so a
StackSet instance creates only the roles of its own account's products (and an account added to
an OU later gets no role until its products are bootstrapped). A StackSet's template holds no
staging bucket: deploy-product creates it in an account on first need."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ml_provisioner import staging
from ml_provisioner.errors import BadInput
from ml_provisioner.naming import PRODUCT_TAG, TOOL, Names

STACK_NAME = f"{TOOL}-bootstrap"  # the stack (one account) or StackSet (many) that holds it all
MAX_MANAGED_POLICIES = 10  # IAM's default quota of managed policies attached to one role
# A principal the deployer roles may trust: a role or user ARN, or an account's root.
PRINCIPAL = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")


@dataclass(frozen=True)
class Deployer:
    """One product's deployer role and its policy documents (create-policy's, unchanged)."""

    names: Names
    documents: list[dict[str, Any]]
    boundary: dict[str, Any]  # the product's permission boundary
    # service-role mode: the execution role's trust and permission documents
    execution: tuple[dict[str, Any], list[dict[str, Any]]] | None = None

    @property
    def logical_id(self) -> str:
        return "Deployer" + hashlib.sha256(self.names.deployer_role_arn.encode()).hexdigest()[:12].upper()

    @property
    def boundary_logical_id(self) -> str:
        return "Boundary" + hashlib.sha256(self.names.permission_boundary_arn.encode()).hexdigest()[:12].upper()


def check_principals(principals: list[str]) -> list[str]:
    """The trusted principals, refused (exit 2) unless each is a role, user or account root ARN."""
    if not principals:
        raise BadInput("bootstrap needs --trust", "name the role your CI or platform team deploys from")
    for principal in principals:
        if not PRINCIPAL.match(principal):
            raise BadInput(
                f"--trust {principal}: not an IAM role, user or account-root ARN",
                "e.g. --trust arn:aws:iam::111122223333:role/ci-deployer (wildcards are not trusted)",
            )
    return sorted(set(principals))


def template(
    deployers: list[Deployer], principals: list[str], external_id: str | None = None, *, staging_bucket: bool = True
) -> dict[str, Any]:
    """The bootstrap template; staging_bucket: with the staging bucket (a single account's stack)."""
    conditions: dict[str, Any] = {}
    resources: dict[str, Any] = _staging_bucket() if staging_bucket else {}
    for deployer in sorted(deployers, key=lambda d: d.names.deployer_role_arn):
        names = deployer.names
        if max(len(deployer.documents), len(deployer.execution[1]) if deployer.execution else 0) > MAX_MANAGED_POLICIES:
            raise BadInput(
                f"the deployer policy of {names.deployment_id} needs {len(deployer.documents)} managed policies; "
                f"IAM attaches at most {MAX_MANAGED_POLICIES} to a role",
                "raise the account's quota, or deploy this product with --service-role",
            )
        condition = _condition_name(names.account, names.region)
        conditions[condition] = {
            "Fn::And": [
                {"Fn::Equals": [{"Ref": "AWS::AccountId"}, names.account]},
                {"Fn::Equals": [{"Ref": "AWS::Region"}, names.region]},
            ]
        }
        resources[deployer.boundary_logical_id] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Condition": condition,
            "Properties": {
                "ManagedPolicyName": names.permission_boundary,
                "Path": names.permission_boundary_path,
                "Description": f"Permission boundary of every role of ML product {names.product}",
                "PolicyDocument": deployer.boundary,
            },
        }
        tags = [{"Key": PRODUCT_TAG, "Value": names.deployment_id}]
        role = deployer.logical_id
        resources[role] = {
            "Type": "AWS::IAM::Role",
            "Condition": condition,
            "Properties": {
                "RoleName": names.deployer_role_name,
                "Path": names.deployer_role_path,
                "Description": f"Deploys {names.deployment_id} ({names.stack_name}) with ml-provisioner",
                "MaxSessionDuration": 3600,
                "AssumeRolePolicyDocument": trust_policy(principals, external_id),
                "Tags": tags,
            },
        }
        resources |= _policies(role, condition, names, deployer.documents, "deployer policy")
        if deployer.execution:
            trust, documents = deployer.execution
            execution = f"{role}Execution"
            resources[execution] = {
                "Type": "AWS::IAM::Role",
                "Condition": condition,
                "Properties": {
                    "RoleName": names.execution_role_name,
                    "Path": names.deployer_role_path,
                    "Description": f"CloudFormation deploys {names.deployment_id} with it (service-role mode)",
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": trust,
                    "Tags": tags,
                },
            }
            resources |= _policies(execution, condition, names, documents, "CloudFormation execution role")
    result: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "ml-provisioner bootstrap: the staging bucket, and per product its permission boundary "
        "and deployer role",
    }
    if conditions:
        result["Conditions"] = conditions
    result["Resources"] = resources
    copied: dict[str, Any] = json.loads(json.dumps(result))  # no shared objects: YAML would write aliases
    return copied


def _policies(role: str, condition: str, names: Names, documents: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """create-policy's documents, unchanged, as managed policies attached to role."""
    return {
        f"{role}Policy{number}": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Condition": condition,
            "Properties": {
                "Path": names.deployer_role_path,
                "Description": f"create-policy's {what} of {names.deployment_id}, part {number}",
                "PolicyDocument": document,
                "Roles": [{"Ref": role}],
            },
        }
        for number, document in enumerate(documents, start=1)
    }


def trust_policy(principals: list[str], external_id: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _condition_name(account: str, region: str) -> str:
    return f"In{account}{re.sub(r'[^A-Za-z0-9]', '', region.title())}"


def _staging_bucket() -> dict[str, Any]:
    name = staging.STAGING_BUCKET_FORMAT.format(account="${AWS::AccountId}", region="${AWS::Region}")
    bucket_name = {"Fn::Sub": name}
    bucket_arn = {"Fn::GetAtt": ["StagingBucket", "Arn"]}
    return {
        "StagingBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": bucket_name,
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                    ]
                },
                "VersioningConfiguration": {"Status": "Enabled"},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "expire-staged-templates",
                            "Status": "Enabled",
                            "Prefix": "templates/",
                            "ExpirationInDays": 7,
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            },
        },
        "StagingBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "StagingBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }

"""Replacements for moto's CloudFormation handling of types it does model, but incompletely.

Each class is registered for the same CloudFormation type as moto's model and, being defined later,
wins in moto's type -> model table. The resources themselves stay moto's own objects (FakeBucket,
Role, Key, ...), so GetAtt and the service APIs behave exactly as moto implements them; only
create/update/delete are redone here.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, ClassVar

from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel
from moto.core.utils import camelcase_to_underscores
from moto.ec2.models import ec2_backends
from moto.ec2.models.security_groups import SecurityGroup
from moto.ec2.models.vpcs import VPCEndPoint
from moto.iam.models import Group, ManagedPolicy, Role, User, iam_backends
from moto.kms.models import Alias, Key, kms_backends
from moto.logs.models import LogGroup, logs_backends
from moto.s3.models import FakeBucket, s3_backends
from moto.sns.models import Topic
from moto.ssm.exceptions import ParameterNotFound
from moto.ssm.models import Parameter, ssm_backends
from moto.utilities.utils import get_partition

from .shapes import json_text, scalar_str, tag_dict, tag_list


class Override:
    """Delegates the type's identity to moto's model (a mixin, listed before CloudFormationModel), and
    does CloudFormation's update: a new resource when a property that cannot change in place changes
    (`replace_on`), otherwise `update_in_place`."""

    BASE: ClassVar[type[CloudFormationModel]]
    # What AWS assumes for an absent property of `replace_on` (otherwise absent keeps the current value).
    DEFAULTS: ClassVar[dict[str, str]] = {}

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.BASE.cloudformation_type()

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.BASE.cloudformation_name_type()

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return cls.BASE.has_cfn_attr(attr)

    def is_created(self) -> bool:
        return True

    @classmethod
    def replace_on(cls, resource: Any) -> dict[str, Any]:
        """The resource's current values of the properties whose change needs a new resource."""
        raise NotImplementedError

    @classmethod
    def update_in_place(cls, resource: Any, properties: dict[str, Any], account_id: str, region_name: str) -> Any:
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        current = cls.replace_on(original_resource)
        if any(properties.get(k, cls.DEFAULTS.get(k, v)) != v for k, v in current.items()):
            # The replacement first, then the old resource goes unless UpdateReplacePolicy keeps it.
            new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
            if cloudformation_json.get("UpdateReplacePolicy") != "Retain":
                cls.delete_resource(original_resource, account_id, region_name)
            return new
        return cls.update_in_place(original_resource, properties, account_id, region_name)

    @classmethod
    def delete_resource(cls, resource: Any, account_id: str, region_name: str) -> None:
        resource.delete(account_id, region_name)


class KmsKey(Override, CloudFormationModel):
    """KeyPolicy arrives as a JSON object (moto: HTTP 500), tags as [{Key, Value}]; updates in place."""

    BASE = Key
    DEFAULTS = {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Key:
        p = cloudformation_json.get("Properties", {})
        key = kms_backends[account_id][region_name].create_key(
            policy=json_text(p["KeyPolicy"]) if "KeyPolicy" in p else None,
            key_usage=p.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=p.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=p.get("Description", ""),
            tags=None,
            multi_region=scalar_str(p.get("MultiRegion", False)) == "true",
        )
        cls.apply(key, p)
        return key

    @classmethod
    def replace_on(cls, resource: Key) -> dict[str, Any]:
        return {"KeySpec": resource.key_spec, "KeyUsage": resource.key_usage}

    @classmethod
    def update_in_place(cls, resource: Key, properties: dict[str, Any], account_id: str, region_name: str) -> Key:
        resource.description = properties.get("Description", "")
        if "KeyPolicy" in properties:
            resource.policy = json_text(properties["KeyPolicy"])
        cls.apply(resource, properties)
        return resource

    @staticmethod
    def apply(key: Key, p: dict[str, Any]) -> None:
        key.key_rotation_status = scalar_str(p.get("EnableKeyRotation", False)) == "true"
        key.enabled = scalar_str(p.get("Enabled", True)) == "true"
        key.key_state = "Enabled" if key.enabled else "Disabled"
        tagger = kms_backends[key.account_id][key.region].tagger
        tagger.delete_all_tags_for_resource(key.id)
        tagger.tag_resource(key.id, tag_list(tag_dict(p.get("Tags")), "TagKey", "TagValue"))


class KmsAlias(Override, CloudFormationModel):
    """A new AliasName means a new alias (moto tried to update the non-existent one)."""

    BASE = Alias

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Alias:
        return Alias.create_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def replace_on(cls, resource: Alias) -> dict[str, Any]:
        return {"AliasName": resource.alias_name}

    @classmethod
    def update_in_place(cls, resource: Alias, properties: dict[str, Any], account_id: str, region_name: str) -> Alias:
        backend = kms_backends[account_id][region_name]
        return backend.update_alias(target_key_id=properties["TargetKeyId"], alias_name=properties["AliasName"])


class S3Bucket(Override, CloudFormationModel):
    """Adds versioning, public access block, lifecycle and BucketKeyEnabled; updates without BucketName."""

    BASE = FakeBucket

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> FakeBucket:
        bucket = s3_backends[account_id][get_partition(region_name)].create_bucket(resource_name, region_name)
        cls.apply(bucket, cloudformation_json.get("Properties", {}))
        return bucket

    @classmethod
    def replace_on(cls, resource: FakeBucket) -> dict[str, Any]:
        return {"BucketName": resource.name}

    @classmethod
    def update_in_place(
        cls, resource: FakeBucket, properties: dict[str, Any], account_id: str, region_name: str
    ) -> FakeBucket:
        cls.apply(resource, properties)
        return resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = s3_backends[account_id][get_partition(region_name)]
        if backend.get_bucket(resource_name).keys:  # moto would silently keep it; AWS fails the delete
            raise ValidationError(message=f"The bucket you tried to delete is not empty: {resource_name}")
        backend.delete_bucket(resource_name)

    @classmethod
    def delete_resource(cls, resource: Any, account_id: str, region_name: str) -> None:
        cls.delete_from_cloudformation_json(resource.name, {}, account_id, region_name)

    @staticmethod
    def apply(bucket: FakeBucket, p: dict[str, Any]) -> None:
        backend = s3_backends[bucket.account_id][get_partition(bucket.region_name)]
        name = bucket.name
        backend.put_bucket_tagging(name, tag_dict(p.get("Tags")))
        if "BucketEncryption" in p:
            rule = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            api_rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            if "BucketKeyEnabled" in rule:
                api_rule["BucketKeyEnabled"] = scalar_str(rule["BucketKeyEnabled"])
            backend.put_bucket_encryption(name, {"Rule": api_rule})
        else:
            backend.delete_bucket_encryption(name)
        if "VersioningConfiguration" in p:
            backend.put_bucket_versioning(name, p["VersioningConfiguration"]["Status"])
        if "PublicAccessBlockConfiguration" in p:
            backend.put_public_access_block(name, p["PublicAccessBlockConfiguration"])
        else:
            backend.delete_public_access_block(name)
        if "LifecycleConfiguration" in p:
            backend.put_bucket_lifecycle(name, [_lifecycle_rule(r) for r in p["LifecycleConfiguration"]["Rules"]])
        else:
            backend.delete_bucket_lifecycle(name)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's flattened lifecycle rule -> the S3 API (XML-parsed) shape moto stores."""
    api: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "ExpirationDate" in rule:
        api["Expiration"] = {"Date": rule["ExpirationDate"]}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
    if "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    if "Transitions" in rule:
        api["Transition"] = [
            {"StorageClass": t["StorageClass"], "Days": t.get("TransitionInDays"), "Date": t.get("TransitionDate")}
            for t in rule["Transitions"]
        ]
    if "NoncurrentVersionTransitions" in rule:
        api["NoncurrentVersionTransition"] = [
            {"StorageClass": t["StorageClass"], "NoncurrentDays": t["TransitionInDays"]}
            for t in rule["NoncurrentVersionTransitions"]
        ]
    return api


class IamRole(Override, CloudFormationModel):
    """Inline policies stored as JSON text, ManagedPolicyArns attached, full in-place updates and deletes."""

    BASE = Role
    DEFAULTS = {"Path": "/"}

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Role:
        p = cloudformation_json["Properties"]
        role = iam_backends[account_id][get_partition(region_name)].create_role(
            role_name=p.get("RoleName", resource_name),
            assume_role_policy_document=json_text(p["AssumeRolePolicyDocument"]),
            path=p.get("Path", "/"),
            permissions_boundary=p.get("PermissionsBoundary"),
            description=p.get("Description", ""),
            tags=p.get("Tags", []),
            max_session_duration=p.get("MaxSessionDuration", 3600),
        )
        cls.apply(role, p)
        return role

    @classmethod
    def replace_on(cls, resource: Role) -> dict[str, Any]:
        return {"RoleName": resource.name, "Path": resource.path}

    @classmethod
    def update_in_place(cls, resource: Role, properties: dict[str, Any], account_id: str, region_name: str) -> Role:
        resource.assume_role_policy_document = json_text(properties["AssumeRolePolicyDocument"])
        resource.description = properties.get("Description", "")
        resource.max_session_duration = properties.get("MaxSessionDuration", 3600)
        resource.permissions_boundary_arn = properties.get("PermissionsBoundary")
        resource.tags = properties.get("Tags", [])
        cls.apply(resource, properties)
        return resource

    @staticmethod
    def apply(role: Role, p: dict[str, Any]) -> None:
        """Make the role's Policies and ManagedPolicyArns what the template says.

        Only what these two properties declared before is removed: AWS::IAM::Policy resources and
        AWS::IAM::ManagedPolicy.Roles put policies on the same role and must survive its updates.
        """
        backend = iam_backends[role.account_id][role.partition]
        declared = {policy["PolicyName"]: json_text(policy["PolicyDocument"]) for policy in p.get("Policies", [])}
        bookkeeping = vars(role)  # what these properties declared last time (moto's Role has no such attributes)
        for name in bookkeeping.get("declared_policies", set()) - declared.keys():
            role.policies.pop(name, None)
        role.policies.update(declared)
        arns = set(p.get("ManagedPolicyArns", []))
        for arn in (bookkeeping.get("declared_managed_policies", set()) - arns) & set(role.managed_policies):
            backend.detach_role_policy(arn, role.name)
        for arn in arns - set(role.managed_policies):
            backend.attach_role_policy(arn, role.name)
        bookkeeping["declared_policies"], bookkeeping["declared_managed_policies"] = set(declared), arns

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = iam_backends[account_id][get_partition(region_name)]
        role = backend.get_role(resource_name)
        for arn in list(role.managed_policies):
            backend.detach_role_policy(arn, resource_name)
        Role.delete_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_resource(cls, resource: Any, account_id: str, region_name: str) -> None:
        cls.delete_from_cloudformation_json(resource.name, {}, account_id, region_name)


class IamManagedPolicy(Override, CloudFormationModel):
    """moto cannot update or delete managed policies created by a stack."""

    BASE = ManagedPolicy

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> ManagedPolicy:
        policy = ManagedPolicy.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name
        )
        cls.declare_roles(policy, set(cloudformation_json.get("Properties", {}).get("Roles", [])))
        return policy

    @staticmethod
    def declared_roles(policy: ManagedPolicy) -> set[str]:
        """The roles this property attached (moto's ManagedPolicy has no such attribute)."""
        roles: set[str] = vars(policy).get("declared_roles", set())
        return roles

    @staticmethod
    def declare_roles(policy: ManagedPolicy, roles: set[str]) -> None:
        vars(policy)["declared_roles"] = roles

    @classmethod
    def replace_on(cls, resource: ManagedPolicy) -> dict[str, Any]:
        return {"ManagedPolicyName": resource.name, "Path": resource.path, "Description": resource.description}

    @classmethod
    def update_in_place(
        cls, resource: ManagedPolicy, properties: dict[str, Any], account_id: str, region_name: str
    ) -> ManagedPolicy:
        policy, p = resource, properties
        backend = iam_backends[account_id][get_partition(region_name)]
        document = json_text(p["PolicyDocument"])
        if document != next(v.document for v in policy.versions if v.is_default):
            if len(policy.versions) >= 5:  # AWS CloudFormation prunes the oldest non-default version
                oldest = next(v for v in policy.versions if not v.is_default)
                backend.delete_policy_version(policy.arn, oldest.version_id)
            backend.create_policy_version(policy.arn, document, set_as_default=True)
        # Roles attach the policy through this property or through their own ManagedPolicyArns:
        # only attachments this property made are undone.
        roles = set(p.get("Roles", []))
        for role in backend.roles.values():
            attached = policy.arn in role.managed_policies
            if role.name in roles and not attached:
                policy.attach_to(role)
            elif role.name in cls.declared_roles(policy) - roles and attached:
                policy.detach_from(role)
        cls.declare_roles(policy, roles)
        return policy

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = iam_backends[account_id][get_partition(region_name)]
        policy = backend.get_policy(resource_name)
        entities: list[Role | Group | User] = [
            *backend.roles.values(),
            *backend.users.values(),
            *backend.groups.values(),
        ]
        for entity in entities:
            if policy.arn in entity.managed_policies:
                policy.detach_from(entity)
        backend.delete_policy(policy.arn)

    @classmethod
    def delete_resource(cls, resource: Any, account_id: str, region_name: str) -> None:
        cls.delete_from_cloudformation_json(resource.arn, {}, account_id, region_name)


class LogsLogGroup(Override, CloudFormationModel):
    """KmsKeyId was dropped by moto (it reads `kmsKeyId`); retention, key and tags now update in place."""

    BASE = LogGroup

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> LogGroup:
        group = logs_backends[account_id][region_name].create_log_group(resource_name, {})
        cls.apply(group, cloudformation_json.get("Properties", {}))
        return group

    @classmethod
    def replace_on(cls, resource: LogGroup) -> dict[str, Any]:
        return {"LogGroupName": resource.name}

    @classmethod
    def update_in_place(
        cls, resource: LogGroup, properties: dict[str, Any], account_id: str, region_name: str
    ) -> LogGroup:
        cls.apply(resource, properties)
        return resource

    @staticmethod
    def apply(group: LogGroup, p: dict[str, Any]) -> None:
        retention = p.get("RetentionInDays")
        # moto's signature says str; DescribeLogGroups must answer a number, as AWS does.
        group.set_retention_policy(int(retention) if retention is not None else None)  # type: ignore[arg-type]
        group.kms_key_id = p.get("KmsKeyId")
        backend = logs_backends[group.account_id][group.region]
        backend.tagger.delete_all_tags_for_resource(group.arn)
        backend.tag_resource(group.arn, tag_dict(p.get("Tags")))


class SnsTopic(Override, CloudFormationModel):
    """moto ignores the template's Tags and replaces the topic on every update, which orphans its
    subscriptions; AWS tags it and updates in place."""

    BASE = Topic
    ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "DeliveryPolicy")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Topic:
        topic = Topic.create_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)
        topic._tags = tag_dict(cloudformation_json.get("Properties", {}).get("Tags"))
        return topic

    @classmethod
    def replace_on(cls, resource: Topic) -> dict[str, Any]:
        return {"TopicName": resource.name}

    @classmethod
    def update_in_place(cls, resource: Topic, properties: dict[str, Any], account_id: str, region_name: str) -> Topic:
        for attribute in cls.ATTRIBUTES:
            value = properties.get(attribute, "")
            setattr(
                resource, camelcase_to_underscores(attribute), json_text(value) if isinstance(value, dict) else value
            )
        resource._tags = tag_dict(properties.get("Tags"))
        return resource


class SsmParameter(Override, CloudFormationModel):
    """Tags are a map in CloudFormation (moto: TypeError), Name is optional, updates overwrite in place,
    and deleting the stack deletes the parameter (moto kept it, so re-creating the stack failed)."""

    BASE = Parameter

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> Parameter:
        p = cloudformation_json["Properties"]
        return cls.put(p.get("Name", resource_name), p, account_id, region_name, overwrite=False)

    @classmethod
    def replace_on(cls, resource: Parameter) -> dict[str, Any]:
        return {"Name": resource.name}

    @classmethod
    def update_in_place(
        cls, resource: Parameter, properties: dict[str, Any], account_id: str, region_name: str
    ) -> Parameter:
        return cls.put(resource.name, properties, account_id, region_name, overwrite=True)

    @staticmethod
    def put(name: str, p: dict[str, Any], account_id: str, region_name: str, overwrite: bool) -> Parameter:
        backend = ssm_backends[account_id][region_name]
        # moto's signature makes every argument required; its PutParameter passes None for absent ones too.
        parameter = backend.put_parameter(
            name=name,
            description=p.get("Description"),  # type: ignore[arg-type]
            value=p["Value"],
            parameter_type=p["Type"],
            allowed_pattern=p.get("AllowedPattern"),  # type: ignore[arg-type]
            keyid=None,  # type: ignore[arg-type]
            overwrite=overwrite,
            tags=None,  # type: ignore[arg-type]
            data_type=p.get("DataType", "text"),
            tier=p.get("Tier"),
            policies=p.get("Policies"),
        )
        backend.remove_tags_from_resource("Parameter", name, list(backend.list_tags_for_resource("Parameter", name)))
        backend.add_tags_to_resource("Parameter", name, tag_dict(p.get("Tags")))
        return parameter

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """What a stack's delete or rollback calls (moto's Parameter has no delete of its own)."""
        with suppress(ParameterNotFound):  # deleted out of band: CloudFormation's delete still succeeds
            ssm_backends[account_id][region_name].delete_parameter(resource_name)

    @classmethod
    def delete_resource(cls, resource: Any, account_id: str, region_name: str) -> None:
        cls.delete_from_cloudformation_json(resource.name, {}, account_id, region_name)


class Ec2SecurityGroup(Override, CloudFormationModel):
    """Rule and tag changes replaced the whole group (new id); CidrIp rules and egress rules were lost."""

    BASE = SecurityGroup

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> SecurityGroup:
        p = cloudformation_json["Properties"]
        group = ec2_backends[account_id][region_name].create_security_group(
            name=p.get("GroupName", resource_name), description=p["GroupDescription"], vpc_id=p.get("VpcId")
        )
        cls.apply(group, p)
        return group

    @classmethod
    def replace_on(cls, resource: SecurityGroup) -> dict[str, Any]:
        return {"GroupName": resource.name, "GroupDescription": resource.description, "VpcId": resource.vpc_id}

    @classmethod
    def update_in_place(
        cls, resource: SecurityGroup, properties: dict[str, Any], account_id: str, region_name: str
    ) -> SecurityGroup:
        cls.apply(resource, properties)
        return resource

    @staticmethod
    def apply(group: SecurityGroup, p: dict[str, Any]) -> None:
        backend = group.ec2_backend
        backend.delete_tags([group.id], dict(backend.tags.get(group.id, {})))
        backend.create_tags([group.id], tag_dict(p.get("Tags")))
        group.ingress_rules = []
        for rule in p.get("SecurityGroupIngress", []):
            backend.authorize_security_group_ingress(group.id, **_sg_rule(rule, "Source"), vpc_id=group.vpc_id)
        if "SecurityGroupEgress" in p:  # otherwise AWS keeps the default allow-all egress rule
            group.egress_rules = []
            for rule in p["SecurityGroupEgress"]:
                backend.authorize_security_group_egress(group.id, **_sg_rule(rule, "Destination"), vpc_id=group.vpc_id)


def _sg_rule(rule: dict[str, Any], peer: str) -> dict[str, Any]:
    """A CloudFormation ingress/egress entry -> moto's authorize_security_group_* arguments."""
    ranges: list[dict[str, Any]] = [{key: rule[key]} for key in ("CidrIp", "CidrIpv6") if key in rule]
    for ip_range in ranges:
        if "Description" in rule:
            ip_range["Description"] = rule["Description"]
    groups = [{"GroupId": rule[f"{peer}SecurityGroupId"]}] if f"{peer}SecurityGroupId" in rule else []
    prefix_lists = [{"PrefixListId": rule[f"{peer}PrefixListId"]}] if f"{peer}PrefixListId" in rule else []
    return {
        "ip_protocol": str(rule["IpProtocol"]),
        "from_port": rule.get("FromPort"),
        "to_port": rule.get("ToPort"),
        "ip_ranges": ranges,
        "source_groups": groups,
        "prefix_list_ids": prefix_lists,
    }


class Ec2VpcEndpoint(Override, CloudFormationModel):
    """Gateway endpoints without RouteTableIds crashed, policies were stored as objects, and nothing deleted them."""

    BASE = VPCEndPoint

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **_: Any
    ) -> VPCEndPoint:
        p = cloudformation_json["Properties"]
        return ec2_backends[account_id][region_name].create_vpc_endpoint(
            vpc_id=p["VpcId"],
            service_name=p["ServiceName"],
            endpoint_type=p.get("VpcEndpointType", "Gateway"),
            policy_document=json_text(p["PolicyDocument"]) if "PolicyDocument" in p else None,
            route_table_ids=p.get("RouteTableIds", []),
            subnet_ids=p.get("SubnetIds", []),
            security_group_ids=p.get("SecurityGroupIds", []),
            private_dns_enabled=scalar_str(p.get("PrivateDnsEnabled", False)) == "true",
        )

    @classmethod
    def replace_on(cls, resource: VPCEndPoint) -> dict[str, Any]:
        return {
            "ServiceName": resource.service_name,
            "VpcId": resource.vpc_id,
            "VpcEndpointType": resource.vpc_endpoint_type,
        }

    @classmethod
    def update_in_place(
        cls, resource: VPCEndPoint, properties: dict[str, Any], account_id: str, region_name: str
    ) -> VPCEndPoint:
        if "PolicyDocument" in properties:
            resource.policy_document = json_text(properties["PolicyDocument"])
        resource.security_group_ids = properties.get("SecurityGroupIds", [])
        resource.private_dns_enabled = scalar_str(properties.get("PrivateDnsEnabled", False)) == "true"
        return resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        ec2_backends[account_id][region_name].delete_vpc_endpoints([resource_name])

    @classmethod
    def delete_resource(cls, resource: Any, account_id: str, region_name: str) -> None:
        cls.delete_from_cloudformation_json(resource.id, {}, account_id, region_name)


OVERRIDES = (
    KmsKey,
    KmsAlias,
    S3Bucket,
    IamRole,
    IamManagedPolicy,
    LogsLogGroup,
    SnsTopic,
    SsmParameter,
    Ec2SecurityGroup,
    Ec2VpcEndpoint,
)

"""EnterpriseSecurity: encryption, private networking, compliance logging and a permission boundary.

A rotating KMS key (and alias) that encrypts the artifacts bucket, the builds, the pipeline
artifacts, the compliance log group and the alerts topic; VPC endpoints for SageMaker API,
SageMaker Runtime, S3 and STS in an existing VPC; the compliance log group (the builds' logs, with
secrets masked) with metric filters and alarms that notify an SNS topic with an email subscription;
an IAM permission boundary set on every role of the stack by an Aspect; and the SSM outputs.

The VPC id and the SG-provisioner's security group id may live in SSM: they are then
CloudFormation parameters of an SSM parameter type, resolved at deploy time, never at synth time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Aspects, CfnParameter, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from constructs_lib._iam import PolicyDocument, acknowledge
from constructs_lib.starter_core import StarterCore
from ml_provisioner.config.models import SecurityGroupMode, VpcIntegration, VpcSource
from ml_provisioner.naming import Names

# Interface endpoints (and S3, gateway or interface) by SSM output name.
ENDPOINT_SERVICES = {
    "VpcEndpointIdSagemakerApi": "sagemaker.api",
    "VpcEndpointIdSagemakerRuntime": "sagemaker.runtime",
    "VpcEndpointIdS3": "s3",
    "VpcEndpointIdSts": "sts",
}

# Patterns on the builds' log lines: (metric and alarm name, CloudWatch Logs filter pattern, meaning)
COMPLIANCE_FILTERS = (
    (
        "access-denied",
        '?AccessDenied ?AccessDeniedException ?UnauthorizedOperation ?"not authorized to perform"',
        "an AWS call of the product was denied (possible privilege probing or a boundary violation)",
    ),
    ("build-failures", '"Phase complete: BUILD State: FAILED"', "a model build or deploy failed"),
)

# CloudWatch Logs managed data identifiers masked in the compliance log group.
MASKED_SECRETS = ("AwsSecretKey", "OpenSshPrivateKey", "PgpPrivateKey", "PkcsPrivateKey", "PuttyPrivateKey")


@dataclass(frozen=True, kw_only=True)
class EnterpriseSecurityProps:
    names: Names
    vpc: VpcIntegration
    alerts_email: str
    log_retention_days: int


class EnterpriseSecurity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, core: StarterCore, props: EnterpriseSecurityProps):
        super().__init__(scope, construct_id)
        self.names = props.names
        self.props = props
        self.core = core
        self._removal = RemovalPolicy.DESTROY if props.names.is_test else RemovalPolicy.RETAIN

        self.key = self._build_key()
        self.alias = kms.CfnAlias(self, "KeyAlias", alias_name=self.names.kms_alias, target_key_id=self.key.ref)
        core.encrypt_with(self.key.attr_arn)

        self.vpc_id = self._vpc_id()
        self.security_group, self.security_group_id = self._endpoint_security_group()
        self.endpoints = {output: self._endpoint(output, service) for output, service in ENDPOINT_SERVICES.items()}

        self.log_group = self._build_compliance_log_group()
        core.send_build_logs_to(self.log_group.ref, self.names.compliance_log_group)
        self.topic = sns.CfnTopic(
            self,
            "SecurityAlertsTopic",
            topic_name=self.names.alerts_topic,
            display_name=f"Security alerts of {self.names.deployment_id}",
            kms_master_key_id=self.key.attr_arn,
        )
        acknowledge(
            self.topic,
            "AwsSolutions-SNS3",
            "The only publishers are this stack's CloudWatch alarms (an AWS service over TLS) and the "
            "topic is KMS-encrypted; a topic policy would add a resource outside the tier's inventory.",
        )
        self.subscription = sns.CfnSubscription(
            self, "SecurityAlertsEmail", topic_arn=self.topic.ref, protocol="email", endpoint=props.alerts_email
        )
        self.metric_filters, self.alarms = self._build_alarms()

        self.boundary = self._build_permission_boundary()
        Aspects.of(Stack.of(self)).add(PermissionBoundaryAspect(self.boundary.ref))

        core.publish("KmsKeyArn", self.key.attr_arn)
        core.publish("LogGroupName", self.log_group.ref)
        for output, endpoint in self.endpoints.items():
            core.publish(output, endpoint.ref)
        if self.security_group is not None:
            core.publish("SecurityGroupId", self.security_group.attr_group_id)

    # -- encryption ---------------------------------------------------------------------------
    def _build_key(self) -> kms.CfnKey:
        n = self.names
        root = f"arn:{n.partition}:iam::{n.account}:root"
        key = kms.CfnKey(
            self,
            "Key",
            description=f"Encrypts the data of ML product {n.deployment_id}",
            enable_key_rotation=True,
            pending_window_in_days=30,
            key_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {  # Account administrators manage the key through IAM; roles get use via IAM grants.
                        "Sid": "AccountAdministration",
                        "Effect": "Allow",
                        "Principal": {"AWS": root},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "ComplianceLogGroup",
                        "Effect": "Allow",
                        "Principal": {"Service": f"logs.{n.region}.{n.url_suffix}"},
                        "Action": [
                            "kms:Decrypt",
                            "kms:Describe*",
                            "kms:Encrypt",
                            "kms:GenerateDataKey*",
                            "kms:ReEncrypt*",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "ArnEquals": {
                                "kms:EncryptionContext:aws:logs:arn": n.arn(
                                    "logs", f"log-group:{n.compliance_log_group}"
                                )
                            }
                        },
                    },
                    {
                        "Sid": "AlarmsPublishToEncryptedTopic",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": n.account}},
                    },
                ],
            },
        )
        key.apply_removal_policy(self._removal)
        return key

    # -- network ------------------------------------------------------------------------------
    def _vpc_id(self) -> str:
        vpc = self.props.vpc
        if vpc.vpc_source is VpcSource.DIRECT:
            return vpc.vpc_id  # type: ignore[return-value]
        return CfnParameter(
            Stack.of(self),
            "VpcId",
            type="AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>",
            default=vpc.vpc_id_ssm_parameter,
            description="SSM parameter holding the id of the VPC the endpoints are placed in",
        ).value_as_string

    def _endpoint_security_group(self) -> tuple[ec2.CfnSecurityGroup | None, str]:
        vpc = self.props.vpc
        if vpc.security_group_mode is SecurityGroupMode.SGPROV:
            parameter = CfnParameter(
                Stack.of(self),
                "EndpointSecurityGroupId",
                type="AWS::SSM::Parameter::Value<AWS::EC2::SecurityGroup::Id>",
                default=vpc.security_group_id_ssm_parameter,
                description="SSM parameter holding the SG-provisioner's security group for the endpoints",
            )
            return None, parameter.value_as_string
        group = ec2.CfnSecurityGroup(
            self,
            "EndpointSecurityGroup",
            group_name=self.names.endpoint_security_group,
            group_description=f"HTTPS to the VPC endpoints of ML product {self.names.deployment_id}",
            vpc_id=self.vpc_id,
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp", from_port=443, to_port=443, cidr_ip=cidr, description="HTTPS from " + cidr
                )
                for cidr in vpc.endpoint_client_cidrs
            ],
            # Endpoint interfaces never open connections: CDK's idiom for "no egress at all".
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="icmp",
                    from_port=252,
                    to_port=86,
                    cidr_ip="255.255.255.255/32",
                    description="Disallow all traffic",
                )
            ],
        )
        return group, group.attr_group_id

    def _endpoint(self, output: str, service: str) -> ec2.CfnVPCEndpoint:
        vpc = self.props.vpc
        construct_id = output.removeprefix("VpcEndpointId") + "Endpoint"
        # Service names come from the CDK's region facts (China prefixes most with cn.com.amazonaws).
        if service == "s3" and vpc.route_table_ids:
            return ec2.CfnVPCEndpoint(
                self,
                construct_id,
                vpc_id=self.vpc_id,
                service_name=ec2.GatewayVpcEndpointAwsService.S3.name,
                vpc_endpoint_type="Gateway",
                route_table_ids=list(vpc.route_table_ids),
                policy_document=self._endpoint_policy(service),
            )
        # S3's interface endpoint answers S3's public names for every resolver in the VPC (no gateway
        # endpoint beside it to take the VPC's own traffic).
        dns_options = (
            ec2.CfnVPCEndpoint.DnsOptionsSpecificationProperty(
                private_dns_only_for_inbound_resolver_endpoint="AllResolvers"
            )
            if service == "s3" and vpc.private_dns
            else None
        )
        return ec2.CfnVPCEndpoint(
            self,
            construct_id,
            vpc_id=self.vpc_id,
            vpc_endpoint_type="Interface",
            service_name=ec2.InterfaceVpcEndpointAwsService(service).name,
            subnet_ids=list(vpc.subnet_ids),
            security_group_ids=[self.security_group_id],
            # Off when the VPC already resolves these names to other endpoints (vpc_integration.private_dns).
            private_dns_enabled=vpc.private_dns,
            dns_options=dns_options,
            policy_document=self._endpoint_policy(service),
        )

    def _endpoint_policy(self, service: str) -> dict:
        """Only principals of this account may use the endpoint; on STS also federated sign-in
        (AssumeRoleWithSAML/WithWebIdentity carry no principal account: IAM's "STS VPC endpoint
        policies"), limited to this account's roles, so every workload of the VPC can still federate."""
        n = self.names
        statements = [
            {
                "Sid": "OnlyThisAccount",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": n.account}},
            }
        ]
        if service == "sts":
            statements.append(
                {
                    "Sid": "FederationIntoThisAccount",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"],
                    "Resource": n.arn("iam", "role/*", region=False),
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}

    # -- compliance logging and alerts --------------------------------------------------------
    def _build_compliance_log_group(self) -> logs.CfnLogGroup:
        identifiers = [
            f"arn:{self.names.partition}:dataprotection::aws:data-identifier/{name}" for name in MASKED_SECRETS
        ]
        group = logs.CfnLogGroup(
            self,
            "ComplianceLogGroup",
            log_group_name=self.names.compliance_log_group,
            retention_in_days=self.props.log_retention_days,
            kms_key_id=self.key.attr_arn,
            data_protection_policy={
                "Name": "mask-secrets",
                "Description": "Secrets printed by a build are masked before anyone can read them",
                "Version": "2021-06-01",
                "Statement": [
                    {
                        "Sid": "audit",
                        "DataIdentifier": identifiers,
                        "Operation": {"Audit": {"FindingsDestination": {}}},
                    },
                    {"Sid": "redact", "DataIdentifier": identifiers, "Operation": {"Deidentify": {"MaskConfig": {}}}},
                ],
            },
        )
        group.apply_removal_policy(self._removal)
        return group

    def _build_alarms(self) -> tuple[list[logs.CfnMetricFilter], list[cloudwatch.CfnAlarm]]:
        n = self.names
        filters, alarms = [], []
        for name, pattern, meaning in COMPLIANCE_FILTERS:
            construct_id = "".join(word.title() for word in name.split("-"))
            metric_name = construct_id
            metric_filter = logs.CfnMetricFilter(
                self,
                f"{construct_id}Filter",
                filter_name=n.alarm(name),
                log_group_name=self.log_group.ref,
                filter_pattern=pattern,
                metric_transformations=[
                    logs.CfnMetricFilter.MetricTransformationProperty(
                        metric_namespace=n.metric_namespace,
                        metric_name=metric_name,
                        metric_value="1",
                        default_value=0,
                        unit="Count",
                    )
                ],
            )
            alarm = cloudwatch.CfnAlarm(
                self,
                f"{construct_id}Alarm",
                alarm_name=n.alarm(name),
                alarm_description=f"Raised when {meaning} in ML product {n.deployment_id}",
                namespace=n.metric_namespace,
                metric_name=metric_name,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.ref],
                ok_actions=[self.topic.ref],
            )
            alarm.add_resource_dependency(metric_filter)
            filters.append(metric_filter)
            alarms.append(alarm)
        return filters, alarms

    # -- permission boundary ------------------------------------------------------------------
    def _build_permission_boundary(self) -> iam.CfnManagedPolicy:
        """The most any role of this product may ever do, whatever its own policies grant."""
        n = self.names
        services = ["codebuild", "codecommit", "codepipeline", "ecr", "kms", "logs", "s3", "sagemaker", "cloudwatch"]
        boundary = PolicyDocument()
        boundary.allow(
            "ProductServicesInThisRegion",
            [f"{service}:*" for service in services],
            ["*"],
            why_wildcard="A permission boundary caps, it never grants: each role's own policy is scoped "
            "to the product's resources, the boundary fixes the services and the region.",
            condition={"StringEquals": {"aws:RequestedRegion": n.region}},
        )
        boundary.allow(
            "PassOnlyProductRoles",
            ["iam:PassRole"],
            [n.arn("iam", f"role{n.iam_path}*", region=False)],
            why_wildcard="Roles of the product get CloudFormation-generated names under its IAM path.",
        )
        if self.core.connection_arn:  # a codeconnections source: the pipelines' one connection
            boundary.allow(
                "UseOnlyTheSourceConnection",
                [self.core.use_connection_action],
                [self.core.connection_arn],
            )
        boundary.deny(
            "NoIdentityOrBoundaryChanges",
            [
                "iam:AttachRolePolicy",
                "iam:CreateAccessKey",
                "iam:CreateRole",
                "iam:CreateUser",
                "iam:DeleteRolePermissionsBoundary",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:UpdateAssumeRolePolicy",
            ],
            ["*"],
        )
        boundary.deny(
            "NoKeyDestructionOrLogTampering",
            [
                "kms:DisableKey",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
                "logs:DeleteDataProtectionPolicy",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "s3:DeleteBucket",
                "s3:PutBucketPolicy",
            ],
            ["*"],
        )
        policy = iam.CfnManagedPolicy(
            self,
            "PermissionBoundary",
            path=n.iam_path,
            managed_policy_name=n.permission_boundary,
            description=f"Permission boundary of every role of ML product {n.deployment_id}",
            policy_document=boundary.lazy(),
        )
        boundary.reported_on(policy)
        return policy


@jsii.implements(IAspect)
class PermissionBoundaryAspect:
    """Sets the permission boundary on every IAM role in scope, including roles added later."""

    def __init__(self, boundary_arn: str) -> None:
        self.boundary_arn = boundary_arn

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnRole):
            node.permissions_boundary = self.boundary_arn

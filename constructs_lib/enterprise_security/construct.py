"""EnterpriseSecurity: encryption, private networking and compliance logging.

A rotating KMS key (and alias) that encrypts the artifacts bucket, the builds, the pipeline
artifacts, the compliance log group and the alerts topic; VPC endpoints for SageMaker API,
SageMaker Runtime, S3 and STS in an existing VPC; the compliance log group (the builds' logs, with
secrets masked) with metric filters and alarms that notify an SNS topic with an email subscription.
The key, the log group and the SSM outputs reach StarterCore through its props (the stack wires
them). The permission boundary on every role is StarterCore's, in every tier.

The VPC id and the SG-provisioner's security group id may live in SSM: they are then
CloudFormation parameters of an SSM parameter type, resolved at deploy time, never at synth time.
"""

from __future__ import annotations

import functools

from aws_cdk import CfnParameter, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib._iam import acknowledge
from constructs_lib.enterprise_security import policies
from constructs_lib.enterprise_security.props import EndpointNetwork, EnterpriseSecurityProps
from constructs_lib.names import ProductNames


class EnterpriseSecurity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, props: EnterpriseSecurityProps) -> None:
        super().__init__(scope, construct_id)
        names, network = props.names, props.network
        removal = RemovalPolicy.DESTROY if names.is_test else RemovalPolicy.RETAIN

        self.key = kms.CfnKey(
            self,
            "Key",
            description=f"Encrypts the data of ML product {names.deployment_id}",
            enable_key_rotation=True,
            pending_window_in_days=30,
            key_policy=policies.key_policy(names),
        )
        self.key.apply_removal_policy(removal)
        self.alias = kms.CfnAlias(self, "KeyAlias", alias_name=names.kms_alias, target_key_id=self.key.ref)

        self.vpc_id = _vpc_id(self, network)
        self.security_group, self.security_group_id = _endpoint_security_group(self, names, network, self.vpc_id)
        self.endpoints = {
            output: _endpoint(
                self, names, network, output, service, vpc_id=self.vpc_id, security_group_id=self.security_group_id
            )
            for output, service in policies.ENDPOINT_SERVICES.items()
            if not (service == "s3" and network.s3_gateway_endpoint_id)
        }
        self.s3_gateway_endpoint_id = network.s3_gateway_endpoint_id

        self.log_group = logs.CfnLogGroup(
            self,
            "ComplianceLogGroup",
            log_group_name=names.compliance_log_group,
            retention_in_days=props.log_retention_days,
            kms_key_id=self.key.attr_arn,
            data_protection_policy=policies.data_protection_policy(names),
        )
        self.log_group.apply_removal_policy(removal)
        self.topic = sns.CfnTopic(
            self,
            "SecurityAlertsTopic",
            topic_name=names.alerts_topic,
            display_name=f"Security alerts of {names.deployment_id}",
            kms_master_key_id=self.key.attr_arn,
        )
        acknowledge(
            self.topic,
            (
                "AwsSolutions-SNS3",
                "The only publishers are this stack's CloudWatch alarms (an AWS service over TLS) and the "
                "topic is KMS-encrypted; a topic policy would add a resource outside the tier's inventory.",
            ),
        )
        self.subscription = sns.CfnSubscription(
            self, "SecurityAlertsEmail", topic_arn=self.topic.ref, protocol="email", endpoint=props.alerts_email
        )
        self.metric_filters, self.alarms = _build_alarms(self, names, log_group=self.log_group, topic=self.topic)

    @functools.cached_property  # read once per output when the template is rendered
    def outputs(self) -> dict[str, str]:
        """The tier's SSM outputs, in the order they are published."""
        outputs = {"KmsKeyArn": self.key.attr_arn, "LogGroupName": self.log_group.ref}
        outputs |= {
            output: self.s3_gateway_endpoint_id
            if policies.ENDPOINT_SERVICES[output] == "s3" and self.s3_gateway_endpoint_id
            else self.endpoints[output].ref
            for output in policies.ENDPOINT_SERVICES
        }
        if self.security_group is not None:
            outputs["SecurityGroupId"] = self.security_group.attr_group_id
        return outputs


# -- network ------------------------------------------------------------------------------------
def _vpc_id(scope: Construct, network: EndpointNetwork) -> str:
    if network.vpc_id:
        return network.vpc_id
    return CfnParameter(
        Stack.of(scope),
        "VpcId",
        type="AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>",
        default=network.vpc_id_ssm_parameter,
        description="SSM parameter holding the id of the VPC the endpoints are placed in",
    ).value_as_string


def _endpoint_security_group(
    scope: Construct, names: ProductNames, network: EndpointNetwork, vpc_id: str
) -> tuple[ec2.CfnSecurityGroup | None, str]:
    if network.security_group_id_ssm_parameter:
        parameter = CfnParameter(
            Stack.of(scope),
            "EndpointSecurityGroupId",
            type="AWS::SSM::Parameter::Value<AWS::EC2::SecurityGroup::Id>",
            default=network.security_group_id_ssm_parameter,
            description="SSM parameter holding the SG-provisioner's security group for the endpoints",
        )
        return None, parameter.value_as_string
    group = ec2.CfnSecurityGroup(
        scope,
        "EndpointSecurityGroup",
        group_name=names.endpoint_security_group,
        group_description=f"HTTPS to the VPC endpoints of ML product {names.deployment_id}",
        vpc_id=vpc_id,
        security_group_ingress=[
            ec2.CfnSecurityGroup.IngressProperty(
                ip_protocol="tcp", from_port=443, to_port=443, cidr_ip=cidr, description="HTTPS from " + cidr
            )
            for cidr in network.endpoint_client_cidrs
        ],
        # Endpoint interfaces open no connections; the SageMaker jobs and models the builds run in this
        # group (build contract: SECURITY_GROUP_IDS) open HTTPS to the endpoints and to S3, which a
        # gateway endpoint reaches at S3's public addresses: HTTPS out, nothing else. Where the VPC
        # routes no further (no NAT), that is all it reaches.
        security_group_egress=[
            ec2.CfnSecurityGroup.EgressProperty(
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ip="0.0.0.0/0",
                description="HTTPS from SageMaker jobs in this group to the VPC endpoints and S3",
            )
        ],
    )
    return group, group.attr_group_id


def _endpoint(
    scope: Construct,
    names: ProductNames,
    network: EndpointNetwork,
    output: str,
    service: str,
    *,
    vpc_id: str,
    security_group_id: str,
) -> ec2.CfnVPCEndpoint:
    construct_id = output.removeprefix("VpcEndpointId") + "Endpoint"
    # Service names come from the CDK's region facts (China prefixes most with cn.com.amazonaws).
    if service == "s3" and network.route_table_ids:
        return ec2.CfnVPCEndpoint(
            scope,
            construct_id,
            vpc_id=vpc_id,
            service_name=ec2.GatewayVpcEndpointAwsService.S3.name,
            vpc_endpoint_type="Gateway",
            route_table_ids=list(network.route_table_ids),
            policy_document=policies.endpoint_policy(names, service),
        )
    # S3's interface endpoint answers S3's public names for every resolver in the VPC (no gateway
    # endpoint beside it to take the VPC's own traffic).
    dns_options = (
        ec2.CfnVPCEndpoint.DnsOptionsSpecificationProperty(
            private_dns_only_for_inbound_resolver_endpoint="AllResolvers"
        )
        if service == "s3" and network.private_dns
        else None
    )
    return ec2.CfnVPCEndpoint(
        scope,
        construct_id,
        vpc_id=vpc_id,
        vpc_endpoint_type="Interface",
        service_name=ec2.InterfaceVpcEndpointAwsService(service).name,
        subnet_ids=list(network.subnet_ids),
        security_group_ids=[security_group_id],
        # Off when the VPC already resolves these names to other endpoints (vpc_integration.private_dns).
        private_dns_enabled=network.private_dns,
        dns_options=dns_options,
        policy_document=policies.endpoint_policy(names, service),
    )


# -- compliance alerts --------------------------------------------------------------------------
def _build_alarms(
    scope: Construct, names: ProductNames, *, log_group: logs.CfnLogGroup, topic: sns.CfnTopic
) -> tuple[list[logs.CfnMetricFilter], list[cloudwatch.CfnAlarm]]:
    """A metric filter per compliance pattern on the log group, and an alarm on each to the topic."""
    n = names
    filters, alarms = [], []
    for name, pattern, meaning in policies.COMPLIANCE_FILTERS:
        construct_id = "".join(word.title() for word in name.split("-"))
        metric_name = construct_id
        metric_filter = logs.CfnMetricFilter(
            scope,
            f"{construct_id}Filter",
            filter_name=n.alarm(name),
            log_group_name=log_group.ref,
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
            scope,
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
            alarm_actions=[topic.ref],
            ok_actions=[topic.ref],
        )
        alarm.add_resource_dependency(metric_filter)
        filters.append(metric_filter)
        alarms.append(alarm)
    return filters, alarms

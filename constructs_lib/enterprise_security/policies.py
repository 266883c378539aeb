"""The enterprise tier's documents as pure functions of the names: the key policy, the endpoint
policies, the compliance log group's data protection policy."""

from __future__ import annotations

from typing import Final

from constructs_lib.names import AlarmKind, ProductNames
from constructs_lib.policy_document import Json

# Interface endpoints (and S3, gateway or interface) by SSM output name.
ENDPOINT_SERVICES = {
    "VpcEndpointIdSagemakerApi": "sagemaker.api",
    "VpcEndpointIdSagemakerRuntime": "sagemaker.runtime",
    "VpcEndpointIdS3": "s3",
    "VpcEndpointIdSts": "sts",
}

# Patterns on the builds' log lines: (metric and alarm name, CloudWatch Logs filter pattern, meaning)
COMPLIANCE_FILTERS: Final[tuple[tuple[AlarmKind, str, str], ...]] = (
    (
        "access-denied",
        '?AccessDenied ?AccessDeniedException ?UnauthorizedOperation ?"not authorized to perform"',
        "an AWS call of the product was denied (possible privilege probing or a boundary violation)",
    ),
    ("build-failures", '"Phase complete: BUILD State: FAILED"', "a model build or deploy failed"),
)

# CloudWatch Logs managed data identifiers masked in the compliance log group.
MASKED_SECRETS = ("AwsSecretKey", "OpenSshPrivateKey", "PgpPrivateKey", "PkcsPrivateKey", "PuttyPrivateKey")


def key_policy(names: ProductNames) -> Json:
    """Account administrators manage the key through IAM (roles get use via their own policies);
    CloudWatch Logs may use it for the compliance log group, CloudWatch for the alerts topic."""
    n = names
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{n.partition}:iam::{n.account}:root"},
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
                        "kms:EncryptionContext:aws:logs:arn": n.arn("logs", f"log-group:{n.compliance_log_group}")
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
    }


def endpoint_policy(names: ProductNames, service: str) -> Json:
    """Only principals of this account may use the endpoint; on S3 also the AWS-owned buckets other
    workloads of the VPC read (ECR image layers, Amazon Linux repositories); on STS also federated sign-in
    (AssumeRoleWithSAML/WithWebIdentity carry no principal account: IAM's "STS VPC endpoint
    policies"), limited to this account's roles, so every workload of the VPC can still federate."""
    n = names
    statements: list[Json] = [
        {
            "Sid": "OnlyThisAccount",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": n.account}},
        }
    ]
    if service == "s3":
        # The S3 endpoint changes how every workload of the VPC reaches S3 (a gateway endpoint, for
        # all subnets on its route tables; an interface endpoint with private DNS, for the VPC's
        # resolvers). Some of their reads are signed by AWS, not by this account: image layers ECR
        # hands out (Amazon ECR User Guide, "Minimum Amazon S3 bucket permissions for Amazon ECR")
        # and the Amazon Linux package repositories (Amazon Linux User Guide, "Amazon S3 gateway
        # endpoint" policies). Those AWS-owned buckets stay readable; nothing else does.
        statements.append(
            {
                "Sid": "AwsOwnedBucketsOfOtherWorkloads",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [
                    f"arn:{n.partition}:s3:::{bucket}/*"
                    for bucket in (
                        f"prod-{n.region}-starport-layer-bucket",
                        f"al2023-repos-{n.region}-de612dc2",
                        f"amazonlinux-2-repos-{n.region}",
                        f"packages.{n.region}.amazonaws.com",
                        f"repo.{n.region}.amazonaws.com",
                    )
                ],
            }
        )
    if service == "sts":
        statements.append(
            {
                "Sid": "FederationIntoThisAccount",
                "Effect": "Allow",
                "Principal": "*",
                # with session tags (SAML or OIDC claims), STS also authorizes sts:TagSession on the role
                "Action": ["sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                "Resource": n.arn("iam", "role/*", region=False),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def data_protection_policy(names: ProductNames) -> Json:
    """Secrets a build prints are masked in the compliance log group (and audited)."""
    identifiers = [f"arn:{names.partition}:dataprotection::aws:data-identifier/{name}" for name in MASKED_SECRETS]
    return {
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
    }


def output_names(*, creates_security_group: bool) -> tuple[str, ...]:
    """The tier's SSM outputs, in the order StarterCore publishes them."""
    security_group = ("SecurityGroupId",) if creates_security_group else ()
    return ("KmsKeyArn", "LogGroupName", *ENDPOINT_SERVICES, *security_group)

"""The enterprise VPC endpoints as AWS runs them: private DNS that resolves (or is switched off to
share a VPC), S3 private DNS without a gateway endpoint, and endpoint policies that keep
federated sign-in working for the whole VPC."""

from __future__ import annotations

import pytest

from ml_provisioner.config.loader import LoadedConfig, load_config
from tests.conftest import example

CASES = {
    "standalone": "globalbank s3 standalone direct",
    "sgprov": "globalbank codecommit sgprov ssm",
}


def _without_private_dns(fragment: str) -> LoadedConfig:
    loaded = load_config(example(fragment))
    vpc = loaded.config.vpc_integration.model_copy(update={"private_dns": False})  # type: ignore[union-attr]
    shared = loaded.path.with_name("shared-vpc-" + loaded.path.name)  # its own stack in the app
    return LoadedConfig(shared, loaded.config.model_copy(update={"vpc_integration": vpc}))


@pytest.fixture(scope="module")
def endpoints():
    """service (last part of the service name) -> endpoint properties, per case."""
    from ml_provisioner.synth import synthesize

    configs = {case: load_config(example(fragment)) for case, fragment in CASES.items()}
    configs["standalone-no-private-dns"] = _without_private_dns(CASES["standalone"])
    results = synthesize(list(configs.values()), nag=False)
    return {
        case: {
            _service(r["Properties"]["ServiceName"]): r["Properties"]
            for r in result.template["Resources"].values()
            if r["Type"] == "AWS::EC2::VPCEndpoint"
        }
        for case, result in zip(configs, results, strict=True)
    }


def _service(name) -> str:
    text = name if isinstance(name, str) else "".join(p for p in name["Fn::Join"][1] if isinstance(p, str))
    return text.split(".", 3)[-1] if text.count(".") >= 3 else text.rsplit(".", 1)[-1]


@pytest.mark.synth
def test_interface_endpoints_have_private_dns_and_s3_answers_every_resolver(endpoints):
    standalone = endpoints["standalone"]
    assert set(standalone) == {"sagemaker.api", "sagemaker.runtime", "s3", "sts"}
    for service, endpoint in standalone.items():
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["PrivateDnsEnabled"] is True, f"{service}: clients would not resolve to the endpoint"
    # Without a gateway endpoint, S3's private DNS must be on for all resolvers (AWS's default needs one).
    assert standalone["s3"]["DnsOptions"] == {"PrivateDnsOnlyForInboundResolverEndpoint": "AllResolvers"}


@pytest.mark.synth
def test_private_dns_false_lets_a_second_product_share_the_vpc(endpoints):
    shared = endpoints["standalone-no-private-dns"]
    assert {service: e["PrivateDnsEnabled"] for service, e in shared.items()} == dict.fromkeys(shared, False)
    assert "DnsOptions" not in shared["s3"]
    assert len(shared) == 4, "the spec's endpoint count is unchanged"


@pytest.mark.synth
@pytest.mark.parametrize("case", ["standalone", "sgprov"])
def test_every_endpoint_admits_only_this_accounts_principals(endpoints, case):
    account = load_config(example(CASES[case])).config.client.account_id
    for service, endpoint in endpoints[case].items():
        [only_account] = [s for s in endpoint["PolicyDocument"]["Statement"] if s["Sid"] == "OnlyThisAccount"]
        assert only_account["Condition"] == {"StringEquals": {"aws:PrincipalAccount": account}}, service
    gateway = endpoints["sgprov"]["s3"]
    assert gateway["VpcEndpointType"] == "Gateway" and "PolicyDocument" in gateway


@pytest.mark.synth
def test_sts_endpoint_lets_federated_callers_assume_this_accounts_roles(endpoints):
    """AssumeRoleWithSAML/WithWebIdentity requests carry no aws:PrincipalAccount (IAM's "STS VPC
    endpoint policies"): without their own statement every OIDC/SAML workload of the VPC fails."""
    account = load_config(example(CASES["standalone"])).config.client.account_id
    statements = endpoints["standalone"]["sts"]["PolicyDocument"]["Statement"]
    [federation] = [s for s in statements if "Condition" not in s]
    assert federation == {
        "Sid": "FederationIntoThisAccount",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
        "Resource": f"arn:aws:iam::{account}:role/*",
    }
    for service in ("sagemaker.api", "sagemaker.runtime"):
        assert len(endpoints["standalone"][service]["PolicyDocument"]["Statement"]) == 1
    # S3: this account, and reading the AWS-owned buckets other workloads use (test_construct_policies)
    assert [s["Sid"] for s in endpoints["standalone"]["s3"]["PolicyDocument"]["Statement"]] == [
        "OnlyThisAccount",
        "AwsOwnedBucketsOfOtherWorkloads",
    ]

"""The AWS lifecycle, end to end over HTTP against the local endpoint on 127.0.0.1.

deploy -> SSM read-back -> show-changes after a config change -> update -> drift after an
out-of-band change -> delete with the retained resources still there; plus test-deploy, a
redeploy with no changes, ROLLBACK_COMPLETE, throttling, no endpoint and no credentials.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from botocore.awsrequest import AWSResponse

from ml_provisioner.config.loader import load_config
from tests.support.processes import closed_local_url
from tests.support.sandbox import ACCOUNT, bucket_of, cli, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)


@pytest.mark.parametrize(
    "fragment",
    ["techcorp codecommit", "edge s3 realtime", "globalbank codecommit sgprov ssm"],
    ids=["starter", "professional", "enterprise"],
)
def test_whole_lifecycle(aws, fragment):
    config, data = product(fragment, aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    product_id, stack_name, ssm = names.deployment_id, names.stack_name, aws("ssm", region)

    # deploy, and every SSM output is read back and equals the stack's output
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert f"stack {stack_name}: created" in out
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack(aws, stack_name, region)["Outputs"]}
    published = {
        p["Name"].rsplit("/", 1)[1]: p["Value"]
        for p in ssm.get_parameters_by_path(Path=f"/ml-provisioner/{product_id}")["Parameters"]
    }
    assert published == outputs and len(published) >= 2
    assert stack(aws, stack_name, region)["EnableTerminationProtection"] is True, "prod is protected"

    # show-changes after a config change: a preview, never executed
    data["tags"]["owner"] = "new-owner@example.com"
    Path("ml/configs", config).write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = cli("show-changes", "-c", config)
    assert code == 0, err
    assert "Modify" in out and f"{stack_name}:" in out
    assert {t["Key"]: t["Value"] for t in stack(aws, stack_name, region)["Tags"]}["Owner"] != "new-owner@example.com"
    code, out, _ = cli("show-changes", "-c", config, "--json")
    assert {c["action"] for c in json.loads(out)["changes"]} == {"Modify"}

    # update, then a redeploy of the same config changes nothing
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert f"stack {stack_name}: updated" in out
    bucket = (
        next(o["OutputValue"] for o in stack(aws, stack_name, region)["Outputs"] if o["OutputKey"] == "BucketName")
        if data["tier"] != "starter"
        else bucket_of(aws, stack_name, region)
    )
    tags = {t["Key"]: t["Value"] for t in aws("s3", region).get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["Owner"] == "new-owner@example.com", "the update reached the resources"
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert (code, f"stack {stack_name}: no changes") == (0, out.strip().splitlines()[-1].split(";")[0])

    # drift: in sync, then an out-of-band change to an SSM output is reported (exit 3)
    code, out, err = cli("check-drift", "-c", config)
    assert (code, out.strip().splitlines()[-1].split(" (")[0]) == (0, f"{stack_name}: IN_SYNC"), out + err
    parameter = f"/ml-provisioner/{product_id}/ModelPackageGroupArn"
    ssm.put_parameter(Name=parameter, Value="arn:aws:sagemaker:tampered", Type="String", Overwrite=True)
    code, out, _ = cli("check-drift", "-c", config, "--json")
    report = json.loads(out)
    assert code == 3 and report["drifted"]
    [drift] = report["resources"]
    assert (drift["resource_type"], drift["differences"][0]["actual"]) == (
        "AWS::SSM::Parameter",
        "arn:aws:sagemaker:tampered",
    )
    assert report["ssm_mismatches"][0].startswith(f"{parameter}: holds 'arn:aws:sagemaker:tampered'")

    # delete: protected without --force; with it, data resources outlive the stack
    assert cli("delete-product", "-c", config)[0] == 2
    code, out, err = cli("delete-product", "-c", config, "--force", "--json")
    assert code == 0, err
    retained = {r["resource_type"]: r["name"] for r in json.loads(out)["retained"]}
    aws("s3", region).head_bucket(Bucket=retained["AWS::S3::Bucket"])
    aws("sagemaker", region).describe_model_package_group(
        ModelPackageGroupName=retained["AWS::SageMaker::ModelPackageGroup"]
    )
    if data["ml_product"]["source_control"] == "codecommit":
        aws("codecommit", region).get_repository(repositoryName=retained["AWS::CodeCommit::Repository"])
    if data["tier"] == "enterprise":
        assert {"AWS::KMS::Key", "AWS::Logs::LogGroup"} <= retained.keys()
    assert not [s for s in aws("cloudformation", region).describe_stacks()["Stacks"] if s["StackName"] == stack_name]


def deployed_with_a_test_deployment(fragment: str, aws) -> tuple[str, dict, str]:
    """An example deployed, then test-deployed beside it: (config, its data, the test stack's name)."""
    config, data = product(fragment, aws)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    code, out, err = cli("test-deploy", "-c", config)
    assert code == 0, err
    return config, data, out.split("test stack name: ")[1].split()[0]


def test_test_deploy_runs_beside_the_product_and_is_removed_with_its_data(aws):
    config, data, test_stack = deployed_with_a_test_deployment("techcorp s3", aws)
    region = data["environment"]["region"]
    real_stack = f"techcorp-prod-{data['client']['tenant_id']}-customer-churn--ml"
    assert re.fullmatch(rf"t[0-9a-f]{{4}}--{re.escape(real_stack)}", test_stack)
    suffix = test_stack.split("--", 1)[0]
    assert all(suffix in o["OutputValue"] for o in stack(aws, test_stack, region)["Outputs"]), "isolated names"
    assert stack(aws, test_stack, region)["StackStatus"] == "CREATE_COMPLETE"
    assert stack(aws, test_stack, region).get("EnableTerminationProtection") is not True
    # the test bucket holds data: delete-product empties and removes it
    resources = aws("cloudformation", region).describe_stack_resources(StackName=test_stack)["StackResources"]
    bucket = next(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::S3::Bucket")
    aws("s3", region).put_object(Bucket=bucket, Key="source/model-build.zip", Body=b"zip")
    code, out, err = cli("delete-product", "-c", config, "--stack-name", test_stack, "--force")
    assert code == 0, err
    assert bucket not in [b["Name"] for b in aws("s3", region).list_buckets()["Buckets"]]
    assert stack(aws, real_stack, region)["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def test_an_enterprise_test_deployment_runs_beside_the_product_in_its_vpc(aws):
    """The product's endpoints have private DNS and the S3 gateway route: the test deployment's
    preflight, which refuses a second of either, passes, and its endpoints are the beside kind."""
    config, data, test_stack = deployed_with_a_test_deployment("globalbank codecommit sgprov direct", aws)
    region = data["environment"]["region"]
    resources = aws("cloudformation", region).describe_stack_resources(StackName=test_stack)["StackResources"]
    ids = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::EC2::VPCEndpoint"]
    found = aws("ec2", region).describe_vpc_endpoints(VpcEndpointIds=ids)["VpcEndpoints"]
    assert len(found) == 4 and {e["VpcEndpointType"] for e in found} == {"Interface"}
    assert not any(e.get("PrivateDnsEnabled") for e in found)
    assert cli("delete-product", "-c", config, "--stack-name", test_stack, "--force")[0] == 0


def test_a_second_sgprov_product_in_the_vpc_uses_the_first_ones_s3_gateway_endpoint(aws):
    """AWS allows one S3 gateway endpoint per route table and one private-DNS endpoint per service:
    demand-forecasting-batch, as bundled, names demand-forecasting's gateway and has no private DNS."""
    first, data = product("globalbank codecommit sgprov direct", aws)
    assert cli("deploy-product", "-c", first, "--force")[0] == 0
    region, vpc = data["environment"]["region"], data["vpc_integration"]
    first_stack = load_config(f"ml/configs/{first}").names().stack_name
    gateway = {o["OutputKey"]: o["OutputValue"] for o in stack(aws, first_stack, region)["Outputs"]}["VpcEndpointIdS3"]
    ssm = aws("ssm", region)
    group = ssm.get_parameter(Name=vpc["security_group_id_ssm_parameter"])["Parameter"]["Value"]

    second, _ = product(
        "globalbank batch codecommit sgprov direct",
        aws,
        vpc_integration__vpc_id=vpc["vpc_id"],
        vpc_integration__subnet_ids=vpc["subnet_ids"],
        vpc_integration__s3_gateway_endpoint_id=gateway,
    )
    ssm.put_parameter(Name=vpc["security_group_id_ssm_parameter"], Value=group, Type="String", Overwrite=True)
    code, out, err = cli("deploy-product", "-c", second, "--force")
    assert code == 0, err
    second_stack = load_config(f"ml/configs/{second}").names().stack_name
    resources = aws("cloudformation", region).describe_stack_resources(StackName=second_stack)["StackResources"]
    ids = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::EC2::VPCEndpoint"]
    found = aws("ec2", region).describe_vpc_endpoints(VpcEndpointIds=ids)["VpcEndpoints"]
    assert sorted(e["ServiceName"].rsplit(".", 1)[1] for e in found) == ["api", "runtime", "sts"]
    assert not any(e.get("PrivateDnsEnabled") for e in found)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack(aws, second_stack, region)["Outputs"]}
    assert outputs["VpcEndpointIdS3"] == gateway, "it publishes the endpoint it uses"


def test_deleting_a_product_that_is_not_deployed_says_so_and_succeeds(aws):
    config, _ = product("techcorp s3", aws)
    code, out, err = cli("delete-product", "-c", config, "--force")
    assert code == 0, err
    assert "is not deployed: nothing to delete" in out
    code, out, _ = cli("delete-product", "-c", config, "--force", "--json")
    assert code == 0 and json.loads(out)["deployed"] is False


def test_delete_product_refuses_a_stack_name_of_another_product(aws):
    config, _ = product("techcorp s3", aws)
    code, _, err = cli("delete-product", "-c", config, "--stack-name", "someone-elses-ml", "--force")
    assert code == 2
    assert "is neither" in err


@pytest.mark.parametrize("command", ["delete-product", "check-drift"])
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_stack_name_is_refused_and_the_product_is_untouched(aws, command, empty):
    """`--stack-name "$TEST_STACK"` after a failed test-deploy: never the product's own stack."""
    config, data = product("techcorp s3", aws)
    region, stack_name = data["environment"]["region"], load_config(f"ml/configs/{config}").names().stack_name
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    force = ["--force"] if command == "delete-product" else []
    code, _, err = cli(command, "-c", config, "--stack-name", empty, *force)
    assert code == 2, err
    assert err.startswith("error: --stack-name is empty\n")
    assert f"leave --stack-name out for the product's own stack {stack_name}" in err
    assert stack(aws, stack_name, region)["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert stack(aws, stack_name, region).get("EnableTerminationProtection") is True  # a prod product


def test_failed_deploy_names_the_failing_resource_and_a_rolled_back_stack_is_replaced_with_force(aws):
    config, data = product("techcorp s3 batch", aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    blocker = names.ssm_parameter("ModelPackageGroupArn")  # a name that is in the way (not retained data)
    aws("ssm", region).put_parameter(Name=blocker, Value="in the way", Type="String")
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 1
    assert f"error: stack {names.stack_name} is ROLLBACK_COMPLETE: StarterCoreOutputModelPackageGroupArn" in err
    assert "ParameterAlreadyExists" in err and "it left behind" in err

    aws("ssm", region).delete_parameter(Name=blocker)
    code, _, err = cli("deploy-product", "-c", config)
    assert code == 2 and "ROLLBACK_COMPLETE" in err and "--force" in err
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert "imported 2 retained resource(s)" in out, "what the failed creation left behind is reused"
    assert stack(aws, names.stack_name, region)["StackStatus"] == "UPDATE_COMPLETE"


def test_deploy_needs_force_without_a_terminal(aws):
    config, data = product("techcorp codecommit batch", aws)
    code, _, err = cli("deploy-product", "-c", config)
    assert code == 2
    assert "stdin is not a terminal" in err and "--force" in err
    stacks = aws("cloudformation", data["environment"]["region"]).describe_stacks()["Stacks"]
    assert not [s for s in stacks if data["client"]["tenant_id"] in s["StackName"]], "nothing half-done"


def test_credentials_of_another_account_are_refused(aws):
    config, _ = product("techcorp codecommit", aws, client__account_id="999999999999")
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 2
    assert f"the credentials are for account {ACCOUNT}, the config is for 999999999999" in err


def test_throttled_calls_are_retried_and_the_deploy_succeeds(aws, monkeypatch):
    from ml_provisioner.aws.session import AwsSession

    throttled = []

    def throttle_first_calls(request, **kwargs):
        if len(throttled) < 3:
            throttled.append(request.url)
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
            )
            return AWSResponse(request.url, 400, {}, _Raw(body))
        return None

    original = AwsSession.client

    def client_with_throttling(self, service):
        fresh = service not in self._clients
        made = original(self, service)
        if fresh and service == "cloudformation":
            made.meta.events.register("before-send.cloudformation", throttle_first_calls)
        return made

    monkeypatch.setattr(AwsSession, "client", client_with_throttling)
    config, _ = product("edge codecommit", aws)
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert len(throttled) == 3 and "created" in out


class _Raw:
    """The raw body botocore reads from a short-circuited response."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body

    def read(self, *args):
        return self._body


def test_unreachable_endpoint_is_a_clear_error(aws):
    config, _ = product("techcorp codecommit", aws)
    closed = closed_local_url()
    code, _, err = cli("check-drift", "-c", config, "--endpoint-url", closed)
    assert code == 1
    assert f"error: check-drift: cannot reach the AWS endpoint {closed}" in err
    assert "Traceback" not in err


def test_missing_credentials_are_a_clear_error(aws, monkeypatch, tmp_path):
    config, _ = product("techcorp codecommit", aws)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = cli("show-changes", "-c", config)
    assert code == 1
    assert "error: show-changes: no AWS credentials found" in err
    assert "aws sts get-caller-identity" in err


def test_large_templates_go_through_an_encrypted_staging_bucket(aws, monkeypatch):
    from ml_provisioner import staging

    monkeypatch.setattr(staging, "TEMPLATE_BODY_LIMIT", 1_000)
    config, data = product("globalbank s3 standalone direct", aws)
    region = data["environment"]["region"]
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    names = load_config(f"ml/configs/{config}").names()
    bucket = staging.staging_bucket(names)
    s3 = aws("s3", region)
    staged = s3.list_objects_v2(Bucket=bucket, Prefix=staging.staging_prefix(names))
    assert staged["KeyCount"] == 1, "the template went through S3"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]


def test_a_change_set_that_changes_no_resource_is_never_left_behind(aws):
    """The same product from a file of another name: its template differs only in Metadata (the
    stamp names the file), so the change set changes no resource; the deploy deletes it."""
    config, data = product("techcorp s3", aws)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    renamed = Path("ml/configs/the-same-product.yaml")
    renamed.write_text(Path("ml/configs", config).read_text())
    code, out, err = cli("deploy-product", "-c", renamed.name, "--force")
    assert code == 0, out + err
    names = load_config(f"ml/configs/{config}").names()
    summaries = aws("cloudformation", names.region).list_change_sets(StackName=names.stack_name)["Summaries"]
    left = [s for s in summaries if s["ExecutionStatus"] == "AVAILABLE"]
    assert left == [], left

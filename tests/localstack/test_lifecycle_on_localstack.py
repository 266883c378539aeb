"""The change-set lifecycle of a starter `s3` product on a second, independent emulator: LocalStack
community 4.14.0 (scripts/test-localstack). What it lacks is listed in docs/localstack.md; where it
lacks an API the tool calls (SageMaker), that one service goes to the sandbox, through botocore's
own per-service endpoint variable."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import load_config
from ml_provisioner.policy.boundary import boundary_document
from tests.conftest import example
from tests.support.sandbox import cli, on_endpoint

pytestmark = pytest.mark.synth

ACCOUNT = "123456789012"  # LocalStack takes a 12-digit access key id as the account


@pytest.fixture
def localstack(endpoint, monkeypatch, tmp_path):
    """The CLI's environment: LocalStack for every service, SageMaker (absent there) in the sandbox."""
    url = os.environ["ML_PROVISIONER_LOCALSTACK_URL"]
    assert url.startswith("http://127.0.0.1:")
    client = on_endpoint(url, ACCOUNT, monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", endpoint)
    return client


def starter_s3_product(localstack) -> tuple[str, str, str]:
    """The starter s3 example under a tenant of its own, with the boundary an administrator made
    by hand (LocalStack's ManagedPolicy resource drops its Path, so bootstrap's cannot be used):
    (config file name, stack name, region)."""
    data = yaml.safe_load(example("techcorp s3").read_text())
    data["client"]["account_id"] = ACCOUNT
    tenant = f"l{uuid.uuid4().hex[:3]}"
    old_tenant, data["client"]["tenant_id"] = data["client"]["tenant_id"], tenant
    name = example("techcorp s3").name.replace(f"-{old_tenant}-", f"-{tenant}-", 1)
    path = Path("ml/configs") / name
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    names = load_config(path).names()
    localstack("iam", names.region).create_policy(
        PolicyName=names.permission_boundary,
        Path=names.permission_boundary_path,
        PolicyDocument=json.dumps(boundary_document(names)),
    )
    return name, names.stack_name, names.region


def test_deploy_plan_update_test_deploy_and_delete_on_localstack(localstack):
    config, stack_name, region = starter_s3_product(localstack)
    cfn, s3 = localstack("cloudformation", region), localstack("s3", region)

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, out + err
    [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["ml-provisioner:product"], "ownership tags arrived"
    assert stack["EnableTerminationProtection"] is True
    assert "read back and checked" in out
    code, out, _ = cli("deploy-product", "-c", config, "--force")
    assert code == 0 and "no changes" in out

    # a saved plan: LocalStack's GetTemplate of a change set returns the stack's template, so the
    # plan cannot be confirmed by the emulator's word, and the tool refuses to execute it
    data = yaml.safe_load(Path("ml/configs", config).read_text())
    data["tags"]["owner"] = "platform@example.com"
    Path("ml/configs", config).write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = cli("show-changes", "-c", config, "--save", "--json")
    assert code == 0, err
    plan = json.loads(out)["plan"]
    code, _, err = cli("deploy-product", "-c", config, "--plan", plan, "--force")
    assert code == 2 and "its template's SHA-256 differs" in err
    code, _, err = cli("show-changes", "-c", config, "--discard", plan)
    assert code == 0, err

    # the update, without a plan
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["Owner"] == "platform@example.com"

    # a test deployment beside it, then removed with its data
    code, out, err = cli("test-deploy", "-c", config)
    assert code == 0, err
    test_stack = out.split("test stack name: ")[1].split()[0]
    assert cfn.describe_stacks(StackName=test_stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    code, _, err = cli("delete-product", "-c", config, "--stack-name", test_stack, "--force")
    assert code == 0, err

    # the product: protection turned off, the stack deleted, its bucket retained
    bucket = next(
        r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
        if r["ResourceType"] == "AWS::S3::Bucket"
    )
    code, out, err = cli("delete-product", "-c", config, "--force", "--json")
    assert code == 0, err
    assert bucket in [r["name"] for r in json.loads(out)["retained"]]
    live = [s for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert stack_name not in [s["StackName"] for s in live]
    s3.head_bucket(Bucket=bucket)

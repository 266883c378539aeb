"""Service-role mode in the sandbox: CloudFormation acts with the product's execution role
(create-policy --service-role) for deploy, test-deploy, drift and delete; the caller never lends
its own credentials to a stack operation."""

from __future__ import annotations

import json

import pytest

from ml_provisioner.config.loader import load_config
from tests.support.sandbox import cli, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)


def test_deploy_test_deploy_drift_and_delete_run_with_the_execution_role(aws):
    config, data = product("techcorp s3", aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    role = names.execution_role_arn
    assert role.split(":role/")[1].startswith("ml-provisioner-deployer/"), "outside the product's IAM path"

    code, out, err = cli("deploy-product", "-c", config, "--force", "--service-role")
    assert code == 0, err
    assert stack(aws, names.stack_name, region).get("RoleARN") == role

    code, out, err = cli("test-deploy", "-c", config, "--service-role")
    assert code == 0, err
    test_stack = out.split("test stack name: ")[1].split()[0]
    assert stack(aws, test_stack, region).get("RoleARN") == role, "test deployments use the same role"

    code, out, err = cli("check-drift", "-c", config, "--service-role")
    assert code == 0 and out.strip().splitlines()[-1].startswith(f"{names.stack_name}: IN_SYNC"), out + err

    for stack_name in (test_stack, names.stack_name):
        code, out, err = cli(
            "delete-product", "-c", config, "--stack-name", stack_name, "--force", "--json", "--service-role"
        )
        assert code == 0, err
        assert json.loads(out)["deleted"]
    remaining = [s["StackName"] for s in aws("cloudformation", region).describe_stacks()["Stacks"]]
    assert names.stack_name not in remaining and test_stack not in remaining

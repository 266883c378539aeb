"""Ownership before action, over HTTP against the sandbox: a command refuses a stack that is not
its config's (exit 2, saying whose it is) and leaves it exactly as it was; a look-alike name is
never mistaken for a test deployment; test-deploy never updates an existing stack; a
source_control switch is refused unless asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import load_config
from tests.support.sandbox import cli, create_boundary, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

MINIMAL_TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def names_of(name: str):
    return load_config(Path("ml/configs") / name).names()


def pending_change_sets(aws, stack_name: str, region: str) -> list[dict]:
    summaries = aws("cloudformation", region).list_change_sets(StackName=stack_name)["Summaries"]
    return [c for c in summaries if c["ExecutionStatus"] == "AVAILABLE"]


def _objects(aws, bucket: str, region: str) -> list[str]:
    versions = aws("s3", region).list_object_versions(Bucket=bucket)
    return [v["Key"] for v in versions.get("Versions", [])]


def test_a_stack_made_by_hand_with_the_products_name_is_not_deleted(aws):
    name, data = product("techcorp codecommit", aws)
    names, region = names_of(name), data["environment"]["region"]
    aws("cloudformation", region).create_stack(StackName=names.stack_name, TemplateBody=MINIMAL_TEMPLATE)
    code, _, err = cli("delete-product", "--config", name, "--force")
    assert code == 2
    assert f"stack {names.stack_name} belongs to no product: it has no ml-provisioner:product tag" in err
    assert stack(aws, names.stack_name, region)["StackStatus"] == "CREATE_COMPLETE"
    for command in (["deploy-product", "--force"], ["show-changes"], ["check-drift"]):
        code, _, err = cli(command[0], "--config", name, *command[1:])
        assert code == 2 and "belongs to no product" in err, command


def test_another_products_stack_is_refused_by_every_command(aws):
    name, data = product("techcorp codecommit", aws)
    names, region = names_of(name), data["environment"]["region"]
    aws("cloudformation", region).create_stack(
        StackName=names.stack_name,
        TemplateBody=MINIMAL_TEMPLATE,
        Tags=[{"Key": "ml-provisioner:product", "Value": "othercorp-prod-a001-fraud"}],
    )
    before = stack(aws, names.stack_name, region)
    for command in (
        ["deploy-product", "--force"],
        ["show-changes"],
        ["show-changes", "--save"],
        ["check-drift"],
        ["delete-product", "--force"],
    ):
        code, _, err = cli(command[0], "--config", name, *command[1:])
        assert code == 2, (command, err)
        assert f"belongs to product othercorp-prod-a001-fraud, not to product {names.product}" in err, command
        after = stack(aws, names.stack_name, region)  # read again: nothing was changed
        assert (after["StackStatus"], after.get("LastUpdatedTime"), after["Tags"]) == (
            before["StackStatus"],
            before.get("LastUpdatedTime"),
            before["Tags"],
        ), command
    change_sets = aws("cloudformation", region).list_change_sets(StackName=names.stack_name)["Summaries"]
    assert change_sets == [], "no change set was made on it"


def test_a_product_named_like_a_test_deployment_is_not_treated_as_one(aws):
    """Before: use_case `…-t1a2b` had exactly the names of `…`'s test deployment t1a2b, and
    delete-product --stack-name emptied its versioned bucket and turned its protection off."""
    short, data = product("techcorp codecommit", aws, environment__name="prod")
    long, _ = product("techcorp codecommit", aws, environment__name="prod")
    long_data = yaml.safe_load((Path("ml/configs") / long).read_text())
    long_data["client"]["tenant_id"] = data["client"]["tenant_id"]
    long_data["ml_product"]["use_case"] += "-t1a2b"
    long_path = Path("ml/configs") / "look-alike.yaml"
    long_path.write_text(yaml.safe_dump(long_data))
    create_boundary(long_path, aws)
    region = data["environment"]["region"]
    code, out, err = cli("deploy-product", "--config", str(long_path), "--force")
    assert code == 0, out + err
    victim = load_config(long_path).names()
    assert names_of(short).test_deployment(victim.stack_name) is None
    bucket = victim.artifacts_bucket
    aws("s3", region).put_object(Bucket=bucket, Key="model.tar.gz", Body=b"weights")
    assert stack(aws, victim.stack_name, region)["EnableTerminationProtection"]

    code, _, err = cli("delete-product", "--config", short, "--stack-name", victim.stack_name, "--force")
    assert code == 2
    assert "is neither" in err and "test deployments are named t<4 hex>--" in err
    assert stack(aws, victim.stack_name, region)["EnableTerminationProtection"]
    assert _objects(aws, bucket, region) == ["model.tar.gz"]


def test_a_stack_in_a_test_deployments_place_must_carry_its_marker(aws):
    name, data = product("techcorp codecommit", aws)
    names, region = names_of(name), data["environment"]["region"]
    test = load_config(Path("ml/configs") / name).names("t1a2b")
    aws("cloudformation", region).create_stack(
        StackName=test.stack_name,
        TemplateBody=MINIMAL_TEMPLATE,
        Tags=[{"Key": "ml-provisioner:product", "Value": names.product}],
    )
    code, _, err = cli("delete-product", "--config", name, "--stack-name", test.stack_name, "--force")
    assert code == 2
    assert f"belongs to product {names.product}, not to test deployment t1a2b of product {names.product}" in err
    assert stack(aws, test.stack_name, region)["StackStatus"] == "CREATE_COMPLETE"


def test_test_deploy_never_updates_an_existing_stack(aws, monkeypatch):
    """Before: a marker that happened to name an existing stack updated it in place."""
    name, data = product("techcorp codecommit", aws)
    region = data["environment"]["region"]
    monkeypatch.setattr("ml_provisioner.cli.lifecycle.new_test_marker", lambda: "t0b0e")
    assert cli("test-deploy", "--config", name)[0] == 0
    test_stack = names_of(name).test_deployment(f"t0b0e--{names_of(name).stack_name}")
    assert test_stack is not None
    before = stack(aws, test_stack.stack_name, region)
    code, _, err = cli("test-deploy", "--config", name)
    assert code == 2
    assert f"stack {test_stack.stack_name} already exists" in err
    after = stack(aws, test_stack.stack_name, region)
    assert after["StackStatus"] == before["StackStatus"] == "CREATE_COMPLETE"
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")


def test_a_source_control_switch_is_refused_unless_asked_for(aws):
    """Before: the s3 and codecommit examples of one product deployed to one stack, silently
    orphaning the repositories."""
    name, data = product("techcorp codecommit", aws)
    region = data["environment"]["region"]
    assert cli("deploy-product", "--config", name, "--force")[0] == 0
    names = names_of(name)
    data["ml_product"]["source_control"] = "s3"
    switched = Path("ml/configs") / name.replace("-codecommit", "-s3")
    switched.write_text(yaml.safe_dump(data))

    code, _, err = cli("deploy-product", "--config", switched.name, "--force")
    assert code == 2
    assert "was deployed with source_control codecommit; this config has s3" in err
    assert "--allow-destructive" in err
    resources = aws("cloudformation", region).describe_stack_resources(StackName=names.stack_name)["StackResources"]
    assert sum(r["ResourceType"] == "AWS::CodeCommit::Repository" for r in resources) == 2
    assert not pending_change_sets(aws, names.stack_name, region)

    code, out, err = cli("deploy-product", "--config", switched.name, "--force", "--allow-destructive")
    assert code == 0, out + err
    resources = aws("cloudformation", region).describe_stack_resources(StackName=names.stack_name)["StackResources"]
    assert not [r for r in resources if r["ResourceType"] == "AWS::CodeCommit::Repository"]


def test_leaving_the_s3_source_orphans_nothing_and_is_not_refused(aws):
    """The s3 source's objects stay in the product's bucket, which the stack keeps: what
    fleet plan counts as data at risk (none) is what deploy-product refuses (nothing)."""
    name, data = product("techcorp s3", aws)
    assert cli("deploy-product", "--config", name, "--force")[0] == 0
    data["ml_product"]["source_control"] = "codecommit"
    switched = Path("ml/configs") / name.replace("-s3", "-codecommit")
    switched.write_text(yaml.safe_dump(data))
    code, out, _ = cli("show-changes", "--config", switched.name, "--json")
    changes = json.loads(out)["changes"]
    assert code == 0 and {c["action"] for c in changes} <= {"Add", "Modify"}
    assert not [c for c in changes if c["resource_type"] == "AWS::S3::Bucket" and c["replacement"] == "True"]
    code, out, err = cli("deploy-product", "--config", switched.name, "--force")
    assert code == 0, out + err


def test_a_change_that_removes_data_resources_is_refused_even_with_force(aws):
    """An enterprise product moved to the professional tier would drop its KMS key and its
    compliance log group from the stack."""
    name, data = product("globalbank codecommit sgprov direct", aws)
    region = data["environment"]["region"]
    assert cli("deploy-product", "--config", name, "--force")[0] == 0
    names = names_of(name)
    del data["vpc_integration"]
    data["tier"] = "professional"
    downgraded = Path("ml/configs") / "downgraded.yaml"
    downgraded.write_text(yaml.safe_dump(data))

    code, _, err = cli("show-changes", "--config", str(downgraded))
    assert code == 0 and "DATA" in _, "show-changes flags them"
    code, _, err = cli("deploy-product", "--config", str(downgraded), "--force")
    assert code == 2
    assert "remove EnterpriseSecurityKey" in err and "(AWS::KMS::Key)" in err and "(AWS::Logs::LogGroup)" in err
    cfn = aws("cloudformation", region)
    assert not pending_change_sets(aws, names.stack_name, region), "the change set is discarded"
    types = {r["ResourceType"] for r in cfn.describe_stack_resources(StackName=names.stack_name)["StackResources"]}
    assert {"AWS::KMS::Key", "AWS::Logs::LogGroup"} <= types

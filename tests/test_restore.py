"""Retained data comes back: over HTTP against the local endpoint, delete-product keeps the data and
deploy-product imports it into the new stack; a failed first creation names what it left behind and
a rerun imports it (no second KMS key); a resource with the product's name that is not the
product's is never adopted."""

from __future__ import annotations

import json

import pytest

from ml_provisioner.config.loader import load_config
from tests.support.sandbox import cli, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

ENTERPRISE = "globalbank codecommit sgprov ssm"
OWNER_TAG = "ml-provisioner:product"


def _physical(aws, stack_name: str, region: str) -> dict[str, str]:
    resources = aws("cloudformation", region).describe_stack_resources(StackName=stack_name)["StackResources"]
    return {r["ResourceType"] + " " + r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def _by_type(physical: dict[str, str], resource_type: str) -> list[str]:
    return sorted(v for k, v in physical.items() if k.startswith(resource_type + " "))


def _product_keys(aws, region: str, product_id: str) -> list[str]:
    kms = aws("kms", region)
    return [
        key["KeyId"]
        for key in kms.list_keys()["Keys"]
        if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
        and {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]}.get(OWNER_TAG)
        == product_id
    ]


def test_delete_product_then_deploy_product_brings_the_product_back_with_its_data(aws):
    config, data = product(ENTERPRISE, aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    before = _physical(aws, names.stack_name, region)
    [bucket] = _by_type(before, "AWS::S3::Bucket")
    aws("s3", region).put_object(Bucket=bucket, Key="models/churn/model.tar.gz", Body=b"weights")
    aws("sagemaker", region).create_model_package(
        ModelPackageGroupName=names.model_package_group, ModelPackageDescription="version 1"
    )
    code, _, err = cli("delete-product", "-c", config, "--force")
    assert code == 0, err

    # without a terminal and without --force nothing is imported
    code, _, err = cli("deploy-product", "-c", config)
    assert code == 2 and "--force" in err
    assert not [
        s for s in aws("cloudformation", region).describe_stacks()["Stacks"] if s["StackName"] == names.stack_name
    ], "nothing half-done"

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert "6 resource(s) of " + names.deployment_id + " outlived an earlier stack" in out
    assert f"imported 6 retained resource(s) into {names.stack_name}" in out
    assert f"stack {names.stack_name}: updated" in out
    after = _physical(aws, names.stack_name, region)
    retained_types = (
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::CodeCommit::Repository",
        "AWS::SageMaker::ModelPackageGroup",
    )
    for resource_type in retained_types:
        assert _by_type(after, resource_type) == _by_type(before, resource_type), f"the same {resource_type}"
    assert len(after) == len(before), "and everything else is back too"
    body = aws("s3", region).get_object(Bucket=bucket, Key="models/churn/model.tar.gz")["Body"].read()
    assert body == b"weights"
    packages = aws("sagemaker", region).list_model_packages(ModelPackageGroupName=names.model_package_group)
    assert [p["ModelPackageDescription"] for p in packages["ModelPackageSummaryList"]] == ["version 1"]
    assert _product_keys(aws, region, names.deployment_id) == _by_type(before, "AWS::KMS::Key"), "no second key"
    assert stack(aws, names.stack_name, region)["EnableTerminationProtection"] is True
    _, out, _ = cli("check-drift", "-c", config, "--json")
    drifted = {r["resource_type"] for r in json.loads(out)["resources"]}
    assert not drifted & set(retained_types), "the imported resources are what the template says"
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert (code, "no changes" in out) == (0, True), out + err


def test_a_failed_first_creation_lists_what_it_left_behind_and_a_rerun_imports_it(aws):
    config, data = product(ENTERPRISE, aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    ssm = aws("ssm", region)
    blocker = names.ssm_parameter("LogGroupName")  # created after the key and the log group it names
    ssm.put_parameter(Name=blocker, Value="in the way", Type="String")

    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 1
    assert f"stack {names.stack_name} is ROLLBACK_COMPLETE" in err
    left = err.split("it left behind ")[1].split("\n")[0]
    [key] = _product_keys(aws, region, names.deployment_id)
    assert f"AWS::KMS::Key {key}" in left
    assert f"AWS::Logs::LogGroup {names.compliance_log_group}" in left
    assert "hint: run deploy-product again with --force: it deletes the failed stack and imports these" in err
    assert f"aws kms schedule-key-deletion --key-id {key}" in err
    assert f"aws logs delete-log-group --log-group-name {names.compliance_log_group}" in err

    ssm.delete_parameter(Name=blocker)
    code, out, err = cli("deploy-product", "-c", config, "--force", "--json")
    assert code == 0, err
    assert json.loads(out)["outcome"] == "updated"
    assert stack(aws, names.stack_name, region)["StackStatus"] == "UPDATE_COMPLETE"
    assert _product_keys(aws, region, names.deployment_id) == [key], "the retry reuses the key instead of adding one"
    assert _by_type(_physical(aws, names.stack_name, region), "AWS::KMS::Key") == [key]


def test_a_resource_with_the_products_name_that_is_not_the_products_is_refused(aws):
    config, data = product("techcorp codecommit", aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    aws("s3", region).create_bucket(
        Bucket=names.artifacts_bucket, CreateBucketConfiguration={"LocationConstraint": region}
    )
    codecommit = aws("codecommit", region)
    arn = codecommit.create_repository(repositoryName=names.repository("build"))["repositoryMetadata"]["Arn"]
    codecommit.tag_resource(resourceArn=arn, tags={OWNER_TAG: "someone-else"})

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 2, out + err
    assert f"resources with this product's names exist but are not {names.deployment_id}'s" in err
    assert f"the AWS::S3::Bucket {names.artifacts_bucket} has no {OWNER_TAG} tag" in err
    assert f"the AWS::CodeCommit::Repository {names.repository('build')} belongs to someone-else" in err
    assert f"adopts only resources tagged {OWNER_TAG}={names.deployment_id}" in err
    stacks = aws("cloudformation", region).describe_stacks()["Stacks"]
    assert not [s for s in stacks if s["StackName"] == names.stack_name], "nothing half-done"
    assert codecommit.list_tags_for_resource(resourceArn=arn)["tags"] == {OWNER_TAG: "someone-else"}, "untouched"


def _review_line(out: str, stack_name: str) -> tuple[int, int]:
    """(changes, IAM-widening) from the review's summary line: "<stack>: 40 change(s), 0 replacement(s),
    0 IAM-widening"."""
    line = next(line for line in out.splitlines() if line.startswith(f"{stack_name}: ") and "IAM-widening" in line)
    changes, _, widening = (int(part.split()[0]) for part in line.split(": ", 1)[1].split(", "))
    return changes, widening


def _added_roles(out: str) -> set[str]:
    return {line.split()[1] for line in out.splitlines() if line.startswith("Add ") and " AWS::IAM::Role" in line}


def test_the_iam_widening_count_is_the_same_whether_roles_arrive_in_a_new_stack_or_after_an_import(aws):
    config, data = product("techcorp codecommit", aws)
    names = load_config(f"ml/configs/{config}").names()
    code, first, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert cli("delete-product", "-c", config, "--force")[0] == 0
    code, again, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert "outlived an earlier stack" in again, "the second deploy imports the retained data first"

    roles = _added_roles(first)
    assert roles and _added_roles(again) == roles, "the same roles arrive both times"
    assert _review_line(again, names.stack_name)[1] == _review_line(first, names.stack_name)[1]

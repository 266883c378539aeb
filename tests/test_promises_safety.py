"""The README's safety and plan promises, each against the sandbox on 127.0.0.1: busy and unsettled
stacks are refused, every stack carries its ownership tags, a data resource's replacement is
flagged DATA and refused unless --allow-destructive, one product id is one product, a run stopped
after ExecuteChangeSet is finished by the next deploy, retained data comes back with the right key
and every object version; a plan is refused when the tool, the template or the stack changed, is
never removed by another command's clean-up, waits for retained data to be imported, and shows
the stack's events when it runs."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import load_config
from tests.fault_proxy import SIGINT
from tests.support.sandbox import ACCOUNT, cli, deploy_without_asking, in_account, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

FAST = {  # short timeouts and a small retry budget for the CLI run through the fault proxy
    "ML_PROVISIONER_AWS_READ_TIMEOUT": "10",
    "ML_PROVISIONER_AWS_CONNECT_TIMEOUT": "2",
    "ML_PROVISIONER_AWS_MAX_ATTEMPTS": "2",
}


def names_of(config: str | Path):
    return load_config(Path("ml/configs") / config).names()


def change_owner(config: str, owner: str) -> None:
    path = Path("ml/configs") / config
    data = yaml.safe_load(path.read_text())
    data["tags"]["owner"] = owner
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def put_stack_into(aws, names, status: str) -> None:
    """What CloudFormation shows while another operation runs, or after one failed: the sandbox's
    stack (the endpoint runs in this process) is put into that status."""
    from moto.cloudformation.models import cloudformation_backends

    stack_id = stack(aws, names.stack_name, names.region)["StackId"]
    cloudformation_backends[ACCOUNT][names.region].stacks[stack_id].status = status


def tags_of(aws, stack_name: str, region: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack(aws, stack_name, region).get("Tags", [])}


def pending_change_sets(aws, stack_name: str, region: str) -> list[dict]:
    """The stack's change sets that were never executed."""
    summaries = aws("cloudformation", region).list_change_sets(StackName=stack_name)["Summaries"]
    return [c for c in summaries if c["ExecutionStatus"] == "AVAILABLE"]


# -- Deploying: a stack with an operation in progress is refused -----------------------------------


def test_deploy_refuses_a_stack_with_an_operation_in_progress_and_changes_nothing(aws):
    config, data = product("techcorp s3", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    change_owner(config, "someone-new@techcorp.example")  # a deploy would have something to do
    put_stack_into(aws, names, "UPDATE_IN_PROGRESS")

    code, out, err = cli("deploy-product", "-c", config, "--force")

    assert code == 1, out + err
    assert f"error: stack {names.stack_name} is UPDATE_IN_PROGRESS" in err
    assert "wait until the running operation finishes, then try again" in err
    assert pending_change_sets(aws, names.stack_name, names.region) == [], "no change set was made"
    assert stack(aws, names.stack_name, names.region)["StackStatus"] == "UPDATE_IN_PROGRESS"
    assert tags_of(aws, names.stack_name, names.region)["Owner"] == data["tags"]["owner"]


# -- Interrupts and faults: stacks that are not settled ---------------------------------------------


@pytest.mark.parametrize("status", ["UPDATE_ROLLBACK_FAILED", "UPDATE_IN_PROGRESS", "DELETE_FAILED"])
def test_check_drift_and_show_changes_refuse_a_stack_that_is_not_settled_naming_its_state(aws, status):
    config, _ = product("techcorp s3", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    change_owner(config, "someone-new@techcorp.example")
    put_stack_into(aws, names, status)

    for command, purpose in (("check-drift", "check its drift"), ("show-changes", "show what a deploy would change")):
        code, out, err = cli(command, "-c", config)
        assert (code, out) == (1, ""), (command, out, err)
        assert f"error: stack {names.stack_name} is {status}; cannot {purpose}" in err, command
        assert "hint: " in err and "Traceback" not in err, command
    assert pending_change_sets(aws, names.stack_name, names.region) == [], "show-changes made no change set"
    assert stack(aws, names.stack_name, names.region)["StackStatus"] == status


# -- Someone else's stack: ownership tags ------------------------------------------------------------


def test_every_stack_the_tool_creates_carries_its_ownership_tags(aws):
    config, data = product("techcorp codecommit", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    code, out, err = cli("test-deploy", "-c", config)
    assert code == 0, err
    test_stack = out.split("test stack name: ")[1].split()[0]
    marker = test_stack.split("--", 1)[0]

    product_tags = tags_of(aws, names.stack_name, names.region)
    assert product_tags["ml-provisioner:product"] == names.product
    assert product_tags["ml-provisioner:tier"] == data["tier"] == "starter"
    assert product_tags["ml-provisioner:source-control"] == data["ml_product"]["source_control"] == "codecommit"
    assert "ml-provisioner:test-deployment" not in product_tags

    test_tags = tags_of(aws, test_stack, names.region)
    assert test_tags["ml-provisioner:product"] == names.product
    assert test_tags["ml-provisioner:test-deployment"] == marker
    assert re.fullmatch(r"t[0-9a-f]{4}", marker)
    assert test_tags["ml-provisioner:tier"] == "starter"
    assert test_tags["ml-provisioner:source-control"] == "codecommit"
    assert cli("delete-product", "-c", config, "--stack-name", test_stack, "--force")[0] == 0


# -- Someone else's stack: replacing a data resource ------------------------------------------------


def test_replacing_a_data_resource_is_flagged_data_refused_even_with_force_and_allowed_when_asked(aws):
    from ml_provisioner.aws.changes import delete_change_set
    from ml_provisioner.aws.lifecycle import plan_deploy
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.errors import BadInput
    from ml_provisioner.synth import synthesize

    config, _ = product("techcorp s3", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    [result] = synthesize([load_config(Path("ml/configs") / config)], nag=False)
    template = copy.deepcopy(result.template)
    [(group_id, group)] = [
        (i, r) for i, r in template["Resources"].items() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
    ]
    old_group = group["Properties"]["ModelPackageGroupName"]
    group["Properties"]["ModelPackageGroupName"] = new_group = old_group + "-moved"  # create-only: a new registry
    session = AwsSession(names.region)

    change_set = plan_deploy(session, names, template, json.dumps(template), change_type="UPDATE")
    [change] = [c for c in change_set.changes if c.logical_id == group_id]
    delete_change_set(session, change_set)
    assert change.replaces and change.recreated_by == ["ModelPackageGroupName"] and not change.name_clash
    assert "DATA" in change.flags.split(", "), "show-changes flags it"

    with pytest.raises(BadInput) as refused:  # as with --force: --force alone does not go ahead
        deploy_without_asking(session, names, template, allow_destructive=False)
    assert (
        f"replace {group_id} (AWS::SageMaker::ModelPackageGroup) because ModelPackageGroupName changed"
        in refused.value.message
    )
    assert "data would be orphaned or lost" in refused.value.message
    assert "--allow-destructive" in (refused.value.hint or "")
    assert not pending_change_sets(aws, names.stack_name, names.region)
    assert _physical_id(aws, names, group_id).endswith(f"/{old_group}"), "nothing was executed"

    assert deploy_without_asking(session, names, template, allow_destructive=True).change_set.change_type == "UPDATE"
    assert _physical_id(aws, names, group_id).endswith(f"/{new_group}"), "--allow-destructive goes ahead"


def _physical_id(aws, names, logical_id: str) -> str:
    resources = aws("cloudformation", names.region).describe_stack_resources(StackName=names.stack_name)
    return next(r["PhysicalResourceId"] for r in resources["StackResources"] if r["LogicalResourceId"] == logical_id)


# -- Someone else's stack: a product's identity is its product id -----------------------------------


def test_two_configs_that_produce_the_same_product_id_are_one_product(aws):
    with_workload, data = product("techcorp s3 batch", aws)
    assert data["ml_product"]["workload"] == "batch"
    names = names_of(with_workload)
    assert cli("deploy-product", "-c", with_workload, "--force")[0] == 0

    joined = copy.deepcopy(data)
    joined["ml_product"]["use_case"] = f"{data['ml_product']['use_case']}-{joined['ml_product'].pop('workload')}"
    other = Path("ml/configs") / "the-same-product-written-otherwise.yaml"
    other.write_text(yaml.safe_dump(joined, sort_keys=False))
    assert names_of(other.name).product == names.product

    code, out, err = cli("deploy-product", "-c", other.name, "--force")
    assert code == 0, out + err
    assert f"stack {names.stack_name}: " in out, "the same stack, not another product's"
    code, out, err = cli("show-changes", "-c", other.name)
    assert code == 0 and f"{names.stack_name}: no changes" in out, out + err
    pages = aws("cloudformation", names.region).get_paginator("describe_stacks").paginate()
    stacks = [s for page in pages for s in page["Stacks"]]
    assert [s["StackName"] for s in stacks if data["client"]["tenant_id"] in s["StackName"]] == [names.stack_name]

    from ml_provisioner.errors import BadInput
    from ml_provisioner.fleet.selection import select
    from ml_provisioner.workspace import Workspace

    with pytest.raises(BadInput, match=f"both deploy stack {re.escape(names.stack_name)}"):
        select(Workspace(Path("ml")), [])


# -- Interrupts and faults: Ctrl-C after ExecuteChangeSet ---------------------------------------------


def test_after_ctrl_c_during_execution_running_deploy_again_reads_the_outputs_back(aws, faults):
    config, _ = product("techcorp s3", aws)
    names = names_of(config)
    faults.at("ExecuteChangeSet", signal=SIGINT)
    code, _, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == 130, err
    assert "run deploy-product --config" in err and "again: it reads the outputs back" in err

    settled = stack(aws, names.stack_name, names.region)
    assert settled["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in settled["Outputs"]}
    assert outputs

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert f"stack {names.stack_name}: no changes; {len(outputs)} SSM output(s) read back and checked" in out
    for output, value in outputs.items():
        assert re.search(rf"{re.escape(names.ssm_parameter(output))}\s+{re.escape(value)}", out), output


# -- Bringing a product back with its data ----------------------------------------------------------

OWNER_TAG = "ml-provisioner:product"


def _stack_resource(aws, names, resource_type: str) -> str:
    resources = aws("cloudformation", names.region).describe_stack_resources(StackName=names.stack_name)
    [physical] = [r["PhysicalResourceId"] for r in resources["StackResources"] if r["ResourceType"] == resource_type]
    return physical


def test_the_key_the_retained_bucket_is_encrypted_with_is_imported_before_a_newer_product_key(aws):
    config, _ = product("globalbank s3 standalone direct", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    bucket_key = _stack_resource(aws, names, "AWS::KMS::Key")
    assert cli("delete-product", "-c", config, "--force")[0] == 0
    newer_key = aws("kms", names.region).create_key(
        Description="a later attempt's key", Tags=[{"TagKey": OWNER_TAG, "TagValue": names.deployment_id}]
    )["KeyMetadata"]["KeyId"]

    code, out, err = cli("deploy-product", "-c", config, "--force")

    assert code == 0, out + err
    assert _stack_resource(aws, names, "AWS::KMS::Key") == bucket_key
    assert re.search(rf"AWS::KMS::Key\s+{newer_key} \(not imported: ", out), out
    rules = aws("s3", names.region).get_bucket_encryption(Bucket=names.artifacts_bucket)
    encrypted_with = rules["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert encrypted_with["KMSMasterKeyID"].endswith(bucket_key), "the data stays under the same key"


def test_the_retained_bucket_comes_back_with_every_object_version(aws):
    config, _ = product("techcorp s3", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    s3 = aws("s3", names.region)
    written = [
        s3.put_object(Bucket=names.artifacts_bucket, Key="models/model.tar.gz", Body=body)["VersionId"]
        for body in (b"weights v1", b"weights v2")
    ]
    assert cli("delete-product", "-c", config, "--force")[0] == 0

    code, out, err = cli("deploy-product", "-c", config, "--force")

    assert code == 0, out + err
    assert "imported " in out and _stack_resource(aws, names, "AWS::S3::Bucket") == names.artifacts_bucket
    versions = s3.list_object_versions(Bucket=names.artifacts_bucket, Prefix="models/model.tar.gz").get("Versions", [])
    assert sorted(v["VersionId"] for v in versions) == sorted(written)
    old = s3.get_object(Bucket=names.artifacts_bucket, Key="models/model.tar.gz", VersionId=written[0])
    assert old["Body"].read() == b"weights v1"


def test_a_bucket_with_the_products_name_in_another_account_is_refused_and_left_untouched(aws, endpoint, faults):

    config, _ = product("techcorp s3", aws)
    names = names_of(config)
    theirs = in_account("444455556666", "administrator", "s3", names.region, endpoint)
    theirs.create_bucket(Bucket=names.artifacts_bucket, CreateBucketConfiguration={"LocationConstraint": names.region})
    theirs.put_bucket_tagging(
        Bucket=names.artifacts_bucket, Tagging={"TagSet": [{"Key": OWNER_TAG, "Value": names.deployment_id}]}
    )
    theirs.put_object(Bucket=names.artifacts_bucket, Key="their-data", Body=b"theirs")
    # What S3 answers a request naming ExpectedBucketOwner for a bucket another account owns (the
    # sandbox serves buckets across accounts without checking the owner): 403 Access Denied.
    refused = faults.at("s3:GET", error=(403, "AccessDenied", "Access Denied"))

    code, out, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)

    assert refused.hits == 1
    assert code == 2, out + err
    assert f"the AWS::S3::Bucket {names.artifacts_bucket} belongs to another AWS account" in err
    assert "CreateChangeSet" not in faults.calls and "ExecuteChangeSet" not in faults.calls
    pages = aws("cloudformation", names.region).get_paginator("describe_stacks").paginate()
    stacks = [s for page in pages for s in page["Stacks"]]
    assert not [s for s in stacks if s["StackName"] == names.stack_name], "nothing half-done"
    assert theirs.get_object(Bucket=names.artifacts_bucket, Key="their-data")["Body"].read() == b"theirs"
    tags = theirs.get_bucket_tagging(Bucket=names.artifacts_bucket)["TagSet"]
    assert tags == [{"Key": OWNER_TAG, "Value": names.deployment_id}], "untouched"


# -- Reviewed is deployed: plans ----------------------------------------------------------------------


def save_plan(config: str) -> tuple[Path, dict]:
    code, out, err = cli("show-changes", "-c", config, "--save")
    assert code == 0, out + err
    path = Path("ml/reports") / f"{Path(config).stem}-plan.json"
    return path, json.loads(path.read_text())


def execution_status(aws, names, arn: str) -> str:
    return aws("cloudformation", names.region).describe_change_set(ChangeSetName=arn)["ExecutionStatus"]


def deployed_with_a_plan(aws) -> tuple[str, object, Path, dict]:
    """A deployed starter product whose config changed since, with its saved plan."""
    config, _ = product("techcorp s3", aws)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    change_owner(config, "new-owner@techcorp.example")
    path, plan = save_plan(config)
    return config, names_of(config), path, plan


def test_a_plan_is_refused_when_the_tool_changed_since(aws, monkeypatch):
    from ml_provisioner import fingerprint

    config, names, path, plan = deployed_with_a_plan(aws)
    upgraded = {**fingerprint.tool(), "ml-provisioner": "99.0.0"}
    monkeypatch.setattr(fingerprint, "tool", lambda: upgraded)

    code, out, err = cli("deploy-product", "-c", config, "--plan", str(path), "--force")

    assert code == 2, out + err
    assert f"plan {path} cannot be deployed: the config (or the tool that synthesizes it) changed since" in err
    assert execution_status(aws, names, plan["change_set_arn"]) == "AVAILABLE", "nothing executed"


def _leftover_change_set(aws, names, config: str) -> str:
    """What a run killed after CreateChangeSet leaves: an unexecuted change set named as this tool's."""
    template = (Path("ml/templates") / f"{Path(config).stem}.yaml").read_text()
    aws("cloudformation", names.region).create_change_set(
        StackName=names.stack_name,
        ChangeSetName="ml-provisioner-20260101000000000000",
        ChangeSetType="UPDATE",
        TemplateBody=template,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    return "ml-provisioner-20260101000000000000"


@pytest.mark.parametrize(
    "command",
    [["deploy-product"], ["delete-product"], ["check-drift"]],
    ids=["deploy-product", "delete-product", "check-drift"],
)
def test_cleaning_up_after_interrupted_runs_never_removes_a_plan(aws, command):
    config, names, path, plan = deployed_with_a_plan(aws)
    leftover = _leftover_change_set(aws, names, config)

    code, out, err = cli(command[0], "-c", config)  # without a terminal or --force: it stops at the question

    if command[0] == "check-drift":
        assert code == 0, out + err
    else:
        assert code == 2 and "stdin is not a terminal" in err, out + err
        if command[0] == "deploy-product":
            assert f"removed change set {leftover}, left by an interrupted run" in out + err
        assert leftover not in [c["ChangeSetName"] for c in pending_change_sets(aws, names.stack_name, names.region)]
    assert execution_status(aws, names, plan["change_set_arn"]) == "AVAILABLE", "the plan is kept"
    code, out, err = cli("deploy-product", "-c", config, "--plan", str(path), "--force")
    assert code == 0, out + err
    assert execution_status(aws, names, plan["change_set_arn"]) == "EXECUTE_COMPLETE"


def test_a_product_whose_retained_data_must_be_imported_is_deployed_once_without_a_plan(aws):
    config, _ = product("techcorp s3", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    assert cli("delete-product", "-c", config, "--force")[0] == 0

    code, out, err = cli("show-changes", "-c", config, "--save")

    assert code == 2, out + err
    assert f"resource(s) of {names.deployment_id} outlived an earlier stack" in err
    assert f"deploy-product --config {config} (without --plan) brings them back first" in err
    assert not (Path("ml/reports") / f"{Path(config).stem}-plan.json").exists()
    pages = aws("cloudformation", names.region).get_paginator("describe_stacks").paginate()
    stacks = [s for page in pages for s in page["Stacks"]]
    assert not [s for s in stacks if s["StackName"] == names.stack_name], "no plan's stack was made"

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0 and f"into {names.stack_name}" in out, out + err
    change_owner(config, "after-the-import@techcorp.example")
    path, plan = save_plan(config)
    assert plan["change_type"] == "UPDATE"
    assert cli("deploy-product", "-c", config, "--plan", str(path), "--force")[0] == 0


def test_deploying_a_plan_shows_the_stack_events(aws):
    config, names, path, plan = deployed_with_a_plan(aws)
    before = {
        e["EventId"]
        for e in aws("cloudformation", names.region).describe_stack_events(StackName=names.stack_name)["StackEvents"]
    }

    code, out, err = cli("deploy-product", "-c", config, "--plan", str(path), "--force")

    assert code == 0, out + err
    events = [
        e
        for e in aws("cloudformation", names.region).describe_stack_events(StackName=names.stack_name)["StackEvents"]
        if e["EventId"] not in before
    ]
    assert events, "the plan's execution made events"
    for event in events:
        line = rf"^\d\d:\d\d:\d\d  {event['ResourceStatus']}\s+{re.escape(event['LogicalResourceId'])}\b"
        assert re.search(line, out, re.M), (event["LogicalResourceId"], event["ResourceStatus"], out)
    assert re.search(rf"^\d\d:\d\d:\d\d  UPDATE_COMPLETE\s+{re.escape(names.stack_name)}\s*$", out, re.M)


# -- Fleet commands: fleet deploy --plans ------------------------------------------------------------


def test_fleet_deploy_plans_refuses_a_product_whose_template_or_stack_changed_since(aws):
    edited, _ = product("techcorp s3", aws)
    redeployed, _ = product("techcorp s3", aws)
    untouched, _ = product("techcorp s3", aws)
    configs = [edited, redeployed, untouched]
    for config in configs:
        assert cli("deploy-product", "-c", config, "--force")[0] == 0
        change_owner(config, "fleet-owner@techcorp.example")
    code, out, err = cli("fleet", "plan", "--save", "--json")
    assert code == 0, err
    planned = {
        r["product"]: json.loads(Path(r["result"]["plan_file"]).read_text())["change_set_arn"] for r in json.loads(out)
    }

    template = Path("ml/templates") / f"{Path(edited).stem}.yaml"
    template.write_text(template.read_text() + "# edited after the plan\n")
    assert cli("deploy-product", "-c", redeployed, "--force")[0] == 0  # the stack changes without the plan

    code, out, err = cli("fleet", "deploy", "--plans", "--force", "--continue-on-error", "--json")

    assert code == 1, out + err
    rows = {r["product"]: r for r in json.loads(out)}
    edited_names, redeployed_names, untouched_names = (names_of(c) for c in configs)
    assert f"the template {template} changed since the plan" in (rows[edited_names.deployment_id]["error"] or "")
    assert "the stack changed since the plan" in (rows[redeployed_names.deployment_id]["error"] or "")
    assert rows[untouched_names.deployment_id]["result"]["outcome"] == "updated"
    for names in (edited_names, redeployed_names):
        assert execution_status(aws, names, planned[names.deployment_id]) != "EXECUTE_COMPLETE"
    assert execution_status(aws, untouched_names, planned[untouched_names.deployment_id]) == "EXECUTE_COMPLETE"

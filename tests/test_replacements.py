"""Replacing a resource whose physical name the product fixes fails on AWS (the new resource is
created first, under the name the old one still holds): such a change set is refused before it is
executed, naming the resource and the property, and show-changes flags it."""

from __future__ import annotations

import copy
import json

import pytest

from ml_provisioner.aws.changes import delete_change_set
from ml_provisioner.aws.lifecycle import plan_deploy
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.changes import ResourceChange
from ml_provisioner.config.loader import load_config
from ml_provisioner.errors import BadInput
from tests.support.sandbox import cli, deploy_without_asking, product

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)


def _replaced(**fields) -> ResourceChange:
    return ResourceChange(action="Modify", logical_id="Thing", physical_id="thing", replacement="True", **fields)


def test_a_replacement_is_a_clash_only_for_a_fixed_name_that_stays():
    group = {"resource_type": "AWS::EC2::SecurityGroup", "fixed_name": True}
    assert _replaced(**group, recreated_by=["GroupDescription"]).name_clash
    assert "FIXED NAME (GroupDescription)" in _replaced(**group, recreated_by=["GroupDescription"]).flags
    assert not _replaced(**group, recreated_by=["GroupName"]).name_clash, "a new name does not clash"
    assert not _replaced(resource_type="AWS::IAM::Role", recreated_by=["Path"]).name_clash, "generated name"


def test_a_bucket_policy_replaced_with_its_bucket_is_no_name_clash():
    """The policy is named by its bucket: a renamed bucket's policy is created on the new bucket."""
    from ml_provisioner import catalog
    from tests.conftest import example

    fixed = catalog.fixed_name_types(load_config(example("techcorp s3")).config)
    assert "AWS::S3::Bucket" in fixed and "AWS::S3::BucketPolicy" not in fixed
    policy = _replaced(resource_type="AWS::S3::BucketPolicy", fixed_name=False, recreated_by=["Bucket"])
    assert not policy.name_clash and "FIXED NAME" not in policy.flags


def test_deploy_refuses_replacing_a_fixed_name_resource_naming_the_property(aws):
    config, data = product("techcorp s3", aws)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    names = load_config(f"ml/configs/{config}").names()
    from ml_provisioner.synth import synthesize

    [result] = synthesize([load_config(f"ml/configs/{config}")], nag=False)
    template = copy.deepcopy(result.template)
    [(logical_id, group)] = [
        (i, r) for i, r in template["Resources"].items() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
    ]
    group["Properties"]["ModelPackageGroupDescription"] = "a new description (create-only)"
    session = AwsSession(names.region)
    change_set = plan_deploy(session, names, template, json.dumps(template), change_type="UPDATE")
    [change] = [c for c in change_set.changes if c.logical_id == logical_id]
    assert change.name_clash and change.recreated_by == ["ModelPackageGroupDescription"]
    delete_change_set(session, change_set)
    for allow_data_loss in (False, True):  # --allow-destructive cannot make AWS accept it
        with pytest.raises(BadInput) as refused:
            deploy_without_asking(session, names, template, allow_destructive=allow_data_loss)
        assert (
            f"replace {logical_id} (AWS::SageMaker::ModelPackageGroup, fixed name) because "
            "ModelPackageGroupDescription changed"
        ) in refused.value.message
    summaries = aws("cloudformation", names.region).list_change_sets(StackName=names.stack_name)["Summaries"]
    assert not [c for c in summaries if c["ExecutionStatus"] == "AVAILABLE"], "the refused change sets are gone"
    stack = aws("cloudformation", names.region).describe_stacks(StackName=names.stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", "nothing was executed"

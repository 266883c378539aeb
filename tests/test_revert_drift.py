"""Drift a deploy can repair: a change made outside CloudFormation (bucket versioning suspended by
hand) is invisible to a plain change set, which compares templates; --revert-drift makes the change
set drift-aware (DeploymentMode REVERT_DRIFT: template, last deployment and live state compared), so
show-changes says what a deploy would put back and deploy-product puts it back. Plans carry it too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import load_config
from tests.support.sandbox import bucket_of, cli, product

pytestmark = pytest.mark.synth


def suspended_by_hand(aws, fragment: str = "techcorp s3") -> tuple[str, str, object]:
    """A deployed example whose bucket versioning was then suspended outside CloudFormation:
    (config, bucket, s3 client)."""
    config, data = product(fragment, aws)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    region = data["environment"]["region"]
    bucket = bucket_of(aws, load_config(f"ml/configs/{config}").names().stack_name, region)
    s3 = aws("s3", region)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    return config, bucket, s3


def test_a_drifted_bucket_is_put_back_by_deploy_product_revert_drift(aws):
    config, bucket, s3 = suspended_by_hand(aws)

    code, out, _ = cli("check-drift", "-c", config)
    assert code == 3 and "VersioningConfiguration" in out
    assert f"show-changes --config {config} --revert-drift" in out, "check-drift says how to repair it"

    # a plain change set compares templates: nothing to do, and a plain deploy leaves the drift
    code, out, _ = cli("show-changes", "-c", config, "--detailed-exitcode")
    assert code == 0 and out.strip().endswith("no changes")
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"

    # drift-aware: the bucket's live value, what was deployed, and what the deploy writes back
    code, out, _ = cli("show-changes", "-c", config, "--revert-drift", "--detailed-exitcode")
    assert code == 2
    assert "REVERTS DRIFT (modified)" in out
    assert (
        '/Properties/VersioningConfiguration/Status: "Suspended" (changed outside CloudFormation; '
        'deployed as "Enabled") -> "Enabled"'
    ) in out
    code, out, _ = cli("show-changes", "-c", config, "--revert-drift", "--json")
    [change] = json.loads(out)["changes"]
    assert (change["action"], change["resource_type"], change["drift"]) == ("Modify", "AWS::S3::Bucket", "MODIFIED")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended", "a preview changes nothing"

    code, out, err = cli("deploy-product", "-c", config, "--force", "--revert-drift")
    assert code == 0, err
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert cli("check-drift", "-c", config)[0] == 0
    code, out, _ = cli("show-changes", "-c", config, "--revert-drift", "--detailed-exitcode")
    assert code == 0 and out.strip().endswith("no changes")


def test_a_saved_plan_reverts_the_drift_it_was_reviewed_with(aws):
    config, bucket, s3 = suspended_by_hand(aws)
    code, out, err = cli("show-changes", "-c", config, "--save", "--revert-drift", "--json")
    assert code == 0, err
    saved = json.loads(out)
    [change] = saved["changes"]
    assert change["drift"] == "MODIFIED" and "REVERTS DRIFT" in change["flags"]

    code, _, err = cli("deploy-product", "-c", config, "--plan", saved["plan"], "--revert-drift", "--force")
    assert code == 2 and "--revert-drift does not go with --plan" in err, "the plan decides, not the command line"

    code, out, err = cli("deploy-product", "-c", config, "--plan", saved["plan"], "--force")
    assert code == 0, err
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_revert_drift_on_a_product_not_yet_deployed_creates_it(aws):
    """A new stack has no drift: the flag changes nothing about a first deploy."""
    config, _ = product("techcorp s3", aws)
    code, out, err = cli("deploy-product", "-c", config, "--force", "--revert-drift")
    assert code == 0, err
    assert ": created" in out


def test_a_drifted_resource_the_template_also_changes_shows_both(aws):
    """The tag the config changes, and the versioning changed by hand, on the one bucket: the
    drift-aware change set shows (and a deploy writes) both, and says it is drift-aware."""
    config, bucket, s3 = suspended_by_hand(aws)
    path = Path("ml/configs", config)
    data = yaml.safe_load(path.read_text())
    data["tags"]["owner"] = "platform@example.com"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = cli("show-changes", "-c", config, "--revert-drift", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["revert_drift"] is True
    [bucket_change] = [c for c in shown["changes"] if c["resource_type"] == "AWS::S3::Bucket"]
    paths = {p["path"] for p in bucket_change["properties"]}
    assert "/Properties/VersioningConfiguration/Status" in paths and any(
        p.startswith("/Properties/Tags") for p in paths
    )
    code, out, err = cli("show-changes", "-c", config, "--save", "--revert-drift", "--json")
    assert code == 0 and json.loads(out)["revert_drift"] is True, err

"""Test deployments expire, over HTTP against the sandbox: test-deploy tags each one's stack with
`ml-provisioner:expires-at` (7 days unless --expires-in says otherwise); `test-deploy --list` shows
the product's test deployments with their expiry; `test-deploy --prune` deletes the expired ones
and nothing else: never the product's own stack, a test deployment not yet expired, or a stack
that is only named like one (or tagged like one without being it)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ml_provisioner.aws import expiring
from ml_provisioner.aws.session import AwsSession
from ml_provisioner.config.loader import load_config
from ml_provisioner.naming import Names
from tests.support.sandbox import cli, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

EXPIRES = "ml-provisioner:expires-at"
MINIMAL_TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def tags_of(aws, stack_name: str, region: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack(aws, stack_name, region)["Tags"]}


def deploy_a_test(config: str, *options: str) -> dict:
    code, out, err = cli("test-deploy", "-c", config, *options, "--json")
    assert code == 0, err
    return json.loads(out)


def live_stacks(aws, region: str) -> set[str]:
    return {s["StackName"] for s in aws("cloudformation", region).describe_stacks()["Stacks"]}


def test_expired_test_deployments_are_listed_and_pruned_and_nothing_else_is(aws, monkeypatch):
    config, data = product("techcorp s3", aws)
    region = data["environment"]["region"]
    names = load_config(f"ml/configs/{config}").names()
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    started = dt.datetime.now(dt.UTC)

    # a test deployment lives 7 days by default; --expires-in sets another lifetime
    week = deploy_a_test(config)
    half_day = deploy_a_test(config, "--expires-in", "12h")
    for deployed, lifetime in ((week, dt.timedelta(days=7)), (half_day, dt.timedelta(hours=12))):
        expires_at = dt.datetime.fromisoformat(deployed["expires_at"])
        assert deployed["expires_at"].endswith("Z") and expires_at.tzinfo is not None, "ISO-8601 UTC"
        assert abs(expires_at - (started + lifetime)) < dt.timedelta(minutes=5)
        assert tags_of(aws, deployed["stack"], region)[EXPIRES] == deployed["expires_at"], "on the stack"
    assert EXPIRES not in tags_of(aws, names.stack_name, region), "the product itself never expires"

    # stacks only named like test deployments: one by hand, one tagged as the product but no test deployment
    cfn = aws("cloudformation", region)
    by_hand, look_alike = f"t0000--{names.stack_name}", f"t0001--{names.stack_name}"
    cfn.create_stack(
        StackName=by_hand, TemplateBody=MINIMAL_TEMPLATE, Tags=[{"Key": EXPIRES, "Value": "2000-01-01T00:00:00Z"}]
    )
    cfn.create_stack(
        StackName=look_alike,
        TemplateBody=MINIMAL_TEMPLATE,
        Tags=[
            {"Key": "ml-provisioner:product", "Value": names.product},
            {"Key": EXPIRES, "Value": "2000-01-01T00:00:00Z"},
        ],
    )

    # --list: the two test deployments and their expiry; none expired yet
    code, out, err = cli("test-deploy", "-c", config, "--list", "--json")
    assert code == 0, err
    listed = {d["stack"]: d for d in json.loads(out)["test_deployments"]}
    assert listed.keys() == {week["stack"], half_day["stack"]}
    assert listed[week["stack"]]["expires_at"] == week["expires_at"]
    assert not any(d["expired"] for d in listed.values())
    assert f"left alone: stack {by_hand} belongs to no product" in err
    assert f"left alone: stack {look_alike} belongs to product {names.product}, not to test deployment t0001" in err
    code, out, _ = cli("test-deploy", "-c", config, "--list")
    assert code == 0 and half_day["stack"] in out and half_day["expires_at"] in out
    assert out.strip().endswith("2 test deployment(s) of " + f"{names.product} in {names.account} {region}; 0 expired")

    # a day later: the 12-hour one has expired; --prune asks first, and deletes only it
    monkeypatch.setattr(expiring, "now", lambda: started + dt.timedelta(days=1))
    code, _, err = cli("test-deploy", "-c", config, "--prune")
    assert code == 2 and "pass --force" in err, "no terminal to ask in"
    assert half_day["stack"] in live_stacks(aws, region)
    code, out, err = cli("test-deploy", "-c", config, "--prune", "--force")
    assert code == 0, err
    assert f"deleted {half_day['stack']}" in out
    assert out.strip().endswith(
        "pruned 1 expired test deployment(s) of " + f"{names.product} in {names.account} {region}; 1 kept"
    )
    remaining = live_stacks(aws, region)
    assert half_day["stack"] not in remaining
    assert {names.stack_name, week["stack"], by_hand, look_alike} <= remaining
    assert stack(aws, names.stack_name, region)["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")

    # a stack whose expiry was moved after it was listed is not pruned: prune reads the tag again
    marker = week["stack"].split("--")[0]  # t<4 hex>
    listed_expired = expiring.ExpiringStack(Names(names.config, marker), "CREATE_COMPLETE", "", "2000-01-01T00:00:00Z")
    kept = expiring.prune(AwsSession(region=region), listed_expired, on_event=lambda _: None)
    assert kept.error == f"{week['stack']} now expires at {week['expires_at']}: not pruned"
    assert week["stack"] in live_stacks(aws, region)

    # eight days later the other one goes too; with nothing expired, --prune does nothing and succeeds
    monkeypatch.setattr(expiring, "now", lambda: started + dt.timedelta(days=8))
    code, out, err = cli("test-deploy", "-c", config, "--prune", "--force", "--json")
    assert code == 0, err
    assert [p["stack"] for p in json.loads(out)["pruned"]] == [week["stack"]]
    code, out, err = cli("test-deploy", "-c", config, "--prune")
    assert code == 0, err
    assert out.strip().endswith(
        "pruned 0 expired test deployment(s) of " + f"{names.product} in {names.account} {region}; 0 kept"
    )
    assert {names.stack_name, by_hand, look_alike} <= live_stacks(aws, region)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--expires-in", "3x"], "--expires-in '3x' is not a lifetime"),
        (["--expires-in", "0d"], "--expires-in '0d' is not a lifetime"),
        (["--expires-in", "400d"], "--expires-in 400d is longer than a year"),
        (["--list", "--prune"], "--list does not go with --prune"),
        (["--list", "--expires-in", "3d"], "--expires-in does not go with --list or --prune"),
        (["--expires-in", "1000000000d"], "--expires-in 1000000000d is longer than a year"),
        (["--force"], "--force goes with --prune only"),
        (["--list", "--force"], "--force goes with --prune only"),
        (["--prune", "--json"], "--prune --json needs --force"),
    ],
)
def test_bad_test_deploy_options_are_named_with_what_is_allowed(aws, options, says):
    config, _ = product("techcorp s3", aws, provision_source=False, boundary=False)
    code, out, err = cli("test-deploy", "-c", config, *options)
    assert code == 2, out + err
    assert f"error: {says}" in err and "Traceback" not in err
    if options[0] == "--expires-in":
        assert "hint: give a whole number and a unit: m (minutes), h (hours), d (days) or w (weeks)" in err or (
            "at most 365d" in err
        )

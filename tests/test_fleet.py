"""Fleet commands against the sandbox: products in three accounts, each reached through a role of
its own account; one product broken on purpose, one drifted on purpose. Plus the parts on their
own: selection, the rate limit, the pool's fail-fast, progress output for a terminal and a log."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import load_config
from ml_provisioner.errors import BadInput
from ml_provisioner.fleet.pool import run_waves
from ml_provisioner.fleet.progress import Board
from ml_provisioner.fleet.ratelimit import TokenBucket
from ml_provisioner.fleet.selection import select
from ml_provisioner.workspace import Workspace
from tests.fleet_fixture import ACCOUNTS, break_source, deployer_role, write, write_fleet
from tests.support.processes import closed_local_url
from tests.support.sandbox import cli, in_account, product

pytestmark = pytest.mark.synth  # the fleet is synthesized (in this process or the CLI it runs)

PER_ACCOUNT = 2


def names_of(path: Path):
    return load_config(path).names()


def as_json(out: str) -> list[dict]:
    return json.loads(out)  # stdout is the JSON alone: progress goes to stderr


def test_a_fleet_across_three_accounts_end_to_end(aws, endpoint):
    paths = write_fleet(Path("ml/configs"), PER_ACCOUNT, aws_client=aws)
    break_source(paths[1])  # the second product of the first account
    paths = sorted(Path("ml/configs").glob("*.yaml"))
    broken = next(p for p in paths if "codeconnections" in p.name)
    broken_key = names_of(broken).deployment_id
    total = len(paths)

    # deploy: all but the broken one, each with its own account's role; exit 1 naming the broken one
    code, out, err = cli("fleet", "deploy", "--force", "--continue-on-error", "--json")
    assert code == 1, err
    rows = {r["product"]: r for r in as_json(out)}
    assert len(rows) == total
    assert "no connection" in rows[broken_key]["error"]
    assert f"1 of {total} product(s) failed to deploy: {broken_key}" in err
    for path in paths:
        names = names_of(path)
        row = rows[names.deployment_id]
        # isolation: every product acted as its own account's role, in a session named after it
        assert row["acted_as"].startswith(f"arn:aws:sts::{names.account}:assumed-role/ml-provisioner-deployer/")
        assert row["acted_as"].endswith(f"/{names.deployment_id}@moto")
        if names.deployment_id == broken_key:
            continue
        assert row["result"]["outcome"] == "created", row
        assert row["api_calls"] > 0
        here = in_account(names.account, "observer", "cloudformation", names.region, endpoint)
        assert here.describe_stacks(StackName=names.stack_name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        for other in set(ACCOUNTS) - {names.account}:
            there = in_account(other, "observer", "cloudformation", names.region, endpoint)
            assert names.stack_name not in [s["StackName"] for s in there.describe_stacks()["Stacks"]]

    # status: one row per product; a config changed since is outdated
    changed = next(p for p in paths if p != broken)
    data = yaml.safe_load(changed.read_text())
    data["tags"]["owner"] = "someone-else@example.com"
    changed.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = cli("fleet", "status", "--json")
    assert code == 0, err
    status = {r["product"]: r["result"] for r in as_json(out)}
    assert status[broken_key]["template"] == "not deployed"
    assert status[names_of(changed).deployment_id]["template"] == "outdated"
    assert {r["template"] for k, r in status.items() if k not in (broken_key, names_of(changed).deployment_id)} == {
        "up to date"
    }
    assert {r["termination_protection"] for k, r in status.items() if k != broken_key} == {True}
    code, out, _ = cli("fleet", "status")
    assert re.search(r"^product\s+account\s+region\s+tier\s+stack status\s+template", out, re.M)
    outcome = (Path("ml") / "reports" / "execution.log").read_text().splitlines()[-1]
    assert "action=fleet" in outcome and " caller=arn:aws:sts::" in outcome, "who acted, in every account"

    # plan: the changed product has an update, the others none, the broken one would be created
    code, out, err = cli("fleet", "plan", "--json", "--account", ACCOUNTS[0], "--account", ACCOUNTS[1])
    assert code == 0, err
    plans = {r["product"]: r["result"]["action"] for r in as_json(out)}
    assert len(plans) == 2 * PER_ACCOUNT
    assert plans[names_of(changed).deployment_id].startswith("update")
    assert plans[broken_key] == "create"

    # drift: one product's SSM output changed out of band -> exit 3 naming it; the others in sync
    drifted = names_of(paths[-1])
    ssm = in_account(drifted.account, "observer", "ssm", drifted.region, endpoint)
    parameter = f"{drifted.ssm_prefix}/ModelPackageGroupArn"
    ssm.put_parameter(Name=parameter, Value="tampered", Type="String", Overwrite=True)
    code, out, err = cli("fleet", "drift", "--account", drifted.account)
    assert code == 3, out + err
    assert f"drifted: {drifted.deployment_id}" in out
    # a check that cannot run (the broken product has no stack) is exit 1, naming it
    code, out, err = cli("fleet", "drift", "--account", ACCOUNTS[0])
    assert code == 1 and broken_key in err


def test_a_config_whose_role_is_in_another_account_stops_the_fleet_before_any_call(aws, monkeypatch):
    paths = write_fleet(Path("ml/configs"), 1, aws_client=aws)
    data = yaml.safe_load(paths[0].read_text())
    data["deployment"]["role_arn"] = deployer_role(ACCOUNTS[1])  # the first product names the second account's
    paths[0].write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_local_url())  # nothing listens: no call may be made
    code, _, err = cli("fleet", "deploy", "--force")
    assert code == 2
    assert f"{paths[0].name}:" in err and "deployment.role_arn" in err and f"is in account {ACCOUNTS[1]}" in err


def test_a_role_arn_pattern_serves_every_account(aws, endpoint):
    write_fleet(Path("ml/configs"), 1, ACCOUNTS[:2], aws_client=aws)
    code, out, err = cli(
        "fleet", "plan", "--json", "--role-arn", "arn:aws:iam::{account}:role/platform-deployer-{region}"
    )
    assert code == 0, err
    rows = as_json(out)
    assert len(rows) == 2, "one product in each of two accounts"
    for row in rows:
        account = row["acted_as"].split(":")[4]
        assert row["acted_as"].startswith(f"arn:aws:sts::{account}:assumed-role/platform-deployer-")


def own_products(paths: list[Path], use_case: str, aws_client) -> list[Path]:
    """The fleet's products under a use case of their own: the module's sandbox keeps the stacks
    of the tests before."""
    renamed = []
    for path in paths:
        data = yaml.safe_load(path.read_text())
        data["ml_product"]["use_case"] = data["tags"]["project"] = use_case
        path.unlink()
        renamed.append(write(path.parent, data, aws_client))
    return renamed


def test_saved_plans_are_what_fleet_deploy_executes_and_a_changed_config_is_refused(aws, endpoint):
    paths = own_products(write_fleet(Path("ml/configs"), 1, ACCOUNTS[:2], aws_client=aws), "planned", aws)
    code, out, err = cli("fleet", "plan", "--save", "--json")
    assert code == 0, err
    rows = [r["result"] for r in as_json(out)]
    assert {r["action"] for r in rows} == {"create"} and all(Path(r["plan_file"]).is_file() for r in rows)
    planned = {r["product"]: json.loads(Path(r["plan_file"]).read_text())["change_set_arn"] for r in rows}

    # one config changes after the plan: its plan is refused; the other's executes exactly as planned
    changed = yaml.safe_load(paths[0].read_text())
    changed["tags"]["owner"] = "someone-else@example.com"
    paths[0].write_text(yaml.safe_dump(changed, sort_keys=False))
    code, out, err = cli("fleet", "deploy", "--plans", "--force", "--continue-on-error", "--json")
    assert code == 1
    deployed = {r["product"]: r for r in as_json(out)}
    refused, executed = names_of(paths[0]), names_of(paths[1])
    assert "cannot be deployed" in deployed[refused.deployment_id]["error"]
    assert "config" in deployed[refused.deployment_id]["error"]
    assert deployed[executed.deployment_id]["result"]["outcome"] == "created"
    cfn = in_account(executed.account, "observer", "cloudformation", executed.region, endpoint)
    [change_set] = cfn.list_change_sets(StackName=executed.stack_name)["Summaries"]
    assert change_set["ChangeSetId"] == planned[executed.deployment_id]
    assert change_set["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_a_tool_upgrade_that_changes_no_resource_leaves_the_product_up_to_date(aws, endpoint, monkeypatch):
    """The new tool's stamp differs, the body does not: CloudFormation would not update the stack
    for its Metadata alone, so status must not call it outdated forever."""
    own_products(write_fleet(Path("ml/configs"), 1, ACCOUNTS[:1], aws_client=aws), "upgraded", aws)
    code, _, err = cli("fleet", "deploy", "--force")
    assert code == 0, err
    from ml_provisioner import fingerprint

    upgraded = {**fingerprint.tool(), "ml-provisioner": "99.0.0"}
    monkeypatch.setattr(fingerprint, "tool", lambda: upgraded)
    code, out, err = cli("fleet", "status", "--json")
    assert code == 0, err
    [row] = as_json(out)
    assert "not current" in err or "synthesized again" in err  # the new tool made a new template
    assert row["result"]["template"] == "up to date"


# -- the parts ------------------------------------------------------------------------------------


def test_selection_filters_and_refuses_two_configs_of_one_stack(tmp_path):
    paths = write_fleet(tmp_path / "configs", 2)
    workspace = Workspace(tmp_path)
    assert len(select(workspace, [])) == 6
    assert {c.config.client.account_id for c in select(workspace, [], accounts=[ACCOUNTS[2]])} == {ACCOUNTS[2]}
    assert {c.config.tier.value for c in select(workspace, [str(tmp_path / "configs" / "*")], tiers=["starter"])} == {
        "starter"
    }
    with pytest.raises(BadInput, match="no config selected"):
        select(workspace, [], regions=["ap-south-1"])
    twin = paths[0].with_name("twin-" + paths[0].name)
    twin.write_text(paths[0].read_text())
    with pytest.raises(BadInput, match=f"{paths[0].name} and {twin.name} both deploy stack"):
        select(workspace, [])


def test_the_token_bucket_holds_calls_to_its_rate():
    bucket = TokenBucket(rate=20, burst=2)
    started = time.monotonic()
    threads = [threading.Thread(target=bucket.take, daemon=True) for _ in range(22)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a take() did not return within 30 s"
    assert time.monotonic() - started >= (22 - 2) / 20 * 0.95  # the burst, then 20 per second


def test_fail_fast_starts_nothing_after_a_failure_and_waves_keep_production_last():
    started: list[str] = []

    def job(item: str) -> str:
        started.append(item)
        if item == "dev-broken":
            raise RuntimeError("broken")
        return item

    outcomes = run_waves([["dev-broken", "dev-ok"], ["prod"]], job, max_concurrent=1, fail_fast=True)
    assert started == ["dev-broken"]
    assert [(o.item, o.ok, o.skipped) for o in outcomes] == [
        ("dev-broken", False, False),
        ("dev-ok", False, True),
        ("prod", False, True),
    ]
    started.clear()
    outcomes = run_waves([["dev-broken", "dev-ok"], ["prod"]], job, max_concurrent=2, fail_fast=False)
    assert sorted(started) == ["dev-broken", "dev-ok", "prod"] and started[-1] == "prod"


def test_an_interrupt_outside_the_wait_still_stops_the_running_jobs_before_they_execute():
    """Ctrl-C (or SIGTERM) can land while a finished job is being reported; the jobs still running
    must see stop then, as when it lands in the wait."""
    stop = threading.Event()
    slow_started, saw_stop = threading.Event(), []

    def job(item: str) -> str:
        if item == "slow":
            slow_started.set()
            saw_stop.append(stop.wait(timeout=30))  # a job looks at stop before it executes anything
        return item

    def on_done(outcome) -> None:
        slow_started.wait(timeout=30)
        raise KeyboardInterrupt  # landed while the quick job's outcome is reported

    with pytest.raises(KeyboardInterrupt):
        run_waves([["quick", "slow"]], job, max_concurrent=2, on_done=on_done, stop=stop)
    assert saw_stop == [True]


def test_progress_in_a_log_is_plain_lines_one_per_change_of_stage():
    stream = io.StringIO()
    board = Board(2, stream=stream, live=False)
    board.start("a")
    for n in range(30):  # thirty stack events: one line, for the stage
        board.update("a", "executing", f"{n}/30 resources")
    board.finish("a", "created in 12s")
    lines = stream.getvalue().splitlines()
    assert lines == ["a: starting", "a: executing", "[1/2] a: created in 12s"]
    assert "\x1b" not in stream.getvalue()


def test_progress_on_a_terminal_keeps_one_line_per_running_product():
    stream = io.StringIO()
    board = Board(50, stream=stream, live=True, width=80)
    for n in range(8):
        board.start(f"product-{n:02d}")
    board.update("product-03", "executing", "x" * 200)
    screen = stream.getvalue().split("\x1b[J")[-1].splitlines()  # what the last redraw left
    assert len(screen) == 9 and screen[-1] == "  0/50 done, 8 running"
    assert all(len(line) < 80 for line in screen)
    board.finish("product-03", "created")
    board.close()
    assert "[1/50] product-03: created" in stream.getvalue()


def test_status_shows_a_stack_whose_first_change_set_never_ran_as_what_it_is(aws):
    """A saved first plan (or a run killed after its change set) leaves a REVIEW_IN_PROGRESS stack:
    neither deployed nor absent."""
    config, _ = product("techcorp s3", aws)
    assert cli("show-changes", "-c", config, "--save")[0] == 0
    code, out, err = cli("fleet", "status", f"ml/configs/{config}", "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert row["result"]["status"] == "REVIEW_IN_PROGRESS" and row["result"]["template"] == "not created"
    code, out, _ = cli("fleet", "status", f"ml/configs/{config}")
    line = next(line for line in out.splitlines() if "REVIEW_IN_PROGRESS" in line)
    assert re.search(r"REVIEW_IN_PROGRESS\s+not created\s+(on|off)(\s|$)", line), line

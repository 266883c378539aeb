"""What the lifecycle commands report and leave behind when the run is interrupted or the endpoint
misbehaves: the real CLI runs as a subprocess, through a fault-injecting proxy (tests/fault_proxy.py)
in front of the sandbox on 127.0.0.1, and each test checks the exit code, the message and the
state left in the sandbox (stack status, termination protection, change sets, retained data)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import load_config
from tests.fault_proxy import SIGINT, SIGKILL, SIGTERM
from tests.support.processes import read_fd_until, stop
from tests.support.sandbox import cli, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

# Short timeouts and a small retry budget, so that faults show within seconds (not too short for
# a sandbox on a busy machine).
FAST = {
    "ML_PROVISIONER_AWS_READ_TIMEOUT": "10",
    "ML_PROVISIONER_AWS_CONNECT_TIMEOUT": "2",
    "ML_PROVISIONER_AWS_MAX_ATTEMPTS": "2",
}


def names_of(config: str):
    return load_config(f"ml/configs/{config}").names()


def stacks_named(aws, name: str, region: str) -> list[dict]:
    return [s for s in aws("cloudformation", region).describe_stacks()["Stacks"] if s["StackName"] == name]


def change_sets_of(aws, name: str, region: str) -> list[dict]:
    cfn = aws("cloudformation", region)
    if not stacks_named(aws, name, region):
        return []
    return cfn.list_change_sets(StackName=name)["Summaries"]


# -- 4. termination protection --------------------------------------------------------------------


@pytest.mark.parametrize("sig", [SIGKILL, SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_run_stopped_after_execute_change_set_leaves_the_production_stack_protected(aws, faults, sig):
    config, data = product("techcorp s3", aws)
    region, names = data["environment"]["region"], names_of(config)
    faults.at("ExecuteChangeSet", signal=sig)
    code, _, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == (-SIGKILL if sig == SIGKILL else 130), err
    [created] = stacks_named(aws, names.stack_name, region)
    assert created["StackStatus"] == "CREATE_COMPLETE"
    assert created["EnableTerminationProtection"] is True, "protected before the creation started"
    if sig == SIGINT:
        assert f"interrupted: stack {names.stack_name} is CREATE_COMPLETE" in err
        assert f"run deploy-product --config {config} again" in err and "Traceback" not in err


def test_every_deploy_reconciles_termination_protection_even_with_no_changes(aws):
    config, data = product("techcorp codecommit", aws)
    region, names = data["environment"]["region"], names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    # what an interrupted run of an earlier release left: the stack is there, unprotected
    aws("cloudformation", region).update_termination_protection(
        StackName=names.stack_name, EnableTerminationProtection=False
    )
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert f"stack {names.stack_name}: no changes" in out
    assert stack(aws, names.stack_name, region)["EnableTerminationProtection"] is True


# -- 5. a failing watch is not a failing stack ------------------------------------------------------


@pytest.mark.parametrize("fault", [{"throttle": True}, {"drop": True}], ids=["throttling-storm", "dropped-connection"])
def test_an_update_whose_watch_fails_is_reported_as_the_update_it_was(aws, faults, fault):
    config, data = product("edge s3", aws)
    region, names = data["environment"]["region"], names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    data["tags"]["owner"] = "new-owner@example.com"
    Path("ml/configs", config).write_text(yaml.safe_dump(data, sort_keys=False))
    # DescribeStacks fails after the execution for three calls' retry budgets: the waiter's and
    # the look again's fail, the resumed watch sees the stack settled
    faults.at("DescribeStacks", after="ExecuteChangeSet", times=6, **fault)
    code, out, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == 0, err
    assert f"stack {names.stack_name}: updated; " in out and "SSM output(s) read back and checked" in out
    assert faults.rules[0].hits == 6, "the fault happened"
    assert stack(aws, names.stack_name, region)["StackStatus"] == "UPDATE_COMPLETE"
    assert stack(aws, names.stack_name, region)["EnableTerminationProtection"] is True
    assert "Traceback" not in err


def test_a_delete_whose_watch_fails_is_reported_as_deleted(aws, faults):
    config, data = product("techcorp s3 batch", aws)
    region, names = data["environment"]["region"], names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    faults.at("DescribeStacks", after="DeleteStack", times=4, throttle=True)  # the waiter and the look again
    code, out, err = faults.cli("delete-product", "-c", config, "--force", env=FAST)
    assert code == 0, err
    assert f"deleted stack {names.stack_name}" in out and "Retained" in out
    assert "None" not in out + err
    assert not stacks_named(aws, names.stack_name, region)


def test_a_watch_that_never_gets_an_answer_says_what_it_knows(aws, faults):
    config, data = product("techcorp codecommit batch", aws)
    region, names = data["environment"]["region"], names_of(config)
    faults.at("DescribeStacks", after="ExecuteChangeSet", times=1000, throttle=True)
    code, _, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == 1
    assert f"error: lost track of stack {names.stack_name}" in err and "its state is unknown" in err
    assert f"aws cloudformation describe-stacks --stack-name {names.stack_name}" in err
    # the stack itself was created, and protected before it started
    assert stack(aws, names.stack_name, region)["StackStatus"] == "CREATE_COMPLETE"
    assert stack(aws, names.stack_name, region)["EnableTerminationProtection"] is True


# -- 6. interrupted change-set creation, prompt and delete ----------------------------------------


@pytest.mark.parametrize("sig", [SIGINT, SIGTERM], ids=["Ctrl-C", "SIGTERM, as a cancelled CI job sends"])
def test_ctrl_c_during_change_set_creation_removes_what_the_run_made(aws, faults, sig):
    config, data = product("edge codecommit", aws)
    region, names = data["environment"]["region"], names_of(config)
    faults.at("CreateChangeSet", signal=sig)
    code, _, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == 130, err
    assert f"interrupted: stack {names.stack_name} does not exist; removed what this run had made: change set " in err
    assert f"the empty stack {names.stack_name} (REVIEW_IN_PROGRESS, never created)" in err
    assert not stacks_named(aws, names.stack_name, region), "no REVIEW_IN_PROGRESS stack left"


def _killed_first_creation(aws, faults) -> tuple[str, str, object, dict]:
    """A first deploy killed (SIGKILL) right after its change set was created: (config, region,
    names, the empty REVIEW_IN_PROGRESS stack it left)."""
    config, data = product("techcorp s3", aws)
    region, names = data["environment"]["region"], names_of(config)
    faults.at("CreateChangeSet", signal=SIGKILL)
    assert faults.cli("deploy-product", "-c", config, "--force", env=FAST)[0] == -SIGKILL
    [left] = stacks_named(aws, names.stack_name, region)
    assert left["StackStatus"] == "REVIEW_IN_PROGRESS"
    return config, region, names, left


@pytest.mark.parametrize("command", ["delete-product", "show-changes", "deploy-product"])
def test_later_commands_remove_what_a_killed_creation_left(aws, faults, command):
    config, region, names, _ = _killed_first_creation(aws, faults)
    assert [c["ExecutionStatus"] for c in change_sets_of(aws, names.stack_name, region)] == ["AVAILABLE"]

    code, out, err = cli(command, "-c", config, *(["--force"] if command != "show-changes" else []))
    assert "removed change set ml-provisioner-" in out + err
    if command == "deploy-product":
        assert code == 0, err
        assert stack(aws, names.stack_name, region)["StackStatus"] == "CREATE_COMPLETE"
        assert [c["ExecutionStatus"] for c in change_sets_of(aws, names.stack_name, region)] == ["EXECUTE_COMPLETE"]
        return
    if command == "delete-product":
        assert code == 0, err
        assert f"stack {names.stack_name} was never created; removed what an interrupted deploy left" in out
    else:
        assert code == 1 and f"stack {names.stack_name} is not deployed" in err
    assert not stacks_named(aws, names.stack_name, region)


def test_ctrl_c_at_the_confirmation_prompt_cancels(aws, faults):
    config, data = product("edge s3 realtime", aws)
    region, names = data["environment"]["region"], names_of(config)
    terminal, user = os.openpty()  # the prompt needs a terminal on stdin
    try:
        process = faults.start("deploy-product", "-c", config, env=FAST, stdin=user)
        shown = _read_until(process, "Execute these")
        assert "Add" in shown
        process.send_signal(SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(user)
    assert process.returncode == 130, err
    assert "error: cancelled; nothing was changed" in err
    assert "Abort" not in err and "failed" not in err
    assert not stacks_named(aws, names.stack_name, region), "the change set and its empty stack are gone"


def _read_until(process, text: str, timeout: float = 120) -> str:
    try:
        return read_fd_until(process.stdout.fileno(), text, timeout)
    except BaseException:
        stop(process)  # never left running, nor its stderr read while it runs
        raise


def test_an_interrupted_delete_still_lists_what_is_retained(aws, faults):
    config, data = product("globalbank s3 standalone direct", aws)
    region, names = data["environment"]["region"], names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    faults.at("DeleteStack", signal=SIGINT)
    code, out, err = faults.cli("delete-product", "-c", config, "--force", env=FAST)
    assert code == 130, err
    assert f"interrupted: stack {names.stack_name} " in err
    assert "Retained (data outlives the stack)" in out
    assert names.artifacts_bucket in out and "AWS::KMS::Key" in out
    aws("s3", region).head_bucket(Bucket=names.artifacts_bucket)


# -- 8. drift and previews of stacks that are not settled ------------------------------------------


def _rolled_back(aws) -> tuple[str, dict]:
    config, data = product("techcorp codecommit", aws)
    region, names = data["environment"]["region"], names_of(config)
    ssm, in_the_way = aws("ssm", region), names.ssm_parameter("ModelPackageGroupArn")
    ssm.put_parameter(Name=in_the_way, Value="someone else's", Type="String")
    assert cli("deploy-product", "-c", config, "--force")[0] == 1
    ssm.delete_parameter(Name=in_the_way)
    assert stack(aws, names.stack_name, region)["StackStatus"] == "ROLLBACK_COMPLETE"
    return config, data


def test_check_drift_and_show_changes_on_a_rolled_back_stack_say_why_and_what_fixes_it(aws):
    config, _ = _rolled_back(aws)
    names = names_of(config)
    code, out, err = cli("check-drift", "-c", config)
    assert (code, out) == (1, "")
    assert f"error: stack {names.stack_name} is ROLLBACK_COMPLETE: its first creation failed" in err
    assert f"ml-provisioner deploy-product --config {config} --force` deletes it and creates it anew" in err
    code, _, err = cli("show-changes", "-c", config)
    assert code == 1 and "ROLLBACK_COMPLETE: its first creation failed" in err
    assert "ValidationError" not in err and f"deploy-product --config {config} --force" in err


def test_check_drift_lists_the_resources_it_could_not_check(aws):
    config, data = product("techcorp s3", aws)
    names = names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    code, out, err = cli("check-drift", "-c", config, "--json")
    assert code == 0, err
    report = json.loads(out)
    unchecked = {r["resource_type"] for r in report["not_checked"]}
    assert "AWS::CodeBuild::Project" in unchecked and "AWS::SSM::Parameter" not in unchecked
    assert {r["reason"] for r in report["not_checked"]} == {
        "CloudFormation does not detect drift for this resource type"
    }
    code, out, _ = cli("check-drift", "-c", config)
    assert code == 0
    assert f"{names.stack_name}: IN_SYNC ({len(report['not_checked'])} resource(s) not checked)" in out
    assert "not checked" in out.splitlines()[0] and "AWS::CodeBuild::Project" in out


def test_a_deploy_over_drifted_ssm_outputs_says_how_to_restore_them(aws):
    config, data = product("edge codecommit realtime", aws)
    region, names = data["environment"]["region"], names_of(config)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    parameter = names.ssm_parameter("ModelPackageGroupArn")
    ssm = aws("ssm", region)
    good = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    ssm.put_parameter(Name=parameter, Value="arn:aws:sagemaker:tampered", Type="String", Overwrite=True)
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 1
    assert f"{parameter} holds 'arn:aws:sagemaker:tampered'" in err
    repair = f"aws ssm put-parameter --region {region} --name {parameter} --type String --overwrite --value '{good}'"
    assert repair in err
    ssm.put_parameter(Name=parameter, Value=good, Type="String", Overwrite=True)  # what the hint says
    assert cli("deploy-product", "-c", config, "--force")[0] == 0


# -- 9. an endpoint that accepts connections and never answers --------------------------------------


def test_a_black_holed_endpoint_fails_fast_naming_it(aws, faults):
    """Fast is bounded, not timed: the call is tried as often as the retry budget says, no more."""
    config, _ = product("techcorp codecommit", aws)
    accepted: list[socket.socket] = []
    with socket.socket() as hole:  # accepts every connection and never answers
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        threading.Thread(target=_hold_every_connection, args=(hole, accepted), daemon=True).start()
        code, _, err = faults.cli("check-drift", "-c", config, "--endpoint-url", url, env=FAST)
    assert code == 1
    assert f"error: check-drift: the AWS endpoint {url} did not answer" in err
    assert "hint: check the network" in err and "ML_PROVISIONER_AWS_READ_TIMEOUT" in err
    assert 1 <= len(accepted) <= int(FAST["ML_PROVISIONER_AWS_MAX_ATTEMPTS"]), f"{len(accepted)} attempts"


def _hold_every_connection(listener: socket.socket, accepted: list[socket.socket]) -> None:
    with contextlib.suppress(OSError):  # the listener closed: the test is over
        while True:
            accepted.append(listener.accept()[0])


def test_an_endpoint_that_stops_answering_mid_run_fails_fast_naming_it(aws, faults):
    config, _ = product("techcorp s3", aws)
    hang = faults.at("DescribeStacks", hang=True, times=1000)
    code, _, err = faults.cli("delete-product", "-c", config, "--force", env=FAST)
    assert code == 1, err
    assert f"error: delete-product: the AWS endpoint {faults.url} did not answer" in err
    assert hang.hits == int(FAST["ML_PROVISIONER_AWS_MAX_ATTEMPTS"]), "one call, tried as often as the budget says"


def test_the_event_tail_survives_a_dropped_connection(aws, faults):
    config, data = product("edge s3", aws)
    names = names_of(config)
    # the stack takes a while to settle (so the tail reads events), and its events cannot be read
    faults.at("DescribeStacks", after="ExecuteChangeSet", delay=4)
    faults.at("DescribeStackEvents", after="ExecuteChangeSet", drop=True, times=1000)
    code, out, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == 0, err
    assert f"stack {names.stack_name}: created" in out
    assert faults.rules[1].hits >= 1 and "Traceback" not in err and "Exception in thread" not in err


def test_ctrl_c_during_fleet_deploy_executes_nothing_more_and_says_what_became_of_each(aws, faults):
    """SIGINT while two production products are planning: neither change set is executed, what they
    made is removed as deploy-product removes it, and the table says so (exit 130)."""
    first, data = product("techcorp s3", aws)
    second, _ = product("techcorp s3", aws)
    region = data["environment"]["region"]
    faults.at("CreateChangeSet", nth=2, signal=SIGINT)  # both are planning by then
    code, out, err = faults.cli(
        "fleet", "deploy", f"ml/configs/{first}", f"ml/configs/{second}", "--force", "--max-concurrent", "2", env=FAST
    )
    assert code == 130, err
    assert "interrupted: 0 product(s) deployed, 2 cancelled before executing anything, 0 not started" in err
    assert out.count("CANCELLED") == 2, out
    assert len(re.findall(r"cancelled: .*: interrupted: stack \S+ does not exist", out)) == 2, out
    assert "ExecuteChangeSet" not in faults.calls
    for config in (first, second):
        assert not stacks_named(aws, names_of(config).stack_name, region), "the empty REVIEW_IN_PROGRESS stack went"


def test_a_killed_creation_is_cleaned_up_even_where_its_stack_carries_no_tags(aws, faults):
    """LocalStack's REVIEW_IN_PROGRESS stack carries none of its change set's tags: ownership is
    proven by the change sets themselves (this tool's names, the product's tags), never assumed."""
    from moto.cloudformation.models import cloudformation_backends

    config, region, names, left = _killed_first_creation(aws, faults)
    backend = cloudformation_backends["123456789012"][region]  # the endpoint runs in this process
    backend.stacks[left["StackId"]].tags = {}
    assert not stack(aws, names.stack_name, region).get("Tags")

    code, out, err = cli("delete-product", "-c", config, "--force")
    assert code == 0, err
    assert f"the empty stack {names.stack_name} (REVIEW_IN_PROGRESS, never created)" in out + err
    assert not stacks_named(aws, names.stack_name, region)


def test_a_tagless_stack_whose_change_sets_are_not_ours_is_still_refused(aws):
    config, data = product("techcorp s3", aws)
    region, names = data["environment"]["region"], names_of(config)
    cfn = aws("cloudformation", region)
    cfn.create_change_set(
        StackName=names.stack_name,
        ChangeSetName="someone-elses",
        ChangeSetType="CREATE",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}',
    )
    code, _, err = cli("delete-product", "-c", config, "--force")
    assert code == 2, err
    assert stacks_named(aws, names.stack_name, region), "left as it was"

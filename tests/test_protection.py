"""Turning off a production stack's termination protection is a decision the user sees: asked once
in a terminal (naming what is kept and what is deleted), said in the output and the execution log
when --force takes it, and refused with --force where a team has set
ML_PROVISIONER_FORCE_KEEPS_PROTECTION=1."""

from __future__ import annotations

import os

import pytest

from ml_provisioner.config.loader import load_config
from tests.support.processes import read_fd_until, stop
from tests.support.sandbox import cli, product, stack

pytestmark = pytest.mark.synth

PRODUCTION = "techcorp s3"  # environment prod: termination protection


@pytest.fixture
def protected(aws):
    config, data = product(PRODUCTION, aws)
    region = data["environment"]["region"]
    name = load_config(f"ml/configs/{config}").names().stack_name
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    assert stack(aws, name, region)["EnableTerminationProtection"] is True
    return config, name, region


def _in_a_terminal(faults, config: str, answer: str) -> tuple[int, str, str]:
    terminal, user = os.openpty()
    try:
        process = faults.start("delete-product", "-c", config, stdin=user)
        try:
            shown = read_fd_until(process.stdout.fileno(), "and delete it?", timeout=120)
            os.write(terminal, answer.encode() + b"\n")
            out, err = process.communicate(timeout=300)
        except BaseException:
            stop(process)
            raise
    finally:
        os.close(terminal)
        os.close(user)
    return process.returncode, shown + out, err


def test_in_a_terminal_the_question_names_protection_and_what_is_kept_and_no_keeps_it(aws, faults, protected):
    config, name, region = protected
    code, out, err = _in_a_terminal(faults, config, "n")
    assert code == 1 and "cancelled; nothing was changed" in err
    assert f"Stack {name} has termination protection." in out
    assert "kept:    AWS::S3::Bucket" in out and "kept:    AWS::SageMaker::ModelPackageGroup" in out
    assert "deleted: everything else in the stack" in out
    assert out.count("[y/N]") == 1, "asked once"
    assert stack(aws, name, region)["EnableTerminationProtection"] is True


def test_in_a_terminal_yes_deletes_and_says_protection_was_turned_off(aws, faults, protected, workspace_log):
    config, name, region = protected
    code, out, err = _in_a_terminal(faults, config, "y")
    assert code == 0, err
    assert f"termination protection of {name} turned off" in out
    assert f"deleted stack {name}" in out
    assert "action=delete-product" in workspace_log() and "termination protection turned off" in workspace_log()


def test_force_turns_protection_off_and_says_so(aws, protected, workspace_log):
    config, name, _ = protected
    code, out, err = cli("delete-product", "-c", config, "--force")
    assert code == 0, err
    assert f"termination protection of {name} turned off" in out
    assert "termination protection turned off" in workspace_log().splitlines()[-1]


def test_a_team_can_make_force_stop_at_protection(aws, protected, monkeypatch):
    config, name, region = protected
    monkeypatch.setenv("ML_PROVISIONER_FORCE_KEEPS_PROTECTION", "1")
    code, _, err = cli("delete-product", "-c", config, "--force")
    assert code == 2
    assert f"stack {name} has termination protection, and ML_PROVISIONER_FORCE_KEEPS_PROTECTION=1 keeps it" in err
    assert "update-termination-protection --no-enable-termination-protection" in err
    assert stack(aws, name, region)["EnableTerminationProtection"] is True


def test_without_a_terminal_or_force_nothing_is_decided(aws, protected):
    config, name, region = protected
    code, _, err = cli("delete-product", "-c", config)
    assert code == 2
    assert f"stack {name} has termination protection; confirmation needed but stdin is not a terminal" in err
    assert stack(aws, name, region)["EnableTerminationProtection"] is True


@pytest.fixture
def workspace_log():
    """The execution log of the test's workspace (product() works in ./ml)."""
    from pathlib import Path

    return lambda: (Path("ml") / "reports" / "execution.log").read_text()

"""Workspace writes: files get the mode a plain write gives them, a failed write leaves no
temporary file and the old content, an unwritable folder is exit 2 naming it and the fix, a
deploy does not stop because its template copy cannot be kept, and every run leaves a
"started" line in reports/execution.log before its outcome, so a killed run is still seen."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_provisioner.errors import EXIT_BAD_INPUT
from ml_provisioner.workspace import Workspace
from tests.conftest import example
from tests.support.processes import closed_local_url, read_until, run_cli, stop

STARTER = example("techcorp s3")
OUTSIDER = 65534  # nobody: the owner of the folders the CLI may not write


def test_a_new_file_honours_the_umask_and_a_rewritten_one_keeps_its_mode(tmp_path):
    workspace = Workspace(tmp_path)
    previous = os.umask(0o022)
    try:
        assert _mode(workspace.write(tmp_path / "templates" / "a.yaml", "a")) == 0o644
        os.umask(0o027)
        assert _mode(workspace.write(tmp_path / "templates" / "b.yaml", "b")) == 0o640
        os.umask(0o002)
        (tmp_path / "templates" / "a.yaml").chmod(0o600)
        assert _mode(workspace.write(tmp_path / "templates" / "a.yaml", "a2")) == 0o600
    finally:
        os.umask(previous)
    assert (tmp_path / "templates" / "a.yaml").read_text() == "a2"


def test_a_write_that_fails_part_way_leaves_the_old_file_and_no_temporary_file(tmp_path):
    """The disk fills up mid-write (here: the file-size limit, the same failure for write(2))."""
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "p.json").write_text("old")
    script = (
        "import sys; from pathlib import Path; from ml_provisioner.workspace import Workspace\n"
        "try:\n"
        f"    Workspace(Path({str(tmp_path)!r})).write(Path({str(folder / 'p.json')!r}), 'x' * 100_000)\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error, error.hint, sep='|'); sys.exit(error.exit_code)\n"
    )

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) fails with EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    run = subprocess.run(
        [sys.executable, "-c", script], preexec_fn=small_files, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == EXIT_BAD_INPUT, run.stderr
    kind, message, hint = run.stdout.strip().split("|")
    assert kind == "FolderNotWritable"
    assert message == f"cannot write to {folder}: File too large"
    assert hint.startswith(f"free space on the disk holding {folder}")
    assert sorted(p.name for p in folder.iterdir()) == ["p.json"]
    assert (folder / "p.json").read_text() == "old"


# -- as a user who cannot write the folder: the real permission check (root would bypass it) ------------


@pytest.fixture
def shared_workspace() -> Iterator[Path]:
    """A workspace in a folder that another user can reach, holding a starter config; removed after."""
    root = Path(tempfile.mkdtemp(prefix="mlp-workspace-"))
    root.chmod(0o755)
    (root / "configs").mkdir()
    shutil.copy(STARTER, root / "configs" / STARTER.name)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def as_outsider(args: list[str], workspace: Path, unwritable: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run the CLI as a user who may write the workspace except the `unwritable` folders. As root,
    those folders belong to nobody and the process runs without root's capabilities (setpriv), so
    the kernel's permission check applies as it does to anyone; otherwise they are made 0555."""
    for name in ("policies", "templates", "reports"):
        (workspace / name).mkdir(exist_ok=True)
    (workspace / "home").mkdir(exist_ok=True)
    prefix = []
    for name in unwritable:
        if os.getuid() == 0:
            os.chown(workspace / name, OUTSIDER, OUTSIDER)
        (workspace / name).chmod(0o555)
    if os.getuid() == 0:
        prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ML_PROVISIONER_", "JSII_"))}
    environment = {
        **base,
        "HOME": str(workspace / "home"),
        "ML_PROVISIONER_WORKSPACE": str(workspace),
        "NO_COLOR": "1",
        **env,
    }
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ml_provisioner", *args],
        cwd=workspace,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.synth
def test_an_unwritable_output_folder_exits_2_naming_the_folder_and_the_fix(shared_workspace):
    run = as_outsider(["-con", STARTER.name, "-act", "create-prov-template"], shared_workspace, ["templates"])
    assert run.returncode == EXIT_BAD_INPUT, run.stderr
    folder = shared_workspace / "templates"
    assert f"error: cannot write to {folder}: Permission denied" in run.stderr
    assert f"hint: make {folder} writable for uid {os.getuid()} (chown or chmod it)" in run.stderr
    assert "Traceback" not in run.stderr
    assert list(folder.iterdir()) == []
    assert "action=create-prov-template exit=2" in (shared_workspace / "reports" / "execution.log").read_text()


@pytest.mark.synth
def test_deploy_product_on_a_read_only_templates_folder_deploys_and_warns(shared_workspace):
    import boto3
    from ml_provisioner_sandbox import start_sandbox

    from tests.support.sandbox import create_boundary

    with start_sandbox(port=0) as sandbox:

        def administrator(service: str, region: str):
            return boto3.client(
                service,
                region_name=region,
                endpoint_url=sandbox.url,
                aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox",
            )

        create_boundary(STARTER, administrator)  # the account's administrator has bootstrapped it
        run = as_outsider(
            ["-con", STARTER.name, "-act", "deploy-product", "--force"],
            shared_workspace,
            ["templates"],
            AWS_ENDPOINT_URL=sandbox.url,
            AWS_ACCESS_KEY_ID="sandbox",
            AWS_SECRET_ACCESS_KEY="sandbox",
        )
    assert run.returncode == 0, run.stderr
    folder = shared_workspace / "templates"
    assert f"warning: cannot write to {folder}: Permission denied: the template is not kept there" in run.stderr
    assert "created" in run.stdout
    assert list(folder.iterdir()) == []


@pytest.mark.synth
def test_create_policy_with_only_policies_writable_writes_the_policy_and_warns(shared_workspace):
    """The spec's container command mounts policies/ alone: the template copy is not its output."""
    for old in (shared_workspace / "policies").glob(f"{STARTER.stem}-deployer-*.json"):
        old.unlink()
    run = as_outsider(["-con", STARTER.name, "-act", "create-policy"], shared_workspace, ["templates"])
    assert run.returncode == 0, run.stderr
    folder = shared_workspace / "templates"
    assert f"warning: cannot write to {folder}: Permission denied: the template is not kept there" in run.stderr
    assert list((shared_workspace / "policies").glob(f"{STARTER.stem}-deployer-*.json"))
    assert list(folder.iterdir()) == []


def test_an_unwritable_execution_log_is_a_warning_not_a_failure(shared_workspace):
    run = as_outsider(["-con", STARTER.name, "-act", "validate-config"], shared_workspace, ["reports"])
    assert run.returncode == 0, run.stderr
    log = shared_workspace / "reports" / "execution.log"
    assert run.stderr.count(f"warning: cannot write {log} (Permission denied): this run is not logged") == 1


def test_a_killed_run_has_left_its_started_line(tmp_path):
    """SIGKILL gives no chance to log an outcome: the line written when the run began remains."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ml_provisioner", "--workspace", str(tmp_path), "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert read_until(process, "Local AWS endpoint running").startswith("Local AWS endpoint running")
    finally:
        stop(process)
    lines = (tmp_path / "reports" / "execution.log").read_text().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ run={process.pid} action=sandbox started version=\S+", lines[0]
    )


def test_a_run_logs_started_then_its_outcome_under_one_run_id(tmp_path):
    shutil.copy(STARTER, tmp_path / STARTER.name)
    run = run_cli(tmp_path, "validate-config", "-c", str(tmp_path / STARTER.name), timeout=60)
    assert run.returncode == 0, run.stderr
    started, outcome = (tmp_path / "reports" / "execution.log").read_text().splitlines()
    run_id = re.search(r" (run=\d+) ", started).group(1)
    assert f"{run_id} action=validate-config started version=" in started
    assert f" {run_id} action=validate-config exit=0 config=" in outcome


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_execution_log_holds_names_and_outcomes_only(tmp_path):
    """README: "the execution log records names and outcomes only": a config's values (an email, a
    tag, an account id) and the environment's credentials never reach it, even when a run fails."""
    config = tmp_path / STARTER.name
    text = STARTER.read_text().replace("ml-platform@techcorp.example", "secret-owner@private.example")
    config.write_text(text)
    environment = {**os.environ, "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    for action in ("validate-config", "show-product", "deploy-product"):  # the last fails: no endpoint given
        run_cli(tmp_path, action, "-c", str(config), env={**environment, "AWS_ENDPOINT_URL": closed_local_url()})
    log = (tmp_path / "reports" / "execution.log").read_text()
    for secret in ("secret-owner@private.example", "wJalrXUtnFEMI", "123456789012", "CC-"):
        assert secret not in log
    for line in log.splitlines():
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ run=\d+ action=[a-z-]+ "
            r"(started version=\S+|exit=\d+ config=\S+ version=\S+ .*)",
            line,
        ), line


def test_the_execution_log_says_who_ran_what_where_with_which_version(aws):
    from ml_provisioner import __version__
    from tests.support.sandbox import cli, product

    config, data = product("techcorp s3", aws)
    caller = aws("sts", "us-east-1").get_caller_identity()["Arn"]
    assert cli("check-drift", "-c", config)[0] == 1  # not deployed: but it reached AWS as the caller
    started, outcome = (Path("ml") / "reports" / "execution.log").read_text().splitlines()[-2:]
    assert started.endswith(f"action=check-drift started version={__version__}")
    region = data["environment"]["region"]
    assert f"action=check-drift exit=1 config=ml/configs/{config} version={__version__} " in outcome
    assert f" caller={caller} account={data['client']['account_id']} region={region} " in outcome


def test_a_password_in_the_endpoint_url_reaches_neither_the_log_nor_the_screen(tmp_path):
    config = tmp_path / STARTER.name
    config.write_text(STARTER.read_text())
    url = closed_local_url().replace("http://", "http://admin:S3cretPw@")
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    run = run_cli(tmp_path, "check-drift", "-c", str(config), "--endpoint-url", url, env=environment)
    assert run.returncode == 1 and "cannot reach the AWS endpoint http://127.0.0.1:" in run.stderr
    assert "S3cretPw" not in run.stderr + run.stdout
    assert "S3cretPw" not in (tmp_path / "reports" / "execution.log").read_text()

"""The README's lifecycle walk-through runs exactly as written against the local endpoint."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import PROJECT


def readme_block(after_heading: str, index: int) -> str:
    """The index-th ```bash block below a heading of the README."""
    text = (PROJECT / "README.md").read_text()
    section = text.split(after_heading, 1)[1]
    return re.findall(r"```bash\n(.*?)```", section, re.S)[index]


def run_against_a_sandbox(blocks: list[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Each block as pasted into a shell (it stops on a failure by itself), one after the other,
    against one `ml-provisioner sandbox` started as the README starts it (a process of its own: what
    the blocks deploy ends with it); the runs up to the first that failed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": str(cwd / "none"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}" + env["PATH"]}
    command = [sys.executable, "-m", "ml_provisioner", "sandbox", "--port", "0"]
    sandbox = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done: list[subprocess.CompletedProcess[str]] = []
    try:
        assert sandbox.stdout is not None
        printed = ""
        while not (found := re.search(r"export AWS_ENDPOINT_URL=(http://127\.0\.0\.1:\d+)", printed)):
            line = sandbox.stdout.readline()
            assert line, f"the sandbox ended before printing its endpoint: {printed}"
            printed += line
        env |= {"AWS_ENDPOINT_URL": found.group(1), "AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
        for block in blocks:
            run = subprocess.run(["bash", "-c", block], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            done.append(run)
            if run.returncode:
                break
    finally:
        sandbox.send_signal(signal.SIGINT)  # Ctrl-C, as the README stops it
        try:
            sandbox.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sandbox.kill()
            sandbox.wait(timeout=30)
    return done


def test_readme_lifecycle_block_runs_against_the_sandbox(tmp_path):
    block = readme_block("### Try the whole lifecycle without an AWS account", 1)
    assert "deploy-product" in block and "check-drift" in block and "delete-product" in block
    shutil.copytree(PROJECT / "configs", tmp_path / "ml" / "configs")
    [done] = run_against_a_sandbox([block], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "stack techcorp-prod-a001-customer-churn--ml: created" in out
    assert "stack techcorp-prod-a001-customer-churn--ml: updated" in out
    assert re.search(r"deleted stack t[0-9a-f]{4}--techcorp-prod-a001-customer-churn--ml", out)
    assert "techcorp-prod-a001-customer-churn--ml: IN_SYNC" in out
    assert out.rstrip().endswith("--model-package-group-name techcorp-prod-a001-customer-churn--models")


def test_after_the_quick_start_the_readme_runs_its_fleet_block_on_the_sandbox(tmp_path):
    """ml/ as scripts/demo lays it out (one config per product), the lifecycle block, then the fleet
    block, each exactly as written."""
    heading = "### Try the whole lifecycle without an AWS account"
    lifecycle, fleet = readme_block(heading, 1), readme_block(heading, 2)
    assert "fleet deploy" in fleet and "fleet status" in fleet and "fleet drift" in fleet
    config = "techcorp-prod-a001-us-west-2-customer-churn-ml-s3.yaml"
    subprocess.run([PROJECT / "scripts" / "examples-into-workspace", config, "ml"], cwd=tmp_path, check=True)
    done = run_against_a_sandbox([lifecycle, fleet], tmp_path)
    assert [run.returncode for run in done] == [0, 0], done[-1].stdout[-3000:] + done[-1].stderr[-3000:]
    out = done[1].stdout
    for product in ("techcorp-prod-a001-customer-churn", "techcorp-prod-a001-customer-churn-batch"):
        assert re.search(rf"^{product} +123456789012 +us-west-2 +(created|updated) ", out, re.M), out
    assert "2 product(s) in 1 account(s): 123456789012" in done[1].stderr
    assert "all                    2" in out, "the status table's cost totals"


def test_readme_installs_the_sandbox_before_starting_it():
    """The sandbox is a package of its own that brings moto's server: the README's step installs
    it, at the locked versions, before starting it."""
    lines = readme_block("### Try the whole lifecycle without an AWS account", 0).splitlines()
    install = next(i for i, line in enumerate(lines) if line.startswith("EXTRAS=sandbox scripts/demo"))
    start = next(i for i, line in enumerate(lines) if line.startswith("ml-provisioner sandbox"))
    assert install < start
    sandbox = tomllib.loads((PROJECT / "sandbox" / "pyproject.toml").read_text())["project"]
    assert sandbox["name"] == "ml-provisioner-sandbox"
    assert any(requirement.startswith("moto[server]") for requirement in sandbox["dependencies"])
    assert "\nmoto==" in (PROJECT / "lock" / "sandbox.txt").read_text()


def test_the_lifecycle_block_stops_at_the_first_failed_step(tmp_path):
    """When test-deploy fails, nothing after it runs: above all no delete-product with an empty
    --stack-name. An `ml-provisioner` stand-in on PATH records each call and fails test-deploy."""
    block = readme_block("### Try the whole lifecycle without an AWS account", 1)
    calls = tmp_path / "calls"
    stand_in = tmp_path / "bin" / "ml-provisioner"
    stand_in.parent.mkdir()
    fail_test_deploy = 'case "$*" in *test-deploy*) echo "error: test-deploy failed" >&2; exit 1;; esac'
    stand_in.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n{fail_test_deploy}\n')
    stand_in.chmod(0o755)
    (tmp_path / "ml" / "configs").mkdir(parents=True)
    shutil.copy(
        PROJECT / "configs" / "techcorp-prod-a001-us-west-2-customer-churn-ml-s3.yaml", tmp_path / "ml" / "configs"
    )
    done = subprocess.run(
        ["bash", "-c", block],
        cwd=tmp_path,
        env={"PATH": f"{stand_in.parent}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    made = calls.read_text().splitlines()
    assert "test-deploy" in made[-1], made
    assert not any("delete-product" in call or "check-drift" in call for call in made), made

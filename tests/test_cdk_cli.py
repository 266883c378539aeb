"""The real AWS CDK CLI (npm package aws-cdk) drives app.py through cdk.json and synthesizes the
same templates as `ml-provisioner create-prov-template`, with no AWS call and no bootstrap.

The CLI is installed project-locally: scripts/install-cdk-cli
CI must have it (the test fails there); elsewhere the test is skipped without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ml_provisioner.cli import app
from ml_provisioner.config.loader import load_config
from ml_provisioner.synth import ensure_node
from tests.conftest import PROJECT, example
from tests.support.processes import closed_local_url

pytestmark = pytest.mark.synth

INSTALL = "scripts/install-cdk-cli"
CONFIGS = [example("techcorp codecommit"), example("globalbank s3 sgprov ssm batch")]
# What a bootstrapped (DefaultStackSynthesizer) stack would carry; LegacyStackSynthesizer has none.
BOOTSTRAP_PROPERTIES = {
    "requiresBootstrapStackVersion",
    "assumeRoleArn",
    "cloudFormationExecutionRoleArn",
    "stackTemplateAssetObjectUrl",
    "bootstrapStackVersionSsmParameter",
}


def _cdk_cli() -> Path:
    local = PROJECT / ".cdk-cli" / "node_modules" / ".bin" / "cdk"
    found = local if local.exists() else shutil.which("cdk")
    if not found:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"the AWS CDK CLI is required in CI: {INSTALL}")
        pytest.skip(f"the AWS CDK CLI is not installed: {INSTALL}")
    return Path(found)


def _offline_env(home: Path) -> dict[str, str]:
    """The venv's python3 first on PATH (cdk.json runs `python3 app.py`), a supported Node.js for
    the CLI, no credentials, no telemetry/notices/version check, and any stray request sent to a
    closed local port: synth must not need AWS."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    path = [str(Path(sys.executable).parent), str(Path(ensure_node()).parent), env.get("PATH", "")]
    closed = closed_local_url()
    env.update(
        PATH=os.pathsep.join(path),
        HOME=str(home),
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        AWS_EC2_METADATA_DISABLED="true",
        HTTP_PROXY=closed,
        HTTPS_PROXY=closed,
        NO_PROXY="",
    )
    return env


def _cdk(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(_cdk_cli()), *args, "--no-notices"]
    return subprocess.run(
        command, cwd=PROJECT, env=_offline_env(tmp), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cdk")
    given = ",".join(str(path.relative_to(PROJECT)) for path in CONFIGS)
    run = _cdk(tmp, "synth", "--quiet", "-c", f"config={given}", "--output", str(tmp / "cdk.out"))
    assert run.returncode == 0, run.stdout + run.stderr
    return tmp / "cdk.out"


def test_the_venv_python_runs_app_py_under_cdk_json(tmp_path):
    assert json.loads((PROJECT / "cdk.json").read_text())["app"] == "python3 app.py"
    python3 = shutil.which("python3", path=_offline_env(tmp_path)["PATH"])
    assert python3 and Path(python3).parent == Path(sys.executable).parent


def test_cdk_synth_gives_the_same_templates_as_create_prov_template(cdk_out, tmp_path):
    result = CliRunner().invoke(
        app, ["--workspace", str(tmp_path), "create-prov-template", *[f"--config={c}" for c in CONFIGS]]
    )
    assert result.exit_code == 0, result.output
    for config in CONFIGS:
        from_cdk = json.loads((cdk_out / f"{config.stem}.template.json").read_text())
        from_cli = yaml.safe_load((tmp_path / "templates" / f"{config.stem}.yaml").read_text())
        stamp = from_cli.pop("Metadata")  # what produced it: written by create-prov-template only
        assert set(stamp) == {"MlProvisioner"}
        assert from_cdk == from_cli, config.name


def test_cdk_synth_output_needs_no_bootstrap(cdk_out):
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert sorted(stacks) == sorted(config.stem for config in CONFIGS)
    assert not [a for a in manifest["artifacts"].values() if a["type"] == "cdk:asset-manifest"]
    for config in CONFIGS:
        properties = stacks[config.stem]["properties"]
        assert properties["stackName"] == load_config(config).names().stack_name
        assert not BOOTSTRAP_PROPERTIES & properties.keys()
        template = json.loads((cdk_out / properties["templateFile"]).read_text())
        assert "BootstrapVersion" not in template.get("Parameters", {})
        assert "CheckBootstrapVersion" not in template.get("Rules", {})


def test_cdk_synth_without_a_config_says_how_to_give_one(tmp_path):
    run = _cdk(tmp_path, "synth", "--quiet", "--output", str(tmp_path / "cdk.out"))
    assert run.returncode != 0
    assert "error: no config given" in run.stderr
    assert "cdk synth -c config=configs/<file>.yaml" in run.stderr

"""Byte-identical output for the same config: templates, deployer policies and review reports do
not depend on Python's hash seed (set iteration order), the process, or the folder they are in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import example

pytestmark = pytest.mark.synth

ONE_PER_TIER = [example("techcorp s3"), example("edge codecommit"), example("globalbank codecommit standalone ssm")]


def _generate(workspace: Path, hash_seed: str) -> dict[str, bytes]:
    """Every file the three local artifact actions write, from a fresh process per action."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "SOURCE_DATE_EPOCH": "1767225600"}
    configs = [arg for path in ONE_PER_TIER for arg in ("-c", str(path))]
    for action in ("create-prov-template", "create-policy", "create-review-report"):
        subprocess.run(
            [sys.executable, "-m", "ml_provisioner", "-q", "-w", str(workspace), action, *configs],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return {
        str(path.relative_to(workspace)): path.read_bytes()
        for folder in ("templates", "policies", "reports")
        for path in sorted((workspace / folder).glob("*"))
        if path.name != "execution.log"
    }


def test_two_processes_with_different_hash_seeds_write_the_same_bytes(tmp_path):
    first = _generate(tmp_path / "a", "1")
    second = _generate(tmp_path / "b", "2")
    assert {name.split("/")[0] for name in first} == {"templates", "policies", "reports"}
    assert len(first) >= 3 * 3  # a template, at least one policy and a report per config
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []

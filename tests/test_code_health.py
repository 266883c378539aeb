"""The code keeps the project's own rules: ruff's lint and layout, and mypy --strict (pyproject's
settings) on the packages and the sandbox. The same checks run in the pre-commit hook."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT


@pytest.mark.parametrize(
    "check",
    [
        ["ruff", "check", "--no-cache", "."],
        ["ruff", "format", "--check", "--no-cache", "."],
        ["mypy", "ml_provisioner", "constructs_lib", "sandbox/ml_provisioner_sandbox"],
    ],
    ids=lambda check: " ".join(check[:2]),
)
def test_the_code_passes(check):
    result = subprocess.run(
        [sys.executable, "-m", *check], cwd=PROJECT, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr

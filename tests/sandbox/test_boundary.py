"""The sandbox is a package of its own: it imports nothing of the product, and the product imports it
only where the `sandbox` command mounts it (read from the source, every import statement)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PROJECT

SANDBOX = PROJECT / "sandbox" / "ml_provisioner_sandbox"
PRODUCT = PROJECT / "ml_provisioner"
MOUNT = PRODUCT / "cli" / "sandbox.py"


def imported_modules(package: Path) -> Iterator[tuple[Path, str]]:
    """(file, absolute module name) for every import in the package's modules, nested ones included."""
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield path, node.module


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_the_sandbox_imports_nothing_of_the_product():
    offending = [(p.name, m) for p, m in imported_modules(SANDBOX) if is_within(m, "ml_provisioner")]
    assert list(imported_modules(SANDBOX)), "no import read: the walk is broken"
    assert offending == []


def test_the_product_imports_the_sandbox_only_in_the_sandbox_command():
    importers = {p for p, m in imported_modules(PRODUCT) if is_within(m, "ml_provisioner_sandbox")}
    assert importers == {MOUNT}


def test_the_product_never_imports_moto():
    """moto is the sandbox's dependency, not the product's: `pip install -e .` has no moto."""
    assert [(p.name, m) for p, m in imported_modules(PRODUCT) if is_within(m, "moto")] == []

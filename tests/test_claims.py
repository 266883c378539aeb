"""docs/claims.md maps the README's promises to the tests that keep them: every quoted promise is
still in the README, every row names at least one test, and every named test exists."""

from __future__ import annotations

import ast
import re
from functools import cache

from tests.conftest import PROJECT

CLAIMS = PROJECT / "docs" / "claims.md"
README = PROJECT / "README.md"
TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def rows() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(section, quoted promise, [(test file, test name)]) of each row of the table."""
    found = []
    for line in CLAIMS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("README section", "---") or set(cells[0]) <= {"-"}:
            continue
        found.append((cells[0], cells[1], TEST.findall(cells[2])))
    return found


@cache
def _functions_of(path: str) -> set[str]:
    tree = ast.parse((PROJECT / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def _plain(markdown: str) -> str:
    """The text as the README's reader sees it, for matching quotes across line breaks."""
    return re.sub(r"\s+", " ", markdown)


def test_the_table_has_rows():
    assert len(rows()) >= 25


def test_every_quoted_promise_is_in_the_readme():
    readme = _plain(README.read_text())
    missing = [promise for _, promise, _ in rows() if _plain(promise) not in readme]
    assert not missing, f"no longer in the README (update docs/claims.md): {missing}"


def test_every_promise_names_a_test_and_every_named_test_exists():
    for section, promise, tests in rows():
        assert tests, f"{section}: {promise!r} has no test"
        for path, name in tests:
            assert name in _functions_of(path), f"{section}: {path}::{name} does not exist"


def test_every_readme_section_the_table_names_exists():
    headings = {line.lstrip("#").strip() for line in README.read_text().splitlines() if line.startswith("#")}
    for section, _, _ in rows():
        assert any(heading.startswith(section) for heading in headings), section

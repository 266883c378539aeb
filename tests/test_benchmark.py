"""scripts/benchmark.py compares like with like (not timed here: speed targets live in the script).
Both sides of the `cdk synth` comparison, and every other case, run with one environment: one HOME,
one jsii package cache, one Node.js; the cold synthesis and `cdk synth` alternate which goes first."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.conftest import PROJECT


def _benchmark():
    spec = importlib.util.spec_from_file_location("benchmark", PROJECT / "scripts" / "benchmark.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_measured_command_gets_the_one_environment(tmp_path, monkeypatch):
    benchmark = _benchmark()
    env = benchmark.bench_env(tmp_path)
    assert env["HOME"] == str(tmp_path)
    assert env["JSII_RUNTIME_PACKAGE_CACHE_ROOT"] == str(tmp_path / ".jsii-cache")
    assert Path(env["JSII_NODE"]).name.startswith("node")
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent), "cdk.json's python3 is the venv's"
    assert not any(key.startswith("AWS_") and key != "AWS_EC2_METADATA_DISABLED" for key in env)

    seen: list[tuple[str, dict]] = []

    def record(*commands, env, cwd=None):
        seen.extend((command[0], env) for command in commands)
        return 1.0, 1.0

    monkeypatch.setattr(benchmark, "timed", record)
    for cdk_first in (True, False):
        seen.clear()
        times = benchmark.one_round(Path("/usr/bin/cdk"), env, cdk_first=cdk_first)
        assert {"cold", "cdk", "again", "seven", "all"} <= set(times)
        assert {argv[0] for argv in benchmark.SEVEN} <= set(times), "each of the seven is reported"
        assert {f"{argv[0]} (current)" for argv in benchmark.NO_TEMPLATE} <= set(times)
        assert all(recorded is env for _, recorded in seen), "one environment for both sides"
        order = [name for name, _ in seen][:2]
        assert order == (["/usr/bin/cdk", sys.executable] if cdk_first else [sys.executable, "/usr/bin/cdk"])


def test_each_ratio_is_shown_beside_the_floor_the_tools_underneath_set():
    """The floor is the ratio the tools' own work sets, over the round's cold synthesis."""
    benchmark = _benchmark()
    one_round = {"cold": (1.5, 1.2), "cdk": (2.4, 2.0), "lint": (1.3, 1.2), "imports": (0.1, 0.1)}
    one_round["cdk all"] = (5.4, 5.0)
    assert benchmark.floor("seven", one_round) == (1.5 + 1.3 + 5 * 0.1) / 1.5
    assert benchmark.floor("again", one_round) == 0.1 / 1.5
    assert benchmark.floor("all", one_round) == (1.5 + 5.4 - 2.4) / 1.5
    assert benchmark.floor("cold", one_round) is None, "both sides are the same synthesis"
    assert benchmark.floor("all", {"cold": (1.5, 1.2)}) is None, "no floor without the CDK CLI's times"

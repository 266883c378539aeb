"""Speed targets, measured: `python scripts/benchmark.py` (exit 1 if a target is missed).

Commands that need no template must not start the jsii kernel, and synthesizing many configs
must share one kernel. Each command is run as a user runs it (a fresh process), best of N.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((PROJECT / "configs").glob("*.yaml"))
STARTER = str(PROJECT / "configs" / "techcorp-prod-a001-us-west-2-customer-churn-ml-codecommit.yaml")

# (what, argv after `python -m ml_provisioner`, target seconds, runs)
CASES = [
    ("list-products", ["list-products"], 1.5, 3),
    ("show-product", ["show-product", "-c", STARTER], 1.5, 3),
    ("validate-config, 24 configs", ["validate-config", *sum((["-c", str(c)] for c in CONFIGS), [])], 2.0, 3),
    ("create-prov-template, 1 config", ["create-prov-template", "-c", STARTER], 15.0, 2),
    (
        "create-prov-template, 24 configs",
        ["create-prov-template", *sum((["-c", str(c)] for c in CONFIGS), [])],
        45.0,
        1,
    ),
]


def best_of(argv: list[str], runs: int, workdir: str) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ml_provisioner", "-q", *argv], cwd=workdir, check=True, stdout=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    missed = 0
    with tempfile.TemporaryDirectory() as workdir:
        print(f"{'case':<36} {'seconds':>8} {'target':>8}")
        for what, argv, target, runs in CASES:
            seconds = best_of(argv, runs, workdir)
            ok = seconds <= target
            missed += not ok
            print(f"{what:<36} {seconds:>8.2f} {target:>8.1f}  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

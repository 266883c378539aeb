"""Speed targets as ratios measured in one run: `python scripts/benchmark.py [--rounds N]`.

Every command runs as a user runs it (a fresh process). The reference is one cold
create-prov-template (one config, synthesized); each round measures every case once, back to back,
so that a ratio compares timings taken under the same load; a ratio is the median over the rounds.
Exit 1 when a target is missed (or the CDK CLI for the `cdk synth` comparison is missing).

Targets:
- the spec's seven local actions in sequence <= 1.5x one cold create-prov-template;
- create-prov-template again with nothing changed <= 0.1x;
- one cold create-prov-template <= 0.67x `cdk synth` of the same config through cdk.json (stretch 0.5x);
- every example config in one call <= 2x one config;
- list-products, show-product and validate-config never start the jsii kernel.

The CDK CLI: scripts/install-cdk-cli (or `cdk` on PATH).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
CONFIGS = sorted((PROJECT / "configs").glob("*.yaml"))
STARTER = PROJECT / "configs" / "techcorp-prod-a001-us-west-2-customer-churn-ml-codecommit.yaml"
CDK_INSTALL = "scripts/install-cdk-cli"
SEVEN = [  # the spec's local workflow, in order
    ["list-products"],
    ["show-product", "-c", STARTER.name],
    ["validate-config", "-c", STARTER.name],
    ["create-prov-template", "-c", STARTER.name],
    ["validate-prov-template", "-c", STARTER.name],
    ["create-policy", "-c", STARTER.name],
    ["create-review-report", "-c", STARTER.name],
]
NO_TEMPLATE = SEVEN[:3]  # commands that must never start the jsii kernel
# (what, measured case, reference case, target, stretch target)
RATIOS = [
    ("seven local actions in sequence / one cold create-prov-template", "seven", "cold", 1.5, None),
    ("create-prov-template with nothing changed / cold", "again", "cold", 0.1, None),
    ("cold create-prov-template / cdk synth of the same config", "cold", "cdk", 0.67, 0.5),
    (f"all {len(CONFIGS)} examples in one call / one config", "all", "cold", 2.0, None),
]


def workspace() -> Path:
    """A fresh workspace holding every example config."""
    root = Path(tempfile.mkdtemp(prefix="ml-provisioner-benchmark-"))
    (root / "configs").mkdir()
    for config in CONFIGS:
        shutil.copy(config, root / "configs" / config.name)
    return root


def ml_provisioner(root: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "ml_provisioner", "-q", "--workspace", str(root), *argv]


def timed(*commands: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd or PROJECT)
    return time.perf_counter() - start


def cdk_cli() -> Path | None:
    local = PROJECT / ".cdk-cli" / "node_modules" / ".bin" / "cdk"
    found = local if local.exists() else shutil.which("cdk")
    return Path(found) if found else None


def cdk_env(home: Path) -> dict[str, str]:
    """As tests/test_cdk_cli.py runs it: the venv's python3 first, a supported Node.js, offline."""
    from ml_provisioner.synth import ensure_node

    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    path = [str(Path(sys.executable).parent), str(Path(ensure_node()).parent), env.get("PATH", "")]
    return env | {
        "PATH": os.pathsep.join(path),
        "HOME": str(home),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def one_round(cdk: Path | None) -> dict[str, float]:
    cold_ws, seven_ws, all_ws = workspace(), workspace(), workspace()
    try:
        times = {"cold": timed(ml_provisioner(cold_ws, "create-prov-template", "-c", STARTER.name))}
        times["again"] = timed(ml_provisioner(cold_ws, "create-prov-template", "-c", STARTER.name))
        times["seven"] = timed(*(ml_provisioner(seven_ws, *argv) for argv in SEVEN))
        times["all"] = timed(
            ml_provisioner(all_ws, "create-prov-template", *sum((["-c", c.name] for c in CONFIGS), []))
        )
        if cdk:
            out = cold_ws / "cdk.out"
            command = [str(cdk), "synth", "--quiet", "--no-notices", "-c", f"config={STARTER}", "--output", str(out)]
            times["cdk"] = timed(command, env=cdk_env(cold_ws))
        return times
    finally:
        for root in (cold_ws, seven_ws, all_ws):
            shutil.rmtree(root, ignore_errors=True)


def starts_jsii(argv: list[str]) -> bool:
    """Whether the command imported aws_cdk or jsii (python -X importtime lists every import)."""
    root = workspace()
    try:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *ml_provisioner(root, *argv)[1:]],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return any(name.split(".")[0] in ("aws_cdk", "jsii") for name in imported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every case (default 3)")
    args = parser.parse_args(argv)
    cdk = cdk_cli()
    if cdk is None:
        print(f"the AWS CDK CLI is not installed: {CDK_INSTALL}", file=sys.stderr)
    rounds = []
    for number in range(1, args.rounds + 1):
        rounds.append(one_round(cdk))
        print(f"round {number}: " + ", ".join(f"{k} {v:.2f}s" for k, v in rounds[-1].items()), flush=True)

    missed = 0 if cdk else 1
    print(f"\n{'ratio (median of ' + str(args.rounds) + ' rounds)':<68} {'value':>6} {'target':>7}")
    for what, case, reference, target, stretch in RATIOS:
        if reference not in rounds[0] or case not in rounds[0]:
            print(f"{what:<68} {'-':>6} {target:>7.2f}  NOT MEASURED")
            continue
        value = statistics.median(r[case] / r[reference] for r in rounds)
        ok = value <= target
        missed += not ok
        note = "ok" if ok else "MISSED"
        if ok and stretch is not None:
            note += f" (stretch {stretch}: {'met' if value <= stretch else 'not met'})"
        print(f"{what:<68} {value:>6.2f} {target:>7.2f}  {note}")
    for argv_ in NO_TEMPLATE:
        jsii = starts_jsii(argv_)
        missed += jsii
        verdict = "MISSED" if jsii else "ok"
        print(f"{argv_[0] + ' starts the jsii kernel':<68} {'yes' if jsii else 'no':>6} {'no':>7}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

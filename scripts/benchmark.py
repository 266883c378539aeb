"""Speed targets as ratios measured in one run: `python scripts/benchmark.py [--rounds N]`.

Every command runs as a user runs it (a fresh process), and both sides of a comparison run in the
same environment (bench_env): one HOME, one jsii package cache and one Node.js for ml-provisioner and
for `cdk synth` alike, so neither pays for unpacking the CDK's packages when the other does not (the
extra first round warms the shared cache; it is reported and left out of the ratios).
The reference is one cold create-prov-template (one config, synthesized); each round measures every
case once, back to back, the cold synthesis and `cdk synth` in alternating order, so that a ratio
compares timings taken under the same load; a ratio is the median over the rounds. Wall and CPU time
(of the child processes) are printed with the machine's load average, and the median time of each of
the seven actions. Exit 1 when a target is missed (or the CDK CLI for the `cdk synth` comparison is
missing).

Targets:
- the spec's seven local actions in sequence <= 1.5x one cold create-prov-template;
- create-prov-template again with nothing changed <= 0.1x;
- one cold create-prov-template <= 0.67x `cdk synth` of the same config through cdk.json (stretch 0.5x);
- every example config in one call <= 1.5x one config;
- list-products, show-product and validate-config <= 0.3 s wall each on a current workspace (the
  median over the rounds), and they never start the jsii kernel.

Beside each ratio, its floor: the ratio the tools underneath set by themselves, over this round's
cold synthesis (cfn-lint's own CLI, a process that only imports typer, pydantic and PyYAML, what
`cdk synth` adds for more configs). The cold synthesis includes this tool's own share, so a floor
errs low; a target that is missed under a floor above it cannot be met by this tool's code, and
the note after the ratio says so.

The CDK CLI: scripts/install-cdk-cli (or `cdk` on PATH).
"""

from __future__ import annotations

import argparse
import os
import resource
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
QUICK = 0.3  # seconds of wall time for each of those on a current workspace
CASES = ("cold", "cdk", "again", "seven", "all")  # printed for each round
# (what, measured case, reference case, target, stretch target)
RATIOS = [
    ("seven local actions in sequence / one cold create-prov-template", "seven", "cold", 1.5, None),
    ("create-prov-template with nothing changed / cold", "again", "cold", 0.1, None),
    ("cold create-prov-template / cdk synth of the same config", "cold", "cdk", 0.67, 0.5),
    (f"all {len(CONFIGS)} examples in one call / one config", "all", "cold", 1.5, None),
]


def floor(case: str, r: dict[str, tuple[float, float]]) -> float | None:
    """The ratio the tools underneath set by themselves in this round (wall time), over its cold
    synthesis: their work, with nothing of ours added but what the cold synthesis holds. None: not
    measured."""
    wall = {k: v[0] for k, v in r.items()}
    try:
        if case == "seven":  # one synthesis, cfn-lint's own run, and five more processes that only import
            return (wall["cold"] + wall["lint"] + 5 * wall["imports"]) / wall["cold"]
        if case == "again":  # a process that only imports what every command imports
            return wall["imports"] / wall["cold"]
        if case == "all":  # one synthesis, plus what `cdk synth` itself adds for the other configs
            return (wall["cold"] + wall["cdk all"] - wall["cdk"]) / wall["cold"]
    except KeyError:
        return None
    return None  # cold / cdk synth: both sides are the same synthesis


UNDERNEATH = [  # (case, what) measured by underneath()
    ("lint", "cfn-lint's own CLI on the cold template"),
    ("cdk all", f"cdk synth of all {len(CONFIGS)} examples in one app"),
    ("imports", "python -c 'import typer, pydantic, yaml'"),
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


def timed(*commands: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of running the commands one after the other."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for command in commands:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd or PROJECT)
    return time.perf_counter() - start, cpu_seconds() - cpu


def cdk_cli() -> Path | None:
    local = PROJECT / ".cdk-cli" / "node_modules" / ".bin" / "cdk"
    found = local if local.exists() else shutil.which("cdk")
    return Path(found) if found else None


def bench_env(home: Path) -> dict[str, str]:
    """The one environment of every measured command: the venv's python3 first (cdk.json runs
    `python3 app.py`), a supported Node.js (JSII_NODE and PATH), one HOME and one jsii package cache,
    no AWS credentials, no telemetry or version check."""
    from ml_provisioner.synth import ensure_node

    node = ensure_node()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    path = [str(Path(sys.executable).parent), str(Path(node).parent), env.get("PATH", "")]
    return env | {
        "PATH": os.pathsep.join(path),
        "HOME": str(home),
        "JSII_NODE": node,
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(home / ".jsii-cache"),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def cpu_seconds() -> float:
    """CPU time of the child processes that have ended so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_round(cdk: Path | None, env: dict[str, str], cdk_first: bool) -> dict[str, tuple[float, float]]:
    cold_ws, seven_ws, all_ws = workspace(), workspace(), workspace()
    try:
        times: dict[str, tuple[float, float]] = {}

        def cold() -> None:
            times["cold"] = timed(ml_provisioner(cold_ws, "create-prov-template", "-c", STARTER.name), env=env)

        def cdk_synth() -> None:
            if cdk:
                out = cold_ws / "cdk.out"
                command = [
                    str(cdk),
                    "synth",
                    "--quiet",
                    "--no-notices",
                    "-c",
                    f"config={STARTER}",
                    "--output",
                    str(out),
                ]
                times["cdk"] = timed(command, env=env)

        for step in (cdk_synth, cold) if cdk_first else (cold, cdk_synth):
            step()
        times["again"] = timed(ml_provisioner(cold_ws, "create-prov-template", "-c", STARTER.name), env=env)
        for argv in SEVEN:  # one after the other; the sum is the case, each action is reported too
            times[argv[0]] = timed(ml_provisioner(seven_ws, *argv), env=env)
        times["seven"] = (sum(times[a[0]][0] for a in SEVEN), sum(times[a[0]][1] for a in SEVEN))
        for argv in NO_TEMPLATE:  # again, now that the workspace is current
            times[f"{argv[0]} (current)"] = timed(ml_provisioner(seven_ws, *argv), env=env)
        times["all"] = timed(
            ml_provisioner(all_ws, "create-prov-template", *sum((["-c", c.name] for c in CONFIGS), [])), env=env
        )
        times |= underneath(cdk, env, cold_ws)
        return times
    finally:
        for root in (cold_ws, seven_ws, all_ws):
            shutil.rmtree(root, ignore_errors=True)


def underneath(cdk: Path | None, env: dict[str, str], cold_ws: Path) -> dict[str, tuple[float, float]]:
    """What the tools the design is built on cost by themselves, for the same work (no targets: the
    floor under three of the cases): cfn-lint's own CLI on the cold template (validate-prov-template
    lints it every time), `cdk synth` of every example in one app (app.py takes them comma-separated),
    and a Python process that only imports typer, pydantic and PyYAML (every command does)."""
    from ml_provisioner.config.loader import load_config

    region = load_config(STARTER).config.environment.region
    template = cold_ws / "templates" / f"{STARTER.stem}.yaml"
    cfn_lint = [str(Path(sys.executable).parent / "cfn-lint"), "--regions", region, "--non-zero-exit-code", "none"]
    measured = {
        "lint": timed([*cfn_lint, "--", str(template)], env=env),
        "imports": timed([sys.executable, "-c", "import typer, pydantic, yaml"], env=env),
    }
    if cdk:
        every = ",".join(str(config) for config in CONFIGS)
        out = cold_ws / "cdk-all.out"
        measured["cdk all"] = timed(
            [str(cdk), "synth", "--quiet", "--no-notices", "-c", f"config={every}", "--output", str(out)], env=env
        )
    return measured


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
    home = Path(tempfile.mkdtemp(prefix="ml-provisioner-benchmark-home-"))
    env = bench_env(home)
    rounds = []
    try:
        for number in range(1, args.rounds + 2):  # the first round warms the shared caches
            rounds.append(one_round(cdk, env, cdk_first=number % 2 == 0))
            measured = ", ".join(
                f"{k} {wall:.2f}s wall {cpu:.2f}s CPU" for k, (wall, cpu) in rounds[-1].items() if k in CASES
            )
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"round {number}{' (warm-up)' if number == 1 else ''}: {measured}; load {load}", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rounds = rounds[1:]

    missed = 0 if cdk else 1
    header = "ratio (median of " + str(args.rounds) + " rounds, wall / CPU)"
    print(f"\n{header:<68} {'value':>13} {'floor':>6} {'target':>7}")
    for what, case, reference, target, stretch in RATIOS:
        if reference not in rounds[0] or case not in rounds[0]:
            print(f"{what:<68} {'-':>13} {'':>6} {target:>7.2f}  NOT MEASURED")
            continue
        value = statistics.median(r[case][0] / r[reference][0] for r in rounds)
        cpu = statistics.median(r[case][1] / max(r[reference][1], 1e-9) for r in rounds)
        floors = [f for f in (floor(case, r) for r in rounds) if f is not None]
        least = statistics.median(floors) if floors else None
        ok = value <= target
        missed += not ok
        note = "ok" if ok else "MISSED"
        if ok and stretch is not None:
            note += f" (stretch {stretch}: {'met' if value <= stretch else 'not met'})"
        if not ok and least is not None and least > target:
            note += " (the floor is above the target)"
        shown = "" if least is None else f"{least:.2f}"
        print(f"{what:<68} {value:>6.2f} / {cpu:<4.2f} {shown:>6} {target:>7.2f}  {note}")
    for argv_ in NO_TEMPLATE:
        case = f"{argv_[0]} (current)"
        wall, cpu = (statistics.median(r[case][i] for r in rounds) for i in (0, 1))
        missed += wall > QUICK
        verdict = "ok" if wall <= QUICK else "MISSED"
        print(f"{case + ' seconds (wall / CPU)':<68} {wall:>6.2f} / {cpu:<4.2f} {'':>6} {QUICK:>7.2f}  {verdict}")
    for argv_ in NO_TEMPLATE:
        jsii = starts_jsii(argv_)
        missed += jsii
        verdict = "MISSED" if jsii else "ok"
        print(f"{argv_[0] + ' starts the jsii kernel':<68} {'yes' if jsii else 'no':>13} {'':>6} {'no':>7}  {verdict}")
    print("\nwhat the tools underneath cost for the same work (median seconds, wall / CPU; no targets)")
    for case, what in UNDERNEATH:
        if case in rounds[0]:
            wall, cpu = (statistics.median(r[case][i] for r in rounds) for i in (0, 1))
            print(f"  {what:<66} {wall:>6.2f} / {cpu:<4.2f}")
    print("\nthe seven, each (median seconds, wall / CPU)")
    for argv_ in SEVEN:
        wall, cpu = (statistics.median(r[argv_[0]][i] for r in rounds) for i in (0, 1))
        print(f"  {argv_[0]:<66} {wall:>6.2f} / {cpu:<4.2f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A fleet at scale in the sandbox: `python scripts/fleet_benchmark.py [--per-account 20]`.

60 products (20 in each of three accounts) reached through the roles `ml-provisioner bootstrap`
makes (a StackSet), one broken on purpose (a CodeCommit source in an account without one), one
drifted on purpose (an SSM output changed out of band). Runs, as a user runs them (fresh CLI
processes against a sandbox in its own process):

  bootstrap (StackSet) -> fleet deploy -> fleet status -> fleet plan -> fleet drift

then the same deploys one product at a time (--max-concurrent 1, in a fresh sandbox), and prints
the wall-time ratio, the API calls per product and the CLI's peak memory. Exit 1 when a step
does not end as expected (the broken product fails, the drifted one is found).

The sandbox does in a few CPU-milliseconds what CloudFormation does in minutes, so the emulator's
CPU bounds the ratio here; against AWS each product mostly waits, and the pool overlaps the waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tests.fleet_fixture import ACCOUNTS, break_source, prepare_stack_set_targets, write_fleet  # noqa: E402

CLI = [sys.executable, "-m", "ml_provisioner"]
SANDBOX_ACCOUNT = "123456789012"  # the account of the sandbox's own credentials: the StackSet administrator
TOOLING = f"arn:aws:iam::{SANDBOX_ACCOUNT}:user/moto"  # the sandbox's caller (it does not evaluate trust policies)


def start_sandbox(workdir: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0"], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout
    for line in process.stdout:
        if "AWS_ENDPOINT_URL=" in line:
            return process, line.strip().split("=", 1)[1]
    raise SystemExit("the sandbox did not start")


def run(argv: list[str], workdir: Path, env: dict[str, str]) -> tuple[int, str, str, float, int]:
    """(exit code, stdout, stderr, seconds, peak RSS in MiB) of one CLI process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen([*CLI, *argv], cwd=workdir, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # the process's own peak (the jsii kernel is apart)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read(), seconds, usage.ru_maxrss // 1024


def rows(out: str) -> list[dict]:
    return json.loads(out[out.index("[\n") :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-account", type=int, default=20)
    parser.add_argument("--max-concurrent", type=int, default=10)
    parser.add_argument("--skip-sequential", action="store_true", help="do not measure the one-at-a-time run")
    args = parser.parse_args()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fleet-benchmark-") as tmp:
        workdir = Path(tmp)
        paths = write_fleet(workdir / "ml" / "configs", args.per_account, bootstrap_roles=True)
        break_source(paths[1])
        total = len(paths)
        sandbox, endpoint = start_sandbox(workdir)
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "NO_COLOR": "1",
            # the sandbox carries out a StackSet operation inside the call that starts it (AWS answers at once)
            "ML_PROVISIONER_AWS_READ_TIMEOUT": "600",
        }
        env.pop("AWS_PROFILE", None)
        try:
            os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
            prepare_stack_set_targets(endpoint, SANDBOX_ACCOUNT)
            code, out, err, seconds, peak = run(["bootstrap", "--trust", TOOLING, "--json"], workdir, env)
            print(f"bootstrap (StackSet, {len(ACCOUNTS)} accounts): exit {code}, {seconds:.1f} s, {peak} MiB")
            if code != 0:
                problems.append(f"bootstrap: {err.strip().splitlines()[-2:]}")
                print("\n".join(problems))
                return 1

            deploy = ["fleet", "deploy", "--force", "--continue-on-error", "--json"]
            code, out, err, deploy_seconds, deploy_peak = run(
                [*deploy, "--max-concurrent", str(args.max_concurrent)], workdir, env
            )
            results = rows(out)
            failed = [r["product"] for r in results if r["error"]]
            calls = [r["api_calls"] for r in results if not r["error"]]
            print(
                f"fleet deploy, {total} products, {args.max_concurrent} at a time: exit {code}, "
                f"{deploy_seconds:.1f} s, peak {deploy_peak} MiB; failed: {failed}"
            )
            for r in results:
                if r["error"]:
                    print(f"  {r['product']}: {r['error']}")
            if not calls:
                print(err[-2000:])
                return 1
            print(f"  API calls per deployed product: mean {sum(calls) / len(calls):.1f}, max {max(calls)}")
            if code != 1 or len(failed) != 1:
                problems.append(f"fleet deploy: expected exactly the broken product to fail, got {failed}")
            wrong_account = [r["product"] for r in results if r["acted_as"] and ":assumed-role/" not in r["acted_as"]]
            if wrong_account:
                problems.append(f"not through an assumed role: {wrong_account}")

            code, out, err, seconds, peak = run(["fleet", "status", "--json"], workdir, env)
            templates = sorted({r["result"]["template"] for r in rows(out)})
            print(f"fleet status: exit {code}, {seconds:.1f} s, {peak} MiB; templates: {templates}")

            code, out, err, seconds, peak = run(["fleet", "plan", "--json"], workdir, env)
            plans = sorted({r["result"]["action"] for r in rows(out) if r["result"]})
            print(f"fleet plan: exit {code}, {seconds:.1f} s, {peak} MiB; plans: {plans}")

            drifted = results[-1]  # in the last account: the broken product is in the first
            _tamper(endpoint, drifted, paths)
            code, out, err, seconds, peak = run(["fleet", "drift"], workdir, env)
            print(f"fleet drift: exit {code}, {seconds:.1f} s, {peak} MiB")
            if code != 1 or drifted["product"] not in out + err:
                problems.append(f"fleet drift: expected exit 1 (the broken product has no stack): {code}")
            code, out, err, seconds, _ = run(
                ["fleet", "drift", "--account", drifted["acted_as"].split(":")[4]], workdir, env
            )
            if code != 3:
                problems.append(f"fleet drift of the drifted product's account: exit {code}, expected 3")
        finally:
            sandbox.terminate()
            sandbox.wait()

        if not args.skip_sequential:
            sandbox, endpoint = start_sandbox(workdir)
            env["AWS_ENDPOINT_URL"] = endpoint
            try:
                prepare_stack_set_targets(endpoint, SANDBOX_ACCOUNT)
                run(["bootstrap", "--trust", TOOLING], workdir, env)
                code, out, err, one_seconds, _ = run([*deploy, "--max-concurrent", "1"], workdir, env)
            finally:
                sandbox.terminate()
                sandbox.wait()
            print(f"the same deploys one at a time: {one_seconds:.1f} s")
            print(f"ratio fleet / one at a time: {deploy_seconds / one_seconds:.2f}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def _tamper(endpoint: str, row: dict, paths: list[Path]) -> None:
    """Change one SSM output of a deployed product out of band, as someone in its account would."""
    import boto3

    from ml_provisioner.config.loader import load_config

    names = next(n for n in (load_config(p).names() for p in paths if p.exists()) if n.deployment_id == row["product"])
    credentials = boto3.client(
        "sts", region_name=names.region, endpoint_url=endpoint, aws_access_key_id="sandbox", aws_secret_access_key="x"
    ).assume_role(RoleArn=f"arn:aws:iam::{names.account}:role/someone", RoleSessionName="out-of-band")["Credentials"]
    boto3.client(
        "ssm",
        region_name=names.region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).put_parameter(Name=f"{names.ssm_prefix}/ModelPackageGroupArn", Value="tampered", Type="String", Overwrite=True)


if __name__ == "__main__":
    sys.exit(main())

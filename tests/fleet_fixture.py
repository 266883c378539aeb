"""A generated fleet: products spread over several accounts, derived from the example configs
(starter and professional, S3 source) with their own use cases, each deployed through a role of
its own account. Used by tests/test_fleet.py and scripts/fleet_benchmark.py."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import TypeAdapter

from ml_provisioner.config.models import ProductConfig
from ml_provisioner.naming import Names, config_file_name
from tests.conftest import example
from tests.support.sandbox import create_boundary, in_account

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
TEMPLATES = ("techcorp s3", "edge s3")  # starter, professional: nothing to provision beforehand


STACK_SET_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"  # self-managed StackSets' default


def prepare_stack_set_targets(endpoint: str, administrator: str, accounts: tuple[str, ...] = ACCOUNTS) -> None:
    """What a landing zone gives each target account before self-managed StackSets can reach it:
    the execution role, trusted by the administrator account's StackSet administration role."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{administrator}:role/AWSCloudFormationStackSetAdministrationRole"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for account in accounts:
        iam = in_account(account, "landing-zone", "iam", "us-east-1", endpoint)
        if not any(r["RoleName"] == STACK_SET_EXECUTION_ROLE for r in iam.list_roles()["Roles"]):
            iam.create_role(RoleName=STACK_SET_EXECUTION_ROLE, AssumeRolePolicyDocument=json.dumps(trust))


def deployer_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/ml-provisioner-deployer"


def write_fleet(
    folder: Path,
    per_account: int,
    accounts: tuple[str, ...] = ACCOUNTS,
    *,
    bootstrap_roles: bool = False,
    aws_client=None,
) -> list[Path]:
    """per_account products in each account (tenant a<n>, use cases uc-001, uc-002, ...), written
    to folder under their canonical file names; returns the paths. Each deploys through its
    account's deployer role, with its permission boundary created through aws_client (the sandbox
    fixture's), or with bootstrap_roles through the role and boundary `bootstrap` makes for it."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for a, account in enumerate(accounts):
        for n in range(per_account):
            data = yaml.safe_load(example(TEMPLATES[n % len(TEMPLATES)]).read_text())
            data["client"]["account_id"] = account
            data["client"]["tenant_id"] = f"a{a + 1}"
            data["ml_product"]["use_case"] = f"uc-{n + 1:03d}"
            data["tags"]["project"] = f"uc-{n + 1:03d}"
            data["deployment"] = {"role_arn": deployer_role(account)}
            if bootstrap_roles:  # and bootstrap creates the boundaries
                data["deployment"]["role_arn"] = _names(data).deployer_role_arn
            paths.append(write(folder, data, None if bootstrap_roles else aws_client))
    return paths


def _names(data: dict) -> Names:
    data = {**data, "deployment": None}
    return Names(TypeAdapter(ProductConfig).validate_python(data))


def write(folder: Path, data: dict, aws_client=None) -> Path:
    """The config, and with aws_client its permission boundary in the sandbox."""
    config = TypeAdapter(ProductConfig).validate_python(data)
    path = folder / config_file_name(config)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    if aws_client:
        create_boundary(path, aws_client)
    return path


def break_source(path: Path) -> None:
    """A product that cannot deploy: its source is a CodeConnections connection that does not exist
    in its account (the pre-deploy source check refuses it, exit 2)."""
    data = yaml.safe_load(path.read_text())
    region, account = data["environment"]["region"], data["client"]["account_id"]
    data["ml_product"] |= {
        "source_control": "codeconnections",
        "connection_arn": f"arn:aws:codeconnections:{region}:{account}:connection/00000000-0000-4000-8000-000000000000",
        "build_repository": "example/model-build",
        "deploy_repository": "example/model-deploy",
        "branch": "main",
    }
    path.unlink()
    write(path.parent, data)

"""The README's promises about many products in many accounts ("Many products, many accounts"),
each through the real CLI against the sandbox: assumed roles renew their credentials, bootstrap's
StackSet options reach CloudFormation, a second bootstrap updates the roles' policies, the
deployer role is out of reach of the product and its deployer, and the fleet commands keep their
order, concurrency, fail-fast, API rate, template reuse and columns."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions
import pytest
import yaml

from ml_provisioner.config.loader import load_config
from tests.conftest import example
from tests.fleet_fixture import break_source, deployer_role, write
from tests.iam_eval import Request, evaluate
from tests.support.sandbox import ACCOUNT, cli, in_account

pytestmark = pytest.mark.synth  # every test here synthesizes (in the CLI it runs)

TOOLING = "arn:aws:iam::999999999999:role/ci-deployer"
VIA_CLOUDFORMATION = {"aws:CalledVia": ["cloudformation.amazonaws.com"], "aws:ViaAWSService": "true"}


def config_data(
    fragment: str, account: str, tenant: str, use_case: str, *, environment: str = "prod", region: str | None = None
) -> dict:
    """An example config (s3 source: nothing to provision) for a product of its own."""
    data = yaml.safe_load(example(fragment).read_text())
    data["client"]["account_id"], data["client"]["tenant_id"] = account, tenant
    data["ml_product"]["use_case"] = data["tags"]["project"] = use_case
    data["environment"]["name"] = environment
    if region:
        data["environment"]["region"] = region
    return data


def configs() -> Path:
    folder = Path("ml/configs")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def names_of(path: Path):
    return load_config(path).names()


def stack_window(cfn, stack_name: str) -> tuple[datetime, datetime]:
    """When CloudFormation first and last recorded anything of the stack (its events)."""
    events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    times = [e["Timestamp"] for e in events]
    return min(times), max(times)


# -- Who trusts whom: the assumed role -------------------------------------------------------------


def test_an_assumed_role_s_credentials_are_renewed_before_they_expire_during_a_deploy(aws, endpoint, monkeypatch):
    """STS hands out the shortest sessions it allows (15 minutes): within botocore's refresh
    window from the start, so a run that keeps its first credentials would assume the role once."""
    from moto.sts.models import STSBackend, sts_backends

    assume_role = STSBackend.assume_role

    def shortest(self, *args, **kwargs):
        kwargs["duration"] = 900  # STS's minimum DurationSeconds
        return assume_role(self, *args, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", shortest)
    workload = "111111111111"
    path = write(configs(), config_data("techcorp s3", workload, "r001", "renewed"), aws)
    names = names_of(path)
    role = f"arn:aws:iam::{workload}:role/platform-deployer"

    code, out, err = cli(
        "deploy-product", "-c", path.name, "--force", "--role-arn", "arn:aws:iam::{account}:role/platform-deployer"
    )

    assert code == 0, err
    assert f"stack {names.stack_name}: created" in out
    sessions = [r for r in sts_backends[workload]["aws"].assumed_roles if r.role_arn == role]
    assert len(sessions) >= 2, "the role was assumed again before its first credentials ran out"
    assert len({s.access_key_id for s in sessions}) == len(sessions), "each renewal brings new credentials"
    assert {s.session_name for s in sessions} == {f"{names.deployment_id}@moto"}
    first_expires = min(s.expiration for s in sessions)
    assert all(s.expiration >= first_expires for s in sessions)


# -- Bootstrap the accounts --------------------------------------------------------------------------


def bootstrap_report(out: str) -> dict:
    return json.loads(out[out.index("{") :])  # progress lines may come first


def organization_with_ou(aws) -> tuple[object, str, str]:
    """The caller's organization (made once per process), an OU of this test's own and its root."""
    org = aws("organizations", "us-east-1")
    try:
        org.create_organization(FeatureSet="ALL")
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyInOrganizationException":
            raise
    root = org.list_roots()["Roots"][0]["Id"]
    aws("cloudformation", "us-east-1").activate_organizations_access()  # StackSets' trusted access, once
    ou = org.create_organizational_unit(ParentId=root, Name=f"workloads-{time.time_ns()}")["OrganizationalUnit"]["Id"]
    return org, root, ou


def account_in(org, root: str, ou: str, name: str) -> str:
    created = org.create_account(Email=f"{name}-{time.time_ns()}@example.com", AccountName=name)["CreateAccountStatus"]
    org.move_account(AccountId=created["AccountId"], SourceParentId=root, DestinationParentId=ou)
    return str(created["AccountId"])


def test_bootstrap_org_unit_through_the_cli_makes_a_service_managed_stack_set_that_follows_the_ou(aws, endpoint):
    org, root, ou = organization_with_ou(aws)
    member = account_in(org, root, ou, "ml-team")
    path = write(configs(), config_data("techcorp s3", member, "o001", "org-boot"))
    names = names_of(path)
    home = "eu-west-1"  # the StackSet's region: one no other test's StackSet lives in

    code, out, err = cli(
        "bootstrap", str(path), "--org-unit", ou, "--trust", TOOLING, "--stack-set-region", home, "--json"
    )

    assert code == 0, out + err
    report = bootstrap_report(out)
    assert [(i["account"], i["region"], i["status"]) for i in report["instances"]] == [
        (member, names.region, "CURRENT")
    ]
    cfn = aws("cloudformation", home)
    stack_set = cfn.describe_stack_set(StackSetName="ml-provisioner-bootstrap")["StackSet"]
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED"
    assert stack_set["AutoDeployment"]["Enabled"] is True
    assert stack_set["OrganizationalUnitIds"] == [ou]
    iam = in_account(member, "observer", "iam", names.region, endpoint)
    role = iam.get_role(RoleName=report["roles"][0]["role_arn"].rsplit("/", 1)[1])["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": [TOOLING]}

    # an account that joins the OU later gets the StackSet's instance without another bootstrap
    joining = account_in(org, root, ou, "ml-team-2")
    instances = cfn.list_stack_instances(StackSetName="ml-provisioner-bootstrap")["Summaries"]
    assert (joining, names.region) in {(i["Account"], i["Region"]) for i in instances}


def test_bootstrap_passes_the_administration_role_and_execution_role_name_through_the_cli(aws, endpoint):
    """Targets whose only StackSet execution role has a name of the landing zone's choosing: the
    instances succeed only when CloudFormation is told that name (and which role assumes it)."""
    administration = f"arn:aws:iam::{ACCOUNT}:role/landing-zone-stackset-admin"
    execution = "landing-zone-stackset-exec"
    accounts = ("444444444444", "555555555555")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": administration}, "Action": "sts:AssumeRole"}],
    }
    paths = []
    for n, account in enumerate(accounts):
        iam = in_account(account, "landing-zone", "iam", "us-east-1", endpoint)
        iam.create_role(RoleName=execution, AssumeRolePolicyDocument=json.dumps(trust))
        paths.append(write(configs(), config_data("techcorp s3", account, f"s{n:03d}", "self-managed")))
    home = "us-east-2"

    code, out, err = cli(
        "bootstrap",
        *map(str, paths),
        "--trust",
        TOOLING,
        "--administration-role-arn",
        administration,
        "--execution-role-name",
        execution,
        "--stack-set-region",
        home,
        "--json",
    )

    assert code == 0, out + err
    stack_set = aws("cloudformation", home).describe_stack_set(StackSetName="ml-provisioner-bootstrap")["StackSet"]
    assert stack_set["PermissionModel"] == "SELF_MANAGED"
    assert (stack_set["AdministrationRoleARN"], stack_set["ExecutionRoleName"]) == (administration, execution)
    report = bootstrap_report(out)
    assert {(i["account"], i["status"]) for i in report["instances"]} == {(a, "CURRENT") for a in accounts}
    for path in paths:
        names = names_of(path)
        iam = in_account(names.account, "observer", "iam", names.region, endpoint)
        assert iam.get_role(RoleName=names.deployer_role_name)["Role"]["Arn"] == names.deployer_role_arn


def deployer_documents(iam, role_name: str) -> list[dict]:
    """The documents of the managed policies attached to the role, as IAM holds them."""
    documents = []
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        document = version["PolicyVersion"]["Document"]
        documents.append(json.loads(document) if isinstance(document, str) else document)
    return documents


def actions_of(documents: list[dict]) -> set[str]:
    return {
        action
        for document in documents
        for statement in document["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement.get("Action"), str) else statement.get("Action", [])
        )
    }


def test_running_bootstrap_again_after_a_config_changed_updates_the_role_s_policies(aws):
    region = "eu-west-2"  # a region of the caller's account no other test bootstraps
    data = config_data("techcorp s3", ACCOUNT, "u001", "rebootstrap", region=region)
    path = write(configs(), data)
    names = names_of(path)
    code, out, err = cli("bootstrap", str(path), "--trust", TOOLING, "--json")
    assert code == 0, out + err
    iam = aws("iam", region)
    before = deployer_documents(iam, names.deployer_role_name)
    assert before and not any(a.startswith("codecommit:") for a in actions_of(before))

    # the product moves to CodeCommit: its template, and so its deployer policy, changes
    path.unlink()
    data["ml_product"]["source_control"] = "codecommit"
    path = write(configs(), data)
    code, out, err = cli("bootstrap", str(path), "--trust", TOOLING, "--json")
    assert code == 0, out + err
    assert bootstrap_report(out)["outcome"] == "updated"

    after = deployer_documents(iam, names.deployer_role_name)
    assert any(a.startswith("codecommit:") for a in actions_of(after)), "the CodeCommit permissions arrived"
    code, _, err = cli("create-policy", "-c", path.name)
    assert code == 0, err
    written = [json.loads(p.read_text()) for p in sorted(Path("ml/policies").glob(f"{path.stem}-deployer-*.json"))]
    assert sorted(json.dumps(d, sort_keys=True) for d in after) == sorted(
        json.dumps(d, sort_keys=True) for d in written
    ), "exactly create-policy's documents"


# -- Who trusts whom: the deployer role is out of reach --------------------------------------------

ROLE_CHANGES = (
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:DeleteRole",
)
POLICY_CHANGES = (
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:DeletePolicy",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
EVERYTHING = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]


def test_neither_the_product_nor_its_deployer_can_change_the_deployer_role(aws):
    """After a real bootstrap: the deployer role's own policies (as IAM holds them) allow no change
    to that role or to its policies, neither directly nor through a change set (CloudFormation's
    forward access session), whatever boundary the request names; nor does the widest role a
    change set can give the product (an inline *:*), within the product's boundary."""
    region = "eu-west-3"
    path = write(configs(), config_data("techcorp s3", ACCOUNT, "d001", "deployer-guard", region=region))
    names = names_of(path)
    code, out, err = cli("bootstrap", str(path), "--trust", TOOLING, "--json")
    assert code == 0, out + err
    [row] = bootstrap_report(out)["roles"]
    iam = aws("iam", region)
    role = iam.get_role(RoleName=row["role_arn"].rsplit("/", 1)[1])["Role"]
    assert not role["Path"].startswith(names.iam_path), "outside the product's IAM path"
    held = deployer_documents(iam, role["RoleName"])
    own_policies = [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    ]
    boundary = iam.get_policy(PolicyArn=row["boundary_arn"])["Policy"]
    boundary_document = iam.get_policy_version(PolicyArn=row["boundary_arn"], VersionId=boundary["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    boundary_document = json.loads(boundary_document) if isinstance(boundary_document, str) else boundary_document
    product_policy = f"arn:aws:iam::{ACCOUNT}:policy{names.iam_path}{names.stack_name}-BuildPolicy-1A2B3C4D5E6F"

    requests = [(action, role["Arn"]) for action in ROLE_CHANGES]
    requests += [(action, policy) for action in POLICY_CHANGES for policy in own_policies]
    contexts = [
        {},
        {"iam:PermissionsBoundary": row["boundary_arn"]},
        {"iam:PermissionsBoundary": row["boundary_arn"], "iam:PolicyARN": product_policy},
    ]
    base = {"aws:RequestedRegion": region, "aws:PrincipalAccount": ACCOUNT}
    opened = []
    for action, resource in requests:
        for context in contexts:
            for via in ({}, VIA_CLOUDFORMATION):
                request = Request(action, resource, role["Arn"], {**base, **context, **via})
                if evaluate(request, held):
                    opened.append(("deployer", action, resource, tuple(context), bool(via)))
                widest = Request(action, resource, f"{names.iam_path}widened", {**base, **context})
                if evaluate(widest, EVERYTHING, boundary=boundary_document):
                    opened.append(("product role", action, resource, tuple(context)))
    assert not opened, f"the deployer role can be changed: {opened}"


# -- Fleet commands ---------------------------------------------------------------------------------


def fleet_of(aws, tenant: str, *specs: tuple[str, str]) -> list[Path]:
    """Products in the caller's account, one per (environment, use case), in that order of file names."""
    return [
        write(configs(), config_data("techcorp s3", ACCOUNT, f"{tenant}{n}", use_case, environment=environment), aws)
        for n, (environment, use_case) in enumerate(specs)
    ]


def test_fleet_deploy_works_one_product_at_a_time_and_non_production_before_production(aws):
    # file names put production first: the order is the command's, not the selection's
    paths = fleet_of(aws, "w", ("prod", "order-a"), ("prod", "order-b"), ("staging", "order-c"))
    assert [names_of(p).config.environment.name for p in sorted(paths)] == ["prod", "prod", "staging"]

    code, out, err = cli("fleet", "deploy", *map(str, paths), "--max-concurrent", "1", "--force", "--json")

    assert code == 0, err
    assert {r["result"]["outcome"] for r in json.loads(out)} == {"created"}
    cfn = aws("cloudformation", "us-west-2")
    windows = {p: stack_window(cfn, names_of(p).stack_name) for p in paths}
    ordered = sorted(windows.values())
    for (_, ended), (started, _) in zip(ordered, ordered[1:], strict=False):
        assert ended <= started, f"two stacks were worked on at once: {ordered}"
    staging_ended = windows[paths[2]][1]
    assert all(windows[p][0] >= staging_ended for p in paths[:2]), "production waited for non-production"


def test_fleet_deploy_fails_fast_by_default_and_carries_on_when_told(aws):
    broken, later, production = fleet_of(aws, "x", ("staging", "fast-a"), ("staging", "fast-b"), ("prod", "fast-c"))
    break_source(broken)  # its source connection does not exist: the pre-deploy check refuses it
    broken = next(configs().glob(f"*-{names_of(later).config.client.tenant_id[:-1]}0-*"))
    selected = [str(broken), str(later), str(production)]
    cfn = aws("cloudformation", "us-west-2")

    code, out, err = cli("fleet", "deploy", *selected, "--max-concurrent", "1", "--force", "--json")

    assert code == 1
    rows = {r["config"]: r for r in json.loads(out)}
    assert "no connection" in rows[broken.name]["error"]
    assert rows[later.name]["skipped"] and rows[production.name]["skipped"]
    existing = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    assert not {names_of(later).stack_name, names_of(production).stack_name} & existing, "nothing else started"

    code, out, err = cli(
        "fleet", "deploy", *selected, "--max-concurrent", "1", "--force", "--continue-on-error", "--json"
    )

    assert code == 1 and names_of(broken).deployment_id in err
    rows = {r["config"]: r for r in json.loads(out)}
    assert rows[later.name]["result"]["outcome"] == rows[production.name]["result"]["outcome"] == "created"


@pytest.fixture
def cloudformation_calls(monkeypatch):
    """Every CloudFormation call the sandbox answers: (account, region, when)."""
    from moto.cloudformation.responses import CloudFormationResponse

    calls: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    answer = CloudFormationResponse.call_action

    def recorded(self):
        with lock:
            calls.append((self.current_account, self.region, time.monotonic()))
        return answer(self)

    monkeypatch.setattr(CloudFormationResponse, "call_action", recorded)
    return calls


def test_api_rate_holds_cloudformation_calls_per_account_and_region(aws, cloudformation_calls):
    rate = 2.0
    other = "222222222222"
    specs = [
        config_data("techcorp s3", ACCOUNT, "q0", "rated-a"),
        config_data("techcorp s3", ACCOUNT, "q1", "rated-b"),
        config_data("techcorp s3", ACCOUNT, "q2", "rated-c", region="eu-central-1"),
        config_data("techcorp s3", other, "q3", "rated-d") | {"deployment": {"role_arn": deployer_role(other)}},
    ]
    paths = [write(configs(), data, aws) for data in specs]

    code, out, err = cli(
        "fleet", "deploy", *map(str, paths), "--api-rate", str(rate), "--max-concurrent", "4", "--force", "--json"
    )

    assert code == 0, err
    by_place: dict[tuple[str, str], list[float]] = {}
    for account, region, when in cloudformation_calls:
        by_place.setdefault((account, region), []).append(when)
    assert set(by_place) == {(ACCOUNT, "us-west-2"), (ACCOUNT, "eu-central-1"), (other, "us-west-2")}
    burst = 13  # a token bucket lets a short burst through after a quiet spell (and timing has some slack)
    for place, times in by_place.items():
        span = max(times) - min(times)
        assert len(times) <= rate * span + burst, f"{place}: {len(times)} calls in {span:.1f} s"
    everything = [t for times in by_place.values() for t in times]
    span = max(everything) - min(everything)
    assert len(everything) > rate * span + burst, "each account and region has a rate of its own"


def test_fleet_reuses_current_templates_and_synthesizes_the_others_once_in_one_process(aws, monkeypatch):
    from ml_provisioner import synth

    synthesized: list[list[str]] = []
    synthesize = synth.synthesize

    def counted(configs_, *args, **kwargs):
        synthesized.append(sorted(c.path.name for c in configs_))
        return synthesize(configs_, *args, **kwargs)

    monkeypatch.setattr(synth, "synthesize", counted)
    paths = fleet_of(aws, "v", ("prod", "reuse-a"), ("prod", "reuse-b"), ("prod", "reuse-c"))
    selected = list(map(str, paths))

    assert cli("fleet", "status", *selected, "--json")[0] == 0
    assert synthesized == [sorted(p.name for p in paths)], "the three together, once"
    templates = {p: Path("ml/templates", f"{p.stem}.yaml").read_text() for p in paths}

    synthesized.clear()
    assert cli("fleet", "plan", *selected, "--json")[0] == 0
    assert synthesized == [], "all three were current"

    data = yaml.safe_load(paths[1].read_text())
    data["tags"]["owner"] = "someone-else@example.com"
    paths[1].write_text(yaml.safe_dump(data, sort_keys=False))
    assert cli("fleet", "status", *selected, "--json")[0] == 0
    assert synthesized == [[paths[1].name]], "only the changed one"
    assert Path("ml/templates", f"{paths[0].stem}.yaml").read_text() == templates[paths[0]]
    assert Path("ml/templates", f"{paths[1].stem}.yaml").read_text() != templates[paths[1]]


def plan_row(path: Path, deployment_id: str) -> tuple[str, dict]:
    """fleet plan's table (header and the product's line) and its JSON result."""
    code, out, err = cli("fleet", "plan", str(path))
    assert code == 0, err
    table = (out.splitlines()[0], next(line for line in out.splitlines() if deployment_id in line))
    code, out, err = cli("fleet", "plan", str(path), "--json")
    assert code == 0, err
    [result] = [r["result"] for r in json.loads(out)]
    return table, result


def test_status_shows_protection_last_update_and_drift_and_plan_shows_what_a_change_puts_at_risk(aws):
    region = "us-west-2"
    codecommit = aws("codecommit", region)
    if not codecommit.list_repositories()["repositories"]:  # the account is an existing CodeCommit customer
        codecommit.create_repository(repositoryName="existing-repository")
    data = config_data("techcorp s3", ACCOUNT, "c001", "columns")
    path = write(configs(), data, aws)
    names = names_of(path)
    assert cli("fleet", "deploy", str(path), "--force")[0] == 0
    cfn = aws("cloudformation", region)
    cfn.detect_stack_drift(StackName=names.stack_name)
    stack = cfn.describe_stacks(StackName=names.stack_name)["Stacks"][0]
    assert stack["DriftInformation"]["StackDriftStatus"] == "IN_SYNC"
    updated = (stack.get("LastUpdatedTime") or stack["CreationTime"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M")

    code, out, err = cli("fleet", "status", str(path))

    assert code == 0, err
    header, row = out.splitlines()[0], next(line for line in out.splitlines() if names.deployment_id in line)
    assert re.search(r"stack status\s+template\s+protection\s+updated\s+drift\s+cost/month$", header), header
    assert re.search(rf"CREATE_COMPLETE\s+up to date\s+on\s+{updated}\s+IN_SYNC\s+\$\d+\.\d\d$", row), row

    # the product moves to CodeCommit: its roles are given CodeCommit's permissions
    path.unlink()
    data["ml_product"]["source_control"] = "codecommit"
    path = write(configs(), data, aws)
    (header, row), result = plan_row(path, names.deployment_id)
    assert re.search(r"plan\s+changes\s+replacements\s+IAM widening\s+data\s+cost$", header), header
    widened = [d["logical_id"] for d in result["details"] if d["iam_widening"]]
    assert result["iam_widening"] == len(widened) >= 1 and result["data"] == 0
    assert re.search(rf"\s{result['changes']}\s+0\s+{len(widened)}\s+0\s+\S.*$", row), row

    # ... and back: its two repositories (data) would be removed
    code, out, err = cli("fleet", "deploy", str(path), "--force", "--allow-destructive")  # leaving the s3 source
    assert code == 0, out + err
    path.unlink()
    data["ml_product"]["source_control"] = "s3"
    path = write(configs(), data, aws)
    (header, row), result = plan_row(path, names.deployment_id)
    removed = sorted(d["resource_type"] for d in result["details"] if d["action"] == "Remove")
    assert removed.count("AWS::CodeCommit::Repository") == 2
    assert (result["data"], result["replacements"]) == (2, 0)
    assert re.search(rf"\s{result['changes']}\s+0\s+{result['iam_widening']}\s+2\s+\S.*$", row), row

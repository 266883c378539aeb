"""Saved plans against the local endpoint: show-changes --save keeps the change set and writes
reports/<config>-plan.json; create-review-report --plan renders it; deploy-product --plan executes
exactly that change set, and refuses (exit 2, saying why) when the config, the template, the stack,
the account or the product is not the plan's; show-changes --discard removes an unexecuted plan."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

import ml_provisioner.synth
from tests.support.sandbox import ACCOUNT, cli, product, stack

pytestmark = pytest.mark.synth

STARTER = "techcorp codecommit"
REGION = "us-west-2"


def change_owner(name: str, owner: str) -> None:
    path = Path("ml/configs") / name
    data = yaml.safe_load(path.read_text())
    data["tags"]["owner"] = owner
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def save_plan(name: str) -> tuple[Path, dict]:
    code, out, err = cli("show-changes", "-c", name, "--save")
    assert code == 0, err
    path = Path("ml/reports") / f"{Path(name).stem}-plan.json"
    assert f"plan saved: {path}" in out
    return path, json.loads(path.read_text())


@pytest.fixture
def deployed(aws):
    """A deployed starter product whose config has changed since: (config name, plan file, plan)."""
    name, _ = product(STARTER, aws)
    assert cli("deploy-product", "-c", name, "--force")[0] == 0
    change_owner(name, "new-owner@techcorp.example")
    path, plan = save_plan(name)
    return name, path, plan


def execution_status(aws, arn: str) -> str:
    return aws("cloudformation", REGION).describe_change_set(ChangeSetName=arn)["ExecutionStatus"]


def test_a_saved_plan_records_the_change_set_and_what_it_was_made_from(aws, deployed):
    name, path, plan = deployed
    template = Path("ml/templates") / f"{Path(name).stem}.yaml"
    assert plan["stack_name"] == stack(aws, plan["stack_name"], REGION)["StackName"]
    assert plan["stack_id"] == stack(aws, plan["stack_name"], REGION)["StackId"]
    assert plan["account"] == ACCOUNT and plan["change_type"] == "UPDATE" and plan["config"] == name
    assert plan["template_sha256"] == hashlib.sha256(template.read_bytes()).hexdigest()
    stamp = yaml.safe_load(template.read_text())["Metadata"]["MlProvisioner"]
    assert plan["fingerprint"] == stamp["Fingerprint"]
    assert plan["created_by"].startswith("arn:aws:") and plan["created_at"].endswith("Z")
    assert plan["changes"] and all({"replacement", "iam_widening", "flags"} <= set(c) for c in plan["changes"])
    assert execution_status(aws, plan["change_set_arn"]) == "AVAILABLE", "the change set is kept"


def test_the_review_report_renders_the_plan(aws, deployed):
    name, path, plan = deployed
    code, out, err = cli("create-review-report", "-c", name, "--plan", str(path))
    assert code == 0, err
    html = (Path("ml/reports") / f"{Path(name).stem}-review.html").read_text()
    assert plan["change_set_arn"] in html and plan["created_by"] in html and plan["template_sha256"] in html
    assert f"preview: {len(plan['changes'])} change(s)" in out


def test_deploy_with_the_plan_executes_exactly_its_change_set_without_synthesis(aws, deployed, monkeypatch):
    name, path, plan = deployed

    def no_synthesis(*args, **kwargs):
        raise AssertionError("deploy-product --plan synthesized")

    monkeypatch.setattr(ml_provisioner.synth, "synthesize", no_synthesis)
    code, out, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 0, err
    assert execution_status(aws, plan["change_set_arn"]) == "EXECUTE_COMPLETE"
    body = aws("cloudformation", REGION).get_template(StackName=plan["stack_name"])["TemplateBody"]
    assert hashlib.sha256(body.encode()).hexdigest() == plan["template_sha256"], "the reviewed template runs"
    assert "new-owner@techcorp.example" in body
    assert "SSM output(s) read back and checked" in out
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2 and "it was executed already" in err, "a plan runs once"


def test_a_plan_is_refused_when_the_config_changed_since(aws, deployed):
    name, path, plan = deployed
    change_owner(name, "yet-another@techcorp.example")
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2
    assert f"plan {path} cannot be deployed: the config (or the tool that synthesizes it) changed since" in err
    assert f"hint: make a new plan: ml-provisioner show-changes --config {name} --save" in err
    assert execution_status(aws, plan["change_set_arn"]) == "AVAILABLE", "nothing executed"


def test_a_plan_is_refused_when_the_template_changed_since(aws, deployed):
    name, path, plan = deployed
    template = Path("ml/templates") / f"{Path(name).stem}.yaml"
    template.write_text(template.read_text() + "# edited\n")
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2 and f"the template {template} changed since the plan" in err


def test_a_plan_is_refused_when_the_stack_changed_since(aws, deployed):
    """Another deploy ran after the plan: CloudFormation marks the plan's change set OBSOLETE."""
    name, path, plan = deployed
    assert cli("deploy-product", "-c", name, "--force")[0] == 0
    assert execution_status(aws, plan["change_set_arn"]) == "OBSOLETE"
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2
    assert "the plan's change set is OBSOLETE (CREATE_COMPLETE): the stack changed since the plan" in err


def test_a_plan_is_refused_for_another_stack_or_account(aws, deployed):
    name, path, plan = deployed
    other, _ = product(STARTER, aws)
    code, _, err = cli("deploy-product", "-c", other, "--plan", str(path), "--force")
    assert code == 2 and f"the plan is for stack {plan['stack_name']}, the config's stack is" in err

    forged = path.with_name("forged-plan.json")
    forged.write_text(json.dumps({**plan, "account": "210987654321"}))
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(forged), "--force")
    assert code == 2 and f"the plan is for account 210987654321, the config is for {ACCOUNT}" in err
    assert execution_status(aws, plan["change_set_arn"]) == "AVAILABLE"


def test_a_plan_file_that_is_not_a_plan_is_bad_input(aws, deployed):
    name, path, _ = deployed
    path.write_text('{"format": 1, "stack_name": "x"}')
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2 and f"plan {path}: config, account" in err and "missing or not a non-empty string" in err
    code, _, err = cli("deploy-product", "-c", name, "--plan", "ml/reports/none.json", "--force")
    assert code == 2 and "plan ml/reports/none.json: no such file" in err


def test_discard_deletes_the_change_set_and_the_file(aws, deployed):
    name, path, plan = deployed
    kept = path.read_text()
    code, out, err = cli("show-changes", "-c", name, "--discard", str(path))
    assert code == 0, err
    assert f"plan {path} discarded: deleted its change set" in out
    assert not path.exists()
    change_sets = aws("cloudformation", REGION).list_change_sets(StackName=plan["stack_name"])["Summaries"]
    assert plan["change_set_arn"] not in {c["ChangeSetId"] for c in change_sets}
    path.write_text(kept)
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2 and "no longer exists" in err


def test_a_plan_survives_other_commands_cleaning_up_after_interrupted_runs(aws, deployed):
    name, _, plan = deployed
    assert cli("show-changes", "-c", name)[0] == 0  # removes leftover change sets, never a plan's
    assert execution_status(aws, plan["change_set_arn"]) == "AVAILABLE"


def test_a_first_deploy_can_be_planned_and_discarding_it_leaves_no_stack(aws):
    name, _ = product(STARTER, aws)
    path, plan = save_plan(name)
    assert plan["change_type"] == "CREATE"
    assert stack(aws, plan["stack_name"], REGION)["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert cli("show-changes", "-c", name, "--discard", str(path))[0] == 0
    with pytest.raises(aws("cloudformation", REGION).exceptions.ClientError):
        stack(aws, plan["stack_name"], REGION)

    path, plan = save_plan(name)
    code, out, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 0, err
    assert stack(aws, plan["stack_name"], REGION)["StackStatus"] == "CREATE_COMPLETE"
    assert stack(aws, plan["stack_name"], REGION)["EnableTerminationProtection"] is True, "production: protected"


def test_no_changes_saves_no_plan(aws):
    name, _ = product(STARTER, aws)
    assert cli("deploy-product", "-c", name, "--force")[0] == 0
    code, out, err = cli("show-changes", "-c", name, "--save")
    assert code == 0, err
    assert "no changes; no plan saved" in out
    assert not (Path("ml/reports") / f"{Path(name).stem}-plan.json").exists()


# -- a plan file is written by whoever holds it: AWS's word decides --------------------------------

ADMIN_ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}
            ],
        },
        "Policies": [
            {
                "PolicyName": "all",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                },
            }
        ],
    },
}


def hand_made_change_set(aws, name: str, plan: dict, change_set_name: str) -> str:
    """A change set on the plan's stack: the planned template plus an administrator role trusted by
    another account."""
    template = yaml.safe_load((Path("ml/templates") / f"{Path(name).stem}.yaml").read_text())
    template["Resources"]["Backdoor"] = ADMIN_ROLE
    return aws("cloudformation", REGION).create_change_set(
        StackName=plan["stack_name"],
        ChangeSetName=change_set_name,
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )["Id"]


def backdoor_deployed(aws, stack_name: str) -> bool:
    resources = aws("cloudformation", REGION).describe_stack_resources(StackName=stack_name)["StackResources"]
    return any(r["LogicalResourceId"] == "Backdoor" for r in resources)


@pytest.mark.parametrize("change_set_name", ["ml-provisioner-plan-20990101000000000000", "someone-elses"])
def test_a_plan_naming_another_change_set_is_refused_by_deploy_and_by_the_review(aws, deployed, change_set_name):
    """Only change_set_arn is edited: the file's own change list still says what was reviewed."""
    name, path, plan = deployed
    forged_arn = hand_made_change_set(aws, name, plan, change_set_name)
    path.write_text(json.dumps({**plan, "change_set_arn": forged_arn}))
    for command in (
        ["deploy-product", "-c", name, "--plan", str(path), "--force"],
        ["create-review-report", "-c", name, "--plan", str(path)],
    ):
        code, out, err = cli(*command)
        assert code == 2, (command, out, err)
        assert (
            "is not one of this tool's plans" in err
            if change_set_name == "someone-elses"
            else "was not made from the plan's template" in err
        ), err
    assert execution_status(aws, forged_arn) == "AVAILABLE", "never executed"
    assert not backdoor_deployed(aws, plan["stack_name"])


def test_a_plan_whose_change_list_was_edited_is_refused(aws, deployed):
    name, path, plan = deployed
    path.write_text(json.dumps({**plan, "changes": plan["changes"][1:]}))
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2
    assert f"the plan lists {len(plan['changes']) - 1} change(s) that are not what AWS says its change set does" in err
    assert execution_status(aws, plan["change_set_arn"]) == "AVAILABLE"


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("not a change", "changes[0]: an object with action"),
        ({"action": "Modify"}, "changes[0]: logical_id: missing or not a string"),
        (
            {"action": "Modify", "logical_id": "A", "physical_id": "a", "resource_type": "T", "replacement": 1},
            "replacement",
        ),
        (
            {
                "action": "Add",
                "logical_id": "A",
                "physical_id": "",
                "resource_type": "T",
                "replacement": "",
                "iam_widening": "x",
            },
            "changes[0]: iam_widening: a list of strings is expected",
        ),
    ],
)
def test_a_malformed_change_in_a_plan_is_bad_input_naming_it(aws, deployed, entry, said):
    name, path, plan = deployed
    path.write_text(json.dumps({**plan, "changes": [entry]}))
    code, _, err = cli("deploy-product", "-c", name, "--plan", str(path), "--force")
    assert code == 2 and said in err and "Traceback" not in err, err


def test_discard_never_deletes_another_product_s_change_set(aws, deployed):
    name, path, plan = deployed
    other, _ = product(STARTER, aws)
    assert cli("deploy-product", "-c", other, "--force")[0] == 0
    change_owner(other, "other-owner@techcorp.example")
    _, other_plan = save_plan(other)
    path.write_text(json.dumps({**plan, "change_set_arn": other_plan["change_set_arn"]}))
    code, _, err = cli("show-changes", "-c", name, "--discard", str(path))
    assert code == 2, err
    assert f"belongs to {other_plan['stack_id']}, not to {plan['stack_name']}" in err
    assert execution_status(aws, other_plan["change_set_arn"]) == "AVAILABLE", "the other product's plan stands"


def test_the_sandbox_executes_a_change_set_once_however_many_ask_at_once(aws, deployed):
    """As AWS does: of concurrent ExecuteChangeSet calls for one change set, one runs."""
    from concurrent.futures import ThreadPoolExecutor

    import botocore.exceptions

    _, _, plan = deployed
    cfn = aws("cloudformation", REGION)

    def execute() -> str:
        try:
            cfn.execute_change_set(ChangeSetName=plan["change_set_arn"])
            return "executed"
        except botocore.exceptions.ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(lambda _: execute(), range(4)))
    assert outcomes.count("executed") == 1, outcomes


@pytest.mark.parametrize("file_kept", [True, False], ids=["replaced", "file-gone"])
def test_saving_a_plan_removes_every_other_plan_of_the_product(aws, deployed, file_kept):
    """A product has one saved plan: the one a new save replaces, and one whose file is gone (a
    concurrent save overwrote it, or it was deleted), would otherwise stay executable forever."""
    name, path, first = deployed
    if not file_kept:
        path.unlink()
    change_owner(name, "another-owner@techcorp.example")
    code, out, err = cli("show-changes", "-c", name, "--save")
    assert code == 0, err
    second = json.loads(path.read_text())
    assert second["change_set_arn"] != first["change_set_arn"]
    assert f"removed the earlier plan's change set {first['change_set_arn'].split('/')[1]}" in out
    change_sets = aws("cloudformation", REGION).list_change_sets(StackName=first["stack_name"])["Summaries"]
    assert [c["ChangeSetId"] for c in change_sets if c["ChangeSetName"].startswith("ml-provisioner-plan-")] == [
        second["change_set_arn"]
    ]


def test_a_plan_saved_with_json_over_an_earlier_one_is_one_json_document_naming_what_it_removed(aws, deployed):
    name, path, first = deployed
    change_owner(name, "another-owner@techcorp.example")
    code, out, err = cli("show-changes", "-c", name, "--save", "--json")
    assert code == 0, err
    saved = json.loads(out)  # stdout holds the document and nothing else
    assert saved["plan"] == str(path) and saved["change_set_arn"] != first["change_set_arn"]
    assert saved["removed_change_sets"] == [first["change_set_arn"].split("/")[1]]


def test_nothing_to_change_costs_nothing_more(aws):
    """A change set that would change nothing: the estimate before is the deployed template's, as after."""
    name, _ = product(STARTER, aws)
    assert cli("deploy-product", "-c", name, "--force")[0] == 0
    code, out, err = cli("show-changes", "-c", name, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["changes"] == []
    assert shown["cost"]["before_monthly_usd"] == shown["cost"]["after_monthly_usd"] > 0
    assert shown["cost"]["delta_monthly_usd"] == 0


# -- what changes, value by value ---------------------------------------------------------------------

OLD_OWNER, NEW_OWNER = "ml-platform@techcorp.example", "new-owner@techcorp.example"


def owner_values(changes: list[dict]) -> list[dict]:
    return [v for c in changes for v in c["properties"] if v["before"] == OLD_OWNER and v["after"] == NEW_OWNER]


def test_a_tag_change_shows_the_old_and_new_value_in_the_terminal_json_and_plan(aws, deployed):
    name, path, plan = deployed
    shown = owner_values(plan["changes"])
    assert shown and all(v["path"].startswith("/Properties/Tags/") and v["change"] == "Modify" for v in shown)
    assert all(v["recreation"] == "Never" for v in shown), "a tag changes in place"
    code, out, err = cli("show-changes", "-c", name)
    assert code == 0, err
    assert re.search(rf'~ \w+/Properties/Tags/\d+/Value: "{OLD_OWNER}" -> "{NEW_OWNER}"', out), out
    code, out, err = cli("show-changes", "-c", name, "--json")
    assert code == 0, err
    assert owner_values(json.loads(out)["changes"])


def test_a_tag_change_shows_in_the_review_report_as_a_browser_renders_it(aws, deployed, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.test_review_report import CHROMIUM, CHROMIUM_ARGS, OpenedPage

    name, path, _ = deployed
    code, _, err = cli("create-review-report", "-c", name, "--plan", str(path))
    assert code == 0, err
    report = Path("ml/reports") / f"{Path(name).stem}-review.html"
    assert CHROMIUM.is_file()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            opened = OpenedPage(browser, report.resolve())
            values = opened.page.locator("#change-preview .value-change").all_inner_texts()
            assert any(f'"{OLD_OWNER}" -> "{NEW_OWNER}"' in v and "/Properties/Tags/" in v for v in values), values
            opened.page.locator("#change-preview").screenshot(path=str(tmp_path / "change-preview.png"))
            assert (tmp_path / "change-preview.png").stat().st_size > 10_000
            assert opened.errors == [] and opened.outside == []
        finally:
            browser.close()


def test_detailed_exitcode_says_whether_anything_would_change(aws, deployed):
    """As terraform plan -detailed-exitcode: 0 nothing, 2 something, 1 any error (bad input too)."""
    name, path, _ = deployed
    assert cli("show-changes", "-c", name, "--detailed-exitcode")[0] == 2
    assert cli("deploy-product", "-c", name, "--plan", str(path), "--force")[0] == 0
    code, out, err = cli("show-changes", "-c", name, "--detailed-exitcode")
    assert code == 0, err
    assert "no changes" in out
    assert cli("show-changes", "-c", "no-such-config.yaml", "--detailed-exitcode")[0] == 1
    assert cli("show-changes", "-c", "no-such-config.yaml")[0] == 2, "without the flag, bad input stays 2"

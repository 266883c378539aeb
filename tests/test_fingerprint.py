"""Fingerprinted templates: a template records what produced it; an action that needs it uses the
one in templates/ while it is current (no jsii kernel), and synthesizes again only when the
config, the tool or the libraries changed, the file was edited, or --fresh is given."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from ml_provisioner import fingerprint as fingerprints
from ml_provisioner.cli import app, spec_argv
from ml_provisioner.config.loader import load_config
from tests.conftest import example

pytestmark = pytest.mark.synth

STARTER = example("techcorp s3")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configs = tmp_path / "ml" / "configs"
    configs.mkdir(parents=True)
    (configs / STARTER.name).write_text(STARTER.read_text())
    return tmp_path / "ml"


def run(*args: str):
    result = CliRunner().invoke(app, spec_argv(list(args)))
    return result.exit_code, result.stdout, result.stderr


def created(*args: str) -> dict:
    code, out, err = run("create-prov-template", "-c", STARTER.name, "--json", *args)
    assert code == 0, err
    [row] = json.loads(out)
    return row


def template(workspace):
    return workspace / "templates" / f"{STARTER.stem}.yaml"


def test_a_template_records_what_produced_it_in_its_metadata(workspace):
    created()
    stamp = yaml.safe_load(template(workspace).read_text())["Metadata"]["MlProvisioner"]
    produced = stamp["Produced"]
    assert (
        stamp["Fingerprint"]
        == fingerprints.fingerprint(load_config(template(workspace).parents[1] / "configs" / STARTER.name)).digest
    )
    assert {"config", "config_stem", "test_marker", "ml-provisioner", "aws-cdk-lib", "constructs", "cdk-nag"} <= set(
        produced
    )
    assert produced["source"] == fingerprints.source_hash(), "a development install fingerprints its source"
    assert stamp["NagFindings"] == []


def test_actions_on_a_current_template_never_start_the_jsii_kernel(workspace):
    assert created()["synthesized"] is True
    before = template(workspace).read_bytes()
    probe = (
        "import sys, json; from ml_provisioner.cli import main\n"
        "config = sys.argv[1]\n"
        "for argv in (['validate-prov-template', '-c', config], ['create-policy', '-c', config],\n"
        "             ['create-review-report', '-c', config], ['create-prov-template', '-c', config]):\n"
        "    try: main(argv)\n"
        "    except SystemExit as e: assert e.code == 0, (argv, e.code)\n"
        "assert 'aws_cdk' not in sys.modules and 'jsii' not in sys.modules, 'the jsii kernel started'\n"
        "assert 'cfnlint' in sys.modules, 'validate-prov-template lints the file as it is, always'\n"
        "print('no-jsii')"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, STARTER.name], capture_output=True, text=True, cwd=workspace.parent, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("no-jsii")
    assert "(current: kept, not synthesized again)" in done.stdout
    assert template(workspace).read_bytes() == before
    assert (workspace / "reports" / f"{STARTER.stem}-review.html").is_file()
    assert list((workspace / "policies").glob(f"{STARTER.stem}-deployer-*.json"))


def test_computing_the_fingerprint_imports_no_cdk():
    probe = (
        "import sys; from ml_provisioner.config.loader import load_config\n"
        "from ml_provisioner.fingerprint import fingerprint\n"
        "print(fingerprint(load_config(sys.argv[1])).digest)\n"
        "assert not {m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'jsii', 'constructs', 'cdk_nag'}"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(STARTER)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 64


def test_a_config_change_synthesizes_again_and_validate_says_why_until_then(workspace):
    created()
    config = workspace / "configs" / STARTER.name
    data = yaml.safe_load(config.read_text())
    data["tags"]["owner"] = "someone-else@techcorp.example"
    config.write_text(yaml.safe_dump(data, sort_keys=False))

    code, out, err = run("validate-prov-template", "-c", STARTER.name)
    assert code == 1
    assert "not current: changed since: its config; run create-prov-template" in out

    code, _, err = run("create-policy", "-c", STARTER.name)
    assert code == 0
    relative = template(workspace).relative_to(workspace.parent)
    assert f"{relative} was not current (changed since: its config): synthesized again" in err
    assert created()["synthesized"] is False, "written back: the next action finds it current"


def test_a_reformatted_config_with_the_same_values_keeps_the_template(workspace):
    created()
    config = workspace / "configs" / STARTER.name
    config.write_text(config.read_text() + "\n# a comment changes nothing\n")
    assert created()["synthesized"] is False


def test_another_library_version_synthesizes_again(workspace, monkeypatch):
    created()
    real = fingerprints._version
    monkeypatch.setattr(fingerprints, "_version", lambda d: "2.999.0" if d == "aws-cdk-lib" else real(d))
    fingerprints.tool.cache_clear()
    try:
        code, out, _ = run("validate-prov-template", "-c", STARTER.name)
        assert code == 1 and "not current: changed since: aws-cdk-lib" in out
        assert created()["synthesized"] is True
        stamp = yaml.safe_load(template(workspace).read_text())["Metadata"]["MlProvisioner"]
        assert stamp["Produced"]["aws-cdk-lib"] == "2.999.0"
    finally:
        fingerprints.tool.cache_clear()


def test_another_tool_source_synthesizes_again(workspace, monkeypatch):
    created()
    monkeypatch.setattr(fingerprints, "source_hash", lambda: "0" * 64)
    fingerprints.tool.cache_clear()
    try:
        code, out, _ = run("validate-prov-template", "-c", STARTER.name)
        assert code == 1 and "not current: changed since: the tool's source" in out
        assert created()["synthesized"] is True
    finally:
        fingerprints.tool.cache_clear()


def test_fresh_synthesizes_a_current_template_again(workspace):
    created()
    assert created()["synthesized"] is False
    assert created("--fresh")["synthesized"] is True


def test_a_config_given_twice_is_synthesized_once_and_reported_for_each(workspace):
    code, out, err = run("create-prov-template", "-c", STARTER.name, "-c", STARTER.name, "--json")
    assert code == 0, err
    assert [(row["config"], row["synthesized"]) for row in json.loads(out)] == [(STARTER.stem, True)] * 2
    assert [p.name for p in template(workspace).parent.iterdir()] == [template(workspace).name]


def test_two_config_files_of_one_name_are_refused_before_anything_is_synthesized(workspace):
    elsewhere = workspace / "elsewhere" / STARTER.name
    elsewhere.parent.mkdir()
    elsewhere.write_text(STARTER.read_text())
    code, _, err = run("create-prov-template", "-c", STARTER.name, "-c", str(elsewhere))
    assert code == 2
    assert f"and {elsewhere} would both be written to " in err and f"templates/{STARTER.stem}.yaml" in err
    assert not template(workspace).exists()


def test_an_edited_template_is_not_current(workspace):
    created()
    path = template(workspace)
    path.write_text(path.read_text().replace("Status: Enabled", "Status: Suspended", 1))
    code, out, _ = run("validate-prov-template", "-c", STARTER.name)
    assert code == 1
    assert "not current: it was edited after it was synthesized" in out
    assert created()["synthesized"] is True
    assert "Status: Suspended" not in path.read_text()


def test_a_template_without_a_fingerprint_is_not_current(workspace):
    created()
    path = template(workspace)
    path.write_text(path.read_text().split("\nMetadata:\n  MlProvisioner:")[0] + "\n")
    code, out, _ = run("validate-prov-template", "-c", STARTER.name)
    assert code == 1 and "it carries no fingerprint" in out


@pytest.mark.parametrize(
    "appended",
    [
        "Conditions:\n  Never:\n    Fn::Equals: [a, b]\n",
        "Resources:\n  Backdoor:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n",
    ],
    ids=["a-conditions-block", "a-second-resources-key"],
)
def test_text_after_the_stamp_makes_a_template_not_current_and_is_linted(workspace, appended):
    """The stamp covers the whole file: nothing may follow it unseen (PyYAML keeps the last of two
    `Resources:` keys, so an appended one would replace what was reviewed)."""
    created()
    path = template(workspace)
    path.write_text(path.read_text() + appended)
    code, out, _ = run("validate-prov-template", "-c", STARTER.name)
    assert code == 1
    assert "not current: it was edited after it was synthesized" in out
    if "Resources" in appended:
        assert "E0000" in out and "Duplicate" in out, "cfn-lint reads the file as it is"
    assert created()["synthesized"] is True
    assert "Backdoor" not in path.read_text() and "Never" not in path.read_text()


def test_a_template_with_a_repeated_key_is_refused_wherever_it_is_read(tmp_path):
    from ml_provisioner.errors import BadInput
    from ml_provisioner.templates import load_template_text

    text = "Resources:\n  A:\n    Type: AWS::S3::Bucket\nResources:\n  B:\n    Type: AWS::IAM::Role\n"
    with pytest.raises(BadInput, match=r"template t.yaml: .*duplicate key 'Resources'"):
        load_template_text(text, "t.yaml")
    nested = "Resources:\n  A:\n    Type: AWS::S3::Bucket\n  A:\n    Type: AWS::IAM::Role\n"
    with pytest.raises(BadInput, match="duplicate key 'A'"):
        load_template_text(nested, "t.yaml")
    assert load_template_text("Resources:\n  A:\n    Type: AWS::S3::Bucket\n", "t.yaml") == {
        "Resources": {"A": {"Type": "AWS::S3::Bucket"}}
    }


def test_validate_records_cfn_lint_findings_by_text_and_the_review_report_reads_them(workspace, monkeypatch):
    """create-prov-template does not lint; validate-prov-template lints the file as it is, every time,
    and records the findings under the text's digest, where the review report of that text finds them."""
    created()
    assert not (workspace / ".cache").exists(), "the synthesis does not lint"
    assert run("validate-prov-template", "-c", STARTER.name)[0] == 0
    [record] = (workspace / ".cache" / "cfn-lint").glob("*.json")
    assert json.loads(record.read_text()) == []
    record.write_text(json.dumps([{"rule": "W9999", "severity": "warning", "message": "recorded", "line": 1}]))
    monkeypatch.setattr("ml_provisioner.lint.cfn_lint", lambda text, region: pytest.fail("linted again"))
    code, out, err = run("create-review-report", "-c", STARTER.name, "--json")
    assert code == 0, err
    assert json.loads(out)[0]["lint_findings"] == 1
    monkeypatch.setattr("ml_provisioner.lint.cfn_lint", lambda text, region: [])
    assert run("validate-prov-template", "-c", STARTER.name)[0] == 0
    assert json.loads(record.read_text()) == [], "validate-prov-template lints again"

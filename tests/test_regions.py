"""Region checks: a config is valid only where AWS offers every resource type its tier and source
need (cfn-lint's per-region provider data, the data behind `cfn-lint --regions`), and every ARN,
service principal and endpoint service name of a template follows the config's partition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ml_provisioner import catalog
from ml_provisioner.cli import app
from ml_provisioner.config.loader import LoadedConfig, load_config
from ml_provisioner.config.regions import partition_of, unavailable_types
from ml_provisioner.lint import cfn_lint
from tests.conftest import EXAMPLES, example


def in_region(tmp_path: Path, fragment: str, region: str) -> Path:
    """The example config moved to another region, under the file name the token scheme gives it."""
    source = example(fragment)
    old_region = load_config(source).config.environment.region
    path = tmp_path / source.name.replace(old_region, region)
    path.write_text(source.read_text().replace(f"region: {old_region}", f"region: {region}"))
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_region_offers_every_resource_type_of_its_tier_and_source(path):
    config = load_config(path).config
    assert unavailable_types(config.environment.region, (r.type for r in catalog.resources_for(config))) == []


@pytest.mark.parametrize(
    ("fragment", "region", "missing"),
    [
        ("techcorp s3", "ap-south-2", ["AWS::SageMaker::ModelPackageGroup"]),
        ("techcorp codecommit", "ca-west-1", ["AWS::CodeBuild::Project", "AWS::CodeCommit::Repository"]),
        ("edge codecommit", "il-central-1", ["AWS::CodeCommit::Repository"]),
        ("globalbank s3 standalone direct", "us-gov-east-1", ["AWS::SageMaker::ModelPackageGroup"]),
        ("globalbank codecommit sgprov ssm", "cn-north-1", ["AWS::SageMaker::ModelPackageGroup"]),
    ],
)
def test_validate_config_rejects_a_region_without_a_resource_type_naming_the_types(tmp_path, fragment, region, missing):
    path = in_region(tmp_path, fragment, region)
    result = CliRunner().invoke(app, ["validate-config", "--config", str(path)])
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.stderr.splitlines() if "environment.region" in line]
    assert f"{path}:" in line
    assert f"{region} does not offer {', '.join(missing)}" in line


@pytest.mark.parametrize("fragment", ["techcorp codecommit", "edge s3", "globalbank codecommit sgprov ssm"])
def test_a_govcloud_config_of_each_tier_is_valid(tmp_path, fragment):
    path = in_region(tmp_path, fragment, "us-gov-west-1")
    result = CliRunner().invoke(app, ["validate-config", "--config", str(path)])
    assert result.exit_code == 0, result.output


def test_cfn_lint_runs_with_the_given_region():
    template = json.dumps(
        {
            "Resources": {
                "Registry": {"Type": "AWS::SageMaker::ModelPackageGroup", "Properties": {"ModelPackageGroupName": "m"}}
            }
        }
    )
    assert [f.rule for f in cfn_lint(template, "us-east-1")] == []
    assert [f.rule for f in cfn_lint(template, "cn-north-1")] == ["E3006"]


# -- partitions: one synthesis of a GovCloud config of each tier and of two China configs ----------

PARTITION_CASES = {
    "gov-starter": ("techcorp codecommit", "us-gov-west-1"),
    "gov-professional": ("edge s3", "us-gov-west-1"),
    "gov-enterprise-sgprov": ("globalbank codecommit sgprov ssm", "us-gov-west-1"),
    "gov-enterprise-standalone": ("globalbank s3 standalone direct", "us-gov-west-1"),
    # China lacks the model registry (validate-config refuses it); the templates must still be China's.
    "cn-professional": ("edge codecommit", "cn-northwest-1"),
    "cn-enterprise": ("globalbank codecommit standalone direct", "cn-north-1"),
}


def _moved(fragment: str, region: str) -> LoadedConfig:
    loaded = load_config(example(fragment))
    environment = loaded.config.environment.model_copy(update={"region": region})
    return LoadedConfig(loaded.path, loaded.config.model_copy(update={"environment": environment}))


@pytest.fixture(scope="module")
def partition_templates():
    from ml_provisioner.synth import synthesize

    cases = {case: _moved(fragment, region) for case, (fragment, region) in PARTITION_CASES.items()}
    results = synthesize(list(cases.values()), nag=False)
    return dict(zip(cases, results, strict=True))


@pytest.mark.synth
@pytest.mark.parametrize("case", PARTITION_CASES)
def test_templates_follow_the_partition_of_the_region(partition_templates, case):
    result = partition_templates[case]
    region = result.names.region
    partition = partition_of(region)
    text = json.dumps(result.template)
    assert "arn:aws:" not in text, "an ARN of the commercial partition in a template for " + partition
    assert f"arn:{partition}:" in text
    if result.loaded.config.tier != "starter":
        dashboard = next(r for r in result.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard")
        body = dashboard["Properties"]["DashboardBody"]
        host = {"aws-us-gov": "console.amazonaws-us-gov.com", "aws-cn": "console.amazonaws.cn"}[partition]
        assert f"https://{host}/codesuite/codepipeline/pipelines/" in body


@pytest.mark.synth
@pytest.mark.parametrize("case", ["gov-enterprise-standalone", "cn-enterprise"])
def test_enterprise_endpoints_and_key_policy_use_the_partitions_names(partition_templates, case):
    result = partition_templates[case]
    names = result.names
    resources = result.template["Resources"].values()
    services = {r["Properties"]["ServiceName"] for r in resources if r["Type"] == "AWS::EC2::VPCEndpoint"}
    prefix = "cn.com.amazonaws" if names.partition == "aws-cn" else "com.amazonaws"
    assert services == {f"{prefix}.{names.region}.{s}" for s in ("sagemaker.api", "sagemaker.runtime", "s3", "sts")}
    [key] = [r for r in resources if r["Type"] == "AWS::KMS::Key"]
    [logs] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Sid"] == "ComplianceLogGroup"]
    assert logs["Principal"] == {"Service": f"logs.{names.region}.{names.url_suffix}"}


@pytest.mark.synth
@pytest.mark.parametrize("case", PARTITION_CASES)
def test_cfn_lint_with_the_configs_region_finds_only_what_validate_config_refuses(partition_templates, case):
    result = partition_templates[case]
    errors = {f.rule for f in cfn_lint(result.template_yaml(), result.names.region) if f.severity == "error"}
    refused = unavailable_types(result.names.region, (r.type for r in catalog.resources_for(result.loaded.config)))
    assert errors == ({"E3006"} if refused else set())

"""docs/build-contract.md is what the synthesized templates hand a team's build code: every
variable, the build image, where each source comes from, and what an approval starts. A template
that hands something else fails here."""

from __future__ import annotations

import re

from tests.conftest import PROJECT

CONTRACT = (PROJECT / "docs" / "build-contract.md").read_text()


def _documented_variables(tier: str) -> set[str]:
    """The variables the contract's table gives a tier (a row "enterprise only" to that tier alone)."""
    section = CONTRACT.split("## The build's environment")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+)\|", section, re.M)
    return {name for name, value in rows if tier == "enterprise" or not value.startswith("enterprise only")}


def _resources(result, type_: str) -> list[dict]:
    return [r for r in result.template["Resources"].values() if r["Type"] == type_]


def test_every_build_gets_exactly_the_documented_variables_on_the_documented_image(synthesized):
    assert len(_documented_variables("starter")) == 5 and len(_documented_variables("enterprise")) == 8
    for result in synthesized.values():
        documented = _documented_variables(result.loaded.config.tier.value)
        for project in _resources(result, "AWS::CodeBuild::Project"):
            environment = project["Properties"]["Environment"]
            assert {v["Name"] for v in environment["EnvironmentVariables"]} == documented
            assert f"`{environment['Image']}` (`{environment['ComputeType']}`" in CONTRACT
            assert (project["Properties"]["TimeoutInMinutes"], project["Properties"]["QueuedTimeoutInMinutes"]) == (
                60,
                120,
            )


def test_each_source_is_where_the_contract_says(synthesized):
    for result in synthesized.values():
        source = result.loaded.config.ml_product.source_control.value
        for pipeline in _resources(result, "AWS::CodePipeline::Pipeline"):
            properties = pipeline["Properties"]
            assert properties["ExecutionMode"] == "SUPERSEDED" and "`SUPERSEDED` mode" in CONTRACT
            [action] = properties["Stages"][0]["Actions"]
            configuration = action["Configuration"]
            if source == "s3":
                assert configuration["S3ObjectKey"] in ("source/model-build.zip", "source/model-deploy.zip")
                assert f"`{configuration['S3ObjectKey']}` in the artifacts bucket" in CONTRACT
            elif source == "codecommit":
                assert configuration["BranchName"] == "main" and "branch `main`" in CONTRACT


def test_an_approved_version_starts_the_deploy_pipeline_as_documented(synthesized):
    tiers_with_the_rule = set()
    for result in synthesized.values():
        for rule in _resources(result, "AWS::Events::Rule"):
            pattern = rule["Properties"]["EventPattern"]
            assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
            assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"]
            tiers_with_the_rule.add(result.loaded.config.tier.value)
    assert tiers_with_the_rule == {"professional", "enterprise"}
    assert "`SageMaker Model Package State Change` with\n`ModelApprovalStatus: Approved`" in CONTRACT

"""The config's source, over HTTP against the sandbox: a codeconnections product deploys with
pipelines that read GitHub through its connection; a source that cannot work in the account
(CodeCommit refused by AWS, a missing or unfinished connection) is refused before any
change set, exit 2, pointing to what to change.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from ml_provisioner_sandbox.service_fixes import CODECOMMIT_SWITCH

from ml_provisioner import catalog
from ml_provisioner.config.loader import load_config
from tests.conftest import example
from tests.support.sandbox import ACCOUNT, cli, product, stack

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

# A region no other sandbox test deploys to: its account has never had a CodeCommit repository.
NEW_CUSTOMER_REGION = "eu-north-1"


def no_stack(aws, name: str, region: str) -> bool:
    return not [s for s in aws("cloudformation", region).describe_stacks()["Stacks"] if s["StackName"] == name]


@pytest.mark.parametrize(
    "fragment",
    ["edge codeconnections", "globalbank codeconnections standalone direct"],
    ids=["codestar-connections-prefix", "enterprise"],
)
def test_a_codeconnections_product_deploys_with_connection_sources_and_the_s3_inventory(aws, fragment):
    config, data = product(fragment, aws)
    region, source = data["environment"]["region"], data["ml_product"]
    names = load_config(f"ml/configs/{config}").names()

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert f"stack {names.stack_name}: created" in out
    for kind in ("build", "deploy"):
        pipeline = aws("codepipeline", region).get_pipeline(name=names.pipeline(kind))["pipeline"]
        [action] = pipeline["stages"][0]["actions"]
        assert action["actionTypeId"] == {
            "category": "Source",
            "owner": "AWS",
            "provider": "CodeStarSourceConnection",
            "version": "1",
        }
        assert action["configuration"] == {
            "ConnectionArn": source["connection_arn"],
            "FullRepositoryId": source[f"{kind}_repository"],
            "BranchName": source["branch"],
            "OutputArtifactFormat": "CODE_ZIP",
            "DetectChanges": "true",
        }
    resources = aws("cloudformation", region).describe_stack_resources(StackName=names.stack_name)["StackResources"]
    s3_twin = load_config(example(fragment.replace("codeconnections", "s3"))).config
    assert len(resources) == len(catalog.resources_for(s3_twin)), "the s3 source's inventory"
    assert not [r for r in resources if r["ResourceType"] == "AWS::CodeCommit::Repository"]
    outputs = {o["OutputKey"] for o in stack(aws, names.stack_name, region)["Outputs"]}
    assert outputs == set(catalog.ssm_outputs(s3_twin)) and "RepositoryUrl" not in outputs


def test_codecommit_refused_by_aws_says_so_and_what_to_use_instead(aws, monkeypatch):
    """Where AWS refuses CodeCommit, its CreateRepository answers OperationNotAllowedException half-way
    through the stack: the deploy names that answer and the sources that work, and rolls back."""
    monkeypatch.setenv(CODECOMMIT_SWITCH, "closed")
    config, data = product("techcorp codecommit", aws, provision_source=False, environment__region=NEW_CUSTOMER_REGION)
    names = load_config(f"ml/configs/{config}").names()
    with pytest.raises(ClientError, match="OperationNotAllowedException"):
        aws("codecommit", NEW_CUSTOMER_REGION).create_repository(repositoryName=f"{names.deployment_id}--probe")

    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 1, out + err
    assert (
        f"error: AWS CodeCommit created no repository for {names.deployment_id} (OperationNotAllowedException)" in err
    )
    assert "source_control: s3" in err and "codeconnections" in err
    assert stack(aws, names.stack_name, NEW_CUSTOMER_REGION)["StackStatus"] == "ROLLBACK_COMPLETE"


def test_an_account_without_any_repository_is_not_taken_as_closed(aws):
    """CodeCommit is generally available again (AWS, November 2025): an empty repository list proves
    nothing, and the deploy goes ahead."""
    config, data = product("techcorp codecommit", aws, provision_source=False, environment__region="eu-south-1")
    assert not aws("codecommit", "eu-south-1").list_repositories().get("repositories")
    code, out, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err


def test_an_existing_codecommit_customer_passes_the_preflight(aws, monkeypatch):
    config, data = product("techcorp codecommit batch", aws)  # the account has a repository
    monkeypatch.setenv(CODECOMMIT_SWITCH, "closed")
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err


def test_a_missing_connection_is_refused_before_any_change_set(aws):
    region = "us-west-2"
    missing = f"arn:aws:codeconnections:{region}:{ACCOUNT}:connection/00000000-0000-4000-8000-000000000000"
    config, data = product("techcorp codeconnections", aws, provision_source=False, ml_product__connection_arn=missing)
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 2
    assert f"ml_product.connection_arn: no connection {missing} in account {ACCOUNT} ({region})" in err
    assert no_stack(aws, load_config(f"ml/configs/{config}").names().stack_name, region)


def test_a_connection_whose_handshake_is_pending_is_refused(aws):
    region = "us-west-2"
    pending = aws("codeconnections", region).create_connection(
        ProviderType="GitHub", ConnectionName="not-yet-authorized", Tags=[{"Key": "sandbox:status", "Value": "PENDING"}]
    )["ConnectionArn"]
    config, _ = product("techcorp codeconnections", aws, provision_source=False, ml_product__connection_arn=pending)
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 2
    assert "connection not-yet-authorized is PENDING, not AVAILABLE" in err
    assert "Update pending connection" in err
    assert no_stack(aws, load_config(f"ml/configs/{config}").names().stack_name, region)

"""Config validation: every rule of the spec's "Configuration File Adjustment", with its message."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ml_provisioner.config.loader import ConfigError, load_config
from ml_provisioner.config.models import EnterpriseConfig, SecurityGroupMode, SourceControl, Tier, VpcSource
from tests.conftest import EXAMPLES, example

STARTER = example("techcorp codecommit")
PROFESSIONAL = example("edge codecommit")
ENTERPRISE_STANDALONE = example("globalbank codecommit standalone direct")
ENTERPRISE_SGPROV = example("globalbank codecommit sgprov ssm")


def write(tmp_path: Path, data: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def base(path: Path) -> dict:
    return copy.deepcopy(yaml.safe_load(path.read_text()))


def problems(path: Path) -> dict[str, str]:
    """field -> its message(s), joined by " | " when a field has several."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    found: dict[str, list[str]] = {}
    for problem in caught.value.problems:
        found.setdefault(problem.field, []).append(problem.message)
    return {field: " | ".join(messages) for field, messages in found.items()}


def test_every_example_config_is_valid_and_named_by_the_token_scheme():
    assert len(EXAMPLES) == 28
    tiers = {}
    for path in EXAMPLES:
        loaded = load_config(path, strict_file_name=True)
        tiers.setdefault(loaded.config.tier, []).append(path)
    assert {tier: len(paths) for tier, paths in tiers.items()} == {
        Tier.STARTER: 5,
        Tier.PROFESSIONAL: 5,
        Tier.ENTERPRISE: 18,
    }


def test_the_example_matrix_covers_every_token_combination():
    """Every combination with codecommit and s3, and codeconnections once per tier (twice in the
    enterprise tier: sgprov and standalone)."""
    combos = set()
    for path in EXAMPLES:
        c = load_config(path).config
        vpc = c.vpc_integration if isinstance(c, EnterpriseConfig) else None
        combos.add(
            (
                c.client.company_prefix,
                c.ml_product.source_control,
                c.ml_product.workload is not None,
                vpc and vpc.security_group_mode,
                vpc and vpc.vpc_source,
            )
        )
    assert len(combos) == 28
    classic = {c for c in combos if c[1] is not SourceControl.CODECONNECTIONS}
    assert len(classic) == 24
    assert ("globalbank", SourceControl.S3, True, SecurityGroupMode.SGPROV, VpcSource.SSM) in combos
    assert ("techcorp", SourceControl.CODECOMMIT, False, None, None) in combos
    assert combos - classic == {
        ("techcorp", SourceControl.CODECONNECTIONS, False, None, None),
        ("edge", SourceControl.CODECONNECTIONS, False, None, None),
        ("globalbank", SourceControl.CODECONNECTIONS, False, SecurityGroupMode.SGPROV, VpcSource.SSM),
        ("globalbank", SourceControl.CODECONNECTIONS, False, SecurityGroupMode.STANDALONE, VpcSource.DIRECT),
    }


def test_spec_example_name_globalbank_codecommit_standalone_direct_without_workload():
    assert ENTERPRISE_STANDALONE.name.endswith("-demand-forecasting-ml-codecommit-standalone-direct.yaml")
    assert STARTER.name == "techcorp-prod-a001-us-west-2-customer-churn-ml-codecommit.yaml"


def test_config_models_are_immutable():
    config = load_config(STARTER).config
    with pytest.raises(Exception, match="frozen"):
        config.client.tenant_id = "b002"  # type: ignore[misc]


def test_unknown_keys_are_rejected_with_file_field_and_line(tmp_path):
    data = base(STARTER)
    data["client"]["company_nmae"] = "typo"
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.field == "client.company_nmae"
    assert problem.message == "is not a known field for the starter tier"
    assert problem.line == 7
    assert str(caught.value).startswith(f"{path}:7: client.company_nmae:")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("account_id", 123456789012, 'must be a quoted 12-digit string, e.g. "123456789012"'),
        ("account_id", "12345", "'12345' must be exactly 12 digits"),
        ("company_prefix", "Tech_Corp", "must be lowercase letters and digits, starting with a letter"),
        ("tenant_id", "A-001", "must be lowercase letters and digits (max 8)"),
    ],
)
def test_client_fields(tmp_path, field, value, expected):
    data = base(STARTER)
    data["client"][field] = value
    assert expected in problems(write(tmp_path, data))[f"client.{field}"]


def test_region_is_checked_against_the_real_list_of_aws_regions(tmp_path):
    data = base(STARTER)
    data["environment"]["region"] = "us-west-9"
    assert problems(write(tmp_path, data))["environment.region"].startswith("'us-west-9' is not an AWS region")
    data["environment"]["region"] = "eu-north-1"
    load_config(write(tmp_path, data))


def test_tier_must_be_one_of_the_three(tmp_path):
    data = base(STARTER)
    data["tier"] = "gold"
    assert problems(write(tmp_path, data)) == {"tier": "must be one of enterprise, professional, starter; got 'gold'"}


def test_source_control_is_codecommit_s3_or_codeconnections(tmp_path):
    data = base(STARTER)
    data["ml_product"]["source_control"] = "github"
    assert (
        "must be 'codecommit', 's3' or 'codeconnections'"
        in problems(write(tmp_path, data))["ml_product.source_control"]
    )


CONNECTIONS = example("techcorp codeconnections")
CONNECTION_FIELDS = ("connection_arn", "build_repository", "deploy_repository", "branch")


@pytest.mark.parametrize("field", CONNECTION_FIELDS)
def test_codeconnections_requires_connection_repositories_and_branch(tmp_path, field):
    data = base(CONNECTIONS)
    del data["ml_product"][field]
    assert problems(write(tmp_path, data)) == {
        f"ml_product.{field}": "is required when source_control is codeconnections"
    }


@pytest.mark.parametrize("field", CONNECTION_FIELDS)
def test_connection_fields_are_rejected_with_another_source(tmp_path, field):
    data = base(CONNECTIONS)
    data["ml_product"] = {k: v for k, v in data["ml_product"].items() if k not in CONNECTION_FIELDS or k == field}
    data["ml_product"]["source_control"] = "s3"
    assert problems(write(tmp_path, data)) == {
        f"ml_product.{field}": "is only allowed when source_control is codeconnections"
    }


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:codeconnections:us-west-2:123456789012:connection/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "arn:aws:codestar-connections:us-west-2:123456789012:connection/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    ],
)
def test_connection_arn_takes_both_service_prefixes(tmp_path, arn):
    data = base(CONNECTIONS)
    data["ml_product"]["connection_arn"] = arn
    assert load_config(write(tmp_path, data)).config.ml_product.connection_arn == arn


@pytest.mark.parametrize(
    "arn, expected",
    [
        (
            "arn:aws:codecommit:us-west-2:123456789012:connection/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "is not a connection ARN",
        ),
        (
            "arn:aws:codeconnections:us-west-2:123456789012:host/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "is not a connection ARN",
        ),
        ("arn:aws:codeconnections:us-west-2:123456789012:connection/my-github", "is not a connection ARN"),
        (
            "arn:aws:codeconnections:us-west-2:999999999999:connection/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "is in account 999999999999; the config's account is 123456789012",
        ),
        (
            "arn:aws:codeconnections:us-east-1:123456789012:connection/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "is in region us-east-1; the config's region is us-west-2",
        ),
        (
            "arn:aws-cn:codeconnections:us-west-2:123456789012:connection/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "is in partition aws-cn; the config's partition is aws",
        ),
    ],
)
def test_connection_arn_is_a_connection_of_the_configs_account_and_region(tmp_path, arn, expected):
    data = base(CONNECTIONS)
    data["ml_product"]["connection_arn"] = arn
    path = write(tmp_path, data)
    assert expected in problems(path)["ml_product.connection_arn"]
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "connection_arn:" in text)
    assert caught.value.problems[0].line == line, "reported on the connection_arn line"


@pytest.mark.parametrize(
    "field, value",
    [
        ("build_repository", "customer-churn-model-build"),
        ("deploy_repository", "https://github.com/techcorp/model-deploy"),
        ("branch", "feature..x"),
        ("branch", "-main"),
        ("branch", "main.lock"),
        ("branch", "has space"),
    ],
)
def test_repositories_are_owner_slash_name_and_the_branch_a_git_branch_name(tmp_path, field, value):
    data = base(CONNECTIONS)
    data["ml_product"][field] = value
    assert repr(value) in problems(write(tmp_path, data))[f"ml_product.{field}"]


def test_gitlab_subgroups_and_branch_paths_are_accepted(tmp_path):
    data = base(CONNECTIONS)
    data["ml_product"].update(build_repository="group/sub-group/model_build.v2", branch="release/2024-q3")
    assert load_config(write(tmp_path, data)).config.ml_product.repository("build") == "group/sub-group/model_build.v2"


def test_build_and_deploy_repositories_differ(tmp_path):
    data = base(CONNECTIONS)
    data["ml_product"]["deploy_repository"] = data["ml_product"]["build_repository"]
    assert "must differ from build_repository" in problems(write(tmp_path, data))["ml_product.deploy_repository"]


def test_workload_discriminator_is_optional_and_a_slug(tmp_path):
    data = base(STARTER)
    data["ml_product"]["workload"] = "Batch Jobs"
    assert "lowercase words joined by single hyphens" in problems(write(tmp_path, data))["ml_product.workload"]


def test_tags_cost_center_project_owner_are_required(tmp_path):
    data = base(STARTER)
    del data["tags"]["owner"]
    assert problems(write(tmp_path, data)) == {"tags.owner": "is required"}


def test_professional_requires_alerts_email_and_starter_rejects_it(tmp_path):
    data = base(PROFESSIONAL)
    del data["monitoring"]["alerts_email"]
    assert problems(write(tmp_path, data)) == {"monitoring.alerts_email": "is required"}
    starter = base(STARTER)
    starter["monitoring"] = {"alerts_email": "a@b.example"}
    assert problems(write(tmp_path, starter)) == {"monitoring": "is not a known field for the starter tier"}


def test_alerts_email_must_be_an_address(tmp_path):
    data = base(PROFESSIONAL)
    data["monitoring"]["alerts_email"] = "not-an-email"
    assert problems(write(tmp_path, data))["monitoring.alerts_email"] == "'not-an-email' is not an email address"


@pytest.mark.parametrize("days", [30, 91, 5000])
def test_log_retention_is_at_least_90_and_a_cloudwatch_value(tmp_path, days):
    data = base(PROFESSIONAL)
    data["monitoring"]["log_retention_days"] = days
    message = problems(write(tmp_path, data))["monitoring.log_retention_days"]
    assert message.startswith(f"{days} is not allowed; use one of 90, 120, 150, 180, 365")


def test_log_retention_is_optional(tmp_path):
    data = base(PROFESSIONAL)
    del data["monitoring"]["log_retention_days"]
    assert load_config(write(tmp_path, data)).config.monitoring.log_retention_days == 365


def test_enterprise_requires_vpc_integration(tmp_path):
    data = base(ENTERPRISE_STANDALONE)
    del data["vpc_integration"]
    assert problems(write(tmp_path, data)) == {"vpc_integration": "is required for the enterprise tier"}


def test_direct_vpc_source_requires_vpc_id(tmp_path):
    data = base(ENTERPRISE_STANDALONE)
    del data["vpc_integration"]["vpc_id"]
    assert problems(write(tmp_path, data)) == {"vpc_integration.vpc_id": "is required when vpc_source is direct"}


def test_ssm_vpc_source_requires_the_parameter_name_and_forbids_a_vpc_id(tmp_path):
    data = base(ENTERPRISE_SGPROV)
    data["vpc_integration"]["vpc_id"] = "vpc-0123456789abcdef0"
    assert problems(write(tmp_path, data)) == {"vpc_integration.vpc_id": "is only allowed when vpc_source is direct"}
    del data["vpc_integration"]["vpc_id"]
    del data["vpc_integration"]["vpc_id_ssm_parameter"]
    assert problems(write(tmp_path, data)) == {
        "vpc_integration.vpc_id_ssm_parameter": "is required when vpc_source is ssm"
    }


def test_vpc_id_format(tmp_path):
    data = base(ENTERPRISE_STANDALONE)
    data["vpc_integration"]["vpc_id"] = "vpc-xyz"
    assert problems(write(tmp_path, data))["vpc_integration.vpc_id"] == "'vpc-xyz' must look like vpc-0123456789abcdef0"


@pytest.mark.parametrize(
    ("subnets", "expected"),
    [
        (["subnet-0a1b2c3d4e5f60001"], "needs at least two distinct subnet ids"),
        (["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60001"], "needs at least two distinct subnet ids"),
    ],
)
def test_at_least_two_distinct_subnets(tmp_path, subnets, expected):
    data = base(ENTERPRISE_STANDALONE)
    data["vpc_integration"]["subnet_ids"] = subnets
    assert expected in problems(write(tmp_path, data))["vpc_integration.subnet_ids"]


def test_subnet_id_format_is_reported_on_the_item_with_its_line(tmp_path):
    data = base(ENTERPRISE_STANDALONE)
    data["vpc_integration"]["subnet_ids"][1] = "subnet-nope"
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.field == "vpc_integration.subnet_ids.1"
    assert problem.message == "'subnet-nope' must look like subnet-0123456789abcdef0"
    assert path.read_text().splitlines()[problem.line - 1].strip() == "- subnet-nope"


def test_sgprov_requires_route_tables_and_the_security_group_parameter(tmp_path):
    data = base(ENTERPRISE_SGPROV)
    del data["vpc_integration"]["route_table_ids"]
    assert problems(write(tmp_path, data)) == {
        "vpc_integration.route_table_ids": "is required when security_group_mode is sgprov (or "
        "s3_gateway_endpoint_id, to use the VPC's existing S3 gateway endpoint)"
    }
    data = base(ENTERPRISE_SGPROV)
    del data["vpc_integration"]["security_group_id_ssm_parameter"]
    assert problems(write(tmp_path, data)) == {
        "vpc_integration.security_group_id_ssm_parameter": "is required when security_group_mode is sgprov"
    }


def test_a_second_sgprov_product_uses_the_vpcs_existing_s3_gateway_endpoint(tmp_path):
    """AWS allows one S3 gateway endpoint per route table: a second product names the existing one."""
    data = base(ENTERPRISE_SGPROV)
    vpc = data["vpc_integration"]
    del vpc["route_table_ids"]
    vpc["s3_gateway_endpoint_id"] = "vpce-0a1b2c3d4e5f60003"
    config = load_config(write(tmp_path, data)).config
    assert config.vpc_integration.s3_gateway_endpoint_id == "vpce-0a1b2c3d4e5f60003"
    vpc["route_table_ids"] = ["rtb-0a1b2c3d4e5f60001"]
    assert problems(write(tmp_path, data)) == {
        "vpc_integration.s3_gateway_endpoint_id": "does not go with route_table_ids: give route_table_ids for an "
        "S3 gateway endpoint of the product's own, or s3_gateway_endpoint_id to use an existing one"
    }
    del vpc["route_table_ids"]
    vpc["s3_gateway_endpoint_id"] = "vpce-nope"
    assert problems(write(tmp_path, data)) == {
        "vpc_integration.s3_gateway_endpoint_id": "'vpce-nope' must look like vpce-0123456789abcdef0"
    }


def test_standalone_requires_private_client_cidrs(tmp_path):
    data = base(ENTERPRISE_STANDALONE)
    data["vpc_integration"]["endpoint_client_cidrs"] = ["0.0.0.0/0"]
    assert "is not a private range" in problems(write(tmp_path, data))["vpc_integration.endpoint_client_cidrs"]
    del data["vpc_integration"]["endpoint_client_cidrs"]
    assert (
        "is required when security_group_mode is standalone"
        in problems(write(tmp_path, data))["vpc_integration.endpoint_client_cidrs"]
    )


def test_derived_names_must_fit_aws_limits_including_the_test_deploy_suffix(tmp_path):
    data = base(ENTERPRISE_STANDALONE)
    data["ml_product"]["use_case"] = "demand-forecasting-for-retail-eu"  # 32 characters: allowed alone
    messages = problems(write(tmp_path, data))
    assert (
        "the S3 bucket name 'tffff--globalbank-prod-c001-demand-forecasting-for-retail-eu--euw1-"
        in messages["ml_product.use_case"]
    )
    assert "AWS allows 63" in messages["ml_product.use_case"]
    assert "the EventBridge rule name" in messages["ml_product.use_case"]


def test_file_name_must_match_content_for_validate_config(tmp_path):
    path = write(tmp_path, base(STARTER), name="my-config.yaml")
    loaded = load_config(path)  # other actions: a warning only
    assert loaded.warnings[0].message == f"file name does not match its content: expected {STARTER.name}"
    with pytest.raises(ConfigError, match=f"expected {STARTER.name}"):
        load_config(path, strict_file_name=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty"),
        ("tier: [starter\n", "is not valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("tier: starter\ntier: starter\n", "appears twice"),
    ],
)
def test_malformed_files_get_a_clear_message(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize("field", ["use_case", "workload"])
def test_the_name_delimiter_is_reserved(tmp_path, field):
    data = base(STARTER)
    data["ml_product"][field] = "customer--churn"
    message = problems(write(tmp_path, data))[f"ml_product.{field}"]
    assert "must not contain '--': it separates the product id from what follows it in names" in message


def test_roles_the_tooling_makes_are_unique_per_product_in_an_account_and_shared_by_test_deployments():
    """IAM role names are unique in an account whatever their path: two products in one account
    must not both want the same execution (or deployer) role."""
    products = [load_config(path).names() for path in EXAMPLES]
    by_account: dict[str, set[str]] = {}
    for names in products:
        for arn in (names.execution_role_arn, names.deployer_role_arn):
            role_name = arn.rsplit("/", 1)[1]
            assert len(role_name) <= 64
            by_account.setdefault(f"{names.account} {names.product} {names.region}", set()).add(role_name)
    role_names = [n for names in by_account.values() for n in names]
    assert len(role_names) == len(set(role_names)), "two products of one account share a role name"
    for names in products[:3]:
        assert names.test_deployment(f"t1a2b--{names.stack_name}").execution_role_arn == names.execution_role_arn

"""Cross-account access: a product is deployed through a role of its own account, assumed from
the caller's credentials (the sandbox serves several accounts: AssumeRole's credentials act in the
role's account), with a session name saying which product and who; and the clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ml_provisioner.aws.access import SESSION_NAME_LIMIT, session_name
from ml_provisioner.config.loader import load_config
from tests.support.processes import closed_local_url
from tests.support.sandbox import ACCOUNT, cli, create_boundary, in_account, product
from tests.test_faults import FAST

WORKLOAD_ACCOUNT = "111111111111"  # an account the caller's credentials are not for
ROLE = f"arn:aws:iam::{WORKLOAD_ACCOUNT}:role/ml-provisioner-deployer"


def workload_product(aws, **deployment) -> tuple[str, dict]:
    """The starter example in the workload account, with a deployment section when given."""
    name, data = product("techcorp s3", aws)
    data["client"]["account_id"] = WORKLOAD_ACCOUNT
    Path("ml/configs", name).write_text(yaml.safe_dump(data, sort_keys=False))
    create_boundary(Path("ml/configs", name), aws)  # the workload account's administrator's step
    if deployment:
        data["deployment"] = deployment
        Path("ml/configs", name).write_text(yaml.safe_dump(data, sort_keys=False))
    return name, data


@pytest.mark.synth
def test_a_product_is_deployed_through_the_role_its_config_names(aws, endpoint):
    config, data = workload_product(aws, role_arn=ROLE)
    names = load_config(f"ml/configs/{config}").names()
    region = data["environment"]["region"]

    code, out, err = cli("deploy-product", "-c", config, "--force")

    assert code == 0, err
    assert f"stack {names.stack_name}: created" in out
    there = in_account(WORKLOAD_ACCOUNT, "observer", "cloudformation", region, endpoint)
    assert [s["StackStatus"] for s in there.describe_stacks(StackName=names.stack_name)["Stacks"]] == [
        "CREATE_COMPLETE"
    ]
    home = aws("cloudformation", region).describe_stacks()["Stacks"]
    assert names.stack_name not in [s["StackName"] for s in home], "nothing in the caller's own account"
    # drift and deletion go the same way
    assert cli("check-drift", "-c", config)[0] == 0


def test_the_session_name_says_which_product_and_who(aws, endpoint):
    from moto.sts.models import sts_backends

    config, _ = workload_product(aws, role_arn=ROLE)
    names = load_config(f"ml/configs/{config}").names()
    assert cli("show-changes", "-c", config)[0] == 1  # not deployed: but the role was assumed
    sessions = [r.session_name for r in sts_backends[WORKLOAD_ACCOUNT]["aws"].assumed_roles if r.role_arn == ROLE]
    assert f"{names.deployment_id}@moto" in sessions  # the sandbox's default caller is user/moto


def test_without_the_role_the_account_check_refuses_and_names_the_way_out(aws):
    config, _ = workload_product(aws)
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 2
    assert f"error: the credentials are for account {ACCOUNT}, the config is for {WORKLOAD_ACCOUNT}" in err
    assert "deployment.role_arn, --role-arn" in err


def test_role_arn_option_and_environment_override_the_config_with_placeholders(aws, endpoint, monkeypatch):
    config, data = workload_product(aws)
    region = data["environment"]["region"]
    monkeypatch.setenv("ML_PROVISIONER_ROLE_ARN", "arn:aws:iam::{account}:role/deployer-{region}")
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    from moto.sts.models import sts_backends

    assumed = {r.role_arn for r in sts_backends[WORKLOAD_ACCOUNT]["aws"].assumed_roles}
    assert f"arn:aws:iam::{WORKLOAD_ACCOUNT}:role/deployer-{region}" in assumed


@pytest.mark.parametrize("where", ["option", "environment", "config"])
def test_a_role_of_another_account_is_refused_before_any_call(aws, monkeypatch, where):
    other = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    args = []
    if where == "config":
        config, _ = workload_product(aws, role_arn=ROLE)
        text = Path("ml/configs", config).read_text().replace(ROLE, other)
        Path("ml/configs", config).write_text(text)
    else:
        config, _ = workload_product(aws)
        if where == "option":
            args = ["--role-arn", other]
        else:
            monkeypatch.setenv("ML_PROVISIONER_ROLE_ARN", other)
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_local_url())  # nothing listens: no call may be made

    code, _, err = cli("deploy-product", "-c", config, "--force", *args)

    assert code == 2, err
    expected = {
        "option": f"error: --role-arn: {other} is in account {ACCOUNT}; the config's account is {WORKLOAD_ACCOUNT}",
        "environment": f"error: ML_PROVISIONER_ROLE_ARN: {other} is in account {ACCOUNT}",
        "config": f"deployment.role_arn: is in account {ACCOUNT}; the config's account is {WORKLOAD_ACCOUNT}",
    }[where]
    assert expected in err


def test_validate_config_names_the_file_and_field_of_a_bad_role(aws):
    config, _ = workload_product(aws, role_arn="arn:aws:iam::111111111111:user/someone")
    code, _, err = cli("validate-config", "-c", config)
    assert code == 2
    assert re.search(rf"{re.escape(config)}:\d+: deployment.role_arn: .* is not an IAM role ARN", err), err
    config, _ = workload_product(aws, external_id="only-with-a-role")
    code, _, err = cli("validate-config", "-c", config)
    assert code == 2 and "deployment.external_id: is only allowed with role_arn" in err


def test_a_role_in_another_partition_is_refused(aws):
    config, _ = workload_product(aws, role_arn=f"arn:aws-cn:iam::{WORKLOAD_ACCOUNT}:role/deployer")
    code, _, err = cli("validate-config", "-c", config)
    assert code == 2 and "deployment.role_arn: is in partition aws-cn; the config's partition is aws" in err


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            (
                403,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: sts:AssumeRole",
            ),
            "the role's trust policy must allow arn:aws:sts::123456789012:user/moto",
        ),
        ((403, "ExpiredToken", "The security token included in the request is expired"), "refresh them"),
    ],
    ids=["access-denied", "expired"],
)
def test_a_refused_assume_role_is_one_line_and_a_hint(aws, faults, error, says):
    config, _ = workload_product(aws, role_arn=ROLE)
    faults.at("AssumeRole", error=error)
    code, out, err = faults.cli("deploy-product", "-c", config, "--force", env=FAST)
    assert code == 1, err
    [line, hint] = err.strip().splitlines()[-2:]
    assert (
        line.startswith("error: ")
        and f"cannot assume {ROLE} (named by ml/configs/{config}: deployment.role_arn)" in line
    )
    assert f"{error[1]}: {error[2]}" in line
    assert hint.startswith("hint: ") and says in hint
    assert "Traceback" not in err


LONGEST_PRODUCT = "t0a1b--" + "-".join(["a" * 16, "b" * 10, "c" * 8, "d" * 32, "e" * 12])


@pytest.mark.parametrize(
    ("product", "who"),
    [
        ("techcorp-prod-a001-customer-churn", "alice@example.com"),
        (LONGEST_PRODUCT, "AWSReservedSSO_Admin_0123456789abcdef/élodie.dupont+ops@example.com"),
        (LONGEST_PRODUCT, ""),
        ("t1234--edge-prod-b001-fraud-detection-realtime", "i-0123456789abcdef0"),
        ("a-b-c-d", "name with spaces & symbols!" * 5),
    ],
)
def test_session_names_follow_sts_rules_and_keep_products_apart(product, who):
    name = session_name(product, who)
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", name, flags=re.ASCII), name
    assert len(name) <= SESSION_NAME_LIMIT
    assert name.startswith(product[:20])
    assert session_name(product + "x", who) != name, "a cut product id keeps a hash of the whole"


@pytest.mark.synth
def test_the_review_reports_preview_goes_through_the_role_too(aws):
    config, _ = workload_product(aws, role_arn=ROLE)
    assert cli("deploy-product", "-c", config, "--force")[0] == 0
    code, out, err = cli("create-review-report", "-c", config)
    assert code == 0, err
    assert "change-set preview failed" not in err
    assert "preview: " in out and "the preview failed" not in out


def test_botocore_resolves_each_service_s_endpoint_as_for_any_aws_tool(aws, endpoint, monkeypatch, tmp_path):
    """AWS_ENDPOINT_URL_<SERVICE> and the config file's endpoint_url are honoured: the tool passes an
    endpoint to botocore only when --endpoint-url names one."""
    from ml_provisioner.aws.session import AwsSession

    closed = closed_local_url()
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint)
    session = AwsSession("us-west-2")
    assert session.client("sts").meta.endpoint_url == endpoint
    assert session.caller_identity()["Account"] == ACCOUNT
    assert session.client("s3").meta.endpoint_url == closed
    assert AwsSession("us-west-2", endpoint).client("s3").meta.endpoint_url == endpoint, "--endpoint-url wins"
    # and so does the CLI: AWS_ENDPOINT_URL is botocore's to read, never handed to every client
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint)
    config, _ = product("techcorp s3", aws)
    code, _, err = cli("check-drift", "-c", config)
    assert code == 1 and "is not deployed" in err, err
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDFORMATION")

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS")
    config_file = tmp_path / "aws-config"
    config_file.write_text(f"[default]\nendpoint_url = {endpoint}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    config, _ = product("techcorp s3", aws)
    code, _, err = cli("check-drift", "-c", config)
    assert code == 1 and "is not deployed" in err, err  # it reached the endpoint the config file names
    assert AwsSession("us-west-2").object_url("b", "k") == f"{endpoint}/b/k", "a local endpoint serves by path"

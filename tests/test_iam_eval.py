"""The test evaluator decides like IAM: each case is an example from IAM's policy evaluation
logic and condition operator reference."""

from __future__ import annotations

import pytest

from tests.iam_eval import Request, TemplateValues, evaluate

ROLE = "arn:aws:iam::111122223333:role/app/r"
BUCKET = "arn:aws:s3:::b"


def allow(action, resource, condition=None, *, effect="Allow", **extra) -> dict:
    statement = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def req(action, resource, **context) -> Request:
    return Request(action, resource, ROLE, context)


def test_actions_match_case_insensitively_and_arns_case_sensitively_with_wildcards():
    policy = [allow(["s3:Get*"], "arn:aws:s3:::b-t????/*")]
    assert evaluate(req("S3:getobject", "arn:aws:s3:::b-t1a2b/k"), policy)
    assert not evaluate(req("s3:GetObject", "arn:aws:s3:::B-t1a2b/k"), policy)
    assert not evaluate(req("s3:GetObject", "arn:aws:s3:::b-t1a2b3/k".replace("/k", "")), policy)
    assert not evaluate(req("s3:PutObject", "arn:aws:s3:::b-t1a2b/k"), policy)
    assert not evaluate(req("s3:GetObject", "*"), policy), "a scoped statement does not allow Resource *"


def test_an_explicit_deny_wins_and_not_action_not_resource_invert_the_match():
    policy = [allow("s3:*", "*"), allow("s3:*", [BUCKET], effect="Deny")]
    assert not evaluate(req("s3:ListBucket", BUCKET), policy)
    assert evaluate(req("s3:ListBucket", "arn:aws:s3:::other"), policy)
    not_action = [{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": BUCKET}]}]
    assert evaluate(req("s3:ListBucket", "arn:aws:s3:::other"), not_action)
    assert not evaluate(req("s3:ListBucket", BUCKET), not_action)
    assert not evaluate(req("iam:CreateRole", "arn:aws:s3:::other"), not_action)


def test_a_permission_boundary_caps_but_never_grants():
    identity = [allow("s3:GetObject", "*")]
    boundary = allow(["s3:*", "kms:*"], "*")
    assert evaluate(req("s3:GetObject", f"{BUCKET}/k"), identity, boundary=boundary)
    assert not evaluate(req("kms:Decrypt", "*"), identity, boundary=boundary), "the boundary alone grants nothing"
    decision = evaluate(req("logs:PutLogEvents", "*"), [allow("logs:*", "*")], boundary=boundary)
    assert not decision and "boundary" in decision.why


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        (
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
            True,
        ),
        (
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            {"iam:PassedToService": "ec2.amazonaws.com"},
            False,
        ),
        ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, {}, False),
        (
            {"StringLike": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/p/*"}},
            {"iam:permissionsboundary": "arn:aws:iam::1:policy/p/b"},
            True,
        ),
        ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, {}, True),
        (
            {"StringNotEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}},
            {"aws:RequestedRegion": "eu-west-1"},
            False,
        ),
        ({"StringEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}}, {}, True),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:codebuild:*:1:project/p--*"}},
            {"aws:SourceArn": "arn:aws:codebuild:us-west-2:1:project/p--build"},
            True,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:events:r:1:rule/p--approved"}},
            {"aws:SourceArn": "arn:aws:events:r:1:rule/q--approved"},
            False,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, True),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "true"}, False),
        ({"Null": {"iam:PermissionsBoundary": "true"}}, {}, True),
        ({"Null": {"iam:PermissionsBoundary": "false"}}, {}, False),
        (
            {"ForAnyValue:StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}},
            {"aws:CalledVia": ["cloudformation.amazonaws.com"]},
            True,
        ),
        ({"ForAnyValue:StringEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}}, {}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, True),
        # ForAnyValue over a key the request lacks matches nothing, negated or not (AWS: "Condition
        # operators for multivalued context keys")
        ({"ForAnyValue:StringNotEquals": {"aws:CalledVia": "cloudformation.amazonaws.com"}}, {}, False),
        ({"ForAnyValue:StringNotEqualsIfExists": {"aws:CalledVia": "x"}}, {}, True),
    ],
)
def test_condition_operators(condition, context, expected):
    assert bool(evaluate(req("iam:PassRole", ROLE, **context), [allow("iam:PassRole", ROLE, condition)])) is expected


def test_an_unsupported_operator_or_policy_variable_fails_loudly():
    with pytest.raises(NotImplementedError):
        evaluate(req("s3:GetObject", BUCKET), [allow("s3:GetObject", "*", {"NumericLessThan": {"s3:max-keys": "10"}})])
    with pytest.raises(NotImplementedError):
        evaluate(req("s3:GetObject", BUCKET), [allow("s3:GetObject", "arn:aws:s3:::${aws:username}")])


def test_a_key_policy_must_allow_the_principal_or_delegate_to_the_account():
    identity = [allow("kms:Decrypt", "*")]
    delegating = allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::111122223333:root"})
    assert evaluate(req("kms:Decrypt", "k"), identity, key_policy=delegating)
    assert not evaluate(req("kms:Decrypt", "k"), [], key_policy=delegating), "delegation still needs IAM"
    to_another_account = allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::444455556666:root"})
    assert not evaluate(req("kms:Decrypt", "k"), identity, key_policy=to_another_account)
    to_the_role = allow("kms:Decrypt", "*", Principal={"AWS": ROLE})
    assert evaluate(req("kms:Decrypt", "k"), [], key_policy=to_the_role)


def test_a_bucket_policy_deny_applies_and_its_allow_for_the_principal_grants():
    tls_only = allow(
        "s3:*",
        [BUCKET, f"{BUCKET}/*"],
        {"Bool": {"aws:SecureTransport": "false"}},
        effect="Deny",
        Principal={"AWS": "*"},
    )
    identity = [allow("s3:GetObject", f"{BUCKET}/*")]
    assert evaluate(
        req("s3:GetObject", f"{BUCKET}/k", **{"aws:SecureTransport": "true"}), identity, resource_policy=tls_only
    )
    assert not evaluate(
        req("s3:GetObject", f"{BUCKET}/k", **{"aws:SecureTransport": "false"}), identity, resource_policy=tls_only
    )
    grant = allow("s3:GetObject", f"{BUCKET}/*", Principal={"AWS": ROLE})
    assert evaluate(req("s3:GetObject", f"{BUCKET}/k"), [], resource_policy=grant)


def test_template_values_resolve_intrinsics_like_cloudformation():
    template = {
        "Parameters": {"VpcId": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>"}},
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/p/"}},
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/g"}},
        },
    }
    values = TemplateValues(template, stack_name="s", account="111122223333", region="eu-west-1", partition="aws")
    role_arn = values.resolve({"Fn::GetAtt": ["Role", "Arn"]})
    assert role_arn.startswith("arn:aws:iam::111122223333:role/p/s-Role-")
    assert values.resolve({"Fn::Join": ["", [{"Ref": "Logs"}, ":", {"Ref": "AWS::Region"}]]}) == "/g:eu-west-1"
    assert values.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${Key.Arn}"}).startswith(
        "arn:aws:x:arn:aws:kms:eu-west-1"
    )
    assert values.resolve({"Ref": "VpcId"}).startswith("vpcid-")
    with pytest.raises(NotImplementedError):
        values.resolve({"Fn::Select": [0, ["a"]]})

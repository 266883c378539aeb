"""An IAM policy evaluator for the tests: does AWS allow this request, given these policies?

Offline, on policy documents, following IAM's documented evaluation logic for one account:
an explicit Deny in any policy wins; otherwise the identity policies must allow the request and,
when the principal has a permission boundary, so must the boundary. A resource policy (bucket
policy) that names the principal itself allows on its own; one that names the account delegates
to the identity policies. A KMS key policy must allow either the principal or the account
(which then delegates to IAM).

Covered: Effect, Action/NotAction, Resource/NotResource, Principal/NotPrincipal, ``*`` and ``?``
wildcards (actions case-insensitive, ARNs case-sensitive), and the condition operators the
templates and the deployer policy use: String*, Arn*, Bool, Null, with the ForAnyValue:/ForAllValues:
set prefixes and the IfExists suffix. Policy variables (``${aws:username}``) are not supported:
a policy with one fails loudly rather than being misread.

``TemplateValues`` resolves the CloudFormation intrinsics in a synthesized template (Ref, Fn::GetAtt,
Fn::Join, Fn::Sub, pseudo parameters) to the values AWS gives the resources, so the documents the
evaluator reads are those a real account would hold.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]

# -- matching ----------------------------------------------------------------------------------------


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    if "${" in pattern:
        raise NotImplementedError(f"policy variables are not supported: {pattern}")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def listed(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]


# -- requests and decisions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One authorization request: who asks to do what on which resource, with what context."""

    action: str
    resource: str
    principal: str = ""  # the principal's ARN (a role), or a service principal
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        """The context value(s) of a key (condition keys are case-insensitive), None when absent."""
        for name, value in self.context.items():
            if name.lower() == key.lower():
                return [str(v) for v in listed(value)]
        return None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str

    def __bool__(self) -> bool:
        return self.allowed


# -- conditions --------------------------------------------------------------------------------------

_STRING = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: glob_match(p, v),
    "ArnEquals": lambda p, v: glob_match(p, v),  # IAM treats ArnEquals like ArnLike
    "ArnLike": lambda p, v: glob_match(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _operator_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    actual = request.value(key)
    patterns = [str(p).lower() if isinstance(p, bool) else str(p) for p in listed(expected)]
    if base == "Null":
        return (actual is None) == (patterns[0].lower() == "true")
    negated = base in _NEGATED
    compare = _STRING.get(_NEGATED.get(base, base))
    if compare is None:
        raise NotImplementedError(f"condition operator {operator} is not supported")
    if actual is None:  # the key is not in the request
        if if_exists or qualifier == "ForAllValues":
            return True
        return negated and qualifier != "ForAnyValue"  # ForAnyValue over no values matches nothing

    def matches(value: str) -> bool:
        hit = any(compare(p, value) for p in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(matches(v) for v in actual)
    return any(matches(v) for v in actual)  # single-valued keys, and ForAnyValue


def conditions_hold(condition: Mapping[str, Any] | None, request: Request) -> bool:
    return all(
        _operator_holds(operator, key, expected, request)
        for operator, keys in (condition or {}).items()
        for key, expected in keys.items()
    )


# -- statements and documents --------------------------------------------------------------------------


def _matches_any(patterns: list[str], value: str, *, ignore_case: bool) -> bool:
    return any(glob_match(p, value, ignore_case=ignore_case) for p in patterns)


def principal_matches(principal: Any, request: Request) -> bool:
    """Does a Principal element name the requester, directly or through its account?"""
    if principal == "*":
        return True
    for kind, values in (principal or {}).items():
        for value in listed(values):
            if value == "*" or value == request.principal:
                return True
            if kind == "AWS" and _is_account(value) and _account_of(request.principal) == _account_of(value):
                return True
    return False


def _is_account(principal: str) -> bool:
    return bool(re.fullmatch(r"\d{12}", principal) or re.fullmatch(r"arn:[\w-]+:iam::\d{12}:root", principal))


def _account_of(arn: str) -> str | None:
    match = re.search(r"(\d{12})", arn)
    return match.group(1) if match else None


def statement_applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool = False) -> bool:
    if "Action" in statement:
        if not _matches_any(listed(statement["Action"]), request.action, ignore_case=True):
            return False
    elif _matches_any(listed(statement["NotAction"]), request.action, ignore_case=True):
        return False
    if "Resource" in statement:
        if not _matches_any(listed(statement["Resource"]), request.resource, ignore_case=False):
            return False
    elif "NotResource" in statement and _matches_any(
        listed(statement["NotResource"]), request.resource, ignore_case=False
    ):
        return False
    if resource_policy:
        if "Principal" in statement and not principal_matches(statement["Principal"], request):
            return False
        if "NotPrincipal" in statement and principal_matches(statement["NotPrincipal"], request):
            return False
    return conditions_hold(statement.get("Condition"), request)


def statements(documents: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    docs = [documents] if isinstance(documents, Mapping) else list(documents or [])
    return [s for d in docs for s in listed(d.get("Statement"))]


def _effects(documents: Any, request: Request, *, resource_policy: bool = False) -> set[str]:
    return {
        s["Effect"] for s in statements(documents) if statement_applies(s, request, resource_policy=resource_policy)
    }


def evaluate(
    request: Request,
    identity: Sequence[Mapping[str, Any]],
    *,
    boundary: Mapping[str, Any] | None = None,
    resource_policy: Mapping[str, Any] | None = None,
    key_policy: Mapping[str, Any] | None = None,
) -> Decision:
    """IAM's decision for a principal of the resource's own account."""
    for name, documents, is_resource in (
        ("an identity policy", identity, False),
        ("the boundary", boundary, False),
        ("the resource policy", resource_policy, True),
        ("the key policy", key_policy, True),
    ):
        if documents is not None and "Deny" in _effects(documents, request, resource_policy=is_resource):
            return Decision(False, f"explicitly denied by {name}")
    through_iam = "Allow" in _effects(identity, request) and (
        boundary is None or "Allow" in _effects(boundary, request)
    )
    if key_policy is not None:
        granting = [
            s
            for s in statements(key_policy)
            if s["Effect"] == "Allow" and statement_applies(s, request, resource_policy=True)
        ]
        if any(_names_principal_itself(s, request) for s in granting):
            return Decision(True, "allowed by the key policy")
        if not granting:
            return Decision(False, "the key policy allows neither the principal nor its account")
    if through_iam:
        return Decision(True, "allowed by the identity policies" + (" within the boundary" if boundary else ""))
    if resource_policy is not None and any(
        s["Effect"] == "Allow"
        and _names_principal_itself(s, request)
        and statement_applies(s, request, resource_policy=True)
        for s in statements(resource_policy)
    ):
        return Decision(True, "allowed by the resource policy")
    if "Allow" in _effects(identity, request):
        return Decision(False, "allowed by the identity policies but not within the permission boundary")
    return Decision(False, "no policy allows it")


def _names_principal_itself(statement: Mapping[str, Any], request: Request) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return any(v == request.principal or v == "*" for values in (principal or {}).values() for v in listed(values))


# -- CloudFormation intrinsics ------------------------------------------------------------------------


class TemplateValues:
    """The values AWS gives a template's resources, for resolving its intrinsics.

    Names CloudFormation generates (roles, managed policies without a name) follow its pattern
    ``<stack>-<logical id>-<random>``; ids AWS generates are made up in their real shape and are
    stable per logical id.
    """

    def __init__(self, template: Mapping[str, Any], *, stack_name: str, account: str, region: str, partition: str):
        self.template = template
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.stack_name, self.account, self.region, self.partition = stack_name, account, region, partition
        self.pseudo = {
            "AWS::Partition": partition,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::NoValue": None,
        }

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        where = f"{self.region if region else ''}:{self.account if account else ''}"
        return f"arn:{self.partition}:{service}:{where}:{resource}"

    def _generated(self, logical_id: str, length: int = 12) -> str:
        return hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:length].upper()

    def _properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources[logical_id].get("Properties", {})

    def ref(self, logical_id: str) -> Any:
        if logical_id in self.pseudo:
            return self.pseudo[logical_id]
        if logical_id in self.template.get("Parameters", {}):
            return f"{logical_id.lower()}-{self._generated(logical_id, 17).lower()}"  # a resolved SSM value
        rtype = self.resources[logical_id]["Type"]
        p = self._properties(logical_id)
        match rtype:
            case "AWS::IAM::Role":
                return p.get("RoleName") or f"{self.stack_name}-{logical_id[:24]}-{self._generated(logical_id)}"
            case "AWS::IAM::ManagedPolicy":
                name = (
                    p.get("ManagedPolicyName") or f"{self.stack_name}-{logical_id[:24]}-{self._generated(logical_id)}"
                )
                return self.arn("iam", f"policy{p.get('Path', '/')}{name}", region=False)
            case "AWS::KMS::Key":
                digest = hashlib.sha256(logical_id.encode()).hexdigest()
                return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
            case "AWS::SNS::Topic":
                return self.arn("sns", p["TopicName"])
            case "AWS::S3::Bucket":
                return p["BucketName"]
            case "AWS::Logs::LogGroup":
                return p["LogGroupName"]
            case "AWS::CodeBuild::Project" | "AWS::CodePipeline::Pipeline":
                return p["Name"]
            case "AWS::SSM::Parameter":
                return p["Name"]
        return f"{logical_id.lower()}-{self._generated(logical_id, 8).lower()}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        rtype = self.resources[logical_id]["Type"]
        p = self._properties(logical_id)
        match rtype, attribute:
            case "AWS::IAM::Role", "Arn":
                return self.arn("iam", f"role{p.get('Path', '/')}{self.ref(logical_id)}", region=False)
            case "AWS::KMS::Key", "Arn":
                return self.arn("kms", f"key/{self.ref(logical_id)}")
            case "AWS::S3::Bucket", "Arn":
                return self.arn("s3", p["BucketName"], region=False, account=False)
            case "AWS::Logs::LogGroup", "Arn":
                return self.arn("logs", f"log-group:{p['LogGroupName']}:*")
            case "AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupArn":
                return self.arn("sagemaker", f"model-package-group/{p['ModelPackageGroupName']}")
            case "AWS::CodeCommit::Repository", "Arn":
                return self.arn("codecommit", p["RepositoryName"])
            case "AWS::CodeBuild::Project", "Arn":
                return self.arn("codebuild", f"project/{p['Name']}")
            case "AWS::Events::Rule", "Arn":
                return self.arn("events", f"rule/{p['Name']}")
            case "AWS::CodeCommit::Repository", "CloneUrlHttp":
                return f"https://git-codecommit.{self.region}.amazonaws.com/v1/repos/{p['RepositoryName']}"
            case "AWS::EC2::SecurityGroup", "GroupId":
                return f"sg-{self._generated(logical_id, 17).lower()}"
        raise NotImplementedError(f"Fn::GetAtt {rtype}.{attribute}: extend TemplateValues")

    def resolve(self, value: Any) -> Any:
        """value with every intrinsic function replaced by what CloudFormation would put there."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(fn, arg)] = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if fn == "Fn::Join":
                return arg[0].join(str(self.resolve(p)) for p in arg[1])
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub_value(m.group(1), variables)), text)
            if fn.startswith("Fn::"):
                raise NotImplementedError(f"{fn} is not resolved: extend TemplateValues")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_value(self, name: str, variables: Mapping[str, Any]) -> Any:
        if name in variables:
            return self.resolve(variables[name])
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return self.ref(name)

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(dict(self._properties(logical_id)))

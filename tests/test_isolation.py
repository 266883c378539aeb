"""Products never reach each other's names: no ARN pattern or condition of one product's template
or deployer policy matches a name or ARN of another product, or of a test deployment.

The pairs are every two example products that share an account and region, plus adversarial
ones: a use case that extends another, a workload that extends a use case, a use case that ends
like a test deployment marker, and a product beside its own test deployment.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from typing import Any

import pytest
from pydantic import TypeAdapter

from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.config.models import ProductConfig
from ml_provisioner.identity import TEST_MARKER_WILDCARD, new_test_marker
from ml_provisioner.naming import Names
from ml_provisioner.policy import generate_policy, scopes
from ml_provisioner.synth import synthesize
from tests.conftest import example

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

MARKER = "t1a2b"
UNRESOLVED = "\x00"  # a value CloudFormation fills in at deploy time: one of this product's own ids

# Where CloudFormation or AWS generates the id, a pattern can only name the account and region:
# these ARNs are not names the product chooses and are left out of the comparison.
GENERATED = {
    ("kms", "key"),
    ("ec2", "vpc-endpoint"),
    ("ec2", "security-group"),
    ("ec2", "security-group-rule"),
    ("ec2", "vpc"),
    ("ec2", "subnet"),
    ("ec2", "route-table"),
}


def variant(base: LoadedConfig, *, use_case: str | None = None, workload: str | None = "keep") -> LoadedConfig:
    data = base.config.model_dump(mode="json")
    if use_case is not None:
        data["ml_product"]["use_case"] = use_case
    if workload != "keep":
        data["ml_product"]["workload"] = workload
    config = TypeAdapter(ProductConfig).validate_python(data)
    return LoadedConfig(base.path.with_name(f"{use_case or base.stem}-{workload}.yaml"), config)


@cache
def _starter() -> LoadedConfig:
    from ml_provisioner.config.loader import load_config

    return load_config(example("techcorp codecommit"))


ADVERSARIAL = {
    "a use case extending another": (
        dict(use_case="customer-churn", workload=None),
        dict(use_case="customer-churn-batch", workload=None),
    ),
    "a workload extending a use case": (
        dict(use_case="customer-churn", workload=None),
        dict(use_case="customer-churn", workload="batch"),
    ),
    "a use case ending like a test marker": (
        dict(use_case="customer-churn", workload=None),
        dict(use_case="customer-churn-t1a2b", workload=None),
    ),
    "a workload that spells a test marker": (
        dict(use_case="customer-churn", workload=None),
        dict(use_case="customer-churn", workload="t1a2b"),
    ),
}


# -- what a product owns, and what its documents allow ------------------------------------------------


def owned_arns(names: Names) -> set[str]:
    """Concrete ARNs and names of one deployment: every scope with its wildcards filled in, and the
    SageMaker resources its build code creates at run time under the name prefix."""
    arns = {
        arn.replace("*", "x1").replace("?", "x")
        for scope, build in scopes.BUILDERS.items()
        if scope not in GENERATED
        for arn in _built(build, names)
    }
    arns |= {
        names.arn("sagemaker", f"{kind}/{names.name('model-v1')}")
        for kind in ("pipeline", "endpoint", "endpoint-config", "model")
    }
    arns |= {names.arn("codebuild", f"report-group/{names.codebuild_project('build')}-unit")}
    return arns | {names.stack_name, names.deployment_id}


def _built(build, names: Names) -> list[str]:
    try:
        return build(names)
    except AttributeError:  # an enterprise-only scope asked of a lower tier
        return []


def resolve(value: Any, names: Names) -> str | None:
    """A policy value as a string: pseudo parameters filled in, references to the template's
    own resources replaced by a value that matches nothing of another product."""
    pseudo = {
        "AWS::Partition": names.partition,
        "AWS::Region": names.region,
        "AWS::AccountId": names.account,
        "AWS::URLSuffix": "amazonaws.com",
    }
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(fn, arg)] = value.items()
        if fn == "Ref":
            return pseudo.get(arg, UNRESOLVED)
        if fn == "Fn::GetAtt":
            return UNRESOLVED
        if fn == "Fn::Join":
            parts = [resolve(p, names) for p in arg[1]]
            return None if None in parts else arg[0].join(parts)  # type: ignore[arg-type]
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: pseudo.get(m.group(1), UNRESOLVED), text)
    return None  # another intrinsic: not a name pattern


def patterns(documents: list[dict], names: Names) -> set[str]:
    """Every Resource, NotResource and condition value of the statements."""
    found = set()
    for statement in (s for d in documents for s in d.get("Statement", [])):
        values = [*_listed(statement.get("Resource")), *_listed(statement.get("NotResource"))]
        for condition in statement.get("Condition", {}).values():
            for value in condition.values():
                values += _listed(value)
        found |= {v for v in (resolve(x, names) for x in values) if v and v != "*"}
    return found


def _listed(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def template_documents(template: dict) -> list[dict]:
    """The documents that grant: a VPC endpoint's policy only limits what passes through the
    endpoint for every workload of the VPC (and the STS one must admit the account's federation)."""
    documents = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::EC2::VPCEndpoint":
            continue
        properties = resource.get("Properties", {})
        for key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if isinstance(properties.get(key), dict):
                documents.append(properties[key])
        documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
    return documents


def iam_match(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


_SYNTHESIZED: dict[tuple[str, str | None], Any] = {}


def _synthesized(loaded: LoadedConfig, marker: str | None = None):
    key = (loaded.config.model_dump_json(), marker)
    if key not in _SYNTHESIZED:
        [_SYNTHESIZED[key]] = synthesize([loaded], test_marker=marker, nag=False)
    return _SYNTHESIZED[key]


def documents_and_names(loaded: LoadedConfig, marker: str | None = None, *, deployer: bool = True):
    """(patterns of the template's policies and, with deployer, of the deployer policy; names)."""
    result = _synthesized(loaded, marker)
    documents = template_documents(result.template) + (generate_policy(result).documents if deployer else [])
    return patterns(documents, result.names), result.names


def reaches(a: tuple[set[str], Names], b: tuple[set[str], Names]) -> list[str]:
    """Which of a's patterns match which of b's names."""
    (a_patterns, _), (_, b_names) = a, b
    return [f"{p} matches {n}" for p in sorted(a_patterns) for n in sorted(owned_arns(b_names)) if iam_match(p, n)]


# -- the properties ------------------------------------------------------------------------------------


def test_a_test_deployment_id_cannot_come_out_of_a_valid_config():
    base = _starter()
    test = base.names(new_test_marker())
    for adversary in ADVERSARIAL.values():
        other = variant(base, **adversary[1]).names()
        assert other.deployment_id != test.deployment_id and other.stack_name != test.stack_name
    assert base.names().test_deployment(test.stack_name) == test
    assert base.names().test_deployment(base.names().stack_name) is None


@pytest.mark.parametrize("pair", list(ADVERSARIAL), ids=list(ADVERSARIAL))
def test_adversarial_products_do_not_reach_each_other(pair):
    first, second = (variant(_starter(), **fields) for fields in ADVERSARIAL[pair])
    a, b = documents_and_names(first), documents_and_names(second)
    assert a[1].deployment_id != b[1].deployment_id
    assert not reaches(a, b) and not reaches(b, a)


def test_a_product_and_its_test_deployment_do_not_reach_each_other():
    """Their roles are apart; the deployer policy covers both on purpose (test-deploy uses it)."""
    real, test = (documents_and_names(_starter(), marker, deployer=False) for marker in (None, MARKER))
    assert not reaches(test, real) and not reaches(real, test)
    assert not reaches(documents_and_names(_starter(), MARKER), real), "a test deployment's policy is its own"


def test_the_deployer_policy_covers_its_test_deployments_and_no_other_product():
    base = _starter()
    result = _synthesized(base)
    allowed = patterns(generate_policy(result).documents, result.names)
    test_stack = base.names(MARKER).stack_name
    assert any(
        iam_match(p, f"arn:aws:cloudformation:{base.names().region}:{base.names().account}:stack/{test_stack}/id")
        for p in allowed
    )
    assert any(TEST_MARKER_WILDCARD in p for p in allowed)
    for adversary in ADVERSARIAL.values():
        other = variant(base, **adversary[1]).names()
        assert not [p for p in allowed for n in owned_arns(other) if iam_match(p, n)], adversary


def test_example_products_in_one_account_and_region_do_not_reach_each_other(synthesized):
    """Every example against every example of another product (all 28, not one per product id):
    its roles', deployer's and boundary's patterns against the other's names."""
    examples = []
    for result in synthesized.values():
        policy = generate_policy(result)
        documents = template_documents(result.template) + policy.documents + [policy.boundary]
        examples.append((patterns(documents, result.names), result.names))
    pairs = [
        (a, b)
        for a, b in itertools.permutations(examples, 2)
        if (a[1].account, a[1].region) == (b[1].account, b[1].region) and a[1].product != b[1].product
    ]
    assert pairs, "the examples have products sharing an account and region"
    for a, b in pairs:
        assert not reaches(a, b), f"{a[1].deployment_id} reaches {b[1].deployment_id}"

"""The team's own IAM evaluator (tests/iam_eval.py) is not the only judge: case by case, its
decisions on the real documents (every example's deployer policy and boundary; the escalation
catalogue's requests, directly and through CloudFormation; the runtime contracts' calls within the
boundary) are checked against principalmapper's local policy simulation, an independent
implementation of IAM's evaluation with permission boundaries."""

from __future__ import annotations

import pytest

from ml_provisioner.policy import generate_policy
from ml_provisioner.policy.boundary import boundary_document
from tests.conftest import EXAMPLES
from tests.escalation_paths import CATALOGUE, bind, targets
from tests.iam_eval import Request, evaluate
from tests.runtime_contracts import Product
from tests.support import principalmapper  # noqa: F401 - its shims first

from principalmapper.common import Node, Policy  # noqa: E402  isort: skip
from principalmapper.querying import query_interface  # noqa: E402  isort: skip

pytestmark = pytest.mark.synth

VIA_CLOUDFORMATION = {"aws:CalledVia": ["cloudformation.amazonaws.com"], "aws:ViaAWSService": "true"}
STEMS = [EXAMPLES[0].stem, next(p.stem for p in EXAMPLES if "-standalone-" in p.stem)]


def simulated(principal: str, documents: list[dict], boundary: dict | None, request: Request) -> bool:
    node = Node(
        principal,
        "AROAEXAMPLE",
        [Policy(principal, f"p{i}", d) for i, d in enumerate(documents)],
        [],
        {},
        None,
        0,
        False,
        False,
        Policy(principal, "boundary", boundary) if boundary else None,
        False,
        {},
    )
    context = {k: v for k, v in request.context.items()}
    return bool(query_interface.local_check_authorization_full(node, request.action, request.resource, context))


@pytest.mark.parametrize("stem", STEMS)
def test_the_evaluator_agrees_with_principalmapper_on_the_deployer_policy(synthesized, stem):
    result = synthesized[stem]
    names = result.names
    bound = targets(names)
    principal = f"arn:aws:iam::{names.account}:role/deployer"
    disagreements, compared, granted = [], 0, 0
    for policy in (generate_policy(result), generate_policy(result, service_role=True)):
        documents = policy.documents
        for path in CATALOGUE:
            for step in path.steps:
                for via in ({}, VIA_CLOUDFORMATION):
                    base = {"aws:RequestedRegion": names.region, "aws:PrincipalAccount": names.account, **via}
                    context = {**base, **bind(step.context, bound)}
                    request = Request(step.action, bind(step.resource, bound), principal, context)
                    ours = bool(evaluate(request, documents))
                    theirs = simulated(principal, documents, None, request)
                    compared, granted = compared + 1, granted + ours
                    if ours != theirs:
                        disagreements.append((path.name, step.action, via != {}, ours, theirs))
    assert compared > 400 and granted >= 20, "both answers are compared, not only denials"
    assert not disagreements, disagreements


@pytest.mark.parametrize("stem", STEMS)
def test_the_evaluator_agrees_with_principalmapper_on_the_roles_within_the_boundary(synthesized, stem):
    result = synthesized[stem]
    product = Product(result.template, result.names)
    boundary = boundary_document(result.names)
    disagreements = []
    calls = [c for c in product.calls() if c.role]
    for call in calls:
        role = product.roles[call.role]
        context = {"aws:RequestedRegion": result.names.region, **call.context}
        request = Request(call.action, call.resource, role.arn, context)
        ours = bool(evaluate(request, role.identity, boundary=boundary))
        if ours != simulated(role.arn, role.identity, boundary, request):
            disagreements.append((str(call), ours))
        # and the same call on another product's resource (denied by both, or a disagreement)
        other = request.resource.replace(result.names.deployment_id, f"{result.names.deployment_id}-batch")
        if other != request.resource:
            moved = Request(call.action, other, role.arn, context)
            if bool(evaluate(moved, role.identity, boundary=boundary)) != simulated(
                role.arn, role.identity, boundary, moved
            ):
                disagreements.append((f"{call} on {other}", not ours))
    assert len(calls) > 40
    assert not disagreements, disagreements

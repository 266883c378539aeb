"""Runtime permission contracts: every call an AWS service makes with the product's roles after
the stack exists (tests/runtime_contracts.py, from AWS documentation) is allowed by the role's
identity policies within its permission boundary, and by the key and bucket policies, for every
example; and the same calls on another product's resources are denied.

The sandbox cannot show this: it creates the stack whatever the roles may later do.
"""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES
from tests.runtime_contracts import Call, Product

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

STEMS = [p.stem for p in EXAMPLES]


@pytest.fixture(scope="module")
def products(synthesized) -> dict[str, Product]:
    return {stem: Product(result.template, result.names) for stem, result in synthesized.items()}


def others(product: Product, call: Call) -> list[str]:
    """The call's resource as another product would name it: one whose id extends this one's, and
    this product's test deployment (its roles are apart from the product's)."""
    n = product.names
    if n.deployment_id not in call.resource:
        return []
    return [
        call.resource.replace(n.deployment_id, other)
        for other in (f"{n.deployment_id}-batch", f"t1a2b--{n.deployment_id}")
    ]


@pytest.mark.parametrize("stem", STEMS)
def test_every_runtime_call_of_the_products_roles_is_allowed(products, stem):
    product = products[stem]
    calls = product.calls()
    services = {c.who.split()[0] for c in calls}
    assert {"CodeBuild", "CodePipeline", "a", "the"} <= services, "every service of the tier has its contract"
    denied = [f"{call} ({product.decide(call).why}; see {call.doc})" for call in calls if not product.decide(call)]
    assert not denied, "\n".join(denied)


@pytest.mark.parametrize("stem", STEMS)
def test_the_same_calls_on_another_products_resources_are_denied(products, stem):
    product = products[stem]
    samples = [(call, other) for call in product.calls() if call.role for other in others(product, call)]
    assert len(samples) > 40
    reached = [
        f"{call} reaches {other}"
        for call, other in samples
        if product.decide(Call(call.who, call.role, call.action, other, call.doc, call.context))
    ]
    assert not reached, "\n".join(reached)


@pytest.mark.parametrize("stem", [s for s in STEMS if "-sgprov-" in s or "-standalone-" in s][:1])
def test_another_products_key_is_denied_to_every_role(products, stem):
    product = products[stem]
    key_calls = [c for c in product.calls() if c.action.startswith("kms:") and c.role]
    assert key_calls
    foreign = "arn:aws:kms:eu-west-1:111122223333:key/00000000-1111-2222-3333-444444444444"
    reached = [str(c) for c in key_calls if product.decide(Call(c.who, c.role, c.action, foreign, c.doc, c.context))]
    assert not reached


def test_enterprise_builds_write_their_logs_to_the_compliance_log_group(products):
    """Issue: the projects log to the compliance group, the roles could only write /aws/codebuild/…"""
    stem = next(s for s in STEMS if "-standalone-direct" in s)
    product = products[stem]
    log_calls = [c for c in product.calls() if c.action == "logs:PutLogEvents"]
    assert {c.resource.split(":log-stream:")[0].split("log-group:")[1] for c in log_calls} == {
        product.names.compliance_log_group
    }
    assert all(product.decide(c) for c in log_calls)


def test_sagemaker_pipelines_can_run_their_steps_as_the_execution_role(products):
    """Issue: the SageMaker execution role could not create the steps' jobs, models or model versions."""
    product = products[STEMS[0]]
    pipeline_calls = [c for c in product.calls() if c.who == "a SageMaker pipeline execution"]
    assert {c.action for c in pipeline_calls} >= {
        "sagemaker:CreateTrainingJob",
        "sagemaker:CreateProcessingJob",
        "sagemaker:CreateModelPackage",
        "sagemaker:CreateModel",
        "iam:PassRole",
    }
    assert all(product.decide(c) for c in pipeline_calls)


@pytest.mark.parametrize("stem", STEMS[:1])
def test_images_of_another_product_in_the_account_are_denied(products, stem):
    """The boundary lets a role pull AWS's algorithm images and its own product's, not a repository
    another product of the account holds."""
    product = products[stem]
    pulls = [c for c in product.calls() if c.action == "ecr:BatchGetImage"]
    assert pulls and all(product.decide(c) for c in pulls)
    n = product.names
    foreign = n.arn("ecr", f"repository/{n.deployment_id}-batch--images")
    context = {"aws:ResourceAccount": n.account}
    assert not any(product.decide(Call(c.who, c.role, c.action, foreign, c.doc, context)) for c in pulls)

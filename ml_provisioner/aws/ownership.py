"""Whose stack is this? Every command that changes or reports on a stack asks first.

A stack is this config's when its ownership tags (naming.Names.ownership_tags) say so: the same
product, and the same test deployment or none. A stack someone created by hand with the
product's stack name, another product's stack, or the product's real stack addressed as a test
deployment (and the other way round) is refused before anything is touched.
"""

from __future__ import annotations

from ml_provisioner.errors import BadInput
from ml_provisioner.naming import PRODUCT_TAG, TEST_TAG, Names


def whose(tags: dict[str, str]) -> str:
    """The owner a stack's tags name, in words."""
    product = tags.get(PRODUCT_TAG)
    if not product:
        return f"no product: it has no {PRODUCT_TAG} tag, so ml-provisioner did not create it"
    test = tags.get(TEST_TAG)
    return f"test deployment {test} of product {product}" if test else f"product {product}"


def ownership_problem(tags: dict[str, str], names: Names) -> str | None:
    """Why a stack with these tags is not this deployment's; None when it is."""
    expected = names.ownership_tags
    if tags.get(PRODUCT_TAG) != expected[PRODUCT_TAG] or tags.get(TEST_TAG) != expected.get(TEST_TAG):
        return f"stack {names.stack_name} belongs to {whose(tags)}, not to {whose(expected)}"
    return None


def require_ours(stack_name: str, tags: dict[str, str] | None, names: Names) -> None:
    """Raise BadInput (exit 2) when an existing stack is not this config's. tags None: no stack."""
    if tags is None:
        return
    problem = ownership_problem(tags, names)
    if problem:
        raise BadInput(problem, "nothing was changed; check --config (and --stack-name) name the stack you mean")

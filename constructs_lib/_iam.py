"""Where the pure policy documents meet the CDK: cdk-nag acknowledgments and late-bound values."""

from __future__ import annotations

from collections.abc import Callable

import jsii
from aws_cdk import Acknowledgment, IAspect, IStableStringProducer, Lazy, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from constructs_lib.policy_document import PolicyDocument


def report_wildcards(document: PolicyDocument, holder: IConstruct) -> None:
    """holder carries document: cdk-nag reports its wildcards there, each with its reason."""
    for finding, reason in document.acknowledgments():
        acknowledge(holder, finding, reason)


def acknowledge(holder: IConstruct, rule: str, reason: str) -> None:
    Validations.of(holder).acknowledge(Acknowledgment(id=rule, reason=reason))


def resolved_later(produce: Callable[[], str]) -> str:
    """A value of a resource that does not exist yet, for the props of a construct built before it.

    The template lists a stack's constructs in the order they were created, StarterCore first;
    what a higher tier hands StarterCore (its key, its log group, its outputs) is created after
    it and read when the template is rendered.
    """
    return Lazy.string(_Producer(produce))


@jsii.implements(IStableStringProducer)
class _Producer:
    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


@jsii.implements(IAspect)
class PermissionBoundaryAspect:
    """Sets the product's permission boundary on every IAM role in scope, roles added later included."""

    def __init__(self, boundary_arn: str) -> None:
        self.boundary_arn = boundary_arn

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnRole):
            node.permissions_boundary = self.boundary_arn

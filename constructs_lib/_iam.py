"""Where the pure policy documents meet the CDK: cdk-nag acknowledgments and late-bound values."""

from __future__ import annotations

from collections.abc import Callable

import jsii
from aws_cdk import Acknowledgment, IStableStringProducer, Lazy, Validations
from constructs import IConstruct

from constructs_lib.policy_document import PolicyDocument


def report_wildcards(holder: IConstruct, *documents: PolicyDocument) -> None:
    """holder carries the documents: cdk-nag reports their wildcards there, each with its reason."""
    acknowledge(holder, *(finding for document in documents for finding in document.acknowledgments()))


def acknowledge(holder: IConstruct, *findings: tuple[str, str]) -> None:
    """cdk-nag's findings on holder, (rule, reason) each, acknowledged in one call into the CDK:
    each call is a round trip to jsii."""
    if findings:
        Validations.of(holder).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule, reason in findings))


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

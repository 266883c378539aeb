"""IAM policy documents as plain data, with the reason for every wildcard kept next to it.

Statements are literal JSON (ARNs come from ml_provisioner.naming), so the synthesized template,
create-policy and the tests all see the same strings. A resource or action containing ``*`` must
say why; the reason becomes the cdk-nag acknowledgment on the resource that carries the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsii
from aws_cdk import Acknowledgment, IResolvable, IStableAnyProducer, Lazy, Validations
from constructs import IConstruct


@dataclass
class PolicyDocument:
    """An IAM policy document being assembled, plus the cdk-nag reasons for its wildcards."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    wildcard_reasons: dict[str, str] = field(default_factory=dict)
    _holders: list[IConstruct] = field(default_factory=list)

    def lazy(self) -> IResolvable:
        """The document as a template value rendered at synth time, so statements a higher tier
        adds later (e.g. for its KMS key) still land in it."""
        return Lazy.any(_Render(self))

    def reported_on(self, holder: IConstruct) -> None:
        """holder carries this document: cdk-nag reports its wildcards there, with their reasons."""
        self._holders.append(holder)
        self._acknowledge(self.wildcard_reasons, [holder])

    def allow(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        *,
        why_wildcard: str | None = None,
        condition: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> PolicyDocument:
        """Add an Allow statement; with replace, it takes the place of the statement with that Sid
        (a higher tier redirecting what a lower one set up, e.g. where builds write their logs)."""
        index = next((i for i, s in enumerate(self.statements) if s["Sid"] == sid), None)
        if index is not None and not replace:
            raise ValueError(f"statement {sid} is already in the document")
        self._add("Allow", sid, actions, resources, why_wildcard, condition)
        if index is not None:
            self.statements[index] = self.statements.pop()
        return self

    def deny(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        *,
        condition: dict[str, Any] | None = None,
        not_actions: bool = False,
    ) -> PolicyDocument:
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny"}
        statement["NotAction" if not_actions else "Action"] = sorted(actions)
        statement["Resource"] = resources
        if condition:
            statement["Condition"] = condition
        self.statements.append(statement)
        return self

    def _add(self, effect, sid, actions, resources, why_wildcard, condition) -> PolicyDocument:
        wildcards = [f"Resource::{r}" for r in resources if "*" in r]
        wildcards += [f"Action::{a}" for a in actions if "*" in a]
        if wildcards and not why_wildcard:
            raise ValueError(f"statement {sid} has wildcards {wildcards} but no reason for them")
        reasons = {finding: str(why_wildcard) for finding in wildcards}
        self.wildcard_reasons.update(reasons)
        self._acknowledge(reasons, self._holders)
        statement: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": sorted(set(actions))}
        statement["Resource"] = resources[0] if len(resources) == 1 else resources
        if condition:
            statement["Condition"] = condition
        self.statements.append(statement)
        return self

    def to_json(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": self.statements}

    @staticmethod
    def _acknowledge(reasons: dict[str, str], holders: list[IConstruct]) -> None:
        """Each wildcard's reason becomes a cdk-nag AwsSolutions-IAM5 acknowledgment on its holder."""
        for holder in holders:
            for finding, reason in sorted(reasons.items()):
                acknowledge(holder, f"AwsSolutions-IAM5[{finding}]", reason)


@jsii.implements(IStableAnyProducer)
class _Render:
    def __init__(self, document: PolicyDocument) -> None:
        self.document = document

    def produce(self) -> Any:
        return self.document.to_json()


def trust_policy(services: dict[str, str | None], account: str) -> dict[str, Any]:
    """A role trust policy for AWS services, guarded against the confused-deputy problem.

    ``services`` maps each service principal to the ARN pattern allowed to act through it
    (aws:SourceArn), or to None where only the account can be pinned (aws:SourceAccount).
    """
    statements = []
    for service, source_arn in services.items():
        condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}}
        if source_arn:
            condition["ArnLike"] = {"aws:SourceArn": source_arn}
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def acknowledge(holder: IConstruct, rule: str, reason: str) -> None:
    Validations.of(holder).acknowledge(Acknowledgment(id=rule, reason=reason))

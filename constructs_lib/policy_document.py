"""IAM policy documents as plain data, with the reason for every wildcard kept next to it.

Pure: no CDK, no jsii. Statements are literal JSON (ARNs come from the product's names), so the
synthesized template, create-policy and the tests all see the same strings. A resource or action
containing ``*`` must say why; the reason becomes the cdk-nag acknowledgment on the resource that
carries the policy (constructs_lib._iam).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One Allow statement a higher tier adds to a role of a lower one."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    why_wildcard: str | None = None


@dataclass
class PolicyDocument:
    """An IAM policy document being assembled, plus the cdk-nag reasons for its wildcards."""

    statements: list[Json] = field(default_factory=list)
    wildcard_reasons: dict[str, str] = field(default_factory=dict)
    # Reasons of statements that took the place of another (see allow's replace): acknowledged
    # after the document's own, and the reason of the statement replaced stays acknowledged.
    replacement_reasons: dict[str, str] = field(default_factory=dict)

    def allow(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        *,
        why_wildcard: str | None = None,
        condition: Json | None = None,
        replace: bool = False,
    ) -> PolicyDocument:
        """Add an Allow statement; with replace, it takes the place of the statement with that Sid
        (a higher tier redirecting what a lower one set up, e.g. where builds write their logs)."""
        index = next((i for i, s in enumerate(self.statements) if s["Sid"] == sid), None)
        if index is not None and not replace:
            raise ValueError(f"statement {sid} is already in the document")
        reasons = _wildcard_reasons(sid, actions, resources, why_wildcard)
        for finding, reason in reasons.items():
            if index is None:
                self.wildcard_reasons[finding] = reason
            elif finding not in self.wildcard_reasons:
                self.replacement_reasons[finding] = reason
        statement: Json = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions))}
        statement["Resource"] = resources[0] if len(resources) == 1 else resources
        if condition:
            statement["Condition"] = condition
        if index is None:
            self.statements.append(statement)
        else:
            self.statements[index] = statement
        return self

    def deny(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        *,
        condition: Json | None = None,
        not_actions: bool = False,
    ) -> PolicyDocument:
        statement: Json = {"Sid": sid, "Effect": "Deny"}
        statement["NotAction" if not_actions else "Action"] = sorted(actions)
        statement["Resource"] = resources
        if condition:
            statement["Condition"] = condition
        self.statements.append(statement)
        return self

    def grant(self, grant: Grant) -> PolicyDocument:
        return self.allow(grant.sid, list(grant.actions), list(grant.resources), why_wildcard=grant.why_wildcard)

    def acknowledgments(self) -> list[tuple[str, str]]:
        """(cdk-nag finding, reason) for every wildcard, in the order they are acknowledged."""
        reasons = sorted(self.wildcard_reasons.items()) + list(self.replacement_reasons.items())
        return [(f"AwsSolutions-IAM5[{finding}]", reason) for finding, reason in reasons]

    def to_json(self) -> Json:
        return {"Version": "2012-10-17", "Statement": self.statements}


def _wildcard_reasons(sid: str, actions: list[str], resources: list[str], why: str | None) -> dict[str, str]:
    findings = [f"Resource::{r}" for r in resources if "*" in r]
    findings += [f"Action::{a}" for a in actions if "*" in a]
    if findings and not why:
        raise ValueError(f"statement {sid} has wildcards {findings} but no reason for them")
    return {finding: str(why) for finding in findings}


def trust_policy(services: dict[str, str | None], account: str) -> Json:
    """A role trust policy for AWS services, guarded against the confused-deputy problem.

    ``services`` maps each service principal to the ARN pattern allowed to act through it
    (aws:SourceArn), or to None where only the account can be pinned (aws:SourceAccount).
    """
    statements = []
    for service, source_arn in services.items():
        condition: Json = {"StringEquals": {"aws:SourceAccount": account}}
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

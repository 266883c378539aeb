"""What StarterCore is built from: the product's names, its source, and what higher tiers add.

Pure data. A higher tier never changes StarterCore after it is built: its key, its log group,
the principals and permissions it adds to the pipeline role and its SSM outputs come in here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from constructs_lib.names import Kind, ProductNames
from constructs_lib.policy_document import Grant

SourceControl = Literal["codecommit", "s3", "codeconnections"]


@dataclass(frozen=True, kw_only=True)
class Connection:
    """Repositories on GitHub, GitLab or Bitbucket reached through an existing connection."""

    arn: str
    service: str  # the ARN's IAM prefix: codeconnections or codestar-connections
    repositories: Mapping[Kind, str]  # owner/repository, by pipeline
    branch: str

    @property
    def use_action(self) -> str:
        """UseConnection under the connection ARN's own service prefix (IAM matches them)."""
        return f"{self.service}:UseConnection"


@dataclass(frozen=True, kw_only=True)
class Source:
    control: SourceControl
    connection: Connection | None = None  # codeconnections only

    @property
    def uses_codecommit(self) -> bool:
        return self.control == "codecommit"


@dataclass(frozen=True, kw_only=True)
class InitialCommit:
    """A CodeCommit repository's first commit: a zip in S3, read once when the repository is created."""

    bucket: str
    key: str


@dataclass(frozen=True, kw_only=True)
class LogDestination:
    """One log group both CodeBuild projects write to, each to streams named after its kind."""

    group_ref: str  # the group as a template value (its Ref)
    group_name: str  # the group's name, for the roles' permissions


@dataclass(frozen=True, kw_only=True)
class StarterCoreProps:
    names: ProductNames
    source: Source
    # Professional and up move the CodeBuild permissions into named managed policies.
    codebuild_policies_managed: bool = False
    # Days to keep build logs written to the artifacts bucket; None: no S3 build logs (starter).
    build_log_retention_days: int | None = None
    # A customer-managed key: encrypts the bucket, the builds and the pipeline artifacts, and every
    # role of the product may use it (and only it). None: AWS managed encryption.
    kms_key_arn: str | None = None
    # Where the builds' CloudWatch logs go instead of CodeBuild's default groups.
    build_logs: LogDestination | None = None
    # Statements added to the pipeline role's trust policy, and permissions added to its policy.
    pipeline_trust: tuple[Mapping[str, Any], ...] = ()
    pipeline_grants: tuple[Grant, ...] = ()
    # SSM outputs published after StarterCore's own, in this order (values may be resolved later).
    outputs: Mapping[str, str] = field(default_factory=dict)
    # codecommit: each repository's first commit (the seed code); empty: the repositories start empty.
    initial_commits: Mapping[Kind, InitialCommit] = field(default_factory=dict)
    # Variables both builds get after the build contract's own (a higher tier's key and network).
    build_variables: Mapping[str, str] = field(default_factory=dict)
    # The subnets SageMaker jobs and models run in (the enterprise tier); empty: SageMaker's network.
    job_subnets: tuple[str, ...] = ()

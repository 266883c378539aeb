"""Fixes to moto's service behaviour (outside CloudFormation) that deployed products trip over."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from moto.codecommit.exceptions import RepositoryDoesNotExistException
from moto.codecommit.models import CodeCommitBackend
from moto.codecommit.responses import CodeCommitResponse
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.iam.policy_conditions import CONDITION_OPERATIONS

# Set to "closed" (in the sandbox's process) to play an account that AWS CodeCommit no longer
# onboards: CreateRepository is refused while the account has no repository, as on AWS.
CODECOMMIT_SWITCH = "ML_PROVISIONER_SANDBOX_CODECOMMIT"
CODECOMMIT_CLOSED_MESSAGE = (
    "CreateRepository request is not allowed because there is no existing repository in this AWS account "
    "or AWS Organization"
)


def install() -> None:
    IAMPolicyStatement.is_action_permitted = _skip_unknowable_denies(  # type: ignore[method-assign]
        IAMPolicyStatement.is_action_permitted
    )
    CodeCommitResponse.list_tags_for_resource = _codecommit_list_tags  # type: ignore[attr-defined]
    CodeCommitResponse.tag_resource = _codecommit_tag  # type: ignore[attr-defined]
    CodeCommitResponse.untag_resource = _codecommit_untag  # type: ignore[attr-defined]
    CodePipelineResponse.get_pipeline = _with_polling_disabled_at(CodePipelineResponse.get_pipeline)  # type: ignore[method-assign,assignment]
    CodeCommitBackend.create_repository = _closed_to_new_customers(  # type: ignore[method-assign]
        CodeCommitBackend.create_repository
    )
    CodeCommitResponse.list_repositories = _list_repositories  # type: ignore[attr-defined]
    CodeCommitResponse.get_branch = _codecommit_get_branch  # type: ignore[attr-defined]
    CodeCommitResponse.get_file = _codecommit_get_file  # type: ignore[attr-defined]


# --- CodeCommit tagging (moto has none; ownership tags are read from repositories) -------------


def _repository_tags(self: CodeCommitResponse) -> dict[str, str]:
    """The tags of the request's repository (kept on moto's repository object, which has none)."""
    arn = self._get_param("resourceArn")
    for repository in self.codecommit_backend.repositories.values():
        if repository.repository_metadata["Arn"] == arn:
            tags: dict[str, str] = vars(repository).setdefault("tags", {})
            return tags
    raise RepositoryDoesNotExistException(arn)


def _codecommit_list_tags(self: CodeCommitResponse) -> str:
    return json.dumps({"tags": _repository_tags(self)})


def _codecommit_tag(self: CodeCommitResponse) -> str:
    _repository_tags(self).update(self._get_param("tags") or {})
    return "{}"


def _codecommit_untag(self: CodeCommitResponse) -> str:
    tags = _repository_tags(self)
    for key in self._get_param("tagKeys") or []:
        tags.pop(key, None)
    return "{}"


# --- CodeCommit branches and files: a repository's first commit (CloudFormation's Code) -----------
# moto keeps no commits; the sandbox's repository model stores the one Code makes as
# repository.branches = {branch: {"commitId": ..., "files": {path: bytes}}}.


def _branches(self: CodeCommitResponse) -> dict[str, Any]:
    name = self._get_param("repositoryName")
    repository = self.codecommit_backend.repositories.get(name)
    if repository is None:
        raise RepositoryDoesNotExistException(name)
    branches: dict[str, Any] = vars(repository).get("branches", {})
    return branches


def _branch(self: CodeCommitResponse, name: str) -> dict[str, Any]:
    branches = _branches(self)
    if name not in branches:
        raise JsonRESTError("BranchDoesNotExistException", f"{name} does not exist")
    branch: dict[str, Any] = branches[name]
    return branch


def _codecommit_get_branch(self: CodeCommitResponse) -> str:
    name = self._get_param("branchName")
    return json.dumps({"branch": {"branchName": name, "commitId": _branch(self, name)["commitId"]}})


def _codecommit_get_file(self: CodeCommitResponse) -> str:
    reference = self._get_param("commitSpecifier") or "main"
    branch = _branch(self, reference)
    path = self._get_param("filePath").lstrip("/")
    if path not in branch["files"]:
        raise JsonRESTError("FileDoesNotExistException", f"{path} does not exist")
    content = branch["files"][path]
    return json.dumps(
        {
            "commitId": branch["commitId"],
            "blobId": hashlib.sha1(content).hexdigest(),
            "filePath": path,
            "fileMode": "NORMAL",
            "fileSize": len(content),
            "fileContent": base64.b64encode(content).decode(),
        }
    )


def _with_polling_disabled_at(
    get_pipeline: Callable[[CodePipelineResponse], ActionResult],
) -> Callable[[CodePipelineResponse], ActionResult]:
    """GetPipeline's metadata.pollingDisabledAt, which AWS sets on a polling pipeline after 30 idle
    days (moto has no such clock: Sandbox.disable_polling sets it)."""

    @functools.wraps(get_pipeline)
    def wrapper(self: CodePipelineResponse) -> ActionResult:
        response = get_pipeline(self)
        pipeline = self.codepipeline_backend.get_pipeline(self._get_param("name"))
        when = vars(pipeline).get("polling_disabled_at")
        if when is not None:
            result: Any = response.result
            result["metadata"]["pollingDisabledAt"] = iso_8601_datetime_with_milliseconds(when)
        return response

    return wrapper


def _closed_to_new_customers(create_repository: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create_repository)
    def wrapper(self: CodeCommitBackend, *args: Any, **kwargs: Any) -> Any:
        if os.environ.get(CODECOMMIT_SWITCH) == "closed" and not self.repositories:
            raise JsonRESTError("OperationNotAllowedException", CODECOMMIT_CLOSED_MESSAGE)
        return create_repository(self, *args, **kwargs)

    return wrapper


def _list_repositories(self: CodeCommitResponse) -> str:
    """ListRepositories, which moto lacks (one page, by name)."""
    backend = self.codecommit_backend
    return json.dumps(
        {
            "repositories": [
                {"repositoryName": name, "repositoryId": repository.repository_metadata["repositoryId"]}
                for name, repository in sorted(backend.repositories.items())
            ]
        }
    )


def _skip_unknowable_denies(
    is_action_permitted: Callable[..., PermissionResult],
) -> Callable[..., PermissionResult]:
    """A conditional Deny applies only when moto can evaluate its condition.

    moto treats conditions it cannot evaluate (operators like Bool, keys like aws:SecureTransport
    that requests do not carry) as met, so the usual "Deny unless aws:SecureTransport" bucket policy
    (CDK's enforceSSL) refused every object request to the bucket.
    """

    @functools.wraps(is_action_permitted)
    def wrapper(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> PermissionResult:
        result = is_action_permitted(self, action, resource, principal, incoming_condition_values)
        conditions = self._statement.get("Condition") or {}
        known = incoming_condition_values or {}
        evaluable = all(
            operator in CONDITION_OPERATIONS and all(key in known for key in values)
            for operator, values in conditions.items()
        )
        if result == PermissionResult.DENIED and self._statement.get("Effect") == "Deny" and not evaluable:
            return PermissionResult.NEUTRAL
        return result

    return wrapper

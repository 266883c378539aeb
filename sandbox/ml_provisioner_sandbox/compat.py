"""Which moto the sandbox runs on. Its fixes replace methods inside moto, so a moto release it was
not tested with is used only when every method it replaces is still there; otherwise the sandbox
refuses to start, naming both versions, instead of failing somewhere inside moto."""

from __future__ import annotations

import importlib
from importlib import metadata

TESTED_MOTO = ("5.2.6",)  # the version in lock/*.txt
SUPPORTED_MOTO = ">=5.2.6,<5.3"  # sandbox/pyproject.toml

# Every moto attribute the fixes replace or wrap (attributes they add, for APIs moto lacks, are not
# listed): module -> dotted attribute paths. tests/sandbox/test_compat.py keeps it complete.
REPLACED: dict[str, tuple[str, ...]] = {
    "moto.cloudformation.models": (
        "CloudFormationBackend.create_change_set",
        "CloudFormationBackend.execute_change_set",
        "CloudFormationBackend.update_stack",
        "CloudFormationBackend.delete_stack",
        "Stack.create_resources",
        "Stack.update",
        "Stack.parameter_list",
        "Stack.stack_resources",
    ),
    "moto.cloudformation.parsing": (
        "ResourceMap.build_resource_diff",
        "ResourceMap._delete_resource",
        "ResourceMap.delete",
        "ResourceMap.__getitem__",
        "ResourceMap.update",
        "parse_and_create_resource",
        "parse_and_update_resource",
        "get_model_list",
        "get_model_map",
        "get_name_type_map",
    ),
    "moto.cloudformation.responses": (
        "CloudFormationResponse.create_change_set",
        "CloudFormationResponse.list_change_sets",
        "CloudFormationResponse.get_template",
        "CloudFormationResponse.describe_change_set",
        "CloudFormationResponse.validate_template",
        "CloudFormationResponse.list_stack_resources",
        "CloudFormationResponse.create_stack",
        "CloudFormationResponse.update_stack",
        "StackResourceDTO.__init__",
    ),
    "moto.codecommit.models": ("CodeCommitBackend.create_repository",),
    "moto.codepipeline.responses": ("CodePipelineResponse.get_pipeline",),
    "moto.core.responses": ("ActionResult.result",),
    "moto.iam.access_control": ("IAMPolicyStatement.is_action_permitted",),
    "moto.iam.models": ("DEFAULT_ACCOUNT_ID",),
    "moto.organizations.models": ("OrganizationsBackend.create_account", "OrganizationsBackend.move_account"),
}


class IncompatibleMoto(RuntimeError):
    """moto is a release the sandbox was not tested with, and lacks something the sandbox replaces."""


def moto_version() -> str:
    return metadata.version("moto")


def missing_internals() -> list[str]:
    """The replaced attributes this moto does not have."""
    missing: list[str] = []
    for module_name, paths in REPLACED.items():
        try:
            module: object = importlib.import_module(module_name)
        except ImportError:
            missing.extend(f"{module_name}.{path}" for path in paths)
            continue
        for path in paths:
            owner = module
            for part in path.split("."):
                if not hasattr(owner, part):
                    missing.append(f"{module_name}.{path}")
                    break
                owner = getattr(owner, part)
    return missing


def check_moto() -> str | None:
    """Raise IncompatibleMoto when the sandbox cannot run on the installed moto; return a warning
    when it can but was not tested with it, None for a tested version."""
    version = moto_version()
    if version in TESTED_MOTO:
        return None
    tested = ", ".join(TESTED_MOTO)
    missing = missing_internals()
    if missing:
        raise IncompatibleMoto(
            f"moto {version} is not supported by the sandbox (it supports moto {SUPPORTED_MOTO}, tested with "
            f"{tested}): moto {version} has no {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
        )
    return f"the sandbox was tested with moto {tested}, not {version} (supported: {SUPPORTED_MOTO})"

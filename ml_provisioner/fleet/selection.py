"""Which configs a fleet command acts on: folders, files or globs, narrowed by tier, account and
region. Every selected config must be valid, and no two may deploy the same stack."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from ml_provisioner.config.loader import ConfigError, LoadedConfig, load_config
from ml_provisioner.errors import BadInput
from ml_provisioner.workspace import Workspace

_GLOB_CHARACTERS = set("*?[")


def config_paths(workspace: Workspace, sources: Iterable[str]) -> list[Path]:
    """The files named by sources (a folder gives its *.yaml); none given: the workspace's configs/."""
    sources = list(sources) or [str(workspace.configs)]
    found: list[Path] = []
    for source in sources:
        if _GLOB_CHARACTERS & set(source):
            matches = sorted(glob.glob(source, recursive=True)) or sorted(
                glob.glob(str(workspace.configs / source), recursive=True)
            )
            if not matches:
                raise BadInput(f"{source} matches no file", f"configs are in {workspace.configs}")
            found += [Path(m) for m in matches if Path(m).is_file()]
        elif Path(source).is_dir():
            found += sorted(p for p in Path(source).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.append(workspace.resolve_config(source))
    return list(dict.fromkeys(p.resolve() for p in found))


def select(
    workspace: Workspace,
    sources: Iterable[str],
    *,
    tiers: Iterable[str] = (),
    accounts: Iterable[str] = (),
    regions: Iterable[str] = (),
) -> list[LoadedConfig]:
    """Load every named config (all problems of all files reported at once), keep those matching
    every filter given, and refuse two configs of one stack (say which)."""
    loaded, problems = [], []
    for path in config_paths(workspace, sources):
        try:
            loaded.append(load_config(path))
        except ConfigError as error:
            problems += [problem.render(error.path) for problem in error.problems]
    if problems:
        raise BadInput(
            f"{len(problems)} problem(s) in the selected configs:\n  " + "\n  ".join(problems),
            "fix them, or narrow the selection (paths, --tier, --account, --region)",
        )
    tiers, accounts, regions = set(tiers), set(accounts), set(regions)
    chosen = [
        c
        for c in loaded
        if (not tiers or c.config.tier.value in tiers)
        and (not accounts or c.config.client.account_id in accounts)
        and (not regions or c.config.environment.region in regions)
    ]
    if not chosen:
        raise BadInput(
            f"no config selected ({len(loaded)} read, none matches the filters)",
            "check the paths and --tier / --account / --region",
        )
    seen: dict[tuple[str, str, str], LoadedConfig] = {}
    for config in chosen:
        names = config.names()
        key = (names.account, names.region, names.stack_name)
        if key in seen:
            raise BadInput(
                f"{seen[key].path.name} and {config.path.name} both deploy stack {names.stack_name} in account "
                f"{names.account} ({names.region})",
                "select one of them (alternative configs of one product cannot be deployed side by side)",
            )
        seen[key] = config
    return chosen

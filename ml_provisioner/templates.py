"""The templates in the workspace's templates/ folder: a current one (its fingerprint is what its
config gives now and its text is as synthesized) is used as it is, without the jsii kernel; the
others are synthesized again, together in one app, and written back with their findings.
Nothing is kept anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.errors import BadInput
from ml_provisioner.fingerprint import METADATA_KEY, Fingerprint, Stamp, fingerprint, read_stamp, what_changed
from ml_provisioner.synth import Finding, LintFinding, Synthesized
from ml_provisioner.workspace import FolderNotWritable, Workspace

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_LOADER):  # type: ignore[misc,valid-type]  # PyYAML ships no type stubs here
    """YAML whose mappings may not repeat a key: PyYAML would keep the last one silently, so a
    second `Resources:` appended to a template would replace what was reviewed."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


def load_template_text(text: str, source: str) -> dict[str, Any]:
    """A CloudFormation template's text as data; BadInput (naming the source) for text that is not
    YAML, repeats a key, or is not a mapping."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        raise BadInput(
            f"template {source}: {error}".replace("\n", " "), "synthesize it again: create-prov-template --fresh"
        ) from None
    if not isinstance(data, dict):
        raise BadInput(f"template {source}: not a CloudFormation template (a mapping is expected)", None)
    return data


@dataclass(frozen=True)
class TemplateState:
    """A written template against what its config gives now."""

    path: Path
    expected: Fingerprint
    text: str | None  # None: no such file
    stamp: Stamp | None

    @property
    def current(self) -> bool:
        return self.stamp is not None and not self.stamp.edited and self.stamp.fingerprint == self.expected.digest

    @property
    def why_not_current(self) -> str:
        if self.text is None:
            return "it does not exist"
        if self.stamp is None:
            return "it carries no fingerprint (written by an older version, or edited)"
        return what_changed(self.stamp, self.expected)


def template_state(workspace: Workspace, loaded: LoadedConfig) -> TemplateState:
    path = workspace.template_for(loaded.stem)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return TemplateState(path, fingerprint(loaded), None, None)
    return TemplateState(path, fingerprint(loaded), text, read_stamp(text))


def from_written(state: TemplateState, loaded: LoadedConfig) -> Synthesized:
    """A current template as if just synthesized: the same text, template, findings and names."""
    from ml_provisioner.synth import acknowledged_findings

    assert state.text is not None and state.stamp is not None
    template = load_template_text(state.text, str(state.path))
    metadata = template.get("Metadata", {})
    metadata.pop(METADATA_KEY, None)
    if not metadata:
        template.pop("Metadata", None)
    return Synthesized(
        loaded,
        loaded.names(),
        template,
        [Finding(**finding) for finding in state.stamp.nag_findings],
        acknowledged_findings(template),
        state.expected,
        state.text,
        None if state.stamp.lint_findings is None else [LintFinding(**f) for f in state.stamp.lint_findings],
    )


def current_templates(
    workspace: Workspace,
    configs: list[LoadedConfig],
    *,
    fresh: bool = False,
    notify: Callable[[str], None] = lambda _: None,
    keep_required: bool = True,
) -> list[Synthesized]:
    """The template of every config, in order: a current one from templates/, the others
    synthesized (all in one app) and written there, each only once every config has synthesized.
    Unless keep_required (create-prov-template: writing is the point), a templates/ folder that
    cannot be written is a warning: the command needs the template, not its copy."""
    _one_config_per_template(workspace, configs)
    states = [template_state(workspace, loaded) for loaded in configs]
    stale = [i for i, state in enumerate(states) if fresh or not state.current]
    results: list[Synthesized | None] = [
        None if i in stale else from_written(state, loaded)
        for i, (state, loaded) in enumerate(zip(states, configs, strict=True))
    ]
    if stale:
        from ml_provisioner.synth import synthesize

        distinct = list({configs[i].stem: i for i in stale}.values())  # a config given twice: once
        # Not linted here: validate-prov-template lints the file as it is (lint.lint_recorded).
        synthesized = {result.loaded.stem: result for result in synthesize([configs[i] for i in distinct])}
        for i in stale:
            results[i] = synthesized[configs[i].stem]
        for i in distinct:
            if states[i].text is not None and not fresh:
                notify(f"{states[i].path} was not current ({states[i].why_not_current}): synthesized again")
            try:
                workspace.write(states[i].path, results[i].template_yaml())  # type: ignore[union-attr]
            except FolderNotWritable as error:
                if keep_required:
                    raise
                notify(f"{error.message}: the template is not kept there; {error.hint}")
                break
    return [r for r in results if r is not None]


def _one_config_per_template(workspace: Workspace, configs: list[LoadedConfig]) -> None:
    """Two files of one name would write one template: refused before anything is synthesized."""
    first: dict[str, Path] = {}
    for loaded in configs:
        seen = first.setdefault(loaded.stem, loaded.path)
        if seen.resolve() != loaded.path.resolve():
            raise BadInput(
                f"{seen} and {loaded.path} would both be written to {workspace.template_for(loaded.stem)}",
                "give one of them, or rename one of the files",
            )

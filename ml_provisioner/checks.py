"""validate-prov-template's checks on the written template: cfn-lint, the cdk-nag AwsSolutions
findings its synthesis recorded in it, and whether it is current (its fingerprint is what its config
and this tool give now, its text as synthesized). No synthesis, no jsii; cfn-lint runs on the
file as it is, every time (its findings are then recorded for the review report: lint.lint_recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.synth import Finding, LintFinding

if TYPE_CHECKING:
    from ml_provisioner.templates import TemplateState
    from ml_provisioner.workspace import Workspace


@dataclass(frozen=True)
class TemplateCheck:
    template_path: Path
    lint: list[LintFinding]
    nag: list[Finding]  # not acknowledged
    acknowledged: list[Finding]
    why_stale: str  # "" when the template is current

    @property
    def stale(self) -> bool:
        return bool(self.why_stale)

    @property
    def errors(self) -> int:
        lint_errors = sum(1 for f in self.lint if f.severity == "error")
        return lint_errors + sum(1 for f in self.nag if f.severity == "error") + int(self.stale)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.lint if f.severity == "warning") + sum(
            1 for f in self.nag if f.severity == "warning"
        )


def check_template(state: TemplateState, loaded: LoadedConfig, workspace: Workspace) -> TemplateCheck:
    """The checks of a written template (``state.text`` must be set)."""
    from ml_provisioner.lint import lint_recorded
    from ml_provisioner.synth import acknowledged_findings

    assert state.text is not None
    try:  # a template edited into broken YAML is cfn-lint's to report
        template_data = yaml.load(state.text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        template_data = {}
    nag = [Finding(**finding) for finding in state.stamp.nag_findings] if state.stamp else []
    return TemplateCheck(
        template_path=state.path,
        # The file as it is, always: what a stamp says of its own text is written by whoever wrote the file.
        lint=lint_recorded(workspace, state.text, loaded.config.environment.region, again=True),
        nag=nag,
        acknowledged=acknowledged_findings(template_data if isinstance(template_data, dict) else {}),
        why_stale="" if state.current else state.why_not_current,
    )

"""validate-prov-template's checks: cfn-lint (in-process) on the written template, and cdk-nag's
AwsSolutions findings plus a staleness check from a fresh synthesis of its config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ml_provisioner.synth import Finding, Synthesized


@dataclass(frozen=True)
class LintFinding:
    rule: str
    severity: str  # "error" | "warning" | "informational"
    message: str
    line: int | None


def cfn_lint(template_text: str, region: str) -> list[LintFinding]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(template_text, config=ManualArgs(regions=[region]))
    return [
        LintFinding(
            rule=m.rule.id,
            severity={"E": "error", "W": "warning"}.get(m.rule.id[0], "informational"),
            message=m.message,
            line=m.linenumber,
        )
        for m in matches
    ]


@dataclass(frozen=True)
class TemplateCheck:
    template_path: Path
    lint: list[LintFinding]
    nag: list[Finding]  # not acknowledged
    acknowledged: list[Finding]
    stale: bool  # the file differs from what its config synthesizes to now

    @property
    def errors(self) -> int:
        lint_errors = sum(1 for f in self.lint if f.severity == "error")
        return lint_errors + sum(1 for f in self.nag if f.severity == "error") + int(self.stale)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.lint if f.severity == "warning") + sum(
            1 for f in self.nag if f.severity == "warning"
        )


def check_template(template_path: Path, fresh: Synthesized) -> TemplateCheck:
    written = template_path.read_text(encoding="utf-8")
    return TemplateCheck(
        template_path=template_path,
        lint=cfn_lint(written, fresh.names.region),
        nag=fresh.findings,
        acknowledged=fresh.acknowledged,
        stale=written != fresh.template_yaml(),
    )

"""cfn-lint on a template's text, in the configured region: what validate-prov-template reports
and what the review report lists. A leaf module: cfn-lint itself is imported only when a template
is linted.

validate-prov-template lints the file as it is, every time, and records the findings in the
workspace under the SHA-256 of the text, the region and cfn-lint's version
(``.cache/cfn-lint/<digest>.json``): the review report of the same text reads them from there
instead of loading cfn-lint again."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from ml_provisioner.synth import LintFinding
from ml_provisioner.workspace import FolderNotWritable, Workspace


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


def lint_recorded(workspace: Workspace, template_text: str, region: str, *, again: bool = False) -> list[LintFinding]:
    """cfn-lint's findings on the text: those recorded for this text, region and cfn-lint version,
    else (or when again) linted now and recorded. A workspace that cannot be written records nothing."""
    record = _record_for(workspace, template_text, region)
    if not again:
        with contextlib.suppress(OSError, ValueError, TypeError):  # none recorded, or not a record
            return [LintFinding(**finding) for finding in json.loads(record.read_text(encoding="utf-8"))]
    findings = cfn_lint(template_text, region)
    with contextlib.suppress(FolderNotWritable):
        workspace.write(record, json.dumps([asdict(finding) for finding in findings]))
    return findings


def _record_for(workspace: Workspace, template_text: str, region: str) -> Path:
    key = f"cfn-lint {metadata.version('cfn-lint')}\0{region}\0{template_text}"
    return workspace.root / ".cache" / "cfn-lint" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

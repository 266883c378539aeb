"""A saved plan: one reviewed change set, and what it was made from.

``show-changes --save`` writes it to ``reports/<config stem>-plan.json``; ``create-review-report
--plan`` renders it; ``deploy-product --plan`` executes exactly its change set, and refuses when
what the plan was made from has changed since. Pure: reading, writing and judging a plan call no
AWS API (the change set's own state is checked in ``ml_provisioner.aws.plans``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_provisioner.changes import ResourceChange
from ml_provisioner.errors import BadInput

if TYPE_CHECKING:
    from ml_provisioner.config.loader import LoadedConfig
    from ml_provisioner.naming import Names

FORMAT = 1  # the plan file's format version
NEW_PLAN = "make a new plan: ml-provisioner show-changes --config {config} --save"


@dataclass(frozen=True)
class Plan:
    config: str  # the config file's name
    account: str
    region: str
    stack_name: str
    stack_id: str
    change_set_arn: str
    change_type: str  # CREATE | UPDATE
    template: str  # the template file the change set was made from
    template_sha256: str  # of that file's bytes, as sent to CloudFormation
    fingerprint: str  # what produced the template (config, tool, libraries)
    created_by: str  # the caller's ARN
    created_at: str  # ISO 8601, UTC
    changes: list[dict[str, Any]] = field(default_factory=list)  # with replacement and IAM-widening flags
    format: int = FORMAT
    # Drift-aware (show-changes --save --revert-drift): it also puts back what drifted. What is
    # executed is AWS's word (the change set's DeploymentMode), never this line of the file.
    revert_drift: bool = False
    # What the change does to the monthly cost estimate (ml_provisioner.cost), as shown when the
    # plan was made; informational: nothing executes or refuses by it.
    cost: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def resource_changes(self) -> list[ResourceChange]:
        """The changes as typed values (the file also carries each one's rendered flags)."""
        known = {f.name for f in fields(ResourceChange)}
        return [ResourceChange(**{k: v for k, v in change.items() if k in known}) for change in self.changes]

    @property
    def summary(self) -> str:
        replacements = sum(1 for c in self.changes if c.get("replacement") == "True")
        widening = sum(1 for c in self.changes if c.get("iam_widening"))
        return (
            f"{self.change_type} of {self.stack_name}: {len(self.changes)} change(s), "
            f"{replacements} replacement(s), {widening} IAM-widening"
        )


def plan_path(reports: Path, config_stem: str) -> Path:
    return reports / f"{config_stem}-plan.json"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file's bytes; None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def read_plan(path: Path) -> Plan:
    """A plan file, or BadInput naming the file and what is wrong with it."""
    hint = "make a plan with `ml-provisioner show-changes --config FILE --save`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"plan {path}: no such file", hint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput(f"plan {path}: not a plan file ({error})", hint) from None
    if not isinstance(data, dict):
        raise BadInput(f"plan {path}: not a plan file (a JSON object is expected)", hint)
    if data.get("format") != FORMAT:
        raise BadInput(f"plan {path}: format {data.get('format')!r} is not {FORMAT}", hint)
    known = {f.name: f for f in fields(Plan)}
    required = [name for name, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if not isinstance(data.get(name), str) or not data[name]]
    if missing:
        raise BadInput(f"plan {path}: {', '.join(missing)}: missing or not a non-empty string", hint)
    changes = data.get("changes", [])
    if not isinstance(changes, list):
        raise BadInput(f"plan {path}: changes: a list is expected", hint)
    for index, change in enumerate(changes):
        wrong = _wrong_change_fields(change)
        if wrong:
            raise BadInput(f"plan {path}: changes[{index}]: {wrong}", hint)
    return Plan(**{name: value for name, value in data.items() if name in known})


_CHANGE_TEXT = ("action", "logical_id", "physical_id", "resource_type", "replacement")
_CHANGE_LISTS = ("iam_widening", "recreated_by")


def _wrong_change_fields(change: object) -> str:
    """What is wrong with one entry of a plan's changes, in words ("" when nothing is)."""
    if not isinstance(change, dict):
        return "an object with " + ", ".join(_CHANGE_TEXT) + " is expected"
    for name in _CHANGE_TEXT:
        if not isinstance(change.get(name), str):
            return f"{name}: missing or not a string"
    for name in _CHANGE_LISTS:
        value = change.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return f"{name}: a list of strings is expected"
    if not isinstance(change.get("fixed_name", False), bool):
        return "fixed_name: true or false is expected"
    properties = change.get("properties", [])
    if not isinstance(properties, list) or not all(
        isinstance(value, dict) and all(item is None or isinstance(item, str) for item in value.values())
        for value in properties
    ):
        return "properties: a list of objects of strings is expected"
    return ""


def refusals(
    plan: Plan,
    *,
    config: str,
    account: str,
    stack_name: str,
    fingerprint: str,
    template_sha256: str | None,
) -> list[str]:
    """Why the plan may not be executed for this config now (empty: it may)."""
    why = []
    if plan.account != account:
        why.append(f"the plan is for account {plan.account}, the config is for {account}")
    if plan.stack_name != stack_name:
        why.append(f"the plan is for stack {plan.stack_name}, the config's stack is {stack_name}")
    if plan.config != config:
        why.append(f"the plan was made from config {plan.config}, not {config}")
    if plan.fingerprint != fingerprint:
        why.append("the config (or the tool that synthesizes it) changed since the plan")
    if template_sha256 is None:
        why.append(f"the planned template {plan.template} is gone")
    elif template_sha256 != plan.template_sha256:
        why.append(f"the template {plan.template} changed since the plan")
    return why


def require_deployable(plan: Plan, path: Path, loaded: LoadedConfig, names: Names, template_file: Path) -> None:
    """Refuse (exit 2, saying why) a plan that is not for this config's stack and account, or whose
    config, tool or template changed since it was made."""
    from ml_provisioner.fingerprint import fingerprint

    why = refusals(
        plan,
        config=loaded.path.name,
        account=names.account,
        stack_name=names.stack_name,
        fingerprint=fingerprint(loaded).digest,
        template_sha256=file_sha256(template_file),
    )
    if why:
        raise BadInput(
            f"plan {path} cannot be deployed: " + "; ".join(why),
            NEW_PLAN.format(config=loaded.path.name),
        )

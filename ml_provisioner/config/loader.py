"""Read a config file: YAML (with line numbers and duplicate-key detection) -> validated model.

Every problem is reported as ``file:line: field: message`` so the user can fix all of them in one go.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from ml_provisioner.catalog import resources_for
from ml_provisioner.config.limits import name_problems
from ml_provisioner.config.models import ConfigRuleError, ProductConfig, Tier
from ml_provisioner.config.regions import unavailable_types
from ml_provisioner.identity import LONGEST_TEST_MARKER
from ml_provisioner.naming import Names, config_file_name

_ADAPTER: TypeAdapter[ProductConfig] = TypeAdapter(ProductConfig)


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path, e.g. "client.account_id"; "" for the file as a whole
    message: str
    line: int | None = None

    def render(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line else f"{path}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config file cannot be used; ``problems`` says why, field by field."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(p.render(path) for p in problems))


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    config: ProductConfig
    warnings: list[Problem] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.path.stem

    def names(self, test_marker: str | None = None) -> Names:
        return Names(self.config, test_marker)


def load_config(path: Path | str, *, strict_file_name: bool = False) -> LoadedConfig:
    """Parse and validate one config file. Raises ConfigError naming every problem found.

    The file name is expected to follow the example matrix's token scheme; a mismatch is an
    error with ``strict_file_name`` (validate-config) and a warning otherwise.
    """
    path = Path(path)
    data, lines = _parse_yaml(path, _read_text(path))
    try:
        config = _ADAPTER.validate_python(data)
    except ValidationError as error:
        raise ConfigError(path, _problems_from(error, data, lines)) from None

    problems = [
        Problem(
            "ml_product.use_case",
            f"{msg}; shorten the company_prefix, environment name, tenant_id, use_case or workload",
            lines.get(("ml_product", "use_case")),
        )
        for msg in name_problems(Names(config, test_marker=LONGEST_TEST_MARKER))
    ]
    problems += _region_problems(config, lines)
    expected = config_file_name(config)
    if path.name != expected:
        mismatch = Problem("", f"file name does not match its content: expected {expected}")
        if strict_file_name:
            problems.append(mismatch)
        else:
            return _raise_or(path, problems, LoadedConfig(path, config, [mismatch]))
    return _raise_or(path, problems, LoadedConfig(path, config))


def _region_problems(config: ProductConfig, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """A region that lacks a resource type of the config's tier and source cannot host the stack."""
    region = config.environment.region
    missing = unavailable_types(region, (r.type for r in resources_for(config)))
    if not missing:
        return []
    return [
        Problem(
            "environment.region",
            f"{region} does not offer {', '.join(missing)} (needed by the "
            f"{config.tier.value} tier with {config.ml_product.source_control.value} source); choose "
            "another region or source_control",
            lines.get(("environment", "region")),
        )
    ]


def _raise_or(path: Path, problems: list[Problem], result: LoadedConfig) -> LoadedConfig:
    if problems:
        raise ConfigError(path, problems)
    return result


# -- reading: a config is a small text file ------------------------------------------------------

MAX_BYTES = 64 * 1024  # the largest example is under 1 KiB
MAX_DEPTH = 20  # the schema nests 3 levels deep
MAX_VALUES = 10_000  # after expanding YAML aliases; a config has about a hundred

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _read_text(path: Path) -> str:
    """The file's text, refusing anything but a small regular UTF-8 file (and never blocking on a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(path, [Problem("", "no such file")]) from None
    except OSError as error:
        raise ConfigError(path, [Problem("", f"cannot be read: {error.strerror}")]) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for is_kind, name in _FILE_KINDS if is_kind(mode)), "not a regular file")
        raise ConfigError(path, [Problem("", f"is {kind}; give a YAML config file")])
    with os.fdopen(fd, "rb") as file:
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ConfigError(path, [Problem("", f"is larger than {MAX_BYTES // 1024} KiB; a config is a small YAML file")])
    if b"\0" in raw:
        raise ConfigError(path, [Problem("", "is a binary file; a config is YAML text")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        reason = f"is not UTF-8 text (byte 0x{raw[error.start]:02x}); save it as UTF-8"
        raise ConfigError(path, [Problem("", reason, line)]) from None


# -- YAML with positions -------------------------------------------------------------------------

# A config holds plain values: explicit tags other than !!str (!!binary, !!set, !!python/..., !Ref) are refused.
_TAG = "tag:yaml.org,2002:"
_IMPLICIT_TAGS = {_TAG + name for name in ("null", "bool", "int", "float", "str", "timestamp", "seq", "map", "merge")}
_EXPLICIT_TAGS = {_TAG + name for name in ("str", "seq", "map")}
_ALLOWED = "mappings, lists, strings, numbers, booleans and null (the explicit tag !!str is allowed)"


def _tag_not_allowed(tag: str) -> str:
    return f"the tag {tag.replace(_TAG, '!!')} is not allowed; a config holds {_ALLOWED}"


class _Refused(Exception):
    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.problem = Problem("", message, mark.line + 1 if mark else None)


class _ConfigLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type stubs here
    """SafeLoader that refuses what a config never needs, before it costs memory or recursion:
    deep nesting, alias expansion beyond MAX_VALUES (billion laughs), recursive aliases, other tags."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._values: dict[int, int] = {}  # id(node) -> values in it once its aliases are expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if self._depth >= MAX_DEPTH:
            raise _Refused(f"nests deeper than {MAX_DEPTH} levels; a config nests 3", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _EXPLICIT_TAGS:
            raise _Refused(_tag_not_allowed(tag), event.start_mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(event, yaml.AliasEvent):
            if id(node) not in self._values:
                raise _Refused(f"the alias *{event.anchor} refers to itself", event.start_mark)
            return node
        if node.tag not in _IMPLICIT_TAGS:
            raise _Refused(_tag_not_allowed(node.tag), node.start_mark)
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        values = 1 + (sum(self._values[id(n)] for n in children) if isinstance(children, list) else 0)
        if values > MAX_VALUES:
            raise _Refused(
                f"expands to more than {MAX_VALUES} values (YAML aliases included); a config has about a hundred",
                node.start_mark,
            )
        self._values[id(node)] = values
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as error:  # e.g. the date 2024-13-01
            raise _Refused(
                f"{node.value!r} is not a valid {node.tag.replace(_TAG, '')}: {error}", node.start_mark
            ) from None


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(path, [Problem("", "is empty; see configs/ for complete examples")])
        if not isinstance(node, yaml.MappingNode):
            message = "must be a YAML mapping of sections (tier, client, ...)"
            raise ConfigError(path, [Problem("", message, node.start_mark.line + 1)])
        lines: dict[tuple[str, ...], int] = {}
        duplicates: list[Problem] = []
        _index_lines(node, (), lines, duplicates)
        if duplicates:
            raise ConfigError(path, duplicates)
        data = loader.construct_document(node)
    except _Refused as refused:
        raise ConfigError(path, [refused.problem]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        if context and not context.startswith("while"):  # e.g. "expected a single document ..."
            reason = f"{context} {reason}"
        raise ConfigError(path, [Problem("", f"is not valid YAML: {reason}", line)]) from None
    finally:
        loader.dispose()
    return data, lines


def _index_lines(
    node: yaml.Node, loc: tuple[str, ...], lines: dict[tuple[str, ...], int], duplicates: list[Problem]
) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                duplicates.append(Problem(".".join((*loc, key)), "appears twice", key_node.start_mark.line + 1))
            seen.add(key)
            _index_lines(value_node, (*loc, key), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*loc, str(index)), lines, duplicates)


# -- pydantic errors -> one line per field -------------------------------------------------------

_TIER_TAGS = {tier.value for tier in Tier}


def _problems_from(error: ValidationError, data: dict[str, Any], lines: dict[tuple[str, ...], int]) -> list[Problem]:
    problems = []
    tier = data.get("tier")
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        if loc and loc[0] in _TIER_TAGS:  # the union's branch name is noise for the user
            loc = loc[1:]
        message = item["msg"].removeprefix("Value error, ")
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigRuleError):
            loc += cause.field.split(".")
        kind = item["type"]
        if kind == "union_tag_invalid" or (kind == "union_tag_not_found" and not loc):
            loc, message = ["tier"], f"must be one of {', '.join(sorted(_TIER_TAGS))}; got {tier!r}"
        elif kind == "extra_forbidden":
            message = f"is not a known field{f' for the {tier} tier' if tier in _TIER_TAGS else ''}"
        elif kind == "missing":
            message = "is required" + (f" for the {tier} tier" if tier in _TIER_TAGS and len(loc) == 1 else "")
        elif kind == "string_pattern_mismatch":
            name = loc[-2] if loc[-1].isdigit() else loc[-1]
            message = f"{item['input']!r} {_PATTERN_HINTS.get(name, 'has characters that are not allowed')}"
        elif kind == "enum" or kind == "literal_error":
            message = f"must be {item['ctx']['expected']}; got {item['input']!r}"
        line = _line_for(loc, lines)
        problems.append(Problem(".".join(loc), message, line))
    return problems


def _line_for(loc: list[str], lines: dict[tuple[str, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if tuple(loc[:end]) in lines:
            return lines[tuple(loc[:end])]
    return None


_PATTERN_HINTS = {
    "company_prefix": "must be lowercase letters and digits, starting with a letter (max 16)",
    "tenant_id": "must be lowercase letters and digits (max 8)",
    "account_id": "must be exactly 12 digits",
    "name": "must be lowercase letters and digits, starting with a letter (max 10)",
    "use_case": "must be lowercase words joined by single hyphens, e.g. customer-churn (max 32)",
    "workload": "must be lowercase words joined by single hyphens (max 12)",
    "vpc_id": "must look like vpc-0123456789abcdef0",
    "vpc_id_ssm_parameter": "must be an SSM parameter name starting with /",
    "security_group_id_ssm_parameter": "must be an SSM parameter name starting with /",
    "alerts_email": "is not an email address",
    "subnet_ids": "must look like subnet-0123456789abcdef0",
    "route_table_ids": "must look like rtb-0123456789abcdef0",
    "s3_gateway_endpoint_id": "must look like vpce-0123456789abcdef0",
}

"""Read a config file: YAML (with line numbers and duplicate-key detection) -> validated model.

Every problem is reported as ``file:line: field: message`` so the user can fix all of them in one go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from ml_provisioner.config.models import ConfigRuleError, ProductConfig, Tier
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

    def names(self, test_suffix: str | None = None) -> Names:
        return Names(self.config, test_suffix)


def load_config(path: Path | str, *, strict_file_name: bool = False) -> LoadedConfig:
    """Parse and validate one config file. Raises ConfigError naming every problem found.

    The file name is expected to follow the example matrix's token scheme; a mismatch is an
    error with ``strict_file_name`` (validate-config) and a warning otherwise.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [Problem("", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, [Problem("", f"cannot be read: {error}")]) from None

    data, lines = _parse_yaml(path, text)
    try:
        config = _ADAPTER.validate_python(data)
    except ValidationError as error:
        raise ConfigError(path, _problems_from(error, data, lines)) from None

    problems = [
        Problem("ml_product.use_case", f"{msg}; shorten the company_prefix, environment name, tenant_id, "
                "use_case or workload", lines.get(("ml_product", "use_case")))
        for msg in Names(config, test_suffix=LONGEST_TEST_MARKER).name_problems()
    ]  # fmt: skip
    expected = config_file_name(config)
    if path.name != expected:
        mismatch = Problem("", f"file name does not match its content: expected {expected}")
        if strict_file_name:
            problems.append(mismatch)
        else:
            return _raise_or(path, problems, LoadedConfig(path, config, [mismatch]))
    return _raise_or(path, problems, LoadedConfig(path, config))


def _raise_or(path: Path, problems: list[Problem], result: LoadedConfig) -> LoadedConfig:
    if problems:
        raise ConfigError(path, problems)
    return result


# -- YAML with positions -------------------------------------------------------------------------


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError(path, [Problem("", f"is not valid YAML: {reason}", line)]) from None
    if node is None:
        raise ConfigError(path, [Problem("", "is empty; see configs/ for complete examples")])
    lines: dict[tuple[str, ...], int] = {}
    duplicates: list[Problem] = []
    _index_lines(node, (), lines, duplicates)
    if duplicates:
        raise ConfigError(path, duplicates)
    data = yaml.SafeLoader(text).get_single_data()
    if not isinstance(data, dict):
        raise ConfigError(path, [Problem("", "must be a YAML mapping of sections (tier, client, ...)", 1)])
    return data, lines


def _index_lines(node: yaml.Node, loc: tuple[str, ...], lines: dict, duplicates: list[Problem]) -> None:
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


def _problems_from(error: ValidationError, data: dict, lines: dict[tuple[str, ...], int]) -> list[Problem]:
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
}

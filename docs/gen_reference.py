"""MkDocs hook: the reference pages, generated from the code at every build so they never go stale.

- reference/configuration.md: every config field, from the pydantic models (via their JSON Schema)
- reference/cli.md: every command and option, from the typer app
- reference/tiers.md: the tier matrix and resource counts, from ml_provisioner/catalog.py
- reference/errors.md: exit codes and every error message, read from the source with ast
- schema/ml-provisioner-config.schema.json: the schema itself, for editors

Nothing here starts CDK: the pages come from the models, the catalog and the source text.
"""

from __future__ import annotations

import ast
import html
import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

import ml_provisioner
from ml_provisioner import catalog, errors
from ml_provisioner.config.loader import load_config
from ml_provisioner.schema import SCHEMA_FILE, config_schema, render

GENERATED_NOTE = "*This page is generated from the code when the documentation is built.*"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    project = Path(config.config_file_path).parent
    pages = {
        "reference/configuration.md": configuration_page(),
        "reference/cli.md": cli_page(),
        "reference/tiers.md": tiers_page(sorted((project / "configs").glob("*.yaml"))),
        "reference/errors.md": errors_page(Path(ml_provisioner.__file__).parent),
        f"schema/{SCHEMA_FILE}": render(config_schema()),
    }
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files


# -- markdown helpers ----------------------------------------------------------------------------


def _code(text: object) -> str:
    """Inline code that is safe inside a table cell (a pattern may contain `|`)."""
    return f"<code>{html.escape(str(text)).replace('|', '&#124;')}</code>"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _plain(text: str) -> str:
    """Text from the source, shown as written (it may contain `<`)."""
    return _cell(html.escape(text, quote=False))


def _table(headers: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


# -- configuration fields ------------------------------------------------------------------------


def configuration_page() -> str:
    schema = config_schema()
    defs = schema["$defs"]
    models = [defs[_ref(option["$ref"])] for option in schema["oneOf"]]
    tiers = {model["properties"]["tier"]["const"]: model for model in models}
    lines = [
        "# Configuration fields",
        "",
        GENERATED_NOTE,
        "",
        "A config file is YAML. Its `tier` selects the sections it must have; a section or field "
        "a tier does not use is an error, not silently ignored. The same rules are published as a "
        f"[JSON Schema](../schema/{SCHEMA_FILE}) for editors (see [Configuration](../configuration.md)).",
        "",
        "## Sections by tier",
        "",
    ]
    sections = list(dict.fromkeys(["tier", *(name for model in tiers.values() for name in model["properties"])]))
    lines += _table(
        ["section", *tiers],
        ([_code(name), *(_presence(model, name) for model in tiers.values())] for name in sections),
    )
    lines += ["`tier` is one of " + ", ".join(_code(tier) for tier in tiers) + ".", ""]
    for name in sections:
        section = _section_schema(tiers, name)
        if "$ref" in section and "properties" in defs[_ref(section["$ref"])]:
            lines += _section(name, defs[_ref(section["$ref"])], defs, tiers)
    return "\n".join(lines)


def _ref(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _presence(model: dict, name: str) -> str:
    if name not in model["properties"]:
        return "—"
    return "required" if name in model.get("required", []) else "optional"


def _section_schema(tiers: dict[str, dict], name: str) -> dict:
    section = next(model["properties"][name] for model in tiers.values() if name in model["properties"])
    # an optional section is "anyOf: [its model, null]"
    return next((option for option in section.get("anyOf", []) if "$ref" in option), section)


def _section(name: str, model: dict, defs: dict, tiers: dict[str, dict]) -> list[str]:
    used_by = [tier for tier, tier_model in tiers.items() if name in tier_model["properties"]]
    lines = [f"## `{name}`", "", f"Tiers: {', '.join(used_by)}.", ""]
    rows = []
    for field, prop in model["properties"].items():
        prop = defs[_ref(prop["$ref"])] if "$ref" in prop else prop
        rows.append(
            [
                _code(f"{name}.{field}"),
                _type(prop, defs),
                "yes" if field in model.get("required", []) else "no",
                _allowed(prop, defs),
                _code(prop["default"]) if prop.get("default") not in (None, []) else "—",
                _cell(prop.get("description", "")),
            ]
        )
    lines += _table(["field", "type", "required", "allowed values", "default", "description"], rows)
    if model.get("allOf"):
        lines += ["Rules that depend on another field:", ""]
        lines += _table(["when", "then"], (_mode_rule(rule, name) for rule in model["allOf"]))
    return lines


def _mode_rule(rule: dict, section: str) -> list[str]:
    [(field, condition)] = rule["if"]["properties"].items()
    when = f"is {_code(condition['const'])}" if "const" in condition else "is set"
    then = rule["then"]
    needs = _needs(then)
    if "anyOf" in then:
        alternatives = [_code(target) for option in then["anyOf"] for target in option["required"]]
        needs.append(" or ".join(alternatives) + " is required")
    return [f"{_code(f'{section}.{field}')} {when}", "; ".join(needs)]


def _needs(then: dict) -> list[str]:
    needs = []
    for target, constraint in then.get("properties", {}).items():
        if target in then.get("required", []):
            needs.append(f"{_code(target)} is required")
        elif constraint.get("type") == "null" or constraint.get("maxItems") == 0:
            needs.append(f"{_code(target)} must not be set")
    return needs


def _type(prop: dict, defs: dict) -> str:
    if "anyOf" in prop:
        kinds = [option for option in prop["anyOf"] if option.get("type") != "null"]
        return " or ".join(_type(kind, defs) for kind in kinds)
    if "$ref" in prop:
        return _type(defs[_ref(prop["$ref"])], defs)
    if prop.get("type") == "array":
        return f"list of {_type(prop['items'], defs)}"
    return prop.get("type", "object")


def _allowed(prop: dict, defs: dict) -> str:
    if "anyOf" in prop:
        return "; ".join(_allowed(option, defs) for option in prop["anyOf"] if option.get("type") != "null")
    if "$ref" in prop:
        return _allowed(defs[_ref(prop["$ref"])], defs)
    facts = []
    if "enum" in prop:
        facts.append("one of " + ", ".join(_code(value) for value in prop["enum"]))
    if "const" in prop:
        facts.append(_code(prop["const"]))
    if "pattern" in prop:
        facts.append("pattern " + _code(prop["pattern"]))
    if "maxLength" in prop:
        facts.append(
            f"{prop.get('minLength', 0)}–{prop['maxLength']} characters"
            if "minLength" in prop
            else f"at most {prop['maxLength']} characters"
        )
    if "minItems" in prop:
        facts.append(f"at least {prop['minItems']} items")
    if prop.get("uniqueItems"):
        facts.append("no duplicates")
    if prop.get("type") == "array":
        facts += [f"items: {fact}" for fact in [_allowed(prop["items"], defs)] if fact != "—"]
    return "; ".join(facts) or "—"


# -- CLI commands ----------------------------------------------------------------------------------


def cli_page() -> str:
    from ml_provisioner.cli import app

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    root = group.context_class(group, info_name="ml-provisioner")
    lines = [
        "# CLI commands",
        "",
        GENERATED_NOTE,
        "",
        "Every action takes the spec's form as well: `ml-provisioner -con FILE -act ACTION [options]` "
        "is `ml-provisioner ACTION --config FILE [options]`. Global options go before the action "
        "(or anywhere in the spec's form). Exit codes are listed in "
        "[Errors and exit codes](errors.md).",
        "",
        "```text",
        group.get_usage(root),
        "```",
        "",
        _help(group.help),
        "",
        "## Global options",
        "",
    ]
    lines += _options(group.params, root)
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        if command is None or command.hidden:
            continue
        context = command.context_class(command, info_name=name, parent=root)
        lines += [f"## `{name}`", "", "```text", command.get_usage(context), "```", "", _help(command.help), ""]
        lines += _options(command.params, context)
    return "\n".join(lines)


def _help(text: str | None) -> str:
    """A docstring's paragraphs, without click's \\b no-rewrap markers."""
    return inspect.cleandoc(text or "").replace("\b\n", "")


def _options(params: list[Any], context: Any) -> list[str]:
    """One row per option, as `--help` shows it (with its default, env var and required marks)."""
    records = [param.get_help_record(context) or (param.human_readable_name, "") for param in params]
    if not records:
        return ["No options.", ""]
    return _table(["option", "description"], ([_code(names), _cell(text)] for names, text in records))


# -- tier matrix -------------------------------------------------------------------------------------


def tiers_page(examples: list[Path]) -> str:
    loaded = [load_config(path) for path in examples]
    lines = [
        "# Tier matrix",
        "",
        GENERATED_NOTE,
        "",
        "Counts leave out the artifacts bucket's TLS-only bucket policy, as the product's tier "
        "matrix does. A test checks this catalog against every synthesized example template.",
        "",
    ]
    lines += _table(
        ["tier", "use", "network", "IAM", "resources (codecommit / s3, codeconnections)", "example configs", "image"],
        (
            [
                _code(info.tier.value),
                info.use,
                info.network,
                info.iam,
                info.counts,
                _code(f"{info.token}-*"),
                _code(f"ml-provisioner:{info.tier.value}"),
            ]
            for info in catalog.TIERS.values()
        ),
    )
    lines += ["## What each tier creates", ""]
    tiers = list(catalog.TIERS)
    by_tier = {tier: [c.config for c in loaded if c.config.tier is tier] for tier in tiers}
    rows = []
    for resource_type, purpose in _all_resources(c.config for c in loaded):
        cells = [_has(configs, resource_type, purpose) for configs in by_tier.values()]
        rows.append([purpose, _code(resource_type), *cells])
    lines += _table(["resource", "type", *(tier.value for tier in tiers)], rows)
    lines += ["## Resource count of every example config", ""]
    lines += _table(
        ["config", "tier", "resources", "SSM outputs"],
        (
            [
                _code(c.path.name),
                c.config.tier.value,
                str(catalog.counted(catalog.resources_for(c.config))),
                ", ".join(catalog.ssm_outputs(c.config)),
            ]
            for c in loaded
        ),
    )
    lines += _costs(loaded)
    return "\n".join(lines)


def _costs(loaded: list[Any]) -> list[str]:
    """What each example costs a month at the default assumptions (ml_provisioner.cost)."""
    from ml_provisioner.cost import billables_from_catalog, estimate, usd

    lines = [
        "## What each example costs a month",
        "",
        "At AWS list prices of the bundled price file and the default usage assumptions "
        "([Cost estimates](../cost.md) says what they are and how to change them); "
        "`ml-provisioner show-product` shows the same lines for any config.",
        "",
    ]
    rows = []
    for c in loaded:
        cost = estimate(billables_from_catalog(c.config), c.config.environment.region)
        rows.append(
            [
                _code(c.path.name),
                c.config.tier.value,
                c.config.environment.region,
                usd(cost.fixed_usd),
                usd(cost.usage_usd),
                cost.headline,
            ]
        )
    return lines + _table(["config", "tier", "region", "fixed", "usage", "per month"], rows)


def _all_resources(configs: Iterable[Any]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r.type, r.purpose) for config in configs for r in catalog.resources_for(config)))


def _has(configs: list[Any], resource_type: str, purpose: str) -> str:
    having = [
        c for c in configs if any((r.type, r.purpose) == (resource_type, purpose) for r in catalog.resources_for(c))
    ]
    if not having:
        return "❌"
    if len(having) == len(configs):
        return "✅"
    return "✅ " + _when_present(configs, having)


def _when_present(configs: list[Any], having: list[Any]) -> str:
    """Name the config option a conditional resource follows (source control or SG mode)."""
    for label, option in (
        ("source", lambda c: c.ml_product.source_control.value),
        ("SG mode", lambda c: c.vpc_integration.security_group_mode.value),
    ):
        values = {option(c) for c in having}
        if len(values) == 1 and all(option(c) not in values for c in configs if c not in having):
            return f"({label} {values.pop()})"
    return "(some configs)"


# -- errors and exit codes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    module: str
    kind: str
    message: str
    hint: str
    exit_code: int | None


def errors_page(package: Path) -> str:
    sources = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(package.rglob("*.py"))}
    codes = _error_classes(sources.values())
    raised = [r for path, tree in sources.items() for r in _raised(tree, codes, path.relative_to(package))]
    lines = [
        "# Errors and exit codes",
        "",
        GENERATED_NOTE,
        "",
        "Every failure prints one `error:` line with the cause and, where there is one, a `hint:` "
        "line with what to do; `--verbose` adds the traceback. Each run is also appended to "
        "`reports/execution.log` with its exit code. See [Troubleshooting](../troubleshooting.md).",
        "",
        "## Exit codes",
        "",
    ]
    lines += _table(["code", "name", "meaning"], _exit_codes())
    lines += ["## Errors the commands report", "", "`…` stands for a value filled in at run time.", ""]
    command_errors = sorted((r for r in raised if r.exit_code is not None), key=lambda r: (r.exit_code, r.message))
    lines += _table(
        ["exit", "error", "hint", "raised in"],
        ([str(r.exit_code), _plain(r.message), _plain(r.hint), _code(r.module)] for r in command_errors),
    )
    lines += [
        "## Config file problems",
        "",
        "An invalid config exits with code 2 and prints one line per problem, "
        "`FILE:LINE: FIELD: MESSAGE`, so every problem can be fixed in one go. Besides the type, "
        "pattern and length checks of each field ([Configuration fields](configuration.md)), "
        "these are reported:",
        "",
    ]
    config_problems = sorted({(r.kind, r.message) for r in raised if r.exit_code is None})
    lines += _table(["field", "message"], ([_code(kind), _plain(message)] for kind, message in config_problems))
    return "\n".join(lines)


def _exit_codes() -> Iterator[list[str]]:
    """EXIT_* constants of ml_provisioner.errors with the comment written beside each."""
    source = inspect.getsource(errors).splitlines()
    for line in source:
        name = line.split("=", 1)[0].strip()
        if name.startswith("EXIT_"):
            meaning = line.split("#", 1)[1].strip() if "#" in line else ""
            yield [_code(getattr(errors, name)), _code(name), _cell(meaning)]


def _error_classes(trees: Iterable[ast.Module]) -> dict[str, int]:
    """Exception classes that map to an exit code: ProvisionerError and every subclass in the source."""
    codes = {cls.__name__: cls.exit_code for cls in (errors.ProvisionerError, errors.OperationFailed, errors.BadInput)}
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for node in classes:
            bases = [_name(base) for base in node.bases if _name(base) in codes]
            if node.name in codes or not bases:
                continue
            codes[node.name] = _own_exit_code(node) or codes[bases[0]]
            changed = True
    return codes


def _own_exit_code(node: ast.ClassDef) -> int | None:
    for statement in node.body:
        if isinstance(statement, ast.Assign) and any(_name(t) == "exit_code" for t in statement.targets):
            value = statement.value
            if isinstance(value, ast.Constant) and isinstance(value.value, int):
                return value.value
            return getattr(errors, _name(value), None)
    return None


def _raised(tree: ast.Module, codes: dict[str, int], module: Path) -> Iterator[Raised]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in codes:
            kind = _name(node.func)
            message, hint = _text(_arg(node, 0, "message")), _text(_arg(node, 1, "hint"))
            if any(c.isalpha() for c in message):  # not a message passed through from AWS or botocore
                yield Raised(str(module), kind, message, hint, codes[kind])
        elif isinstance(node, ast.Call) and _name(node.func) in ("Problem", "ConfigRuleError"):
            field, message = _text(_arg(node, 0, "field")), _text(_arg(node, 1, "message"))
            if any(c.isalpha() for c in message):  # not a message passed through from pydantic
                yield Raised(str(module), "(any field)" if field == "…" else field or "(the file)", message, "", None)
        elif isinstance(node, ast.FunctionDef):
            yield from _validator_errors(node, module)


def _validator_errors(function: ast.FunctionDef, module: Path) -> Iterator[Raised]:
    """`raise ValueError(...)` in a pydantic field_validator: a problem reported on that field."""
    fields = [
        _text(arg)
        for d in function.decorator_list
        if isinstance(d, ast.Call) and _name(d.func) == "field_validator"
        for arg in d.args
    ]
    for node in ast.walk(function):
        if fields and isinstance(node, ast.Call) and _name(node.func) == "ValueError":
            yield Raised(str(module), ", ".join(fields), _text(_arg(node, 0, "message")), "", None)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _arg(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _text(node: ast.AST | None) -> str:
    """A message as written in the source, with `…` for what is filled in at run time."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(part) if isinstance(part, ast.Constant) else "…" for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    return "…"

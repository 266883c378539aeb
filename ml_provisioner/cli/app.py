"""The ml-provisioner application: global options, every command named (in the order `--help`
lists them) and built when it is first looked up, and the spec's `-con FILE -act ACTION` form."""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from ml_provisioner import __version__
from ml_provisioner.cli._common import ConfigsOption, Run, workspace_root
from ml_provisioner.quick_exit import one_line_unraisable, quick_exit
from ml_provisioner.workspace import ENV_VAR, Workspace

app = typer.Typer(
    name="ml-provisioner",
    help="Provision tiered, audited ML product infrastructure on AWS from a YAML config.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from ml_provisioner.lock import recorded_digest

        typer.echo(f"ml-provisioner {__version__} (lock {recorded_digest()})")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar=ENV_VAR,
            help="Folder holding configs/ policies/ templates/ reports/.",
            show_default="./ml",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and more detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", help="The AWS profile to use (as AWS_PROFILE; the AWS CLI's option).", metavar="NAME"
        ),
    ] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal (as NO_COLOR).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    # The process's settings, as the environment variables every AWS SDK and no-color.org read: each
    # session this run makes, and every message it prints, sees them.
    if profile is not None:
        if not profile.strip():
            raise typer.BadParameter("an empty profile name; name one of ~/.aws/config", param_hint="--profile")
        os.environ["AWS_PROFILE"] = profile
    if no_color:
        os.environ["NO_COLOR"] = "1"
    ctx.obj = Run(Workspace(workspace_root(workspace)), verbose=verbose, quiet=quiet)


# In the order of a product's life: look and build locally, review, deploy and watch, then set-up.
# Each command is its function in a module of ml_provisioner.cli ("module:function"): a run imports
# the module of the command it runs, and no other.
COMMANDS: dict[str, str] = {
    "list-products": "local:list_products",
    "show-product": "local:show_product",
    "validate-config": "local:validate_config",
    "create-prov-template": "local:create_prov_template",
    "validate-prov-template": "local:validate_prov_template",
    "create-policy": "review:create_policy",
    "create-review-report": "review:create_review_report",
    "seed-code": "local:seed_code",
    "show-changes": "lifecycle:show_changes",
    "deploy-product": "lifecycle:deploy_product",
    "test-deploy": "lifecycle:test_deploy",
    "check-drift": "lifecycle:check_drift",
    "delete-product": "lifecycle:delete_product",
    "bootstrap": "bootstrap:bootstrap",
    "sandbox": "sandbox:sandbox",
    "config-schema": "ecosystem:print_config_schema",
}
# The commands that are groups of their own (a typer.Typer in "module:attribute").
GROUPS: dict[str, str] = {"fleet": "fleet:fleet", "pricing": "pricing:pricing"}
# One line each in the command list (Click would cut the docstring's first sentence with "...").
SUMMARIES = {
    "config-schema": "Print the config files' JSON Schema.",
    "deploy-product": "Deploy the product through a change set.",
    "test-deploy": "Deploy an isolated copy beside the product.",
    "show-changes": "Preview (or save as a plan) what a deploy changes.",
    "check-drift": "Detect drift of the stack and its SSM outputs.",
    "delete-product": "Delete the stack; data resources are kept.",
    "list-products": "List the tiers and what each provisions.",
    "show-product": "List every resource of a config's stack.",
    "validate-config": "Check configs against schema and AWS limits.",
    "create-prov-template": "Synthesize CloudFormation templates.",
    "validate-prov-template": "cfn-lint and cdk-nag the written templates.",
    "create-policy": "Write the deployer policy and the boundary.",
    "create-review-report": "Write the HTML review of a config or plan.",
    "seed-code": "Write the product's seed code, with how to push it.",
    "sandbox": "Run a local AWS endpoint on 127.0.0.1.",
    "bootstrap": "Put boundaries and deployer roles in accounts.",
}
# Values shown as what they are, not as their Python type (<list[str]>, <path>).
METAVARS = {
    "--config": "FILE",
    "--plan": "FILE",
    "--discard": "FILE",
    "--file": "FILE",
    "--workspace": "DIR",
    "--out": "DIR",
    "--endpoint-url": "URL",
    "--role-arn": "ARN",
    "--administration-role-arn": "ARN",
    "--trust": "ARN",
    "--external-id": "ID",
    "--stack-name": "NAME",
    "--execution-role-name": "NAME",
    "--approver": "NAME",
    "--staging-bucket": "BUCKET",
    "--account": "ACCOUNT",
    "--region": "REGION",
    "--stack-set-region": "REGION",
    "--tier": "TIER",
    "--org-unit": "OU",
    "--max-concurrent": "N",
    "--api-rate": "N",
    "--port": "PORT",
    "--account-id": "ACCOUNT",
}


def _name_values(params: list[Any]) -> None:
    """typer ships its own Click: its parameters are told apart by param_type_name."""
    for param in params:
        if param.metavar is not None:
            continue
        if param.param_type_name == "option" and not param.is_flag:
            param.metavar = next((METAVARS[o] for o in param.opts if o in METAVARS), None)
        elif param.param_type_name == "argument":  # sources: typer would show <list[str]>
            param.display_type_rich = lambda ctx: "FILE|DIR|GLOB"


class _Command(typer.core.TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _name_values(self.params)


class _Group(typer.core.TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _name_values(self.params)


GROUP_SUMMARIES = {
    "fleet": "Status, plans, deploys and drift of many products.",
    "pricing": "The list prices that cost estimates use.",
}
SUBCOMMAND_SUMMARIES = {
    "fleet": {
        "status": "One row per product: stack, template, drift.",
        "plan": "show-changes for every product; saves plans.",
        "deploy": "Deploy every product (or their saved plans).",
        "drift": "check-drift for every product.",
    },
    "pricing": {"refresh": "Update the list prices from the Price List API."},
}


def _loaded(where: str) -> Any:
    """The object a "module:name" of COMMANDS or GROUPS names, its module imported now."""
    module, name = where.split(":")
    return getattr(importlib.import_module(f"ml_provisioner.cli.{module}"), name)


def _build(name: str) -> Any:
    """One command (or group) of the application, as Click runs it."""
    if name in GROUPS:
        group: typer.Typer = _loaded(GROUPS[name])
        for info in group.registered_commands:
            info.cls, info.short_help = _Command, SUBCOMMAND_SUMMARIES[name][str(info.name)]
        group.info.cls, group.info.short_help = _Group, GROUP_SUMMARIES[name]
        return typer.main.get_group(group)
    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command(name, short_help=SUMMARIES[name], cls=_Command)(_loaded(COMMANDS[name]))
    return typer.main.get_command(single)


class _Application(_Group):
    """The global options and every command, each command built when it is first looked up."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in (*COMMANDS, *GROUPS):
            self.add_command(_build(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.list_commands(ctx):  # typer suggests ("Did you mean") from those built
            for name in self.list_commands(ctx):
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


app.info.cls = _Application

_GLOBAL_FLAGS = {"--verbose", "-v", "--quiet", "-q", "--no-color"}
_GLOBAL_WITH_VALUE = {"--workspace", "-w", "--profile"}


_CONFIG_OPTIONS = {"--config", "-c"}
_ACTIONS = {*COMMANDS, *GROUPS}


def _takes_many_configs(action: str | None) -> bool:
    """Whether the action's `config` is ConfigsOption (several configs)."""
    if action not in COMMANDS:
        return False
    parameters = inspect.signature(_loaded(COMMANDS[action]), eval_str=True).parameters
    return "config" in parameters and parameters["config"].annotation == ConfigsOption


class SpecFormError(ValueError):
    """A command line in the spec's form that names no action."""


class _FollowingConfig(str):
    """A config file given after another one to the same option (as a shell expands *.yaml)."""


def spec_argv(argv: list[str]) -> list[str]:
    """Accept the spec's `-con FILE -act ACTION` form (`-con=FILE`, `-act=ACTION`, and the action
    named without -act right after the config's file), several config files after one
    -con/--config/-c where the action takes several, and global options anywhere on the line:
    rewrite to `[global options] ACTION --config FILE [--config FILE ...] [options]`."""
    globals_: list[str] = []
    rest: list[str] = []
    act: str | None = None
    spec_form, after_config = False, False
    action_slot: int | None = None  # where an action named without -act may stand: after the config's file(s)
    args = iter(argv)
    for arg in args:
        option, equals, inline = arg.partition("=")
        named_inline = bool(equals) and option in ("-act", "-con", *_CONFIG_OPTIONS)
        name, value = (option, inline) if named_inline else (arg, None)
        if name == "-act":
            act, after_config = _value_of(name, value, args, "an action, e.g. -act validate-config"), False
        elif name == "-con" or name in _CONFIG_OPTIONS:
            spec_form = spec_form or name == "-con"
            rest += ["--config", _value_of(name, value, args, "a config file")]
            after_config, action_slot = True, len(rest) + 1
        elif after_config and not arg.startswith("-") and arg.endswith((".yaml", ".yml")):
            rest.append(_FollowingConfig(arg))
            action_slot = len(rest) + 1
        elif arg in _GLOBAL_FLAGS:
            globals_.append(arg)
        elif arg in _GLOBAL_WITH_VALUE:
            globals_ += [arg, next(args, "")]
        elif arg.startswith(("--workspace=", "--profile=")):
            globals_.append(arg)
        else:
            after_config = False
            rest.append(arg)
    if act is None and not (rest and rest[0] in _ACTIONS):
        slot = None if action_slot is None else action_slot - 1
        if slot is not None and slot < len(rest) and rest[slot] in _ACTIONS:
            act = rest.pop(slot)
        elif spec_form:
            raise SpecFormError(
                "-con FILE needs an action: -act ACTION, e.g. -act validate-config "
                f"(one of: {', '.join(sorted(COMMANDS))})"
            )
    action = act or next((a for a in rest if a in _ACTIONS), None)
    # an action of one config leaves a second file where it is: typer then names it as unexpected
    many = any(isinstance(a, _FollowingConfig) for a in rest) and _takes_many_configs(action)
    expanded = [
        part for a in rest for part in (["--config", str(a)] if isinstance(a, _FollowingConfig) and many else [str(a)])
    ]
    return globals_ + ([act] if act else []) + expanded


def _value_of(option: str, inline: str | None, args: Iterator[str], what: str) -> str:
    """An option's value, given as `option=value` or as the next argument; never another option."""
    value = inline if inline is not None else next(args, None)
    if not value or value.startswith("-"):
        raise SpecFormError(f"{option} needs {what}" + (f", not {value}" if value else ""))
    return value


def run() -> None:
    """The ml-provisioner command: main(), then the process ends without the interpreter's
    teardown (quick_exit). SIGTERM (a cancelled CI job, `docker stop`) is taken as Ctrl-C, so
    that it cleans up as Ctrl-C does."""
    code: int | str | None = 0
    sys.unraisablehook = one_line_unraisable
    if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
        signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        main()
    except SystemExit as stop:
        code = stop.code
    if isinstance(code, int | None):
        quick_exit(code or 0)
    sys.exit(code)  # a message, printed as Python prints it


def _as_ctrl_c(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    try:
        args = spec_argv(list(sys.argv[1:] if argv is None else argv))
    except SpecFormError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    app(args=args, prog_name="ml-provisioner")

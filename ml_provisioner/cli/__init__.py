"""The ml-provisioner command line: `ml-provisioner ACTION --config FILE`, or the spec's own
form `ml-provisioner -con FILE -act ACTION`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ml_provisioner import __version__
from ml_provisioner.cli._common import Session, workspace_root
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
        typer.echo(f"ml-provisioner {__version__}")
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
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = Session(Workspace(workspace_root(workspace)), verbose=verbose, quiet=quiet)


def _register_commands() -> None:
    """Every public module of this package registers its commands on `app` when imported."""
    import importlib
    import pkgutil

    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
        importlib.import_module(f"{__name__}.{module}")


_register_commands()

_GLOBAL_FLAGS = {"--verbose", "-v", "--quiet", "-q"}
_GLOBAL_WITH_VALUE = {"--workspace", "-w"}


def spec_argv(argv: list[str]) -> list[str]:
    """Accept the spec's `-con FILE -act ACTION` form and global options anywhere on the line:
    rewrite to `[global options] ACTION --config FILE [options]`."""
    globals_, rest, act = [], [], None
    args = iter(argv)
    for arg in args:
        if arg == "-act":
            act = next(args, None)
        elif arg == "-con":
            rest += ["--config", next(args, "")]
        elif arg in _GLOBAL_FLAGS:
            globals_.append(arg)
        elif arg in _GLOBAL_WITH_VALUE:
            globals_ += [arg, next(args, "")]
        elif arg.startswith("--workspace="):
            globals_.append(arg)
        else:
            rest.append(arg)
    return globals_ + ([act] if act else []) + rest


def main(argv: list[str] | None = None) -> None:
    app(args=spec_argv(list(sys.argv[1:] if argv is None else argv)), prog_name="ml-provisioner")

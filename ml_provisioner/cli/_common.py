"""What every command shares: its run (workspace, verbosity, output), errors -> exit codes."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from ml_provisioner.config.loader import ConfigError, LoadedConfig, load_config
from ml_provisioner.errors import EXIT_BAD_INPUT, EXIT_FAILED, ProvisionerError
from ml_provisioner.image import require_image_tier
from ml_provisioner.workspace import Workspace

ConfigOption = Annotated[
    str, typer.Option("--config", "-c", help="Config file: a path, or a file name in the workspace's configs/.")
]
ConfigsOption = Annotated[
    list[str], typer.Option("--config", "-c", help="Config file(s); repeat the option for several.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
FreshOption = Annotated[
    bool,
    typer.Option(
        "--fresh", help="Synthesize again even when templates/<config>.yaml is current (its fingerprint matches)."
    ),
]
EndpointOption = Annotated[
    str | None,
    # No envvar: botocore reads AWS_ENDPOINT_URL itself, and AWS_ENDPOINT_URL_<SERVICE> then still wins over it
    typer.Option(
        "--endpoint-url",
        help="One AWS endpoint for every service, e.g. the local sandbox's URL (default: AWS_ENDPOINT_URL, "
        "AWS_ENDPOINT_URL_<SERVICE> and the config file's endpoint_url, as for every AWS tool).",
    ),
]


def options_as(into: str, make: Callable[..., Any], options: Sequence[tuple[str, Any, Any]]) -> Callable[[Any], Any]:
    """A decorator for commands that share options: they are declared here once, as (name,
    annotation, default), and the command receives them as one parameter ``into`` made by
    ``make(**options)``. Typer declares an option per parameter of the signature it reads, so in
    that signature ``into`` is replaced by the options (after the command's own)."""
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        for name, annotation, default in options
    ]
    names = [name for name, _, _ in options]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != into]

        @functools.wraps(command)
        def with_options(*args: Any, **kw: Any) -> None:
            command(*args, **{into: make(**{name: kw.pop(name) for name in names})}, **kw)

        signature = inspect.Signature([*own, *shared])
        with_options.__signature__ = signature  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return with_options

    return decorate


@dataclass
class Run:
    """One command's run: where it works, how much it prints, what it logs when it ends."""

    workspace: Workspace
    verbose: bool = False
    quiet: bool = False
    summary: str = "ok"
    configs: list[str] = field(default_factory=list)
    json_written: bool = False  # --json: stdout holds one document, the result's or the error's
    where: str = ""  # who ran it where, once an AWS session exists: caller=<ARN> account=<id> region=<region>

    # -- output -------------------------------------------------------------------------------
    def out(self, text: str = "") -> None:
        if not self.quiet:
            typer.echo(text)

    def result(self, text: str) -> None:
        """The one line a command always prints, even with --quiet."""
        typer.echo(text)

    def json(self, data: Any) -> None:
        self.json_written = True
        typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))

    def note(self, text: str) -> None:
        """Progress for a person, on stderr: stdout stays the result alone (a table, or --json)."""
        if not self.quiet:
            typer.echo(text, err=True)

    def warn(self, text: str) -> None:
        typer.echo(_style(f"warning: {text}", "yellow"), err=True)

    def load(self, given: str, *, strict_file_name: bool = False) -> LoadedConfig:
        path = self.workspace.resolve_config(given)
        self.configs.append(str(path))
        loaded = load_config(path, strict_file_name=strict_file_name)
        for warning in loaded.warnings:
            self.warn(warning.render(path))
        require_image_tier(str(path), loaded.config.tier)  # a tier image serves its own tier only
        return loaded


def current_run(ctx: typer.Context) -> Run:
    run: Run = ctx.find_root().obj
    return run


@contextmanager
def action(ctx: typer.Context, name: str) -> Iterator[Run]:
    """Run one action: map every failure to an exit code with a one-line cause and a hint,
    print a traceback only with --verbose, and log the outcome to reports/execution.log."""
    run = current_run(ctx)
    as_json = bool(ctx.params.get("as_json"))
    code = 0
    unlogged = run.workspace.log_started(name)  # a "started" line first: a killed run leaves a trace
    if unlogged:
        run.warn(unlogged)

    def failed(message: str, hint: str | None, **details: Any) -> None:
        """The error on stderr for a person; under --json also as the one document on stdout."""
        if hint:
            _hint(hint)
        if as_json and not run.json_written:
            run.json({"error": message, "hint": hint, "exit_code": code, **details})

    try:
        yield run
    except typer.Exit as exit_:
        code = exit_.exit_code
        raise
    except ConfigError as error:
        code = EXIT_BAD_INPUT
        run.summary = f"invalid config ({len(error.problems)} problem(s))"
        for problem in error.problems:
            _error(problem.render(error.path))
        failed(
            run.summary,
            "fix the fields above; `ml-provisioner config-schema` lists every field and its allowed values",
            problems=[problem.render(error.path) for problem in error.problems],
        )
        raise typer.Exit(code) from None
    except ProvisionerError as error:
        code = error.exit_code
        run.summary = error.message
        _error(error.message)
        failed(error.message, error.hint)
        if run.verbose:
            traceback.print_exc()
        raise typer.Exit(code) from None
    except KeyboardInterrupt:
        code = 130
        run.summary = "interrupted"
        _error("interrupted")
        failed("interrupted", None)
        raise typer.Exit(code) from None
    except Exception as error:  # noqa: BLE001 - the last line of defence: never a bare traceback
        code = EXIT_FAILED
        run.summary = f"{type(error).__name__}: {error}"
        _error(f"{name} failed: {type(error).__name__}: {error}")
        if run.verbose:
            traceback.print_exc()
        verbose_hint = None if run.verbose else "run again with --verbose for the traceback"
        failed(f"{name} failed: {type(error).__name__}: {error}", verbose_hint)
        raise typer.Exit(code) from None
    finally:
        unlogged_outcome = run.workspace.log_execution(name, run.configs, code, run.summary, run.where)
        if unlogged_outcome and not unlogged:
            run.warn(unlogged_outcome)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain, aligned text table (stable output for logs and tests)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def use_color() -> bool:
    return sys.stderr.isatty() and not os.environ.get("NO_COLOR")  # no-color.org: a non-empty value


def _style(text: str, color: str) -> str:
    return typer.style(text, fg=color) if use_color() else text


def _error(text: str) -> None:
    typer.echo(_style(f"error: {text}", "red"), err=True)


def _hint(text: str) -> None:
    typer.echo(f"hint: {text}", err=True)


def workspace_root(value: Path | None) -> Path:
    from ml_provisioner.workspace import DEFAULT_ROOT, ENV_VAR

    return value or Path(os.environ.get(ENV_VAR) or DEFAULT_ROOT)

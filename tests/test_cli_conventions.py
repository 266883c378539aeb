"""Conventions every command follows: --version, shell completion, --json on every read command
(stdout then holds only JSON, in the spec's -con/-act form too), --quiet, errors as cause + hint
with exit code 2 for bad input and the traceback only with --verbose, and colour only on a
terminal and never with NO_COLOR."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ml_provisioner import __version__
from ml_provisioner.cli import app, spec_argv
from ml_provisioner.errors import EXIT_BAD_INPUT
from ml_provisioner.lock import digest_of
from tests.conftest import PROJECT, example
from tests.support.processes import closed_local_url, read_fd_until, run_cli

STARTER = example("techcorp codecommit")
READ_VERBS = ("list-", "show-", "validate-", "check-")  # commands that report and change nothing
RED = "\x1b[31m"


def run(*args: str, workspace: Path) -> typer.testing.Result:
    """The CLI as `main()` runs it: the spec's form rewritten, in a throwaway workspace."""
    return CliRunner().invoke(app, spec_argv(["--workspace", str(workspace), *args]), prog_name="ml-provisioner")


def commands() -> dict[str, typer.core.TyperCommand]:
    group = typer.main.get_command(app)
    root = group.context_class(group, info_name="ml-provisioner")
    return {name: group.get_command(root, name) for name in group.list_commands(root)}


def test_version(tmp_path):
    result = run("--version", workspace=tmp_path)
    assert result.exit_code == 0
    assert result.stdout == f"ml-provisioner {__version__} (lock {digest_of(PROJECT / 'lock')})\n"


def test_shell_completion_is_offered_and_completes_commands_and_options():
    help_text = CliRunner().invoke(app, ["--help"]).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    # The real entry point, as a user's shell runs it (in-process, other tests' state can leak in).
    cli = str(Path(sys.executable).parent / "ml-provisioner")
    # --show-completion names the shell it runs under (found among its parent processes): run it
    # from bash, as a user does (`; true` keeps bash from replacing itself with the command).
    completed_script = subprocess.run(
        ["bash", "-c", f"'{cli}' --show-completion; true"], capture_output=True, text=True, timeout=60
    )
    script = completed_script.stdout
    assert "complete -o default -F _ml_provisioner_completion ml-provisioner" in script, completed_script.stderr
    # What the installed script asks the real entry point when the user presses Tab:
    for words, cword, expected in (
        ("ml-provisioner show-", "1", {"show-product"}),
        ("ml-provisioner show-product --", "2", {"--config", "--json"}),
    ):
        env = {**os.environ, "_ML_PROVISIONER_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        completed = subprocess.run([cli], env=env, capture_output=True, text=True, timeout=60, check=True)
        assert expected <= set(completed.stdout.split()), completed.stdout


def test_every_read_command_has_json():
    """config-schema is left out: what it prints is JSON with or without a flag."""
    read = {
        name: command
        for name, command in commands().items()
        if name.startswith(READ_VERBS) or name == "create-prov-template"
    }
    assert {"list-products", "show-product", "validate-config", "validate-prov-template"} <= set(read)
    missing = [name for name, command in read.items() if not any("--json" in p.opts for p in command.params)]
    assert missing == []


@pytest.mark.parametrize(
    "args",
    [
        ("list-products",),
        ("show-product", "-c", str(STARTER)),
        ("validate-config", "-c", str(STARTER)),
        ("config-schema",),
        ("-con", str(STARTER), "-act", "show-product"),
    ],
    ids=lambda args: " ".join(a for a in args if not a.startswith("/")),
)
def test_json_output_is_only_json_on_stdout(tmp_path, args):
    result = run(*args, *(["--json"] if args[0] != "config-schema" else []), workspace=tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)
    assert result.stderr == ""


def test_quiet_prints_only_the_result(tmp_path):
    normal = run("show-product", "-c", str(STARTER), workspace=tmp_path).stdout
    quiet = run("-q", "show-product", "-c", str(STARTER), workspace=tmp_path).stdout
    result = (
        "13 resources (+1 TLS-only bucket policy); SSM outputs under /ml-provisioner/techcorp-prod-a001-customer-churn/"
    )
    assert "AWS::CodePipeline::Pipeline" in normal and result in normal  # the resource table, then the result
    # the table is show-product's result: --quiet drops only the heading line above it
    heading = "techcorp-prod-a001-customer-churn--ml  (starter tier, region us-west-2)"
    assert [line for line in quiet.splitlines() if line] == [
        line for line in normal.splitlines() if line and line != heading
    ]
    assert heading in normal and heading not in quiet


def test_errors_give_cause_and_hint_and_the_traceback_only_with_verbose(tmp_path):
    plain = run("validate-prov-template", "-c", str(STARTER), workspace=tmp_path)
    assert plain.exit_code == EXIT_BAD_INPUT
    assert plain.stderr.startswith("error: template not found: ")
    assert "\nhint: run `ml-provisioner create-prov-template --config" in plain.stderr
    assert "Traceback" not in plain.stderr
    verbose = run("-v", "validate-prov-template", "-c", str(STARTER), workspace=tmp_path)
    assert verbose.exit_code == EXIT_BAD_INPUT
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "exit=2" in (tmp_path / "reports" / "execution.log").read_text()


def _stderr_on_a_terminal(tmp_path: Path, *flags: str, **env: str) -> str:
    """Run a failing command with stderr attached to a pseudo-terminal; return what it printed there."""
    bad = tmp_path / STARTER.name
    bad.write_text(STARTER.read_text().replace("tier: starter", "tier: gold"))
    primary, secondary = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ml_provisioner",
            "--workspace",
            str(tmp_path),
            *flags,
            "validate-config",
            "-c",
            str(bad),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        env={**base, **env},
        cwd=PROJECT,
    )
    os.close(secondary)
    try:
        output = read_fd_until(primary, None)  # the terminal closes when the process exits
        assert process.wait(timeout=60) == EXIT_BAD_INPUT
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    return output


def test_errors_are_red_on_a_terminal_and_plain_with_no_color(tmp_path):
    assert RED in _stderr_on_a_terminal(tmp_path)
    no_color = _stderr_on_a_terminal(tmp_path, NO_COLOR="1")
    assert "error: " in no_color and "\x1b[" not in no_color
    option = _stderr_on_a_terminal(tmp_path, "--no-color")  # the option, as the variable
    assert "error: " in option and "\x1b[" not in option


def test_no_colour_when_output_is_not_a_terminal(tmp_path):
    bad = tmp_path / STARTER.name
    bad.write_text(STARTER.read_text().replace("tier: starter", "tier: gold"))
    result = run("validate-config", "-c", str(bad), workspace=tmp_path)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "error: " in result.stderr and "\x1b[" not in result.stderr


def _json_commands() -> list[list[str]]:
    """Every command (fleet's included) that has --json, as the words that name it."""
    from ml_provisioner.cli import app as typer_app

    root = typer.main.get_command(typer_app)
    found = []

    def visit(command: typer.core.TyperCommand, path: list[str]) -> None:
        if hasattr(command, "list_commands"):  # a group: its commands as Click lists and looks them up
            context = typer.Context(command)
            for name in command.list_commands(context):
                visit(command.get_command(context, name), [*path, name])
        elif any("--json" in getattr(p, "opts", []) for p in command.params):
            found.append(path)

    visit(root, [])
    return found


def test_every_json_command_keeps_stdout_one_json_document_even_when_it_fails(tmp_path):
    """--json: stdout holds one JSON document and nothing else; a failure is {"error", "hint",
    "exit_code"} there (and a line for a person on stderr), so `json.load` never breaks."""
    commands = _json_commands()
    assert len(commands) >= 14, commands
    for command in commands:
        target = (
            ["--file", "no-such.json"]  # pricing refresh reads a price file, not a config
            if command[0] == "pricing"
            else ["ml/configs/no-such-*.yaml"]
            if command[0] in ("fleet", "bootstrap")
            else ["-c", "no-such.yaml"]
        )
        result = run(*command, *target, "--json", workspace=tmp_path)
        assert result.exit_code != 0, command
        document = json.loads(result.stdout)  # one document, nothing before or after it
        assert isinstance(document, dict) and document["error"], (command, result.stdout)
        assert document["exit_code"] == result.exit_code, command
        assert "error: " in result.stderr, command


def test_profile_is_the_aws_clis_option_before_or_after_the_action(tmp_path):
    """--profile NAME, as with the AWS CLI (before or after the action, spec form included), is the
    profile every AWS session of the run uses: a missing one is named in the error."""
    workspace = tmp_path / "ml"
    (workspace / "configs").mkdir(parents=True)
    config = example("techcorp s3")
    (workspace / "configs" / config.name).write_text(config.read_text())
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    (tmp_path / "config").write_text("[profile team]\nregion = us-west-2\n")
    for argv in (
        ["--profile", "nowhere", "check-drift", "-c", config.name],
        ["-con", config.name, "-act", "check-drift", "--profile", "nowhere"],
    ):
        done = run_cli(workspace, *argv, env={**environment, "AWS_ENDPOINT_URL": closed_local_url()})
        assert done.returncode == 1, done.stderr
        assert "The config profile (nowhere) could not be found" in done.stderr
        assert "check --profile" in done.stderr and "Traceback" not in done.stderr
    # an empty name is not "the default profile": it is refused, naming the option
    done = run_cli(workspace, "--profile", "", "check-drift", "-c", config.name, env=environment)
    assert done.returncode == 2 and "--profile" in done.stderr and "empty profile name" in done.stderr


def test_every_aws_cli_command_a_hint_offers_names_its_region():
    """A hint pasted into a shell whose default region is another would look at the wrong stack
    (or at none)."""
    import re

    for path in sorted((Path(__file__).parent.parent / "ml_provisioner").rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"aws cloudformation (?!activate-organizations-access)[a-z-]+ ", text):
            statement = text[match.start() : text.find(")", match.start())]  # to the end of the call
            assert "--region" in statement, f"{path.name}: {text[match.start() : match.start() + 80]!r}"


def test_help_names_values_as_what_they_are_and_summaries_are_whole():
    """FILE, ARN, N and the like, never a Python type (<list[str]>, <str>, <path>); a command's
    one-line summary is never cut with "..."."""
    import re

    from ml_provisioner.cli.app import COMMANDS

    helps = [["--help"], ["fleet", "--help"]]
    helps += [[name, "--help"] for name in COMMANDS]
    helps += [["fleet", name, "--help"] for name in ("status", "plan", "deploy", "drift")]
    for args in helps:
        result = CliRunner().invoke(app, args, terminal_width=100)
        assert result.exit_code == 0, (args, result.output)
        assert not re.search(r"<(str|int|float|path|list\[str\]|int range|float range)>", result.output), (
            args,
            result.output,
        )
        listed = result.output.split("Commands:")[-1] if "Commands:" in result.output else ""
        assert not [line for line in listed.splitlines() if line.rstrip().endswith("...")], (args, listed)

"""The local CLI actions: exit codes, messages, files written, and the spec's `-con/-act` form."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ml_provisioner.cli import app, spec_argv
from tests.conftest import PROJECT, example

STARTER = example("techcorp s3")
ENTERPRISE = example("globalbank codecommit sgprov direct")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh ./ml workspace holding two example configs, as in the spec's directory setup."""
    monkeypatch.chdir(tmp_path)
    configs = tmp_path / "ml" / "configs"
    configs.mkdir(parents=True)
    for path in (STARTER, ENTERPRISE):
        (configs / path.name).write_text(path.read_text())
    return tmp_path / "ml"


def run(*args: str):
    result = CliRunner().invoke(app, spec_argv(list(args)))
    return result.exit_code, result.stdout, result.stderr


def test_list_products_shows_the_three_tiers(workspace):
    code, out, _ = run("list-products")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[2:5]] == ["starter", "professional", "enterprise"]
    assert "38-40 / 35-37" in out


def test_spec_form_con_act_is_accepted_and_config_is_found_in_the_workspace(workspace):
    code, out, _ = run("-con", STARTER.name, "-act", "show-product")
    assert code == 0
    assert "techcorp-prod-a001-customer-churn--ml  (starter tier, region us-west-2)" in out
    assert "10 resources (+1 TLS-only bucket policy)" in out


def test_spec_argv_moves_global_options_before_the_action():
    assert spec_argv(["-con", "x.yaml", "-act", "deploy-product", "--force", "--verbose"]) == [
        "--verbose",
        "deploy-product",
        "--config",
        "x.yaml",
        "--force",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["-con=x.yaml", "-act=validate-config"],
        ["-con", "x.yaml", "validate-config"],
        ["validate-config", "-con", "x.yaml"],
    ],
    ids=["with-equals", "action-named-without-act", "action-first"],
)
def test_the_spec_form_names_only_what_the_user_typed(argv):
    assert spec_argv(argv) == ["validate-config", "--config", "x.yaml"]


def test_an_action_word_elsewhere_on_the_line_is_never_taken_for_the_action():
    """Only -act, the first word or the word right after the config's file names the action: an
    option's value that happens to be an action's name (a file, a plan) never runs that action."""
    from ml_provisioner.cli.app import SpecFormError

    assert spec_argv(["-con", "a.yaml", "-c", "deploy-product", "show-product"])[0] == "show-product"
    with pytest.raises(SpecFormError, match="needs an action"):
        spec_argv(["-con", "a.yaml", "--plan", "deploy-product", "show-changes"])
    assert spec_argv(["-c", "a.yaml", "show-product"]) == ["show-product", "--config", "a.yaml"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["-con=a.yaml", "-act="], "-act needs an action"),
        (["-con", "-act", "validate-config"], "-con needs a config file, not -act"),
        (["-con", ""], "-con needs a config file"),
        (["show-product", "-c"], "-c needs a config file"),
    ],
)
def test_a_missing_value_is_named_not_taken_from_the_next_option(argv, said):
    from ml_provisioner.cli.app import SpecFormError

    with pytest.raises(SpecFormError, match=re.escape(said)):
        spec_argv(argv)


def test_con_without_an_action_says_which_actions_there_are(capsys):
    from ml_provisioner.cli.app import main

    with pytest.raises(SystemExit) as exited:
        main(["-con", "x.yaml"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "error: -con FILE needs an action: -act ACTION" in err and "validate-config" in err
    assert "No such option" not in err


def test_several_configs_after_one_option_as_a_shell_expands_a_glob(workspace):
    code, out, err = run("validate-config", "-c", STARTER.name, ENTERPRISE.name)
    assert code == 0, err
    assert out.count(": valid ") == 2
    # an action of one config names the second one as unexpected, never drops it
    code, _, err = run("show-product", "-c", STARTER.name, ENTERPRISE.name)
    assert code == 2 and f"unexpected extra argument(s) ({ENTERPRISE.name})" in err


def test_a_config_file_may_have_any_name_and_strict_names_refuses_it_for_ci(workspace):
    (workspace / "configs" / "prod.yaml").write_text(STARTER.read_text())
    code, out, err = run("validate-config", "-c", "prod.yaml")
    assert code == 0 and ": valid starter config" in out
    assert f"warning: ml/configs/prod.yaml: file name does not match its content: expected {STARTER.name}" in err
    code, out, err = run("validate-config", "-c", "prod.yaml", "--strict-names")
    assert code == 2 and f"file name does not match its content: expected {STARTER.name}" in err


def test_quiet_show_product_keeps_its_table(workspace):
    code, out, _ = run("-q", "show-product", "-c", STARTER.name)
    assert code == 0
    assert "AWS::CodeBuild::Project" in out and "10 resources (+1 TLS-only bucket policy)" in out


def test_show_product_json_lists_every_resource_with_physical_names(workspace):
    import hashlib
    import json

    code, out, _ = run("show-product", "--config", ENTERPRISE.name, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["resource_count"] == 38
    account_digest = hashlib.sha256(b"345678901234").hexdigest()[:4]
    assert {
        "construct": "StarterCore",
        "type": "AWS::S3::Bucket",
        "purpose": "artifacts bucket (and S3 source)",
        "physical_name": f"globalbank-prod-c001-demand-forecasting--euw1-{account_digest}",
    } in shown["resources"]


def test_validate_config_accepts_the_examples(workspace):
    code, out, _ = run("validate-config", "-c", STARTER.name, "-c", ENTERPRISE.name)
    assert code == 0
    assert out.count(": valid ") == 2


def test_bad_config_exits_2_naming_file_field_line_and_what_is_allowed(workspace):
    data = yaml.safe_load(STARTER.read_text())
    data["environment"]["region"] = "mars-east-1"
    data["client"]["account_id"] = "12"
    bad = workspace / "configs" / STARTER.name
    bad.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = run("validate-config", "--config", STARTER.name)
    assert code == 2
    assert out == ""
    assert f"error: ml/configs/{STARTER.name}:5: client.account_id: '12' must be exactly 12 digits" in err
    assert "environment.region: 'mars-east-1' is not an AWS region" in err
    assert "Traceback" not in err


def test_missing_config_exits_2_with_a_hint(workspace):
    code, _, err = run("show-product", "--config", "nope.yaml")
    assert code == 2
    assert "error: config nope.yaml: no such file" in err
    assert f"hint: configs in {os.path.join('ml', 'configs')}: {ENTERPRISE.name}" in err


def test_usage_errors_exit_2(workspace):
    code, _, err = run("show-product")
    assert code == 2
    assert "Missing option '--config'" in err


def test_workspace_comes_from_option_or_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere" / "configs").mkdir(parents=True)
    (tmp_path / "elsewhere" / "configs" / STARTER.name).write_text(STARTER.read_text())
    assert run("--workspace", "elsewhere", "validate-config", "-c", STARTER.name)[0] == 0
    monkeypatch.setenv("ML_PROVISIONER_WORKSPACE", str(tmp_path / "elsewhere"))
    assert run("validate-config", "-c", STARTER.name)[0] == 0
    log = (tmp_path / "elsewhere" / "reports" / "execution.log").read_text()
    assert log.count("action=validate-config") == 4  # a started line and an outcome line per run
    assert log.count(" exit=0 ") == 2


def test_create_prov_template_writes_templates_for_several_configs_in_one_run(workspace, synthesized):
    code, out, _ = run("create-prov-template", "-c", STARTER.name, "-c", ENTERPRISE.name)
    assert code == 0
    for path in (STARTER, ENTERPRISE):
        written = workspace / "templates" / f"{path.stem}.yaml"
        assert written.read_text() == synthesized[path.stem].template_yaml(), "same bytes as any other synthesis"
        assert str(written.relative_to(workspace.parent)) in out
    log = (workspace / "reports" / "execution.log").read_text()
    assert "action=create-prov-template exit=0" in log and "2 template(s) written" in log


def test_validate_prov_template_runs_cfn_lint_and_cdk_nag(workspace, synthesized):
    assert run("create-prov-template", "-c", STARTER.name)[0] == 0
    code, out, _ = run("validate-prov-template", "-c", STARTER.name)
    assert code == 0
    acknowledged = len(synthesized[STARTER.stem].acknowledged)  # each with its reason in the template
    assert acknowledged >= 30
    assert f"0 error(s), 0 warning(s), {acknowledged} acknowledged cdk-nag finding(s)" in out


def test_validate_prov_template_without_a_template_says_to_create_it(workspace):
    code, _, err = run("validate-prov-template", "-c", STARTER.name)
    assert code == 2
    assert f"run `ml-provisioner create-prov-template --config {STARTER.name}` first" in err


@pytest.mark.synth
def test_validate_prov_template_fails_on_a_broken_or_stale_template(workspace):
    assert run("create-prov-template", "-c", STARTER.name)[0] == 0
    template = workspace / "templates" / f"{STARTER.stem}.yaml"
    data = yaml.safe_load(template.read_text())
    bucket = next(r for r in data["Resources"].values() if r["Type"] == "AWS::S3::Bucket")
    bucket["Properties"]["VersioningConfiguration"] = {"Status": "Sometimes"}
    template.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = run("validate-prov-template", "-c", STARTER.name)
    assert code == 1
    assert "cfn-lint   error" in out and "'Sometimes' is not one of ['Enabled', 'Suspended']" in out
    assert "not current: it was edited after it was synthesized; run create-prov-template" in out
    assert "error: 2 error(s) in the template(s)" in err


def test_commands_that_need_no_template_never_start_the_jsii_kernel(workspace):
    """list-products, show-product and validate-config must not import aws_cdk (seconds of startup)."""
    printed = in_a_fresh_process(
        "config = sys.argv[1]\n"
        "for argv in (['list-products'], ['show-product', '-c', config], ['validate-config', '-c', config]):\n"
        "    try: main(argv)\n"
        "    except SystemExit as e: assert e.code == 0, (argv, e.code)\n"
        "assert 'aws_cdk' not in sys.modules and 'jsii' not in sys.modules and 'boto3' not in sys.modules\n"
        "print('no-cdk')",
        workspace,
    )
    assert printed.endswith("no-cdk")


def in_a_fresh_process(probe: str, workspace) -> str:
    """Run probe (with sys and the CLI's main imported, the starter config as sys.argv[1]) in a new
    Python process beside the workspace: what it printed, once it exited 0."""
    code = "import sys; from ml_provisioner.cli import main\n" + probe
    done = subprocess.run(
        [sys.executable, "-c", code, str(STARTER)], capture_output=True, text=True, cwd=workspace.parent, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_run_imports_the_module_of_its_own_command_and_no_other(workspace):
    """Start-up is paid on every command: validate-config loads none of the deploy, fleet, review
    or bootstrap commands (and `--help`, which lists them all, still names every one)."""
    printed = in_a_fresh_process(
        "try: main(['validate-config', '-c', sys.argv[1]])\n"
        "except SystemExit as e: assert e.code == 0, e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('ml_provisioner.cli.')))",
        workspace,
    )
    loaded = printed.splitlines()[-1]
    assert "ml_provisioner.cli.local" in loaded
    for other in ("lifecycle", "fleet", "review", "bootstrap", "pricing", "sandbox", "ecosystem"):
        assert f"ml_provisioner.cli.{other}'" not in loaded, loaded
    listed = CliRunner().invoke(app, ["--help"]).output
    assert all(name in listed for name in ("deploy-product", "fleet", "bootstrap", "create-policy"))


def test_a_mistyped_command_is_answered_with_the_one_meant():
    for typo, meant in (("validate-confg", "validate-config"), ("deploy-prodcut", "deploy-product"), ("flet", "fleet")):
        result = CliRunner().invoke(app, [typo])
        assert result.exit_code == 2
        assert f"No such command '{typo}'. Did you mean '{meant}'" in result.output


@pytest.mark.synth
def test_a_synthesis_keeps_its_exit_code_and_leaves_no_kernel_or_temporary_files(tmp_path):
    """After a synthesis the process ends without the interpreter's teardown: its exit code, its
    output and the jsii kernel's shutdown (which removes its temporary files) must all survive that."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = os.environ | {"TMPDIR": str(temporary)}
    workspace = tmp_path / "ws"
    (workspace / "configs").mkdir(parents=True)
    (workspace / "configs" / STARTER.name).write_text(STARTER.read_text())

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "ml_provisioner", "--workspace", str(workspace), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    done = cli("create-prov-template", "-c", STARTER.name)
    assert done.returncode == 0, done.stderr
    assert f"{STARTER.stem}.yaml: " in done.stdout and (workspace / "templates" / f"{STARTER.stem}.yaml").is_file()
    assert list(temporary.iterdir()) == []

    (workspace / "templates" / f"{STARTER.stem}.yaml").unlink()
    (workspace / "templates" / f"{STARTER.stem}.yaml").mkdir()  # synthesized, then not writable
    failed = cli("create-prov-template", "-c", STARTER.name)
    assert failed.returncode == 2, failed.stderr
    assert "error: cannot write to" in failed.stderr
    assert list(temporary.iterdir()) == []


def _synthesis_signalled(tmp_path, python_on_sigint, sent=signal.SIGINT, *, to_the_group=True, when="jsii-kernel-*"):
    """create-prov-template, with a signal (SIGINT: Ctrl-C in a terminal) sent to its whole
    process group (else to the Python process alone, as `kill PID` does) once a temporary file
    named like `when` is there (by default: once the jsii kernel has started); the Python process
    takes SIGINT as python_on_sigint says. Returns how it ended, its temporary folder and its
    workspace."""
    temporary, workspace = tmp_path / "tmp", tmp_path / "ws"
    temporary.mkdir()
    (workspace / "configs").mkdir(parents=True)
    (workspace / "configs" / STARTER.name).write_text(STARTER.read_text())
    command = [sys.executable, "-m", "ml_provisioner", "--workspace", str(workspace)]
    process = subprocess.Popen(
        [*command, "create-prov-template", "-c", STARTER.name],
        env=os.environ | {"TMPDIR": str(temporary)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, python_on_sigint),
    )
    deadline = time.monotonic() + 120
    while not list(temporary.rglob(when)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, f"the synthesis ended before {when} was seen"
    (os.killpg if to_the_group else os.kill)(process.pid, sent)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), temporary, workspace


@pytest.mark.synth
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_ctrl_c_during_a_synthesis_exits_130_and_leaves_no_template_or_temporary_files(tmp_path, sent):
    ended, temporary, workspace = _synthesis_signalled(tmp_path, signal.SIG_DFL, sent)
    assert ended.returncode == 130
    assert "error: interrupted" in ended.stderr
    assert "Traceback" not in ended.stderr and "warning" not in ended.stderr
    assert not (workspace / "templates").exists() or list((workspace / "templates").iterdir()) == []
    assert list(temporary.iterdir()) == []


@pytest.mark.synth
def test_sigterm_to_the_python_process_alone_exits_130_and_leaves_nothing(tmp_path):
    """`kill PID`, `docker stop`: only Python is signalled, node runs on until the kernel's
    shutdown; all the synthesis writes is inside the kernel's folder, removed after that."""
    ended, temporary, workspace = _synthesis_signalled(
        tmp_path, signal.SIG_DFL, signal.SIGTERM, to_the_group=False, when="ml-provisioner-synth-*"
    )
    assert ended.returncode == 130, ended.stderr
    assert "error: interrupted" in ended.stderr and "Traceback" not in ended.stderr
    assert not (workspace / "templates").exists() or list((workspace / "templates").iterdir()) == []
    assert list(temporary.iterdir()) == []


@pytest.mark.synth
def test_a_kernel_ended_from_outside_is_named_and_leaves_nothing(tmp_path):
    """Node ended while this process goes on (here: SIGINT ignored by Python, as in a background
    job, but not by node; likewise a kernel killed for memory)."""
    ended, temporary, workspace = _synthesis_signalled(tmp_path, signal.SIG_IGN)
    assert ended.returncode == 1
    assert "ended before the synthesis was done: nothing was written" in ended.stderr
    assert "Traceback" not in ended.stderr and "warning" not in ended.stderr
    assert not (workspace / "templates").exists() or list((workspace / "templates").iterdir()) == []
    assert list(temporary.iterdir()) == []


def test_a_node_that_does_not_start_the_kernel_is_named_with_what_to_check(tmp_path):
    temporary, workspace = tmp_path / "tmp", tmp_path / "ws"
    temporary.mkdir()
    for node, says, hint in (
        ("/bin/false", "error: the jsii kernel (Node.js, /bin/false) ended before the synthesis", "JSII_NODE"),
        ("/bin/echo", "error: the jsii kernel (Node.js, /bin/echo) ended before the synthesis", "JSII_NODE"),
        (str(tmp_path / "no-node"), f"error: Node.js ({tmp_path / 'no-node'}) could not be run", "JSII_NODE"),
        (str(tmp_path), f"error: Node.js ({tmp_path}) could not be run: not an executable file", "JSII_NODE"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ml_provisioner", "--workspace", str(workspace)]
            + ["create-prov-template", "-c", str(STARTER)],
            env=os.environ | {"JSII_NODE": node, "TMPDIR": str(temporary)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        assert says in done.stderr and hint in done.stderr
        assert "Traceback" not in done.stderr and "warning" not in done.stderr
        assert not (workspace / "templates").exists()
        assert list(temporary.iterdir()) == [], "no temporary files are left"


@pytest.mark.synth
def test_jsii_node_may_name_a_node_on_path_as_jsii_runs_it(tmp_path):
    from ml_provisioner.synth import ensure_node

    path = os.pathsep.join([str(Path(ensure_node()).parent), os.environ.get("PATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "ml_provisioner", "--workspace", str(tmp_path)]
        + ["create-prov-template", "-c", str(STARTER)],
        env=os.environ | {"JSII_NODE": "node", "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "templates" / f"{STARTER.stem}.yaml").is_file()


def test_synthesis_needs_no_aws_credentials_or_network(tmp_path):
    """create-prov-template works with no credentials and no AWS configuration at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ml_provisioner", "create-prov-template", "-c", str(ENTERPRISE)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ml" / "templates" / f"{ENTERPRISE.stem}.yaml").is_file()
    assert done.stderr == "", "no banners or warnings in normal output"


def test_unexpected_errors_give_one_line_and_a_traceback_only_with_verbose(workspace, monkeypatch):
    import ml_provisioner.synth

    def explode(*args, **kwargs):
        raise RuntimeError("kernel went away")

    monkeypatch.setattr(ml_provisioner.synth, "synthesize", explode)
    code, _, err = run("create-prov-template", "-c", STARTER.name)
    assert code == 1
    assert err.splitlines()[0] == "error: create-prov-template failed: RuntimeError: kernel went away"
    assert "Traceback" not in err
    code, _, err = run("--verbose", "create-prov-template", "-c", STARTER.name)
    assert "Traceback" in err
    assert not (workspace / "templates").exists(), "nothing half-done on disk"


def test_cdk_json_points_at_app_py():
    import json

    assert json.loads((PROJECT / "cdk.json").read_text())["app"] == "python3 app.py"


@pytest.mark.parametrize("missing", ["ml_provisioner_sandbox", "moto"])
def test_sandbox_not_installed_says_how_to_install_it(tmp_path, missing):
    """After `scripts/demo` (the tool's lock alone) the sandbox and moto are missing: exit 2 and the command."""
    hide = f"import sys; sys.modules[{missing!r}] = None; from ml_provisioner.cli import main; main()"
    run = subprocess.run(
        [sys.executable, "-c", hide, "--workspace", str(tmp_path), "sandbox", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert run.returncode == 2, run.stderr
    assert "error: the sandbox is not installed" in run.stderr
    assert f"error: the sandbox is not installed (no module {missing!r})" in run.stderr
    assert "hint: install it: EXTRAS=sandbox scripts/demo in the project folder" in run.stderr
    assert "Traceback" not in run.stderr


PROFESSIONAL = example("edge s3")


@pytest.mark.parametrize("image_tier", ["starter", "enterprise"])
def test_a_tier_image_refuses_another_tiers_config_naming_both_tiers_and_the_image_to_use(
    workspace, monkeypatch, image_tier
):
    (workspace / "configs" / PROFESSIONAL.name).write_text(PROFESSIONAL.read_text())
    monkeypatch.setenv("ML_PROVISIONER_IMAGE_TIER", image_tier)  # the image's TIER build argument
    code, out, err = run("-con", PROFESSIONAL.name, "-act", "validate-config")
    assert code == 2
    assert f"tier professional does not match this image's tier {image_tier} (ml-provisioner:{image_tier})" in err
    assert "hint: run it with the ml-provisioner:professional image" in err
    assert out == ""


@pytest.mark.parametrize("image_tier", ["professional", ""])
def test_an_image_serves_its_own_tier_and_one_built_without_a_tier_serves_all(workspace, monkeypatch, image_tier):
    (workspace / "configs" / PROFESSIONAL.name).write_text(PROFESSIONAL.read_text())
    monkeypatch.setenv("ML_PROVISIONER_IMAGE_TIER", image_tier)
    assert run("-con", PROFESSIONAL.name, "-act", "validate-config")[0] == 0


def test_an_image_tier_that_is_no_tier_is_bad_input(workspace, monkeypatch):
    monkeypatch.setenv("ML_PROVISIONER_IMAGE_TIER", "gold")
    code, _, err = run("-con", STARTER.name, "-act", "validate-config")
    assert code == 2
    assert "ML_PROVISIONER_IMAGE_TIER='gold' is not a tier (allowed: starter, professional, enterprise)" in err


def test_the_demo_workspace_is_a_fleet_with_every_example_beside_it(tmp_path):
    """scripts/demo's layout: ml/configs holds one config per product (the fleet commands refuse
    two configs of one product), ml/examples all 28, and each example's $schema line resolves."""
    from ml_provisioner.fleet.selection import select
    from ml_provisioner.workspace import Workspace

    chosen = "techcorp-prod-a001-us-west-2-customer-churn-ml-codecommit.yaml"
    script = PROJECT / "scripts" / "examples-into-workspace"
    subprocess.run([str(script), chosen, str(tmp_path / "ml")], check=True)
    workspace = tmp_path / "ml"
    fleet = select(Workspace(workspace), [])
    assert len(fleet) == 6 and chosen in [c.path.name for c in fleet], "the asked-for one, and one per other product"
    assert len(list((workspace / "examples").glob("*.yaml"))) == len(list((PROJECT / "configs").glob("*.yaml")))
    for folder in ("configs", "examples"):
        first = next((workspace / folder).glob("*.yaml")).read_text().splitlines()[0]
        schema = first.split("$schema=")[1]
        assert (workspace / folder / schema).resolve().is_file(), first

    edited = workspace / "configs" / chosen
    edited.write_text(edited.read_text() + "# mine\n")
    subprocess.run([str(script), chosen, str(workspace)], check=True)
    assert edited.read_text().endswith("# mine\n"), "a file already there is never overwritten"

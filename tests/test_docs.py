"""The documentation site builds with `mkdocs build --strict`, and its generated reference covers
every config field, every CLI command and option, every tier and example, and the error catalog."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from ml_provisioner.cli import app
from ml_provisioner.config.models import EnterpriseConfig, ProfessionalConfig, StarterConfig
from ml_provisioner.errors import EXIT_BAD_INPUT, EXIT_DRIFT, EXIT_FAILED, EXIT_OK
from ml_provisioner.schema import SCHEMA_FILE
from tests.conftest import EXAMPLES, PROJECT


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("material") is None:
        message = "mkdocs-material is not installed: pip install mkdocs-material==9.8.2"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(PROJECT / "mkdocs.yml"),
            "--site-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr
    return out


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field of a model as a dotted path, nested models included."""
    found = []
    for name, info in model.model_fields.items():
        found.append(prefix + name)
        nested = [t for t in (info.annotation, *typing.get_args(info.annotation)) if isinstance(t, type)]
        for kind in nested:
            if issubclass(kind, BaseModel):
                found += _fields(kind, f"{prefix}{name}.")
    return found


def test_the_site_has_every_page_of_the_nav_and_works_from_disk(site):
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.name != "404.html")
    assert {
        "index.html",
        "getting-started.html",
        "configuration.html",
        "container.html",
        "security.html",
        "create-policy.html",
        "review-report.html",
        "cdk-cli.html",
        "troubleshooting.html",
        "reference/configuration.html",
        "reference/cli.html",
        "reference/tiers.html",
        "reference/errors.html",
    } <= set(pages)
    index = page(site, "index.html")
    assert 'href="getting-started.html"' in index  # file:// needs explicit .html links
    assert "fonts.googleapis.com" not in index and "fonts.gstatic.com" not in index  # nothing from the internet
    assert "gen_reference" not in " ".join(p.name for p in site.rglob("*"))  # the hook is not published


def test_configuration_reference_covers_every_field_of_every_tier(site):
    html = page(site, "reference/configuration.html")
    fields = {f for model in (StarterConfig, ProfessionalConfig, EnterpriseConfig) for f in _fields(model)}
    nested = {f for f in fields if "." in f}
    assert len(nested) >= 20
    assert [f for f in sorted(nested) if f"<code>{f}</code>" not in html] == []
    assert [f for f in sorted(fields - nested) if f"<code>{f}</code>" not in html] == []  # the sections
    assert "<code>1096</code>" in html  # an allowed log retention, from the validator's list
    assert "must not be set" in html  # the enterprise mode rules


def test_cli_reference_covers_every_command_and_option(site):
    html = page(site, "reference/cli.html")
    group = typer.main.get_command(app)
    root = group.context_class(group, info_name="ml-provisioner")
    commands = group.list_commands(root)
    assert {"list-products", "show-product", "validate-config", "create-prov-template", "config-schema"} <= set(
        commands
    )
    for name in commands:
        assert f'<h2 id="{name}"><code>{name}</code>' in html, name
        for param in group.get_command(root, name).params:
            assert all(option in html for option in param.opts), (name, param.opts)
    for param in group.params:
        assert all(option in html for option in param.opts), param.opts
    assert "--install-completion" in html


def test_tier_matrix_lists_every_tier_and_the_count_of_every_example(site):
    html = page(site, "reference/tiers.html")
    assert "13 / 10" in html and "19 / 16" in html and "38-40 / 35-37" in html
    assert all(f"<code>{path.name}</code>" in html for path in EXAMPLES)
    assert "ml-provisioner:enterprise" in html


def test_error_reference_lists_exit_codes_and_the_messages_in_the_source(site):
    html = page(site, "reference/errors.html")
    for code, name in (
        (EXIT_OK, "EXIT_OK"),
        (EXIT_FAILED, "EXIT_FAILED"),
        (EXIT_BAD_INPUT, "EXIT_BAD_INPUT"),
        (EXIT_DRIFT, "EXIT_DRIFT"),
    ):
        assert f"<code>{code}</code></td>\n<td><code>{name}</code>" in html
    assert "template not found: …" in html  # BadInput in cli/local.py
    assert "run <code>ml-provisioner create-prov-template --config …</code> first" in html
    assert "lists a subnet id twice" in html  # a config validator's message


def test_the_site_ships_the_committed_json_schema(site):
    assert page(site, f"schema/{SCHEMA_FILE}") == (PROJECT / "schema" / SCHEMA_FILE).read_text(encoding="utf-8")


def test_security_page_names_every_masked_secret_type(site):
    """The data protection policy's identifiers, read from the construct's source (no CDK import)."""
    tree = ast.parse((PROJECT / "constructs_lib" / "enterprise_security" / "policies.py").read_text(encoding="utf-8"))
    [masked] = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MASKED_SECRETS"
    ]
    html = page(site, "security.html")
    assert all(identifier in html for identifier in masked)
    assert "Retain" in html and "termination protection" in html


def test_the_site_searches_from_disk_in_chromium_with_every_other_request_blocked(site):
    """The spec: open ml/docs/index.html in a browser, offline. Search runs in a Web Worker, which
    a file:// page cannot start without the iframe-worker shim: the site ships that shim itself."""
    from tests.test_review_report import CHROMIUM, CHROMIUM_ARGS

    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test installs it)"
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_files(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.route("**/*", only_files)
        page = context.new_page()
        page.goto((site / "index.html").as_uri(), wait_until="load")
        page.locator("input.md-search__input").click()
        page.locator("input.md-search__input").press_sequentially("drift")  # keystrokes, as a reader types
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=15_000)
        summary = page.locator(".md-search-result__meta").inner_text()
        first_link = results.first.locator("a").first.get_attribute("href")
        browser.close()
    assert outside == []
    assert summary.endswith("matching documents")
    assert first_link and first_link.startswith((site / "reference" / "cli.html").as_uri())  # on disk

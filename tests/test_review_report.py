"""create-review-report: one self-contained HTML page per config, for the reviewer who approves a
deployment. Rendered in a real headless Chromium (Debian's /usr/bin/chromium driven by
playwright): it loads with no console error and no request leaving the file, every section is
there, and the SVG diagram shows the pipelines. The examples are synthesized once per session.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import uuid
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ml_provisioner.changes import ResourceChange
from ml_provisioner.cli import app
from ml_provisioner.policy import generate_policy
from ml_provisioner.report import ReviewInput, build_report
from ml_provisioner.report.page import SECTIONS
from tests.conftest import example
from tests.support.processes import closed_local_url
from tests.support.sandbox import create_boundary

pytestmark = pytest.mark.synth  # every test here synthesizes (in this process or the CLI it runs)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GENERATED_AT = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
TIERS = {
    "starter": example("techcorp codecommit"),
    "professional": example("edge s3"),
    "enterprise": example("globalbank codecommit standalone ssm"),
}
PREVIEW = [
    ResourceChange(
        action="Modify",
        logical_id="StarterCorePipelineRole",
        physical_id="<script>alert(1)</script>",
        resource_type="AWS::IAM::Role",
        replacement="False",
        iam_widening=["Allow <b>s3:GetObject</b> on *"],
    ),
    ResourceChange(
        action="Add",
        logical_id="NewTopic",
        physical_id="",
        resource_type="AWS::SNS::Topic",
        replacement="",
        iam_widening=[],
    ),
]


def review_of(synthesized, path: Path, preview=None) -> ReviewInput:
    result = synthesized[path.stem]
    return ReviewInput(result, lint=[], policy=generate_policy(result), preview=preview)


@pytest.fixture(scope="module")
def reports(synthesized, tmp_path_factory) -> dict[str, Path]:
    """The report of one example per tier (the enterprise one with a change-set preview)."""
    folder = tmp_path_factory.mktemp("reports")
    written = {}
    for tier, path in TIERS.items():
        review = review_of(synthesized, path, PREVIEW if tier == "enterprise" else None)
        written[tier] = folder / f"{path.stem}-review.html"
        written[tier].write_text(build_report(review, GENERATED_AT), encoding="utf-8")
    return written


# -- in Chromium --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium (the CI installs it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class OpenedPage:
    """A report opened in a fresh browser context (an empty profile), recording console errors
    and every request that is not for the file itself (those are blocked)."""

    def __init__(self, browser, path: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri(), wait_until="load")

    def _route(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()


@pytest.fixture(scope="module")
def opened(browser, reports):
    pages = {tier: OpenedPage(browser, path) for tier, path in reports.items()}
    yield pages
    for opened_page in pages.values():
        opened_page.context.close()


@pytest.mark.parametrize("tier", TIERS)
def test_the_report_loads_with_no_console_error_and_no_request_leaving_the_file(opened, synthesized, tier, tmp_path):
    report = opened[tier]
    assert report.errors == []
    assert report.outside == []
    stack = synthesized[TIERS[tier].stem].names.stack_name
    assert report.page.title() == f"Deployment review: {stack}"
    assert report.page.locator("header h1").inner_text() == stack
    screenshot = tmp_path / f"{tier}-review.png"
    report.page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 50_000, "a full-page screenshot of a rendered report"


@pytest.mark.parametrize("tier", TIERS)
def test_every_section_is_present_with_its_heading_and_linked_from_the_navigation(opened, tier):
    page = opened[tier].page
    for section_id, title in SECTIONS:
        assert page.locator(f"section#{section_id} > h2").inner_text() == title
        assert page.locator(f'nav a[href="#{section_id}"]').count() == 1


@pytest.mark.parametrize("tier", TIERS)
def test_the_svg_diagram_shows_each_pipeline_with_its_source_and_triggers(opened, synthesized, tier):
    page = opened[tier].page
    template = synthesized[TIERS[tier].stem].template
    pipelines = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    diagram = page.locator("section#pipelines svg#pipeline-diagram")
    assert diagram.is_visible() and diagram.bounding_box()["height"] > 200
    drawn = diagram.locator("g.pipeline")
    assert [drawn.nth(i).get_attribute("data-pipeline") for i in range(drawn.count())] == [p["Name"] for p in pipelines]
    sources = " ".join(diagram.locator("g.source title").all_text_contents())
    for pipeline in pipelines:
        source = pipeline["Stages"][0]["Actions"][0]["Configuration"]
        assert (source.get("RepositoryName") or source["S3ObjectKey"]) in sources
    assert "polls for changes" in diagram.text_content()
    assert diagram.locator("g.registry").count() == 1
    rules = [r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert diagram.locator("g.rule title").all_text_contents() == rules
    assert bool(rules) == (tier != "starter"), "the model-approval rule comes with the professional tier"


def test_the_change_preview_is_rendered_when_given_and_escaped(opened):
    enterprise = opened["enterprise"].page.locator("section#change-preview")
    assert enterprise.locator("tbody tr").count() == len(PREVIEW)
    assert "<script>alert(1)</script>" in enterprise.inner_text(), "shown as text, not run"
    assert enterprise.locator("script").count() == 0
    assert "widens IAM" in enterprise.inner_text()
    starter = opened["starter"].page.locator("section#change-preview")
    assert "Not deployed / not checked" in starter.inner_text()


# -- the page itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_the_file_is_self_contained(reports, tier):
    html = reports[tier].read_text(encoding="utf-8")
    assert "<script" not in html.replace("&lt;script", "")
    assert not re.search(r"https?://|\bsrc=|@import|url\((?!#)", html), "no reference outside the file"
    assert "default-src 'none'" in html, "a Content-Security-Policy forbids loading anything"


def test_the_same_input_gives_the_same_page_except_the_timestamp(synthesized):
    review = review_of(synthesized, TIERS["enterprise"], PREVIEW)
    first = build_report(review, GENERATED_AT)
    assert build_report(review, GENERATED_AT) == first
    later = build_report(review, GENERATED_AT + dt.timedelta(hours=5, seconds=7))
    assert later != first
    assert later.replace("2025-01-02 08:04:12 UTC", "2025-01-02 03:04:05 UTC") == first


def test_every_resource_of_the_template_is_listed_with_its_purpose_and_physical_name(reports, synthesized):
    result = synthesized[TIERS["enterprise"].stem]
    html = reports["enterprise"].read_text(encoding="utf-8")
    section = html[html.index('<section id="resources">') : html.index('<section id="pipelines">')]
    for logical_id in result.template["Resources"]:
        assert f"<code>{logical_id}</code>" in section
    assert "(not in the catalog)" not in section
    roles = re.findall(r"<td>([^<]*role)</td><td><code>[^<]*</code></td><td><code>(\w+)</code>", section)
    assert {purpose: logical_id.rstrip("0123456789ABCDEF") for purpose, logical_id in roles} == {
        "CodeBuild role": "StarterCoreCodeBuildRole",
        "SageMaker execution role": "StarterCoreSageMakerExecutionRole",
        "pipeline role": "StarterCorePipelineRole",
    }


def test_config_tier_outputs_policy_and_findings_come_from_the_synthesized_product(reports, synthesized):
    result = synthesized[TIERS["enterprise"].stem]
    html = reports["enterprise"].read_text(encoding="utf-8")
    assert "<code>client.company_name</code></td><td>GlobalBank</td>" in html
    assert "yaml-language-server" not in html, "rendered from the config model, not the raw file"
    assert "What the enterprise tier adds over professional" in html
    for parameter in (
        r["Properties"]["Name"] for r in result.template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"
    ):
        assert f"<code>{parameter}</code>" in html
    for name in generate_policy(result).file_names():
        assert f"<code>{name}</code>" in html
    assert len(result.acknowledged) > 10
    for finding in result.acknowledged:
        assert finding.reason.replace("'", "&#x27;").replace('"', "&quot;") in html
    starter = reports["starter"].read_text(encoding="utf-8")
    assert "What the starter tier provides" in starter


# -- the command --------------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path, monkeypatch, synthesized):
    """A workspace with the starter example; synthesis returns the session's results (same bytes)."""
    monkeypatch.chdir(tmp_path)
    configs = tmp_path / "ml" / "configs"
    configs.mkdir(parents=True)
    (configs / TIERS["starter"].name).write_text(TIERS["starter"].read_text())
    monkeypatch.setattr("ml_provisioner.synth.synthesize", lambda loaded, **_: [synthesized[c.stem] for c in loaded])
    return tmp_path / "ml"


def test_create_review_report_lints_the_template_and_writes_the_page(workspace):
    stem = TIERS["starter"].stem
    result = CliRunner().invoke(app, ["create-review-report", "--config", f"{stem}.yaml", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    report = workspace / "reports" / f"{stem}-review.html"
    assert Path(row["report"]).resolve() == report and report.is_file()
    assert row["lint_findings"] == 0 and row["preview"] == "not checked"
    assert "No cfn-lint findings." in report.read_text(encoding="utf-8")


@pytest.fixture
def unlinted(monkeypatch):
    """cfn-lint takes seconds per template and is covered above: skip it where the preview is tested."""
    monkeypatch.setattr("ml_provisioner.lint.cfn_lint", lambda text, region: [])


@pytest.fixture
def endpoint(monkeypatch, tmp_path):
    """The local AWS endpoint, with the environment the CLI reads (sandbox credentials)."""
    from ml_provisioner_sandbox import start_sandbox

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    with start_sandbox(port=0) as sandbox:
        monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.url)
        yield sandbox.url


def _review_workspace(tmp_path, monkeypatch) -> str:
    """The starter example under a tenant of its own (the endpoint's state is per process)."""
    monkeypatch.chdir(tmp_path)
    text = TIERS["starter"].read_text().replace("tenant_id: a001", "tenant_id: r001")
    name = TIERS["starter"].name.replace("-a001-", "-r001-")
    (tmp_path / "ml" / "configs").mkdir(parents=True)
    (tmp_path / "ml" / "configs" / name).write_text(text)
    return name


def test_preview_shows_the_change_set_of_the_deployed_stack(endpoint, tmp_path, monkeypatch, unlinted):
    config = _review_workspace(tmp_path, monkeypatch)
    not_deployed = CliRunner().invoke(app, ["create-review-report", "-c", config, "--preview"])
    assert not_deployed.exit_code == 0, not_deployed.output
    report = tmp_path / "ml" / "reports" / config.replace(".yaml", "-review.html")
    assert "Not deployed / not checked (stack techcorp-prod-r001-customer-churn--ml is not deployed)" in (
        report.read_text()
    )
    # An existing CodeCommit customer (CodeCommit creates no first repository in an account).
    boto3.client("codecommit", region_name="us-west-2", endpoint_url=endpoint).create_repository(
        repositoryName=f"existing-{uuid.uuid4().hex[:8]}"
    )
    create_boundary(
        tmp_path / "ml" / "configs" / config,
        lambda service, region: boto3.client(service, region_name=region, endpoint_url=endpoint),
    )
    deployed = CliRunner().invoke(app, ["deploy-product", "-c", config, "--force"])
    assert deployed.exit_code == 0, deployed.output
    path = tmp_path / "ml" / "configs" / config
    text = path.read_text().replace("owner: ml-platform@techcorp.example", "owner: mlops@techcorp.example")
    path.write_text(text.replace("company_name: TechCorp", "company_name: <script>x</script>"))
    result = CliRunner().invoke(app, ["create-review-report", "-c", config, "--preview"])
    assert result.exit_code == 0, result.output
    assert re.search(r"preview: \d+ change\(s\)", result.stdout)
    html = report.read_text()
    assert "Modify" in html and "AWS::S3::Bucket" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_a_failed_preview_is_reported_in_the_page_not_fatal(workspace, unlinted, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    stem = TIERS["starter"].stem
    result = CliRunner().invoke(
        app, ["create-review-report", "--config", f"{stem}.yaml", "--preview", "--endpoint-url", closed_local_url()]
    )
    assert result.exit_code == 0, "the rest of the report stands on its own"
    assert "change-set preview failed" in result.stderr
    html = (workspace / "reports" / f"{stem}-review.html").read_text()
    assert "Not deployed / not checked (the preview failed: change-set preview: no AWS credentials found)" in html


@pytest.mark.parametrize("service_role", [False, True], ids=["direct", "service-role"])
def test_the_report_says_which_mode_the_policy_is_in_and_what_its_holder_could_do(synthesized, service_role):
    result = synthesized[example("globalbank codecommit standalone ssm").stem]
    policy = generate_policy(result, service_role=service_role)
    page = build_report(ReviewInput(result, lint=[], policy=policy, preview=None), GENERATED_AT)
    mode = "service-role" if service_role else "direct"
    assert f"<dd>{mode}</dd>" in page or f"<td>{mode}</td>" in page
    sentence = html.escape(policy.holder_can_and_cannot)
    assert sentence in page
    assert ("cannot change anything through IAM" in sentence) == service_role and "permission boundary" in sentence

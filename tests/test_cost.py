"""What a product costs a month: per tier from the price file's own figures, a region without
prices, the delta of a tier upgrade (in a saved plan), the report's section in Chromium, the
catalog's estimate equal to the template's for every example, and `pricing refresh` against the
sandbox's Price List API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ml_provisioner.cli import app, spec_argv
from ml_provisioner.config.loader import load_config
from ml_provisioner.cost import (
    Assumptions,
    billables_from_catalog,
    billables_from_template,
    estimate,
    template_change,
)
from ml_provisioner.cost.prices import bundled_path
from tests.conftest import EXAMPLES, example
from tests.support.sandbox import cli, create_boundary, product

PRICES = json.loads(bundled_path().read_text())["prices"]
STARTER = example("techcorp codecommit")
PROFESSIONAL = example("edge s3")
ENTERPRISE = example("globalbank s3 standalone direct")
ENTERPRISE_SGPROV = example("globalbank s3 sgprov direct")


def price(region: str, key: str) -> float:
    return float(PRICES[region][key]["usd"])


def run(*args: str):
    result = CliRunner().invoke(app, spec_argv(list(args)))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ml" / "configs").mkdir(parents=True)
    return tmp_path / "ml"


def shown_cost(config: Path) -> dict:
    code, out, err = run("show-product", "-c", str(config), "--json")
    assert code == 0, err
    return json.loads(out)["cost"]


# -- one example per tier, from the price file's own figures --------------------------------------


def pipelines_and_builds(region: str, a: Assumptions) -> float:
    """What every tier runs: a build and a deploy project, their logs, two V2 pipelines, the bucket."""
    minutes = a.builds_per_month * a.build_minutes + a.deploys_per_month * a.deploy_minutes
    action_minutes = a.builds_per_month * (a.source_action_minutes + a.build_minutes) + a.deploys_per_month * (
        a.source_action_minutes + a.deploy_minutes
    )
    log_gb = minutes * a.log_mb_per_build_minute / 1024
    return (
        minutes * price(region, "codebuild_linux_small_minute")
        + log_gb * price(region, "logs_ingest_gb")
        + action_minutes * price(region, "codepipeline_v2_action_minute")
        + a.artifacts_gb * price(region, "s3_standard_gb_month")
    )


def test_a_starter_product_costs_its_builds_pipelines_logs_and_bucket():
    a, region = Assumptions(), "us-west-2"
    assert load_config(STARTER).config.environment.region == region
    assert shown_cost(STARTER)["monthly_usd"] == pytest.approx(pipelines_and_builds(region, a), abs=0.01)


def test_a_professional_product_adds_its_dashboard():
    a, region = Assumptions(), "eu-central-1"
    expected = pipelines_and_builds(region, a) + price(region, "cw_dashboard_month")
    cost = shown_cost(PROFESSIONAL)
    assert cost["monthly_usd"] == pytest.approx(expected, abs=0.01)
    assert cost["fixed_monthly_usd"] == pytest.approx(price(region, "cw_dashboard_month"))


def test_an_enterprise_standalone_product_adds_four_endpoints_in_two_azs_the_key_alarms_and_masking():
    a, region = Assumptions(), "eu-west-1"
    config = load_config(ENTERPRISE).config
    zones = len(config.vpc_integration.subnet_ids)
    assert zones == 2 and not config.vpc_integration.route_table_ids, "S3 too through an interface endpoint"
    log_gb = (a.builds_per_month * a.build_minutes + a.deploys_per_month * a.deploy_minutes) * (
        a.log_mb_per_build_minute / 1024
    )
    endpoints = 4 * (
        zones * 730 * price(region, "vpce_interface_az_hour") + a.endpoint_gb * price(region, "vpce_data_gb")
    )
    expected = (
        pipelines_and_builds(region, a)
        + price(region, "cw_dashboard_month")
        + endpoints
        + price(region, "kms_key_month")
        + a.kms_requests_per_month * price(region, "kms_request")
        + 2 * price(region, "cw_alarm_month")
        + 2 * price(region, "cw_custom_metric_month")  # one per metric filter
        + log_gb * price(region, "logs_data_protection_gb")
    )
    cost = shown_cost(ENTERPRISE)
    assert cost["monthly_usd"] == pytest.approx(expected, abs=0.01)
    endpoint_hours = [line for line in cost["lines"] if line["price"] == "vpce_interface_az_hour"]
    assert [line["quantity"] for line in endpoint_hours] == [2 * 730] * 4


def test_an_enterprise_standalone_product_costs_at_least_its_endpoints_and_more_than_its_starter_sibling():
    region = "eu-west-1"
    four_endpoints_in_two_azs = 4 * 2 * 730 * price(region, "vpce_interface_az_hour")
    standalone = shown_cost(ENTERPRISE)["monthly_usd"]
    assert standalone >= four_endpoints_in_two_azs
    # the same product as a starter one: the same account, region and use case
    data = yaml.safe_load(ENTERPRISE.read_text())
    data["tier"] = "starter"
    for section in ("monitoring", "vpc_integration"):
        del data[section]
    starter = load_config_data(data, ENTERPRISE.parent)
    assert standalone > estimate(billables_from_catalog(starter), region).monthly_usd
    # sgprov keeps S3 on a gateway endpoint (no charge): three interface endpoints
    assert shown_cost(ENTERPRISE_SGPROV)["monthly_usd"] == pytest.approx(
        standalone - 2 * 730 * price(region, "vpce_interface_az_hour") - 5 * price(region, "vpce_data_gb"), abs=0.01
    )


def load_config_data(data: dict, folder: Path):
    from pydantic import TypeAdapter

    from ml_provisioner.config.models import ProductConfig

    return TypeAdapter(ProductConfig).validate_python(data)


def test_show_product_json_carries_a_monthly_estimate_for_every_example():
    for path in EXAMPLES:
        cost = shown_cost(path)
        assert isinstance(cost["monthly_usd"], float) and cost["monthly_usd"] > 0, path.name
        assert cost["fixed_monthly_usd"] + cost["usage_monthly_usd"] == pytest.approx(cost["monthly_usd"], abs=0.01)
        assert cost["assumptions"] == Assumptions().model_dump() and cost["prices_recorded"]


def test_show_product_prints_each_line_the_totals_and_the_assumptions():
    code, out, _ = run("-q", "show-product", "-c", str(ENTERPRISE))
    assert code == 0
    assert "VPC endpoint sagemaker.api" in out and "interface endpoint in 2 AZ(s), 730 h" in out
    assert "estimated monthly cost: $" in out and "(fixed $" in out and ", usage $" in out
    assert "default assumptions (cost-assumptions.yaml): builds_per_month=40" in out


# -- a region without prices ----------------------------------------------------------------------


def test_a_region_without_prices_says_so_and_never_counts_zero(workspace):
    data = yaml.safe_load(STARTER.read_text())
    data["environment"]["region"] = "ca-central-1"
    assert "ca-central-1" not in PRICES
    config = workspace / "configs" / STARTER.name.replace("us-west-2", "ca-central-1")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = run("show-product", "-c", str(config), "--json")
    assert code == 0, err
    cost = json.loads(out)["cost"]
    assert cost["monthly_usd"] is None and cost["lines"] == []
    assert cost["note"] == "no price data for ca-central-1"
    code, out, _ = run("show-product", "-c", str(config))
    assert "monthly cost: no price data for ca-central-1" in out and "$0.00" not in out


# -- assumptions ---------------------------------------------------------------------------------


def test_the_workspace_assumptions_file_overrides_the_defaults(workspace):
    (workspace / "cost-assumptions.yaml").write_text("builds_per_month: 0\ndeploys_per_month: 0\nartifacts_gb: 0\n")
    cost = shown_cost(STARTER)
    assert cost["monthly_usd"] == 0.0 and cost["assumptions"]["builds_per_month"] == 0
    assert cost["assumptions_file"] == str(Path("ml") / "cost-assumptions.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("builds_per_month: -1\n", "builds_per_month: Input should be greater than or equal to 0"),
        ("build_minuts: 3\n", "build_minuts: Extra inputs are not permitted"),
        ("- 1\n", "a mapping of assumption: number is expected"),
        ("builds_per_month: .inf\n", "builds_per_month: Input should be a finite number"),
        ("builds_per_month: true\n", "builds_per_month: Input should be a valid number"),
        ("builds_per_month: '40'\n", "builds_per_month: Input should be a valid number"),
    ],
)
def test_a_bad_assumptions_file_is_refused_with_what_is_wrong(workspace, text, message):
    (workspace / "cost-assumptions.yaml").write_text(text)
    code, _, err = run("show-product", "-c", str(STARTER))
    assert code == 2
    assert "cost-assumptions.yaml: " in err and message in err and "hint:" in err


# -- templates: the catalog's estimate is the template's, a tier upgrade's delta -------------------


@pytest.mark.parametrize("stem", [p.stem for p in EXAMPLES])
def test_the_catalog_estimate_is_the_synthesized_templates(synthesized, stem):
    result = synthesized[stem]
    region = result.names.region
    from_template = estimate(billables_from_template(result.template), region)
    from_catalog = estimate(billables_from_catalog(result.loaded.config), region)
    assert from_template.monthly_usd == from_catalog.monthly_usd
    assert sorted((line.type, line.price, line.quantity) for line in from_template.lines) == sorted(
        (line.type, line.price, line.quantity) for line in from_catalog.lines
    )


def test_a_change_costs_the_difference_of_the_templates(synthesized):
    starter = synthesized[example("techcorp s3").stem]
    enterprise = synthesized[ENTERPRISE.stem]
    region = "eu-west-1"
    change = template_change(starter.template, enterprise.template, region)
    assert change.delta_usd == pytest.approx(change.after.monthly_usd - change.before.monthly_usd, abs=0.01)
    assert change.text.startswith("+$") and "/month ($" in change.text
    created = template_change(None, enterprise.template, region)
    assert created.delta_usd == created.after.monthly_usd, "a new stack: the whole estimate"
    assert template_change(None, enterprise.template, "ca-central-1").text == "no price data for ca-central-1"


@pytest.mark.synth  # deploy-product synthesizes in this process
def test_a_saved_plan_of_a_tier_upgrade_carries_its_monthly_delta(aws):
    """Deploy a starter product in the sandbox, make it professional: the plan says +dashboard."""
    name, data = product("techcorp s3", aws)
    config = Path("ml/configs") / name
    create_boundary(config, aws)
    code, out, err = cli("deploy-product", "-c", name, "--force")
    assert code == 0, out + err
    data["tier"] = "professional"
    data["monitoring"] = {"alerts_email": "ml@techcorp.example"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    code, out, err = cli("show-changes", "-c", name, "--save")
    assert code == 0, out + err
    dashboard = price("us-west-2", "cw_dashboard_month")
    assert f"monthly cost estimate: +${dashboard:.2f}/month" in out
    plan = json.loads((Path("ml/reports") / name.replace(".yaml", "-plan.json")).read_text())
    assert plan["cost"]["delta_monthly_usd"] == pytest.approx(dashboard)
    assert plan["cost"]["before_monthly_usd"] > 0, "measured against the deployed template"
    code, out, err = cli("show-changes", "-c", name, "--json")
    assert code == 0, err
    assert json.loads(out)["cost"]["delta_monthly_usd"] == pytest.approx(dashboard)


# -- the review report's section, in Chromium ----------------------------------------------------


def test_the_report_shows_the_estimate_and_the_changes_delta_near_the_top(synthesized, tmp_path):
    from ml_provisioner.policy import generate_policy
    from ml_provisioner.report import ReviewInput, build_report
    from ml_provisioner.report.page import SECTIONS
    from tests.test_review_report import CHROMIUM, CHROMIUM_ARGS, OpenedPage

    assert [section for section, _ in SECTIONS].index("cost") <= 2, "near the top"
    result, before = synthesized[ENTERPRISE.stem], synthesized[ENTERPRISE_SGPROV.stem]
    change = template_change(before.template, result.template, "eu-west-1")
    review = ReviewInput(result, lint=[], policy=generate_policy(result), preview=[], cost_change=change)
    path = tmp_path / "review.html"
    path.write_text(build_report(review, dt.datetime(2025, 1, 2, tzinfo=dt.UTC)), encoding="utf-8")
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = OpenedPage(browser, path)
        try:
            assert opened.errors == [] and opened.outside == []
            section = opened.page.locator("section#cost")
            assert section.is_visible()
            text = section.inner_text()
            assert f"${change.after.monthly_usd:,.2f}/month" in text
            assert f"This change: {change.text}." in text  # + the S3 interface endpoint of standalone
            assert section.locator("table.cost tbody tr").count() == len(change.after.lines)
            card = opened.page.locator(".card", has_text="Monthly cost")
            assert f"+${change.delta_usd:,.2f}/month with this change" in card.inner_text()
            assert opened.page.locator('nav a[href="#cost"]').inner_text() == "Monthly cost"
        finally:
            opened.context.close()
            browser.close()


# -- pricing refresh against the sandbox's Price List API ----------------------------------------


def test_pricing_refresh_updates_the_file_from_the_price_list_api_and_says_what_changed(aws, tmp_path):
    stale = json.loads(bundled_path().read_text())
    stale["prices"]["us-east-1"]["vpce_interface_az_hour"]["usd"] = 0.02
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(stale))
    code, out, err = cli("pricing", "refresh", "--file", str(path), "--region", "us-east-1", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert {"region": "us-east-1", "key": "vpce_interface_az_hour", "old_usd": 0.02, "new_usd": 0.01} in report[
        "changed"
    ]
    assert report["unchanged"] >= 6
    assert {"region": "us-east-1", "price": "cw_dashboard_month"} in report["not_found"], "the sandbox has no record"
    refreshed = json.loads(path.read_text())["prices"]
    entry = refreshed["us-east-1"]["vpce_interface_az_hour"]
    assert entry["usd"] == 0.01 and entry["via"].startswith("Price List API, SKU ")
    assert entry["recorded"] == dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    assert entry["page"] == "https://aws.amazon.com/privatelink/pricing/"
    kept = refreshed["us-east-1"]["cw_dashboard_month"]
    assert kept == stale["prices"]["us-east-1"]["cw_dashboard_month"], "not found: kept as recorded, never zeroed"
    assert refreshed["eu-west-1"] == stale["prices"]["eu-west-1"], "regions not asked for are kept"
    code, out, _ = cli("pricing", "refresh", "--file", str(path), "--region", "us-east-1")
    assert code == 0 and "0 price(s) changed" in out


def test_pricing_refresh_refuses_a_region_that_is_not_one(aws, tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(bundled_path().read_text())
    code, _, err = cli("pricing", "refresh", "--file", str(path), "--region", "mars-1")
    assert code == 2 and "not AWS regions: mars-1" in err
    assert path.read_text() == bundled_path().read_text(), "nothing written"


# -- fleet status ---------------------------------------------------------------------------------


def test_fleet_status_totals_the_estimates_per_account_and_tier():
    from types import SimpleNamespace

    from ml_provisioner.cli.fleet import _cost_totals

    loaded = {path: load_config(path) for path in (STARTER, ENTERPRISE, ENTERPRISE_SGPROV)}
    found = [SimpleNamespace(key=p.stem, names=c.names(), loaded=c) for p, c in loaded.items()]
    costs = {t.key: estimate(billables_from_catalog(t.loaded.config), t.names.region) for t in found}
    shown = _cost_totals(found, costs)
    enterprise = costs[ENTERPRISE.stem].monthly_usd + costs[ENTERPRISE_SGPROV.stem].monthly_usd
    assert f"345678901234  enterprise  2         ${enterprise:,.2f}" in shown
    assert f"all                       3         ${enterprise + costs[STARTER.stem].monthly_usd:,.2f}" in shown


def test_fleet_totals_say_how_many_products_have_no_price_and_never_count_them_as_zero():
    from types import SimpleNamespace

    from ml_provisioner.cli.fleet import _cost_totals

    starter = load_config(STARTER)
    found = [SimpleNamespace(key=k, names=starter.names(), loaded=starter) for k in ("priced", "unpriced")]
    costs = {
        "priced": estimate(billables_from_catalog(starter.config), starter.names().region),
        "unpriced": estimate(billables_from_catalog(starter.config), "ap-south-1"),  # no prices in the file
    }
    shown = _cost_totals(found, costs)
    total = f"${costs['priced'].monthly_usd:,.2f} (+ 1 without prices: no price data for ap-south-1"
    assert [line for line in shown.splitlines() if line.startswith("all")][0].split(None, 2)[2].startswith(total)
    only_unpriced = _cost_totals(found[1:], {"unpriced": costs["unpriced"]})
    assert "$0.00" not in only_unpriced and "- (1 without prices" in only_unpriced

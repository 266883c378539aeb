"""The price book: AWS list prices per region, read from prices.json (bundled with the package,
updated by `ml-provisioner pricing refresh`). Reading it needs no network and no AWS SDK."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ml_provisioner.errors import BadInput

PRICE_FILE = "prices.json"
HOURS_PER_MONTH = 730  # AWS's own convention on its pricing pages and calculator


@dataclass(frozen=True)
class PriceKey:
    """One priced dimension: what it bills, the page a person checks it on, and how the Price
    List Query API finds it (service code and the end of the usage type, whose region prefix
    differs per region: USE1-, USW2-, EU-, EUC1-)."""

    unit: str
    page: str
    service_code: str
    usage_type: str  # the usagetype attribute's suffix, in the API's own unit (the file's)


PRIVATELINK = "https://aws.amazon.com/privatelink/pricing/"
KMS = "https://aws.amazon.com/kms/pricing/"
CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
CODEBUILD = "https://aws.amazon.com/codebuild/pricing/"
CODEPIPELINE = "https://aws.amazon.com/codepipeline/pricing/"
S3 = "https://aws.amazon.com/s3/pricing/"
CODECOMMIT = "https://aws.amazon.com/codecommit/pricing/"

KEYS: dict[str, PriceKey] = {
    "vpce_interface_az_hour": PriceKey(
        "per interface endpoint per AZ per hour", PRIVATELINK, "AmazonVPC", "VpcEndpoint-Hours"
    ),
    "vpce_data_gb": PriceKey(
        "per GB processed by interface endpoints (first PB)", PRIVATELINK, "AmazonVPC", "VpcEndpoint-Bytes"
    ),
    "kms_key_month": PriceKey("per customer managed key per month", KMS, "awskms", "KMS-Keys"),
    "kms_request": PriceKey("per API request", KMS, "awskms", "KMS-Requests"),
    "cw_dashboard_month": PriceKey(
        "per dashboard per month (3 free per account)", CLOUDWATCH, "AmazonCloudWatch", "DashboardsUsageHour"
    ),
    "cw_alarm_month": PriceKey(
        "per standard-resolution alarm metric per month", CLOUDWATCH, "AmazonCloudWatch", "CW:AlarmMonitorUsage"
    ),
    "cw_custom_metric_month": PriceKey(
        "per custom metric per month (first 10,000)", CLOUDWATCH, "AmazonCloudWatch", "CW:MetricMonitorUsage"
    ),
    "logs_ingest_gb": PriceKey(
        "per GB of logs ingested (standard class)", CLOUDWATCH, "AmazonCloudWatch", "DataProcessing-Bytes"
    ),
    "logs_data_protection_gb": PriceKey(
        "per GB of logs scanned by a data protection policy", CLOUDWATCH, "AmazonCloudWatch", "DataProtection-Bytes"
    ),
    "codebuild_linux_small_minute": PriceKey(
        "per build minute, general1.small Linux (on-demand EC2)", CODEBUILD, "CodeBuild", "Build-Min:Linux:g1.small"
    ),
    "codebuild_linux_medium_minute": PriceKey(
        "per build minute, general1.medium Linux (on-demand EC2)", CODEBUILD, "CodeBuild", "Build-Min:Linux:g1.medium"
    ),
    "codebuild_linux_large_minute": PriceKey(
        "per build minute, general1.large Linux (on-demand EC2)", CODEBUILD, "CodeBuild", "Build-Min:Linux:g1.large"
    ),
    "codepipeline_v2_action_minute": PriceKey(
        "per action execution minute, V2 pipelines", CODEPIPELINE, "AWSCodePipeline", "ActionExecutionMinute"
    ),
    "codepipeline_v1_pipeline_month": PriceKey(
        "per active V1 pipeline per month", CODEPIPELINE, "AWSCodePipeline", "activePipeline"
    ),
    "s3_standard_gb_month": PriceKey("per GB-month, S3 Standard (first 50 TB)", S3, "AmazonS3", "TimedStorage-ByteHrs"),
    "codecommit_user_month": PriceKey(
        "per active user per month beyond the first 5 of an account", CODECOMMIT, "AWSCodeCommit", "Users"
    ),
}


@dataclass(frozen=True)
class Price:
    usd: float
    recorded: str  # the date (YYYY-MM-DD) the figure was taken
    via: str  # "pricing page", or the Price List API record it was read from


@dataclass(frozen=True)
class RegionPrices:
    region: str
    prices: dict[str, Price]

    def usd(self, key: str) -> float | None:
        price = self.prices.get(key)
        return None if price is None else price.usd

    @property
    def recorded(self) -> str:
        """The oldest date among the region's prices: how old the estimate's figures are at most."""
        return min((p.recorded for p in self.prices.values()), default="")


@dataclass(frozen=True)
class PriceBook:
    path: Path
    about: str
    regions: dict[str, RegionPrices]

    def for_region(self, region: str) -> RegionPrices | None:
        """The region's prices; None when the file has none for it (an estimate then says so)."""
        return self.regions.get(region)


def bundled_path() -> Path:
    return Path(str(resources.files("ml_provisioner.cost").joinpath(PRICE_FILE)))


@cache
def price_book(path: Path | None = None) -> PriceBook:
    return read_price_book(path or bundled_path())


def read_price_book(path: Path) -> PriceBook:
    """The price file, or BadInput naming what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        regions = {
            region: RegionPrices(
                region,
                {
                    key: Price(float(entry["usd"]), str(entry["recorded"]), str(entry.get("via", "pricing page")))
                    for key, entry in entries.items()
                },
            )
            for region, entries in data["prices"].items()
        }
    except FileNotFoundError:
        raise BadInput(f"price file {path}: no such file", "reinstall ml-provisioner") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadInput(
            f"price file {path}: not a price file ({type(error).__name__}: {error})",
            "restore the bundled prices.json, or run `ml-provisioner pricing refresh`",
        ) from None
    return PriceBook(path, str(data.get("about", "")), regions)


def price_file_json(about: str, regions: dict[str, dict[str, Price]]) -> str:
    """The price file's text: each price with its unit and page beside the figure, so that a
    person reading the file can check any line against AWS's page."""
    body: dict[str, Any] = {
        "about": about,
        "currency": "USD",
        "hours_per_month": HOURS_PER_MONTH,
        "prices": {
            region: {
                key: {
                    "usd": price.usd,
                    "unit": KEYS[key].unit,
                    "page": KEYS[key].page,
                    "recorded": price.recorded,
                    "via": price.via,
                }
                for key, price in sorted(prices.items())
                if key in KEYS
            }
            for region, prices in sorted(regions.items())
            if prices  # a region the API had nothing for stays absent: "no price data", never zeros
        },
    }
    return json.dumps(body, indent=2) + "\n"

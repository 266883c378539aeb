"""The AWS Price List Query API (``pricing``) for the sandbox; moto has none.

DescribeServices and GetProducts (TERM_MATCH filters, MaxResults and NextToken) over a small set
of records shaped as AWS returns them: each a JSON string with the product (its attributes:
servicecode, regionCode, usagetype, ...) and its OnDemand terms. The records are built from the
table below, so a test can change a figure (``PRICES``) before it asks.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from moto.backend_index import backend_url_patterns
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

# (regionCode, usage type prefix) of the regions the sandbox has prices for.
REGIONS = {"us-east-1": "USE1", "us-west-2": "USW2", "eu-west-1": "EU", "eu-central-1": "EUC1"}
# (service code, usage type without its region prefix, unit, product family) -> USD per unit, per region.
PRICES: dict[tuple[str, str, str, str], dict[str, str]] = {
    ("AmazonVPC", "VpcEndpoint-Hours", "Hrs", "VpcEndpoint"): {
        "us-east-1": "0.0100000000",
        "us-west-2": "0.0100000000",
        "eu-west-1": "0.0110000000",
        "eu-central-1": "0.0120000000",
    },
    ("AmazonVPC", "VpcEndpoint-Bytes", "GB", "VpcEndpoint"): {r: "0.0100000000" for r in REGIONS},
    ("awskms", "KMS-Keys", "Keys", "Encryption Key"): {r: "1.0000000000" for r in REGIONS},
    ("AmazonCloudWatch", "CW:AlarmMonitorUsage", "Alarms", "Alarm"): {r: "0.1000000000" for r in REGIONS},
    ("AmazonCloudWatch", "DataProcessing-Bytes", "GB", "Data Payload"): {
        "us-east-1": "0.5000000000",
        "us-west-2": "0.5000000000",
        "eu-west-1": "0.5700000000",
        "eu-central-1": "0.6300000000",
    },
    ("CodeBuild", "Build-Min:Linux:g1.small", "Minutes", "Compute"): {
        "us-east-1": "0.0050000000",
        "us-west-2": "0.0050000000",
        "eu-west-1": "0.0050000000",
        "eu-central-1": "0.0060000000",
    },
    ("AWSCodePipeline", "ActionExecutionMinute", "Minutes", "Action Execution"): {r: "0.0020000000" for r in REGIONS},
    ("AmazonS3", "TimedStorage-ByteHrs", "GB-Mo", "Storage"): {
        "us-east-1": "0.0230000000",
        "us-west-2": "0.0230000000",
        "eu-west-1": "0.0230000000",
        "eu-central-1": "0.0245000000",
    },
}
OFFER_TERM = "JRTCKXETXF"  # AWS's code of the OnDemand offer
RATE_CODE = "6YS6EN2CT7"
PAGE_SIZE = 100  # GetProducts' largest MaxResults


class InvalidParameterException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterException", message)


def records() -> list[dict[str, Any]]:
    """Every product with its OnDemand price, as GetProducts returns them (before the JSON encoding)."""
    found = []
    for (service, usage, unit, family), by_region in PRICES.items():
        for region, usd in by_region.items():
            sku = hashlib.sha256(f"{service}/{usage}/{region}".encode()).hexdigest()[:16].upper()
            dimension = f"{sku}.{OFFER_TERM}.{RATE_CODE}"
            found.append(
                {
                    "product": {
                        "productFamily": family,
                        "attributes": {
                            "servicecode": service,
                            "regionCode": region,
                            "usagetype": f"{REGIONS[region]}-{usage}",
                            "operation": "",
                        },
                        "sku": sku,
                    },
                    "serviceCode": service,
                    "terms": {
                        "OnDemand": {
                            f"{sku}.{OFFER_TERM}": {
                                "priceDimensions": {
                                    dimension: {
                                        "unit": unit,
                                        "endRange": "Inf",
                                        "description": f"${usd} per {unit} ({usage})",
                                        "appliesTo": [],
                                        "rateCode": dimension,
                                        "beginRange": "0",
                                        "pricePerUnit": {"USD": usd},
                                    }
                                },
                                "sku": sku,
                                "effectiveDate": "2026-11-01T00:00:00Z",
                                "offerTermCode": OFFER_TERM,
                                "termAttributes": {},
                            }
                        }
                    },
                    "version": "20261101000000",
                    "publicationDate": "2026-11-01T00:00:00Z",
                }
            )
    return found


def _matches(record: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    product = record["product"]
    fields = {**product["attributes"], "productFamily": product["productFamily"], "sku": product["sku"]}
    for condition in filters:
        if condition.get("Type", "TERM_MATCH") != "TERM_MATCH":
            raise InvalidParameterException(f"filter type {condition.get('Type')} is not supported")
        if fields.get(condition["Field"]) != condition["Value"]:
            return False
    return True


class PricingBackend(BaseBackend):
    @property
    def url_bases(self) -> list[str]:
        return [r"https?://(api\.)?pricing\.(.+)\.amazonaws\.com"]

    @property
    def url_paths(self) -> dict[str, Any]:
        return {"/$": PricingResponse.dispatch}


class PricingResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name="pricing")

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = json.loads(self.body or "{}")
        return params

    def describe_services(self) -> str:
        wanted = self._params().get("ServiceCode")
        codes = [wanted] if wanted else sorted({service for service, *_ in PRICES})
        services = [
            {"ServiceCode": code, "AttributeNames": ["productFamily", "regionCode", "servicecode", "usagetype"]}
            for code in codes
        ]
        return json.dumps({"Services": services, "FormatVersion": "aws_v1"})

    def get_products(self) -> str:
        p = self._params()
        if "ServiceCode" not in p:
            raise InvalidParameterException("ServiceCode is required")
        found = [r for r in records() if r["serviceCode"] == p["ServiceCode"] and _matches(r, p.get("Filters", []))]
        start = int(p.get("NextToken") or 0)
        size = min(int(p.get("MaxResults") or PAGE_SIZE), PAGE_SIZE)
        page = found[start : start + size]
        body: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(r) for r in page]}
        if start + size < len(found):
            body["NextToken"] = str(start + size)
        return json.dumps(body)


# The API answers in us-east-1, eu-central-1 and ap-south-1.
pricing_backends = BackendDict(
    PricingBackend, "pricing", use_boto3_regions=False, additional_regions=["us-east-1", "eu-central-1", "ap-south-1"]
)


def install() -> None:
    """Route the service's requests here: moto's server finds a service by its signing name and
    loads ``moto.pricing``'s ``pricing_backends``."""
    import sys
    import types

    module = types.ModuleType("moto.pricing")
    module.pricing_backends = pricing_backends  # type: ignore[attr-defined]
    sys.modules["moto.pricing"] = module
    if all(service != "pricing" for service, _ in backend_url_patterns):
        backend_url_patterns.append(("pricing", re.compile(r"https?://(api\.)?pricing\.(.+)\.amazonaws\.com")))

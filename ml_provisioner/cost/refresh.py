"""`ml-provisioner pricing refresh`: the price file's figures from the AWS Price List Query API.

One paginated GetProducts per service and region (filtered by regionCode), each price key found by
the end of its usage type; the OnDemand price of the first tier. A key the API has no record for
keeps its recorded figure and is reported, never dropped or zeroed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ml_provisioner.cost.prices import KEYS, Price, PriceBook, price_file_json


@dataclass(frozen=True)
class PriceChange:
    region: str
    key: str
    old_usd: float | None  # None: the region or the key had no price before
    new_usd: float


@dataclass
class Refreshed:
    changed: list[PriceChange] = field(default_factory=list)
    unchanged: int = 0
    not_found: list[tuple[str, str]] = field(default_factory=list)  # (region, key) kept as recorded
    text: str = ""  # the new price file


def refresh(client: Any, book: PriceBook, regions: list[str], today: str) -> Refreshed:
    """New figures for the regions (the file's and any new ones) from ``client`` (boto3 pricing)."""
    done = Refreshed()
    prices = {region: dict(book.regions[region].prices) if region in book.regions else {} for region in regions}
    prices |= {region: dict(r.prices) for region, r in book.regions.items() if region not in prices}
    for region in regions:
        found = {
            service: _records(client, service, region) for service in sorted({k.service_code for k in KEYS.values()})
        }
        for key, spec in KEYS.items():
            record = next(
                (
                    r
                    for r in found[spec.service_code]
                    if r["product"]["attributes"].get("usagetype", "").endswith(spec.usage_type)
                ),
                None,
            )
            usd = None if record is None else _first_tier_usd(record)
            if record is None or usd is None:
                done.not_found.append((region, key))
                continue
            old = prices[region].get(key)
            # confirmed or changed, the figure is now as old as today's answer
            prices[region][key] = Price(usd, today, f"Price List API, SKU {record['product']['sku']}")
            if old is not None and old.usd == usd:
                done.unchanged += 1
            else:
                done.changed.append(PriceChange(region, key, None if old is None else old.usd, usd))
    done.text = price_file_json(book.about, prices)
    return done


def _records(client: Any, service: str, region: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("get_products").paginate(
        ServiceCode=service, Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    )
    return [json.loads(item) if isinstance(item, str) else item for page in pages for item in page["PriceList"]]


def _first_tier_usd(record: dict[str, Any]) -> float | None:
    """The OnDemand USD price of the tier that begins at 0 (the one a product's usage falls in)."""
    for term in record.get("terms", {}).get("OnDemand", {}).values():
        dimensions = sorted(term.get("priceDimensions", {}).values(), key=lambda d: float(d.get("beginRange", 0)))
        for dimension in dimensions:
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None:
                return float(usd)
    return None

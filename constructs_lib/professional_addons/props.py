"""What ProfessionalAddons is built from (pure data)."""

from __future__ import annotations

from dataclasses import dataclass

from constructs_lib.names import ProductNames


@dataclass(frozen=True, kw_only=True)
class ProfessionalAddonsProps:
    names: ProductNames
    alerts_email: str
    console_url: str  # the AWS console of the product's partition, for the dashboard's links

"""An estimate as text for a terminal: each line, the totals and what they assume."""

from __future__ import annotations

from pathlib import Path

from ml_provisioner.cost.estimate import ASSUMPTIONS_FILE, Estimate, Line, usd


def cost_text(estimated: Estimate, assumptions_file: Path | None) -> str:
    from ml_provisioner.cli._common import table

    if estimated.no_price_data:
        return f"monthly cost: no price data for {estimated.region} (docs/cost.md says how to add a region)"
    shown = table([list(line.cells()) for line in estimated.lines], list(Line.HEADERS))
    source = f"assumptions from {assumptions_file}" if assumptions_file else f"default assumptions ({ASSUMPTIONS_FILE})"
    stated = ", ".join(f"{name}={value:g}" for name, value in estimated.assumptions.stated().items())
    return (
        f"{shown}\n\nestimated monthly cost: {estimated.headline} (fixed {usd(estimated.fixed_usd)}, usage "
        f"{usd(estimated.usage_usd)}) in {estimated.region}, list prices recorded {estimated.prices_recorded}\n"
        f"{source}: {stated}"
    )

"""`ml-provisioner pricing ...`: the list prices the cost estimates use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from ml_provisioner.cli._common import EndpointOption, JsonOption, action, table

pricing = typer.Typer(
    name="pricing",
    help="The AWS list prices that cost estimates use (bundled; refreshed from the Price List Query API).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
PRICE_LIST_REGION = "us-east-1"  # the Price List Query API answers here (and in eu-central-1, ap-south-1)


@pricing.command("refresh")
def pricing_refresh(
    ctx: typer.Context,
    region: Annotated[
        list[str],
        typer.Option(
            "--region", help="Only this region (repeat for several); a new one is added (default: the file's)."
        ),
    ] = [],  # noqa: B006 - typer reads the default
    price_file: Annotated[
        Path | None, typer.Option("--file", help="The price file to update (default: the bundled one).")
    ] = None,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Update the price file from the AWS Price List Query API (pricing:GetProducts; credentials of
    any account) and print what changed. Prices the API has no record for are kept and listed."""
    from ml_provisioner.aws.session import AwsSession, aws_errors
    from ml_provisioner.config.regions import region_partitions
    from ml_provisioner.cost.prices import bundled_path, price_book, read_price_book
    from ml_provisioner.cost.refresh import refresh
    from ml_provisioner.errors import BadInput

    with action(ctx, "pricing refresh") as run:
        path = price_file or bundled_path()
        book = read_price_book(path)
        unknown = [r for r in region if r not in region_partitions()]
        if unknown:
            raise BadInput(f"not AWS regions: {', '.join(unknown)}", "e.g. --region us-east-1 --region eu-west-1")
        regions = region or sorted(book.regions)
        today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        with aws_errors("pricing refresh"):
            client = AwsSession(PRICE_LIST_REGION, endpoint_url).client("pricing")
            done = refresh(client, book, regions, today)
        run.workspace.write(path, done.text)
        price_book.cache_clear()
        run.summary = f"{len(done.changed)} price(s) changed, {len(done.not_found)} not found"
        if as_json:
            run.json(
                {
                    "file": str(path),
                    "regions": regions,
                    "changed": [vars(c) for c in done.changed],
                    "unchanged": done.unchanged,
                    "not_found": [{"region": r, "price": k} for r, k in done.not_found],
                }
            )
            return
        if done.changed:
            run.out(
                table(
                    [
                        [c.region, c.key, "-" if c.old_usd is None else f"{c.old_usd:g}", f"{c.new_usd:g}"]
                        for c in done.changed
                    ],
                    ["region", "price", "was (USD)", "now (USD)"],
                )
            )
        for found_region, key in done.not_found:
            run.out(f"not in the Price List API: {key} in {found_region} (kept as recorded)")
        run.result(
            f"{path}: {len(done.changed)} price(s) changed, {done.unchanged} unchanged, "
            f"{len(done.not_found)} not found (kept), regions {', '.join(regions)}"
        )

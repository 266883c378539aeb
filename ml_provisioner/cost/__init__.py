"""What a product costs a month, estimated from its template (or the catalog) and the bundled list
prices: no AWS call, no CDK. See docs/cost.md."""

from ml_provisioner.cost.estimate import (
    ASSUMPTIONS_FILE,
    Assumptions,
    Billable,
    CostChange,
    Estimate,
    Line,
    billables_from_catalog,
    billables_from_template,
    estimate,
    load_assumptions,
    not_billed,
    number,
    signed_usd,
    template_change,
    usd,
)

__all__ = [
    "ASSUMPTIONS_FILE",
    "Assumptions",
    "Billable",
    "CostChange",
    "Estimate",
    "Line",
    "billables_from_catalog",
    "billables_from_template",
    "estimate",
    "load_assumptions",
    "not_billed",
    "number",
    "signed_usd",
    "template_change",
    "usd",
]

"""The review report as one self-contained HTML page: inline CSS and SVG, no script, no external
reference (a Content-Security-Policy forbids any). Every value is escaped; the same input
gives the same bytes except for the one generated-at timestamp."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import groupby
from typing import Any

from ml_provisioner import __version__
from ml_provisioner.changes import ResourceChange, describe_value_change
from ml_provisioner.cost import (
    Assumptions,
    CostChange,
    Estimate,
    Line,
    billables_from_template,
    estimate,
    signed_usd,
    usd,
)
from ml_provisioner.plan import Plan
from ml_provisioner.policy.generator import MANAGED_POLICY_LIMIT, DeployerPolicy
from ml_provisioner.report import model
from ml_provisioner.report.diagram import pipelines_svg
from ml_provisioner.synth import LintFinding, Synthesized

SECTIONS = (  # what changes first: it is what the approver signs off
    ("summary", "Summary"),
    ("change-preview", "Change preview"),
    ("cost", "Monthly cost"),
    ("config", "Configuration"),
    ("tier", "Tier"),
    ("resources", "Resources"),
    ("pipelines", "Pipelines"),
    ("ssm-outputs", "SSM outputs"),
    ("deployer-policy", "Deployer policy"),
    ("findings", "Findings"),
)


@dataclass(frozen=True)
class ReviewInput:
    synthesized: Synthesized
    lint: list[LintFinding]
    policy: DeployerPolicy
    preview: list[ResourceChange] | None = None  # None: not deployed, or not checked
    preview_note: str = ""  # why there is no preview
    plan: Plan | None = None  # the saved plan the preview is (its change set is what deploys)
    assumptions: Assumptions | None = None  # the usage the cost estimate assumes (None: the defaults)
    cost_change: CostChange | None = None  # against the deployed stack; None: not compared

    @property
    def cost_estimate(self) -> Estimate:
        if self.cost_change is not None:
            return self.cost_change.after
        s = self.synthesized
        return estimate(billables_from_template(s.template), s.names.region, self.assumptions)

    def counts(self) -> dict[str, Any]:
        return {
            "resources": len(self.synthesized.template.get("Resources", {})),
            "nag_findings": len(self.synthesized.findings),
            "acknowledged": len(self.synthesized.acknowledged),
            "lint_findings": len(self.lint),
            "preview": "not checked" if self.preview is None else f"{len(self.preview)} change(s)",
        }


class Markup(str):
    """HTML built here from escaped parts: the one kind of string that is not escaped again."""


def _text(value: Any) -> str:
    return value if isinstance(value, Markup) else escape(str(value))


def build_report(review: ReviewInput, generated_at: dt.datetime) -> str:
    s = review.synthesized
    names = s.names
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = "\n".join(
        [
            _header(review, stamp),
            _nav(),
            "<main>",
            _summary(review),
            _preview(review.preview, review.preview_note, review.plan),
            _cost(review),
            _config(s),
            _tier(s),
            _resources(s),
            _pipelines(s),
            _ssm_outputs(s),
            _policy(review.policy),
            _findings(review),
            "</main>",
            _footer(s, stamp),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Deployment review: {escape(names.stack_name)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# -- building blocks ------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> Markup:
    """A table of escaped cells; no header row when headers is empty (a list of facts)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    body = "".join("<tr>" + "".join(f"<td>{_text(c)}</td>" for c in row) + "</tr>" for row in rows)
    return Markup(f'<table class="{css}">{thead}<tbody>{body}</tbody></table>')


def _badge(text: str, kind: str) -> Markup:
    return Markup(f'<span class="badge {escape(kind)}">{escape(text)}</span>')


def _code(text: str) -> Markup:
    return Markup(f"<code>{escape(text)}</code>")


def _section(section_id: str, intro: str, *content: str) -> str:
    title = dict(SECTIONS)[section_id]
    return (
        f'<section id="{section_id}"><h2>{escape(title)}</h2><p class="intro">{escape(intro)}</p>'
        + "".join(content)
        + "</section>"
    )


def _empty(text: str) -> Markup:
    return Markup(f'<p class="empty">{escape(text)}</p>')


def _details(summary: str, content: str) -> Markup:
    return Markup(f"<details><summary>{escape(summary)}</summary>{content}</details>")


# -- header, navigation, summary -------------------------------------------------------------------


def _header(review: ReviewInput, stamp: str) -> str:
    s = review.synthesized
    n = s.names
    facts = [
        ("Product", n.deployment_id),
        ("Tier", s.loaded.config.tier.value),
        ("Region", n.region),
        ("Account", n.account),
        ("Config", s.loaded.path.name),
        ("Generated", stamp),
    ]
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return (
        f'<header><p class="kicker">ML Provisioner · deployment review</p>'
        f'<h1>{escape(n.stack_name)}</h1><dl class="facts">{items}</dl></header>'
    )


def _nav() -> str:
    links = "".join(f'<a href="#{i}">{escape(title)}</a>' for i, title in SECTIONS)
    return f'<nav aria-label="Sections">{links}</nav>'


def _summary(review: ReviewInput) -> str:
    s = review.synthesized
    errors = [f for f in s.findings if f.severity == "error"]
    lint_errors = [f for f in review.lint if f.severity == "error"]
    cards = [
        ("Resources", str(len(s.template.get("Resources", {}))), f"{s.loaded.config.tier.value} tier", "neutral"),
        (
            "cdk-nag",
            f"{len(s.findings)} open",
            f"{len(s.acknowledged)} acknowledged with a reason",
            "bad" if errors else "warn" if s.findings else "good",
        ),
        (
            "cfn-lint",
            f"{len(review.lint)} finding(s)",
            "on the rendered template",
            "bad" if lint_errors else "warn" if review.lint else "good",
        ),
        (
            "Deployer policy",
            f"{len(review.policy.documents)} document(s)",
            f"{len(review.policy.actions)} actions, {len(review.policy.statements)} statements",
            "neutral",
        ),
        ("Change preview", *_preview_headline(review.preview, review.preview_note)),
        ("Monthly cost", *_cost_headline(review)),
    ]
    html = "".join(
        f'<div class="card {kind}"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
        f'<div class="note">{escape(note)}</div></div>'
        for label, value, note, kind in cards
    )
    return _section(
        "summary", "What this deployment creates and what the checks found.", f'<div class="cards">{html}</div>'
    )


def _preview_headline(preview: list[ResourceChange] | None, note: str) -> tuple[str, str, str]:
    if preview is None:
        return "not checked", note or "no change-set preview was made", "neutral"
    replacements = sum(1 for c in preview if c.replaces)
    widening = sum(1 for c in preview if c.iam_widening)
    risks = f"{replacements} replacement(s), {widening} IAM widening"
    return f"{len(preview)} change(s)", risks, "bad" if widening or replacements else "good"


def _cost_headline(review: ReviewInput) -> tuple[str, str, str]:
    estimated, change = review.cost_estimate, review.cost_change
    if estimated.monthly_usd is None:
        return "no estimate", estimated.headline, "warn"
    if change is None or change.delta_usd is None:
        return usd(estimated.monthly_usd), "estimated; change not compared", "neutral"
    return usd(estimated.monthly_usd), f"{signed_usd(change.delta_usd)}/month with this change", "neutral"


# -- sections --------------------------------------------------------------------------------------


def _cost(review: ReviewInput) -> str:
    estimated, change = review.cost_estimate, review.cost_change
    intro = (
        "An estimate at AWS list prices, from the template's resources (never from AWS calls): fixed items are "
        "billed by existing, usage items at the assumptions below (cost-assumptions.yaml in the workspace "
        "overrides them). Taxes, free tiers shared by the account and usage the product's own code causes "
        "(training, endpoints it creates) are not included."
    )
    if estimated.no_price_data:
        return _section("cost", intro, Markup(f'<p class="callout">{escape(estimated.headline)}</p>'))
    if change is None:
        delta = "Not compared with a deployed stack: run create-review-report with --preview or --plan for the delta."
    elif change.before is None:
        delta = f"This change creates the stack: {change.text}."
    else:
        delta = f"This change: {change.text}."
    facts = _table(
        [],
        [
            ("Estimated per month", Markup(f"<strong>{escape(estimated.headline)}</strong>")),
            ("Fixed (billed while the resources exist)", usd(estimated.fixed_usd)),
            ("Usage (at the assumptions)", usd(estimated.usage_usd)),
            ("Delta of the change", delta),
            ("Prices", f"{estimated.region} list prices in USD, recorded {estimated.prices_recorded}"),
        ],
        "kv",
    )
    lines = _table(
        [header.capitalize() for header in Line.HEADERS],
        [(_code(line.resource), *line.cells()[1:]) for line in estimated.lines],
        "cost",
    )
    assumptions = _table(
        ["Assumption", "Value"], [(_code(name), f"{value:g}") for name, value in estimated.assumptions.stated().items()]
    )
    return _section("cost", intro, facts, lines, _details("Usage assumptions", assumptions))


def _config(s: Synthesized) -> str:
    rows = [(_code(field), value) for field, value in model.config_rows(s)]
    return _section(
        "config",
        "The validated configuration, rendered from the config model (not the raw file).",
        _table(["Field", "Value"], rows, "kv"),
    )


def _tier(s: Synthesized) -> str:
    view = model.tier_view(s)
    info, below = view.info, view.below
    rows = [
        ("Use", info.use, below.use if below else "-"),
        ("Network", info.network, below.network if below else "-"),
        ("IAM", info.iam, below.iam if below else "-"),
        ("Resources (codecommit / s3, codeconnections)", info.counts, below.counts if below else "-"),
    ]
    compare = _table(["", f"{info.tier.value} (this product)", below.tier.value if below else "(none)"], rows)
    added_title = (
        f"What the {info.tier.value} tier adds over {below.tier.value}" if below else "What the starter tier provides"
    )
    added = _table(
        ["Type", "Purpose", "Physical name"],
        [(_code(r.type), r.purpose, _code(r.physical_name)) for r in view.added],
        "typed",
    )
    return _section(
        "tier",
        "The tier decides which constructs are composed into the stack.",
        compare,
        f"<h3>{escape(added_title)}</h3>",
        added,
    )


def _resources(s: Synthesized) -> str:
    rows = sorted(model.resource_rows(s), key=lambda r: (_construct_rank(r.construct), r.type, r.purpose))
    groups = []
    for construct, grouped in groupby(rows, key=lambda r: r.construct):
        members = list(grouped)
        body = ""
        for rtype, of_type in groupby(members, key=lambda r: r.type):
            typed = list(of_type)
            body += (
                f'<tr class="group"><th colspan="3">{escape(rtype)} <span class="count">{len(typed)}</span></th></tr>'
            )
            body += "".join(
                f"<tr><td>{escape(r.purpose)}</td><td>{_code(r.physical_name)}</td><td>{_code(r.logical_id)}</td></tr>"
                for r in typed
            )
        groups.append(
            f'<h3>{escape(construct)} <span class="count">{len(members)}</span></h3>'
            '<table class="resources"><thead><tr><th>Purpose</th><th>Physical name</th>'
            f"<th>Logical id</th></tr></thead><tbody>{body}</tbody></table>"
        )
    intro = (
        f"All {len(rows)} resources of the template, grouped by the construct (tier) that adds them and "
        "by type, with the names they will have in the account."
    )
    return _section("resources", intro, *groups)


def _construct_rank(construct: str) -> int:
    order = list(model.TIER_CONSTRUCTS.values())
    return order.index(construct) if construct in order else len(order)


def _pipelines(s: Synthesized) -> str:
    views = model.pipelines(s)
    rows = [
        (
            _code(p.name),
            p.source.provider,
            _code(p.source.target),
            "; ".join(
                f"EventBridge rule {t.name}, {t.detail}" if t.kind == "eventbridge" else t.detail for t in p.triggers
            ),
        )
        for p in views
    ]
    return _section(
        "pipelines",
        "How code and approved models flow: each pipeline's source, its stages and what starts it.",
        f'<figure class="diagram">{pipelines_svg(views, model.model_registry(s))}</figure>',
        _table(["Pipeline", "Source", "Source location", "Triggers"], rows),
    )


def _ssm_outputs(s: Synthesized) -> str:
    rows = [(_code(o.name), _code(o.value), o.description) for o in model.ssm_outputs(s)]
    return _section(
        "ssm-outputs",
        f"Published under {s.names.ssm_prefix}/ for downstream applications.",
        _table(["Parameter", "Value (resolved at deploy time)", "Description"], rows),
    )


def _policy(policy: DeployerPolicy) -> str:
    summary = policy.summary()
    documents = _table(
        ["Document", "Statements", f"Characters (limit {MANAGED_POLICY_LIMIT:,})"],
        [(_code(d["file"]), d["statements"], f"{d['characters']:,}") for d in summary["documents"]],
    )
    statements = _table(
        ["Sid", "Effect", "Actions", "Resources"],
        [
            (
                _code(st["Sid"]),
                st["Effect"],
                Markup("<br>".join(escape(a) for a in st["Action"])),
                Markup("<br>".join(escape(r) for r in st["Resource"])),
            )
            for st in policy.statements
        ],
        "policy",
    )
    omitted = _table(
        ["Resource type", "Action", "Why it is not granted"],
        [(_code(o.resource_type), _code(o.action), o.reason) for o in policy.omitted],
    )
    unscoped = ", ".join(summary["unscoped_actions"]) or "none"
    facts = _table(
        [],
        [
            ("Mode", summary["mode"]),
            ("What its holder could and could not do", policy.holder_can_and_cannot),
            *([("Who may do what (two-person rule)", policy.two_person_rule)] if policy.two_person_rule else []),
            ("Statements", summary["statements"]),
            ("Actions", summary["actions"]),
            ("Services", ", ".join(summary["services"])),
            ('Actions on "*" (no resource-level scoping exists)', unscoped),
            ("Staging bucket (template over 51,200 bytes)", "yes" if summary["staging_bucket"] else "no"),
        ],
        "kv",
    )
    return _section(
        "deployer-policy",
        "What the principal running ML Provisioner needs for this product (create-policy), derived "
        "from the template's resource types and scoped to the product's names.",
        facts,
        documents,
        _details(f"All {len(policy.statements)} statements", statements),
        _details(f"{len(policy.omitted)} handler permissions left out (features not used)", omitted),
    )


def _findings(review: ReviewInput) -> str:
    s = review.synthesized
    nag = (
        _table(
            ["Rule", "Severity", "Where", "Description"],
            [
                (_code(f.rule), _badge(f.severity, f.severity), _code(f.construct_path), f.description)
                for f in s.findings
            ],
        )
        if s.findings
        else _empty("No open cdk-nag findings.")
    )
    acknowledged = _table(
        ["Rule", "Resource", "Reason"], [(_code(f.rule), _code(f.construct_path), f.reason) for f in s.acknowledged]
    )
    lint = (
        _table(
            ["Rule", "Severity", "Line", "Message"],
            [(_code(f.rule), _badge(f.severity, f.severity), f.line or "-", f.message) for f in review.lint],
        )
        if review.lint
        else _empty("No cfn-lint findings.")
    )
    return _section(
        "findings",
        "cdk-nag (AwsSolutions) on the synthesized app and cfn-lint on the rendered template. Every "
        "suppression carries the reason it was accepted.",
        "<h3>cdk-nag: open findings</h3>",
        nag,
        # folded: each was accepted with its reason at synthesis; the open findings above need the reader
        f'<details><summary><h3>cdk-nag: acknowledged <span class="count">{len(s.acknowledged)}</span></h3></summary>',
        acknowledged if s.acknowledged else _empty("None."),
        "</details>",
        "<h3>cfn-lint</h3>",
        lint,
    )


def _preview(preview: list[ResourceChange] | None, note: str, plan: Plan | None = None) -> str:
    intro = "What CloudFormation would change in the deployed stack (a change set, created and deleted, never run)."
    if plan is not None:
        intro = (
            f"The saved plan: change set {plan.change_set_arn} ({plan.change_type} of {plan.stack_id}), made by "
            f"{plan.created_by} at {plan.created_at} from the template with SHA-256 {plan.template_sha256} "
            f"(fingerprint {plan.fingerprint}). deploy-product --plan executes exactly this change set, and "
            "refuses it if the config, the template or the stack changed since."
        )
    if preview is None:
        reason = escape(f" ({note})" if note else "")
        callout = (
            f'<p class="callout">Not deployed / not checked{reason}: no change-set preview is part of this '
            "report. Run create-review-report with --preview against the deployed stack to include it.</p>"
        )
        return _section("change-preview", intro, Markup(callout))
    if not preview:
        return _section("change-preview", intro, _empty("No changes: the deployed stack matches this template."))
    counts = Counter(c.action for c in preview)
    tally = " ".join(_badge(f"{n} {action}", action.lower()) for action, n in sorted(counts.items()))
    rows = [
        (
            _badge(c.action, c.action.lower()),
            _code(c.logical_id),
            _code(c.physical_id or "-"),
            _code(c.resource_type),
            _values(c.properties),
            _replacement(c.replacement),
            _widening(c.iam_widening),
        )
        for c in preview
    ]
    return _section(
        "change-preview",
        intro,
        Markup(f'<p class="tally">{tally}</p>'),
        _table(["Action", "Logical id", "Physical id", "Type", "What changes", "Replacement", "IAM widening"], rows),
    )


def _values(properties: list[dict[str, str | None]]) -> Markup | str:
    """Each changed value: its path, before and after."""
    if not properties:
        return "-"
    return Markup(
        "".join(
            f'<div class="value-change">{_code(value["path"] or "")} {escape(describe_value_change(value))}</div>'
            for value in properties
        )
    )


def _replacement(value: str) -> Markup | str:
    return {"True": _badge("replaces", "bad"), "Conditional": _badge("may replace", "warn")}.get(value, value or "-")


def _widening(grants: list[str]) -> Markup | str:
    if not grants:
        return "-"
    return Markup(_badge("widens IAM", "bad") + "".join(f"<div>{escape(g)}</div>" for g in grants))


def _footer(s: Synthesized, stamp: str) -> str:
    digest = hashlib.sha256(s.template_yaml().encode("utf-8")).hexdigest()
    return (
        f"<footer>Generated {escape(stamp)} by ml-provisioner {escape(__version__)} from "
        f"{escape(s.loaded.path.name)}. Template SHA-256 {_code(digest)} "
        f"(templates/{escape(s.loaded.stem)}.yaml as create-prov-template writes it).</footer>"
    )


_CSS = """
:root { --ink:#1d2733; --muted:#5a6878; --line:#d8dee6; --bg:#f5f7fa; --navy:#1f3a5f; --good:#1f7a4d;
  --warn:#a36100; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color:var(--ink);
  background:var(--bg); }
header { background:var(--navy); color:#fff; padding:24px 40px 20px; }
header h1 { margin:2px 0 14px; font-size:26px; font-weight:600; word-break:break-all; }
.kicker { margin:0; text-transform:uppercase; letter-spacing:.08em; font-size:12px; opacity:.8; }
.facts { display:flex; flex-wrap:wrap; gap:8px 32px; margin:0; }
.facts dt { font-size:11px; text-transform:uppercase; letter-spacing:.06em; opacity:.75; }
.facts dd { margin:0; font-weight:600; }
nav { position:sticky; top:0; z-index:1; display:flex; flex-wrap:wrap; gap:4px 18px; padding:10px 40px;
  background:#fff; border-bottom:1px solid var(--line); }
nav a { color:var(--navy); text-decoration:none; font-weight:500; }
main { max-width:1180px; margin:0 auto; padding:8px 40px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 24px; margin:20px 0; }
h2 { margin:0 0 4px; font-size:19px; color:var(--navy); }
h3 { margin:18px 0 8px; font-size:15px; }
.intro { margin:0 0 12px; color:var(--muted); }
table { width:100%; border-collapse:collapse; margin:6px 0 10px; }
th { text-align:left; font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
  border-bottom:2px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid var(--line); padding:6px 8px; vertical-align:top; overflow-wrap:break-word; }
tbody tr:nth-child(even) td { background:#fafbfc; }
table.kv td:first-child { width:34%; color:var(--muted); }
tr.group th { background:#eef3f8; color:var(--navy); text-transform:none; letter-spacing:0; font-size:13px;
  font-family:ui-monospace, Menlo, Consolas, monospace; border-bottom:1px solid var(--line); }
table.resources td:first-child { width:28%; }
table.typed td:first-child code { white-space:nowrap; }
table.policy td { font-family:ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
code { font:12px ui-monospace, Menlo, Consolas, monospace; background:#eef1f5; padding:1px 4px; border-radius:4px;
  overflow-wrap:anywhere; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(190px, 1fr)); gap:12px; }
.card { border:1px solid var(--line); border-left:5px solid var(--muted); border-radius:8px; padding:10px 14px; }
.card.good { border-left-color:var(--good); } .card.warn { border-left-color:var(--warn); }
.card.bad { border-left-color:var(--bad); } .card.neutral { border-left-color:var(--navy); }
.card .label { font-size:12px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); }
.card .value { font-size:20px; font-weight:600; } .card .note { font-size:12px; color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
  background:#e8eef6; color:var(--navy); }
.badge.error, .badge.bad, .badge.remove { background:#fbe4e2; color:var(--bad); }
.badge.warning, .badge.warn, .badge.modify { background:#fdf0dc; color:var(--warn); }
.badge.add, .badge.good { background:#e0f2e9; color:var(--good); }
.count { font-size:12px; color:var(--muted); font-weight:500; background:#eef1f5; border-radius:10px;
  padding:1px 8px; }
.empty { color:var(--good); font-weight:500; }
.callout { border-left:4px solid var(--navy); background:#eef3f8; padding:10px 14px; border-radius:4px; }
figure.diagram { margin:8px 0 14px; padding:12px; border:1px solid var(--line); border-radius:8px;
  background:#fbfcfd; }
details { margin:8px 0; } summary { cursor:pointer; font-weight:600; color:var(--navy); }
footer { max-width:1180px; margin:0 auto 30px; padding:0 40px; color:var(--muted); font-size:12px; }
@media print { nav { display:none; } body { background:#fff; } section { break-inside:avoid-page; } }
"""

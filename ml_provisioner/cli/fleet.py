"""`ml-provisioner fleet ...`: status, plan, deploy and drift over many configs and accounts.

Every selected config is synthesized in one process (one jsii kernel); then each product is worked
on in its own account, concurrently (ml_provisioner.fleet). Progress goes to stderr, one line per
product; the table (or JSON) of results goes to stdout."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from ml_provisioner.cli._access import ExternalIdOption, RoleArnOption
from ml_provisioner.cli._common import EndpointOption, JsonOption, Run, action, options_as, table
from ml_provisioner.cost import load_assumptions
from ml_provisioner.errors import EXIT_DRIFT, BadInput, Interrupted, OperationFailed, ProvisionerError

fleet = typer.Typer(
    name="fleet",
    help="Status, plan, deploy and drift of many products across accounts, concurrently.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SourcesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Config files, folders or globs (default: the workspace's configs/).", show_default=False),
]
TierOption = Annotated[list[str], typer.Option("--tier", help="Only this tier (repeat for several).")]
AccountOption = Annotated[list[str], typer.Option("--account", help="Only this account id (repeat for several).")]
RegionOption = Annotated[list[str], typer.Option("--region", help="Only this region (repeat for several).")]
MaxConcurrentOption = Annotated[
    int, typer.Option("--max-concurrent", min=1, max=64, help="Products worked on at the same time.")
]
ApiRateOption = Annotated[
    float,
    typer.Option(
        "--api-rate", min=0.1, help="CloudFormation calls per second per account and region (client-side limit)."
    ),
]
ServiceRoleOption = Annotated[
    bool, typer.Option("--service-role", help="CloudFormation acts with each product's execution role.")
]


@dataclass(frozen=True)
class Scope:
    """The products a fleet command works on, and how it reaches their accounts."""

    sources: list[str] | None
    tier: list[str]
    account: list[str]
    region: list[str]
    endpoint_url: str | None
    role_arn: str | None
    external_id: str | None
    api_rate: float


# Every fleet command takes these, handed to it as one ``scope: Scope``.
scoped = options_as(
    "scope",
    Scope,
    [
        ("sources", SourcesArgument, None),
        ("tier", TierOption, []),
        ("account", AccountOption, []),
        ("region", RegionOption, []),
        ("endpoint_url", EndpointOption, None),
        ("role_arn", RoleArnOption, None),
        ("external_id", ExternalIdOption, None),
        ("api_rate", ApiRateOption, 5.0),
    ],
)


def _selected(run: Run, scope: Scope) -> list[Any]:
    from ml_provisioner.fleet.operations import targets
    from ml_provisioner.fleet.selection import select

    chosen = select(run.workspace, scope.sources or [], tiers=scope.tier, accounts=scope.account, regions=scope.region)
    run.configs += [str(c.path) for c in chosen]
    found = targets(chosen, scope.role_arn, scope.external_id)
    accounts_seen = sorted({t.names.account for t in found})
    run.note(f"{len(found)} product(s) in {len(accounts_seen)} account(s): {', '.join(accounts_seen)}")
    return found


def _synthesized(run: Run, found: list[Any], *, keep_required: bool = False) -> dict[str, Any]:
    """Every product's current template: reused from templates/ when current, the others
    synthesized in one process and kept there (keep_required: a plan needs the kept file)."""
    from ml_provisioner.templates import current_templates, template_state

    stale = sum(1 for t in found if not template_state(run.workspace, t.loaded).current)
    run.note(f"{len(found) - stale} template(s) current, synthesizing {stale} in one process ...")
    results = current_templates(run.workspace, [t.loaded for t in found], notify=run.warn, keep_required=keep_required)
    return {t.key: r for t, r in zip(found, results, strict=True)}


def _as_written(run: Run, found: list[Any]) -> dict[str, Any]:
    """With --plans: each product's template as templates/ holds it, never synthesized again (a
    template changed since its plan is refused, not replaced); None where it is not current."""
    from ml_provisioner.templates import from_written, template_state

    states = {t.key: template_state(run.workspace, t.loaded) for t in found}
    return {t.key: from_written(states[t.key], t.loaded) if states[t.key].current else None for t in found}


def _run(
    run: Run,
    found: list[Any],
    job: Callable[[Any, Callable[[str, str], None]], Any],
    *,
    max_concurrent: int,
    fail_fast: bool,
    done_text: Callable[[Any], str],
    ordered: bool = False,
    stop: threading.Event | None = None,
) -> list[Any]:
    """Run job(target, progress) for every product; one line per product on stderr meanwhile."""
    from ml_provisioner.fleet.operations import waves
    from ml_provisioner.fleet.pool import run_waves
    from ml_provisioner.fleet.progress import Board

    board = Board(len(found), live=None if not run.quiet else False, stream=sys.stderr)
    if run.quiet:
        board.stream = _Discard()

    def finish(outcome: Any) -> None:
        text = done_text(outcome.result) if outcome.ok else f"FAILED: {_reason(outcome.error)}"
        board.finish(outcome.item.key, text)

    def work(target: Any) -> Any:
        def progress(stage: str, detail: str = "") -> None:
            board.update(target.key, stage, detail)

        return job(target, progress)

    try:
        return run_waves(
            waves(found) if ordered else [found],
            work,
            max_concurrent=max_concurrent,
            fail_fast=fail_fast,
            on_start=lambda target: board.start(target.key),
            on_done=finish,
            stop=stop,
        )
    finally:
        board.close()


class _Discard:
    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _reason(error: BaseException | None) -> str:
    if isinstance(error, ProvisionerError):
        return error.message
    return f"{type(error).__name__}: {error}"


def _report(run: Run, outcomes: list[Any], headers: list[str], as_json: bool, fleet_run: Any = None) -> list[Any]:
    """The results table (or JSON); returns the failed outcomes."""
    failed = [o for o in outcomes if o.error is not None]
    skipped = [o for o in outcomes if o.skipped]
    calls = fleet_run.limits.calls if fleet_run else {}
    if as_json:
        run.json(
            [
                {
                    "product": o.item.key,
                    "config": o.item.loaded.path.name,
                    "result": None if o.result is None else vars(o.result),
                    "error": None if o.error is None else _reason(o.error),
                    "skipped": o.skipped,
                    "api_calls": calls.get(o.item.key, 0),
                    "acted_as": fleet_run.principals.get(o.item.key) if fleet_run else None,
                }
                for o in outcomes
            ]
        )
        return failed
    rows = []
    for o in outcomes:
        if o.ok:
            rows.append(o.result.cells())
        else:
            names = o.item.names
            status = "SKIPPED" if o.skipped else "CANCELLED" if isinstance(o.error, Interrupted) else "FAILED"
            rows.append([o.item.key, names.account, names.region, status] + [""] * (len(headers) - 4))
    run.out(table(rows, headers))
    for o in failed:
        what = "cancelled" if isinstance(o.error, Interrupted) else "failed"
        run.out(f"{what}: {o.item.key} ({o.item.loaded.path.name}): {_reason(o.error)}")
        hint = getattr(o.error, "hint", None)
        if hint:
            run.out(f"  hint: {hint}")
    if skipped:
        run.out(f"skipped (not started after a failure, --fail-fast): {', '.join(o.item.key for o in skipped)}")
    if fleet_run and calls:
        total = sum(calls.values())
        run.out(f"API calls: {total} ({total / max(1, len(calls)):.0f} per product)")
    return failed


def _cost_totals(found: list[Any], costs: dict[str, Any]) -> str:
    """The monthly estimate summed per account and tier (a sum with an unpriced product says so)."""
    from ml_provisioner.cost import usd

    def total(estimates: list[Any]) -> str:
        """The sum of the priced ones, and how many have no price (never counted as zero)."""
        priced = [e.monthly_usd for e in estimates if e.monthly_usd is not None]
        unpriced = [e for e in estimates if e.monthly_usd is None]
        if not priced:
            return f"- ({len(unpriced)} without prices: {unpriced[0].headline})"
        return usd(sum(priced)) + (f" (+ {len(unpriced)} without prices: {unpriced[0].headline})" if unpriced else "")

    groups: dict[tuple[str, str], list[Any]] = {}
    for target in found:
        groups.setdefault((target.names.account, target.loaded.config.tier.value), []).append(costs[target.key])
    rows = [[account, tier, len(estimates), total(estimates)] for (account, tier), estimates in sorted(groups.items())]
    rows.append(["all", "", len(found), total([costs[t.key] for t in found])])
    return table(rows, ["account", "tier", "products", "estimated cost/month"])


def _failed(failed: list[Any], total: int, what: str) -> OperationFailed:
    products = ", ".join(o.item.key for o in failed)
    return OperationFailed(
        f"{len(failed)} of {total} product(s) failed to {what}: {products}",
        "the lines above say why; fix them and run the command again",
    )


@fleet.command("status")
@scoped
def fleet_status(
    ctx: typer.Context,
    scope: Scope,
    max_concurrent: MaxConcurrentOption = 16,
    as_json: JsonOption = False,
) -> None:
    """One row per product: account, region, tier, stack status, template up to date or not,
    termination protection, last update, drift status, the monthly cost estimate; then the
    estimate's totals per account and tier."""
    from ml_provisioner.cost import billables_from_template, estimate
    from ml_provisioner.fleet.operations import STATUS_HEADERS, Fleet, status
    from ml_provisioner.fleet.ratelimit import RateLimits

    with action(ctx, "fleet status") as run:
        found = _selected(run, scope)
        results = _synthesized(run, found)
        assumptions = load_assumptions(run.workspace)[0]
        costs = {
            t.key: estimate(billables_from_template(results[t.key].template), t.names.region, assumptions)
            for t in found
        }
        fleet_run = Fleet(scope.endpoint_url, RateLimits(scope.api_rate))
        outcomes = _run(
            run,
            found,
            lambda target, progress: status(fleet_run, target, results[target.key], costs[target.key]),
            max_concurrent=max_concurrent,
            fail_fast=False,
            done_text=lambda row: f"{row.status}, {row.template}",
        )
        failed = _report(run, outcomes, STATUS_HEADERS, as_json, fleet_run)
        if not as_json:
            run.out("\n" + _cost_totals(found, costs))
        run.summary = f"{len(found)} product(s), {len(failed)} unreadable"
        run.where = fleet_run.where()
        if failed:
            raise _failed(failed, len(found), "report their status")


@fleet.command("plan")
@scoped
def fleet_plan(
    ctx: typer.Context,
    scope: Scope,
    max_concurrent: MaxConcurrentOption = 8,
    service_role: ServiceRoleOption = False,
    save: Annotated[
        bool,
        typer.Option(
            "--save",
            help="Keep each change set as the product's saved plan (reports/<config>-plan.json), "
            "which `fleet deploy --plans` executes.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """show-changes for every product (change sets created, described, deleted, or kept as saved
    plans with --save), and a summary."""
    from ml_provisioner.fleet.operations import PLAN_HEADERS, Fleet, plan
    from ml_provisioner.fleet.ratelimit import RateLimits

    with action(ctx, "fleet plan") as run:
        found = _selected(run, scope)
        results = _synthesized(run, found, keep_required=save)
        fleet_run = Fleet(scope.endpoint_url, RateLimits(scope.api_rate), service_role=service_role)
        saving = run.workspace if save else None
        assumptions = load_assumptions(run.workspace)[0]
        outcomes = _run(
            run,
            found,
            lambda target, progress: plan(
                fleet_run, target, results[target.key], save_to=saving, assumptions=assumptions
            ),
            max_concurrent=max_concurrent,
            fail_fast=False,
            done_text=lambda row: row.action,
        )
        failed = _report(run, outcomes, PLAN_HEADERS, as_json, fleet_run)
        run.summary = f"{len(found)} product(s) planned, {len(failed)} failed"
        run.where = fleet_run.where()
        if failed:
            raise _failed(failed, len(found), "plan")


@fleet.command("deploy")
@scoped
def fleet_deploy(
    ctx: typer.Context,
    scope: Scope,
    max_concurrent: MaxConcurrentOption = 8,
    fail_fast: Annotated[
        bool,
        typer.Option(
            "--fail-fast/--continue-on-error",
            help="After a failure, start no other product (those running finish), or carry on with the rest.",
        ),
    ] = True,
    force: Annotated[bool, typer.Option("--force", help="Do not ask (required without a terminal).")] = False,
    allow_destructive: Annotated[
        bool, typer.Option("--allow-destructive", help="Allow changes that remove or replace data-bearing resources.")
    ] = False,
    service_role: ServiceRoleOption = False,
    plans: Annotated[
        bool,
        typer.Option(
            "--plans",
            help="Execute each product's saved plan (fleet plan --save) exactly, as deploy-product --plan does.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Deploy every product through change sets (deploy-product's code), or execute their saved
    plans with --plans; non-production environments first, at most --max-concurrent at a time.
    Exit 1 naming those that failed."""
    from ml_provisioner.fleet.operations import DEPLOY_HEADERS, Fleet, deploy_one
    from ml_provisioner.fleet.ratelimit import RateLimits

    with action(ctx, "fleet deploy") as run:
        found = _selected(run, scope)
        _confirm(f"Deploy {len(found)} product(s)?", force)
        results = _as_written(run, found) if plans else _synthesized(run, found)
        fleet_run = Fleet(scope.endpoint_url, RateLimits(scope.api_rate), service_role=service_role)
        stop = threading.Event()  # Ctrl-C: nothing more is executed, and the table says what became of each
        outcomes = _run(
            run,
            found,
            lambda target, progress: deploy_one(
                fleet_run,
                target,
                results[target.key],
                progress=progress,
                allow_destructive=allow_destructive,
                plans_in=run.workspace if plans else None,
                stop=stop,
            ),
            max_concurrent=max_concurrent,
            fail_fast=fail_fast,
            done_text=lambda row: f"{row.outcome} in {row.seconds:.0f}s",
            ordered=True,
            stop=stop,
        )
        failed = _report(run, outcomes, DEPLOY_HEADERS, as_json, fleet_run)
        if stop.is_set():
            done = sum(1 for o in outcomes if o.ok)
            cancelled = sum(1 for o in outcomes if isinstance(o.error, Interrupted))
            not_started = sum(1 for o in outcomes if o.skipped)
            raise Interrupted(
                f"interrupted: {done} product(s) deployed, {cancelled} cancelled before executing anything, "
                f"{not_started} not started",
                "each row above says the state its stack is in; run fleet deploy again to carry on",
            )
        run.summary = f"{len(found)} product(s): {len(failed)} failed"
        run.where = fleet_run.where()
        if failed:
            raise _failed(failed, len(found), "deploy")


@fleet.command("drift")
@scoped
def fleet_drift(
    ctx: typer.Context,
    scope: Scope,
    max_concurrent: MaxConcurrentOption = 8,
    as_json: JsonOption = False,
) -> None:
    """check-drift for every product. Exit 3 if any drifted, 1 if any check failed (drift unknown)."""
    from ml_provisioner.fleet.operations import DRIFT_HEADERS, Fleet, drift
    from ml_provisioner.fleet.ratelimit import RateLimits

    with action(ctx, "fleet drift") as run:
        found = _selected(run, scope)
        fleet_run = Fleet(scope.endpoint_url, RateLimits(scope.api_rate))
        outcomes = _run(
            run,
            found,
            lambda target, progress: drift(fleet_run, target),
            max_concurrent=max_concurrent,
            fail_fast=False,
            done_text=lambda row: "DRIFTED" if row.drifted else "IN_SYNC",
        )
        failed = _report(run, outcomes, DRIFT_HEADERS, as_json, fleet_run)
        drifted = [o.item.key for o in outcomes if o.ok and o.result.drifted]
        run.summary = f"{len(found)} product(s): {len(drifted)} drifted, {len(failed)} not checked"
        run.where = fleet_run.where()
        if failed:
            raise _failed(failed, len(found), "check drift")
        if drifted:
            run.result(f"drifted: {', '.join(drifted)} (check-drift --config <file> shows what changed)")
            raise typer.Exit(EXIT_DRIFT)
        run.result(f"{len(found)} product(s) in sync")


def _confirm(question: str, force: bool) -> None:
    if force:
        return
    if not sys.stdin.isatty():
        raise BadInput("confirmation needed but stdin is not a terminal", "pass --force to proceed without asking")
    if not typer.confirm(question, default=False):
        raise OperationFailed("cancelled; nothing was changed")

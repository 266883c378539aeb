"""`ml-provisioner sandbox`: a local AWS endpoint (moto's server, extended by the project) to try
the whole lifecycle without an AWS account. Runs until interrupted."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ml_provisioner.cli._common import Run, action
from ml_provisioner.errors import BadInput

SANDBOX_ACCOUNT = "123456789012"  # the starter examples' account
LOCKED_INSTALL = "EXTRAS=sandbox scripts/demo in the project folder (installs the locked versions; scripts/test too)"


def _import_sandbox(run: Run) -> Callable[..., Any]:
    """The sandbox's start function, once its moto is one it can run on. "Not installed" only when
    the package (a distribution of its own, ./sandbox) or moto is really missing."""
    # moto is the sandbox's engine: without it, the sandbox is not installed either.
    missing = next(
        (name for name in ("ml_provisioner_sandbox", "moto") if importlib.util.find_spec(name) is None), None
    )
    if missing:
        raise BadInput(f"the sandbox is not installed (no module {missing!r})", f"install it: {LOCKED_INSTALL}")
    import ml_provisioner_sandbox as sandbox_package

    try:
        warning = sandbox_package.check_moto()
    except sandbox_package.IncompatibleMoto as error:
        raise BadInput(str(error), f"install the moto it was tested with: {LOCKED_INSTALL}") from None
    if warning:
        run.warn(warning)
    from ml_provisioner_sandbox import start_sandbox

    return start_sandbox


def sandbox(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 4566,
    account_id: Annotated[
        str,
        typer.Option(
            help="The AWS account the endpoint emulates. The default also serves other accounts through "
            "STS AssumeRole (cross-account deploys, fleets); another value pins every request to it."
        ),
    ] = SANDBOX_ACCOUNT,
) -> None:
    """Run a local AWS endpoint on 127.0.0.1 and print the environment to use it."""
    with action(ctx, "sandbox") as run:
        start_sandbox = _import_sandbox(run)
        try:
            endpoint = start_sandbox(port=port, account_id=account_id)
        except OSError as error:  # e.g. "Address already in use"
            raise BadInput(
                f"cannot listen on 127.0.0.1:{port}: {error.strerror}",
                "stop what listens there, or choose another port with --port (0: any free port)",
            ) from None
        with endpoint:
            run.result("Local AWS endpoint running. In another shell:\n")
            run.result(f"  export AWS_ENDPOINT_URL={endpoint.url}")
            run.result("  export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox")
            run.result(f"\nIt emulates account {account_id}; an assumed role's credentials act in the role's account.")
            run.result("Stop it with Ctrl-C (all state is in memory).")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                run.result("\nsandbox stopped")

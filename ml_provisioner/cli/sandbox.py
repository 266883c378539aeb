"""`ml-provisioner sandbox`: a local AWS endpoint (moto's server, extended by the project) to try
the whole lifecycle without an AWS account. Runs until interrupted."""

from __future__ import annotations

import os
import threading
from typing import Annotated

import typer

from ml_provisioner.cli import app
from ml_provisioner.cli._common import action
from ml_provisioner.errors import BadInput

SANDBOX_ACCOUNT = "123456789012"  # the starter examples' account


@app.command("sandbox")
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
    with action(ctx, "sandbox") as s:
        if account_id != SANDBOX_ACCOUNT:  # moto's own default; set, it would pin every request to it
            os.environ["MOTO_ACCOUNT_ID"] = account_id
        try:
            from ml_provisioner.sandbox import start_sandbox
        except ModuleNotFoundError as error:  # the sandbox is an extra: `pip install -e .` leaves it out
            raise BadInput(
                f"the sandbox needs moto's server, which is not installed ({error})",
                'install it: pip install -e ".[sandbox]" in the project folder (scripts/test installs it too)',
            ) from None

        try:
            endpoint = start_sandbox(port=port)
        except OSError as error:  # e.g. "Address already in use"
            raise BadInput(
                f"cannot listen on 127.0.0.1:{port}: {error.strerror}",
                "stop what listens there, or choose another port with --port (0: any free port)",
            ) from None
        with endpoint:
            s.result("Local AWS endpoint running. In another shell:\n")
            s.result(f"  export AWS_ENDPOINT_URL={endpoint.url}")
            s.result("  export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox")
            s.result(f"\nIt emulates account {account_id}; stop it with Ctrl-C (all state is in memory).")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                s.result("\nsandbox stopped")

"""Local AWS endpoint for the whole deploy lifecycle: moto's server plus CloudFormation fixes.

    from ml_provisioner_sandbox import start_sandbox
    with start_sandbox() as sb:
        boto3.client("cloudformation", endpoint_url=sb.url, region_name="us-west-2", ...)

The fixes reach into moto's internals: compat.py names the moto versions they were tested with and
refuses (IncompatibleMoto) a moto that lacks what they replace.
"""

from typing import TYPE_CHECKING, Any

from .compat import IncompatibleMoto, check_moto

if TYPE_CHECKING:
    from .server import Sandbox, start_sandbox


def __getattr__(name: str) -> Any:
    """The server on first use: compat.check_moto can then run before anything imports moto's server."""
    if name in ("Sandbox", "start_sandbox"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)


__all__ = ["IncompatibleMoto", "Sandbox", "check_moto", "start_sandbox"]

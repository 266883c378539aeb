"""Local AWS endpoint for the whole deploy lifecycle: moto's server plus CloudFormation fixes.

    from ml_provisioner_sandbox import start_sandbox
    with start_sandbox() as sb:
        boto3.client("cloudformation", endpoint_url=sb.url, region_name="us-west-2", ...)

Tested with moto 5.2.5 (the pin in sandbox/pyproject.toml); the fixes reach into moto internals.
"""

from .server import Sandbox, start_sandbox

__all__ = ["Sandbox", "start_sandbox"]

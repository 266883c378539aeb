"""Entry point for the AWS CDK CLI: `cdk synth -c config=configs/<file>.yaml` (several: comma-separated).

It builds the same stacks as `ml-provisioner create-prov-template`, through the same code.
"""

import sys

from ml_provisioner.config.loader import ConfigError, load_config
from ml_provisioner.errors import EXIT_INTERRUPTED, ProvisionerError
from ml_provisioner.quick_exit import one_line_unraisable, quick_exit
from ml_provisioner.synth import APP_CONTEXT, APP_PROPS, populate_app, start_kernel


def synthesize() -> None:
    start_kernel()  # a supported Node.js (no banner), in a temporary folder removed at the end
    import aws_cdk as cdk

    app = cdk.App(**APP_PROPS)
    for key, value in APP_CONTEXT.items():
        app.node.set_context(key, value)
    given = app.node.try_get_context("config")
    if not given:
        raise SystemExit("error: no config given\nhint: cdk synth -c config=configs/<file>.yaml")
    try:
        configs = [load_config(path.strip()) for path in str(given).split(",")]
    except ConfigError as error:
        raise SystemExit(f"error: invalid config\n{error}") from None
    populate_app(app, configs, test_marker=app.node.try_get_context("test_marker"))
    app.synth()


sys.unraisablehook = one_line_unraisable
try:
    synthesize()
except ProvisionerError as error:
    raise SystemExit(f"error: {error.message}" + (f"\nhint: {error.hint}" if error.hint else "")) from None
except KeyboardInterrupt:
    print("error: interrupted", file=sys.stderr)
    quick_exit(EXIT_INTERRUPTED)
quick_exit(0)  # the CDK CLI reads cdk.out once this process has ended: end it without the teardown

"""The ml-provisioner command line: `ml-provisioner ACTION --config FILE`, or the spec's own
form `ml-provisioner -con FILE -act ACTION`. The application and its commands: ``cli.app``."""

from ml_provisioner.cli.app import app, main, run, spec_argv

__all__ = ["app", "main", "run", "spec_argv"]

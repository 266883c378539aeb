"""ML Provisioner: tiered, audited ML product infrastructure on AWS (CDK -> CloudFormation)."""

__version__ = "0.3.0"  # the one place: pyproject.toml reads it, CHANGELOG.md says what changed

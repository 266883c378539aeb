"""ProfessionalAddons: approval trigger, dashboard and managed build policies (construct.py);
what it adds to StarterCore's pipeline role in policies.py, its dashboard in dashboard.py and what
it is built from in props.py (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from constructs_lib.professional_addons.props import ProfessionalAddonsProps

if TYPE_CHECKING:
    from constructs_lib.professional_addons.construct import ProfessionalAddons


def __getattr__(name: str) -> Any:
    if name == "ProfessionalAddons":
        from constructs_lib.professional_addons.construct import ProfessionalAddons

        return ProfessionalAddons
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ProfessionalAddons", "ProfessionalAddonsProps"]

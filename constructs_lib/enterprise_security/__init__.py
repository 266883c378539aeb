"""EnterpriseSecurity: key, endpoints, compliance logging, permission boundary (construct.py);
its documents in policies.py (pure) and what it is built from in props.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from constructs_lib.enterprise_security.props import EndpointNetwork, EnterpriseSecurityProps

if TYPE_CHECKING:
    from constructs_lib.enterprise_security.construct import EnterpriseSecurity


def __getattr__(name: str) -> Any:
    if name == "EnterpriseSecurity":
        from constructs_lib.enterprise_security.construct import EnterpriseSecurity

        return EnterpriseSecurity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EndpointNetwork", "EnterpriseSecurity", "EnterpriseSecurityProps"]

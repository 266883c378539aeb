"""StarterCore: the resources every tier has.

construct.py builds it from storage.py and pipelines.py; policies.py holds its IAM documents as
pure functions of the names and props.py what it is built from. Importing the pure modules does
not load the CDK: StarterCore itself is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from constructs_lib.names import KINDS
from constructs_lib.starter_core.props import Connection, InitialCommit, LogDestination, Source, StarterCoreProps

if TYPE_CHECKING:
    from constructs_lib.starter_core.construct import StarterCore


def __getattr__(name: str) -> Any:
    if name == "StarterCore":
        from constructs_lib.starter_core.construct import StarterCore

        return StarterCore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["KINDS", "Connection", "InitialCommit", "LogDestination", "Source", "StarterCore", "StarterCoreProps"]

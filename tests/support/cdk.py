"""aws_cdk.assertions' Template and Match, imported on first use: importing a test module (which
pytest does for every run, `-m "not synth"` included) must not start the jsii kernel."""

from __future__ import annotations

from typing import Any


class _OnFirstUse:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):  # pytest's collection looks for __test__ and the like
            raise AttributeError(attribute)
        from aws_cdk import assertions

        return getattr(getattr(assertions, self._name), attribute)


Template: Any = _OnFirstUse("Template")
Match: Any = _OnFirstUse("Match")

"""Every example's template is exactly the one recorded: a refactoring changes no byte of it.

tests/snapshots/templates.sha256 holds the SHA-256 of each example's template body, in sha256sum's
format: the template as synthesized, without the stamp that create-prov-template appends
(``Metadata.MlProvisioner``: the fingerprint of the tool that made it, which changes with every
edit of the tool's source). When a change to the templates is intended, regenerate the record and
review the diff:

    UPDATE_SNAPSHOTS=1 scripts/test tests/test_snapshots.py
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ml_provisioner.synth import render_yaml

SNAPSHOT = Path(__file__).parent / "snapshots" / "templates.sha256"


def recorded() -> dict[str, str]:
    lines = SNAPSHOT.read_text(encoding="utf-8").splitlines() if SNAPSHOT.exists() else []
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def test_every_example_template_is_byte_identical_to_its_snapshot(synthesized):
    """All examples synthesized in one app (conftest); each template's bytes against the record."""
    digests = {
        f"{stem}.yaml": hashlib.sha256(render_yaml(result.template).encode("utf-8")).hexdigest()
        for stem, result in synthesized.items()
    }
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text("".join(f"{digests[name]}  {name}\n" for name in sorted(digests)), encoding="utf-8")
        pytest.skip(f"rewrote {SNAPSHOT.name}: review and commit it")
    expected = recorded()
    changed = sorted(name for name in digests.keys() | expected.keys() if digests.get(name) != expected.get(name))
    assert not changed, (
        f"templates differ from {SNAPSHOT.name}: {changed}; "
        "if intended: UPDATE_SNAPSHOTS=1 scripts/test tests/test_snapshots.py"
    )

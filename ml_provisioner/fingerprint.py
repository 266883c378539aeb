"""What produced a template, as one digest: the normalized config, the tool (its version, and for
a development install a hash of its source), the CDK libraries' versions and the test marker.

A template carries its fingerprint in its Metadata (``Metadata.MlProvisioner``, written last in
the file), with the SHA-256 of the text above it and the cdk-nag findings of its synthesis (a
template written by an older version may also carry cfn-lint's findings on it). A template whose
fingerprint equals the one its config gives now, and whose text was not edited, is current:
actions use it as it is and never start the jsii kernel. Nothing here imports aws_cdk: the
library versions come from the installed distributions' metadata.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

import ml_provisioner
from ml_provisioner.config.loader import LoadedConfig

METADATA_KEY = "MlProvisioner"
LIBRARIES = ("aws-cdk-lib", "constructs", "cdk-nag", "cfn-lint")  # what synthesis and its checks run on
# The packages whose source makes the template (the sandbox only plays AWS: it makes none).
SOURCE_PACKAGES = ("ml_provisioner", "constructs_lib")
SOURCE_EXCLUDED = ("sandbox",)
_TRAILER = f"\nMetadata:\n  {METADATA_KEY}:\n"


@dataclass(frozen=True)
class Fingerprint:
    """The inputs of a synthesis and their digest (what a template says produced it)."""

    inputs: dict[str, Any]

    @property
    def digest(self) -> str:
        return _sha256(json.dumps(self.inputs, sort_keys=True, separators=(",", ":")))


@functools.cache
def tool() -> dict[str, str]:
    """The tool and the libraries synthesis runs on (the same for every config of a run)."""
    produced = {"ml-provisioner": ml_provisioner.__version__}
    if _development_install():
        produced["source"] = source_hash()
    for library in LIBRARIES:
        produced[library] = _version(library)
    return produced


def fingerprint(loaded: LoadedConfig, test_marker: str | None = None) -> Fingerprint:
    """The fingerprint a template of this config (and test marker) gets when synthesized now."""
    config = json.dumps(loaded.config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return Fingerprint(
        {"config": _sha256(config), "config_stem": loaded.stem, "test_marker": test_marker or "", **tool()}
    )


def source_hash() -> str:
    """SHA-256 over the tool's .py files (relative path and bytes, in path order)."""
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        root = Path(str(__import__(package).__file__)).parent
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root.parent).as_posix()
            if any(part in SOURCE_EXCLUDED for part in path.relative_to(root).parts[:-1]):
                continue
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _development_install() -> bool:
    """Running from a checkout (an editable install, or none): the version number does not say
    which source runs, so the source's hash is part of the fingerprint. An installed package
    lives in the interpreter's site-packages."""
    package_parent = Path(ml_provisioner.__file__).resolve().parent.parent
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    return package_parent not in installed


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- the stamp in the template --------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    """What a written template says about itself."""

    fingerprint: str
    body_sha256: str  # of the text above the stamp, as written
    produced: dict[str, Any]
    nag_findings: list[dict[str, Any]] = field(default_factory=list)  # unacknowledged, at synthesis
    lint_findings: list[dict[str, Any]] | None = None  # cfn-lint's, on the text above; None: not linted
    edited: bool = False  # the text above the stamp is not what was synthesized


def stamp(
    body: str, print_: Fingerprint, nag_findings: list[dict[str, Any]], lint_findings: list[dict[str, Any]] | None
) -> str:
    """The template text with its stamp appended as its last top-level key."""
    if "\nMetadata:" in "\n" + body:
        raise ValueError("the synthesized template has a top-level Metadata section of its own")
    trailer = {
        "Metadata": {
            METADATA_KEY: {
                "Fingerprint": print_.digest,
                "TemplateSha256": _sha256(body),
                "Produced": print_.inputs,
                "NagFindings": nag_findings,
                **({} if lint_findings is None else {"LintFindings": lint_findings}),
            }
        }
    }
    return body + _dump_trailer(trailer)


def _dump_trailer(trailer: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(trailer, sort_keys=False, default_flow_style=False, width=120)
    return text


def read_stamp(text: str) -> Stamp | None:
    """The stamp of a template's text, or None when it has none (or one that cannot be read)."""
    at = text.rfind(_TRAILER)
    if at < 0:
        return None
    body, trailer_text = text[: at + 1], text[at + 1 :]
    try:
        trailer = yaml.load(trailer_text, Loader=_LOADER)
        data = trailer["Metadata"][METADATA_KEY]
        # The stamp covers the whole file: anything after it, or written differently, is an edit.
        exact = isinstance(trailer, dict) and list(trailer) == ["Metadata"] and _dump_trailer(trailer) == trailer_text
        return Stamp(
            fingerprint=str(data["Fingerprint"]),
            body_sha256=str(data["TemplateSha256"]),
            produced=dict(data["Produced"]),
            nag_findings=list(data.get("NagFindings") or []),
            lint_findings=None if data.get("LintFindings") is None else list(data["LintFindings"]),
            edited=_sha256(body) != data["TemplateSha256"] or not exact,
        )
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        return None


def what_changed(stamp_: Stamp, now: Fingerprint) -> str:
    """Why a template is not current, in words."""
    if stamp_.edited:
        return "it was edited after it was synthesized"
    before, after = stamp_.produced, now.inputs
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    labels = {"config": "its config", "source": "the tool's source", "test_marker": "the test marker"}
    return "changed since: " + ", ".join(labels.get(k, k) for k in changed) if changed else "its fingerprint differs"


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

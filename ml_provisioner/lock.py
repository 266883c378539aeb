"""The lock this build was made from (lock/ in the checkout: exact versions with hashes of every
Python and npm package). Its digest is recorded in the package by scripts/lock, so that an
installed wheel, which has no lock/ folder, still says which lock it was built and tested with."""

from __future__ import annotations

import hashlib
import sys
from importlib import resources
from pathlib import Path

LOCK_FILES = ("runtime.txt", "sandbox.txt", "docs.txt", "dev.txt", "uv.txt", "package.json", "package-lock.json")
RECORD = "lock_digest.txt"


def digest_of(folder: Path) -> str:
    """SHA-256 over the lock files' names and contents, shortened to 12 hex digits."""
    digest = hashlib.sha256()
    for name in LOCK_FILES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def recorded_digest() -> str:
    return resources.files("ml_provisioner").joinpath(RECORD).read_text().strip()


if __name__ == "__main__":  # scripts/lock: python -m ml_provisioner.lock LOCK_FOLDER
    Path(__file__).with_name(RECORD).write_text(digest_of(Path(sys.argv[1])) + "\n")

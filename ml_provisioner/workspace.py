"""The working directory of the spec: configs/, policies/, templates/, reports/ under one root."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ml_provisioner import __version__
from ml_provisioner.errors import BadInput
from ml_provisioner.image import IMAGE_TIER_ENV

DEFAULT_ROOT = Path("ml")
ENV_VAR = "ML_PROVISIONER_WORKSPACE"
EXECUTION_LOG = "execution.log"


class FolderNotWritable(BadInput):
    """An output folder this process cannot write: says which, as whom, and how to fix it."""

    def __init__(self, folder: Path, error: OSError) -> None:
        self.folder = folder
        reason = error.strerror or type(error).__name__
        if error.errno == errno.EROFS:
            hint = f"mount {folder} read-write (drop ':ro'), or pass --workspace with a writable folder"
        elif error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            hint = f"free space on the disk holding {folder} (or raise the quota or file size limit)"
        else:
            hint = f"make {folder} writable for {_whoami()} (chown or chmod it), or use a workspace you own"
            if IMAGE_TIER_ENV in os.environ:  # in the container image
                hint += '; in a container, mount folders you own, or add --user "$(id -u):$(id -g)"'
        super().__init__(f"cannot write to {folder}: {reason}", hint)


def _whoami() -> str:
    if not hasattr(os, "getuid"):
        return "the current user"
    return f"uid {os.getuid()}"


def _umask() -> int:
    """The process umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def configs(self) -> Path:
        return self.root / "configs"

    @property
    def policies(self) -> Path:
        return self.root / "policies"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def seed(self) -> Path:
        """seed-code's folders, one per config."""
        return self.root / "seed"

    def template_for(self, config_stem: str) -> Path:
        return self.templates / f"{config_stem}.yaml"

    def resolve_config(self, given: str) -> Path:
        """A config is a path, or a file name inside the workspace's configs/ folder."""
        path = Path(given)
        candidates = (path, self.configs / given, self.configs / f"{given}.yaml")
        found = next((c for c in candidates if c.is_file()), None) or next((c for c in candidates if c.exists()), None)
        if found:  # a directory or a FIFO too: the loader says what it is
            return found
        available = sorted(p.name for p in self.configs.glob("*.yaml")) if self.configs.is_dir() else []
        hint = (
            f"configs in {self.configs}: {', '.join(available[:5])}{' ...' if len(available) > 5 else ''}"
            if available
            else f"put config files in {self.configs} or pass a path; examples are in the project's configs/"
        )
        raise BadInput(f"config {given}: no such file (looked in . and {self.configs})", hint)

    def write(self, path: Path, text: str) -> Path:
        """Write atomically: a reader never sees half a file, a failure leaves the old one and no
        temporary file. The file gets the mode a plain write would give it (the old file's mode,
        or 0666 less the umask). A folder that cannot be written is FolderNotWritable (exit 2)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as error:
            raise FolderNotWritable(path.parent, error) from None
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fchmod(f.fileno(), _mode_for(path))
            os.replace(temporary, path)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(error, OSError):
                raise FolderNotWritable(path.parent, error) from None
            raise
        return path

    def write_policies(self, config_stem: str, files: dict[str, str]) -> list[Path]:
        """Write a config's policies/ files; remove deployer and approver documents this run did not
        write (left by an earlier, larger policy, or by one with --approver)."""
        written = [self.write(self.policies / name, text) for name, text in files.items()]
        numbered = re.compile(re.escape(config_stem) + r"-(deployer|approver)-(\d+)\.json")
        for path in self.policies.glob(f"{config_stem}-*.json"):
            match = numbered.fullmatch(path.name)
            if match and path.name not in files:  # an approver's left from a run with --approver too
                path.unlink()
        return written

    # -- reports/execution.log: one "started" line when an action begins, one outcome line when it ends,
    # so a run that was killed still left a trace. Names, who, where and outcomes only: never a
    # config's values, never credentials.
    def log_started(self, action: str) -> str | None:
        """Log the start of a run; returns why the log cannot be written, or None."""
        return self._log(f"run={os.getpid()} action={action} started version={__version__}")

    def log_execution(
        self, action: str, configs: list[str], exit_code: int, summary: str, where: str = ""
    ) -> str | None:
        """Log a run's outcome (``where``: the caller, account and region it acted as and in, once
        it reached AWS); returns why the log cannot be written, or None."""
        return self._log(
            f"run={os.getpid()} action={action} exit={exit_code} config={','.join(configs) or '-'} "
            f"version={__version__} {where + ' ' if where else ''}{summary}"
        )

    def _log(self, entry: str) -> str | None:
        log = self.reports / EXECUTION_LOG
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self.reports.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as f:
                f.write(f"{stamp} {entry}".replace("\n", " ") + "\n")
        except OSError as error:  # never turns the action itself into a failure
            return f"cannot write {log} ({error.strerror or type(error).__name__}): this run is not logged"
        return None


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()

"""The working directory of the spec: configs/, policies/, templates/, reports/ under one root."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ml_provisioner.errors import BadInput

DEFAULT_ROOT = Path("ml")
ENV_VAR = "ML_PROVISIONER_WORKSPACE"
EXECUTION_LOG = "execution.log"


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
        """Write atomically: a reader never sees half a file, a failure leaves the old one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
            f.write(text)
        os.replace(f.name, path)
        return path

    def log_execution(self, action: str, configs: list[str], exit_code: int, summary: str) -> None:
        """Append one line per run to reports/execution.log (no secrets: names and outcomes only)."""
        try:
            self.reports.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = f"{stamp} action={action} exit={exit_code} config={','.join(configs) or '-'} {summary}"
            with (self.reports / EXECUTION_LOG).open("a", encoding="utf-8") as log:
                log.write(line.replace("\n", " ") + "\n")
        except OSError:
            pass  # a read-only workspace must not turn a successful action into a failure

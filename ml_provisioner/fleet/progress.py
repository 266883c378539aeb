"""A fleet's progress, one line per product.

On a terminal: finished products scroll above a live block holding one line per running product
and a count, redrawn in place. Elsewhere (a CI log, a pipe): one plain line when a product starts,
changes stage, or finishes; never a cursor movement, never one line per stack event."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

REDRAW_EVERY = 0.2  # seconds between redraws of the live block


class Board:
    def __init__(self, total: int, *, stream: TextIO | None = None, live: bool | None = None, width: int = 0):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total, self.finished = total, 0
        self.width = width or _terminal_width()
        self._running: dict[str, str] = {}  # product -> its line
        self._stages: dict[str, str] = {}
        self._drawn = 0  # lines of the live block on screen
        self._last_draw = 0.0
        self._lock = threading.Lock()

    def start(self, key: str, text: str = "starting") -> None:
        with self._lock:
            self._running[key], self._stages[key] = text, text
            if not self.live:
                self._emit(f"{key}: {text}")
            self._redraw(force=True)

    def update(self, key: str, stage: str, detail: str = "") -> None:
        """A product's stage (printed everywhere when it changes) and detail (live block only)."""
        with self._lock:
            if key not in self._running:
                return
            self._running[key] = f"{stage} {detail}".rstrip()
            if self._stages.get(key) != stage:
                self._stages[key] = stage
                if not self.live:
                    self._emit(f"{key}: {stage}")
            self._redraw()

    def finish(self, key: str, text: str) -> None:
        with self._lock:
            self._running.pop(key, None)
            self._stages.pop(key, None)
            self.finished += 1
            self._clear()
            self._emit(f"[{self.finished}/{self.total}] {key}: {text}")
            self._redraw(force=True)

    def close(self) -> None:
        with self._lock:
            self._clear()

    # -- drawing ------------------------------------------------------------------------------------
    def _emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the block's first line, erase below
            self._drawn = 0

    def _redraw(self, force: bool = False) -> None:
        if not self.live or (not force and time.monotonic() - self._last_draw < REDRAW_EVERY):
            return
        self._clear()
        lines = [f"  {key}: {text}"[: self.width - 1] for key, text in self._running.items()]
        lines.append(f"  {self.finished}/{self.total} done, {len(self._running)} running")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn, self._last_draw = len(lines), time.monotonic()


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 40)).columns

"""Ending the process without the interpreter's teardown."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import Any, NoReturn

from ml_provisioner.errors import EXIT_INTERRUPTED


def quick_exit(code: int) -> NoReturn:
    """End the process with ``code``, skipping the teardown that frees every loaded object one by
    one: after a synthesis that is the CDK's tens of thousands of classes, after a lint cfn-lint's
    schemas (0.2 to 0.4 s of a 1.5 s command; 0.05 s of a 0.25 s one). Nothing the process must do
    on the way out is skipped: the exit handlers run (the jsii kernel's shutdown, which removes its
    temporary files, and logging's among them) and the standard streams are flushed. A process with
    another thread still running ends the usual way, which waits for it."""
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    sys.unraisablehook = _one_line if code != EXIT_INTERRUPTED else lambda _: None  # Ctrl-C ended node too
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (| head) or stream
            stream.flush()
    os._exit(code)


def _one_line(unraisable: Any) -> None:
    """An exit handler that fails (the jsii kernel's shutdown, when node was ended from outside)
    is one line on stderr, not a traceback."""
    where = getattr(unraisable.object, "__qualname__", "an exit handler")
    error = unraisable.exc_value
    print(f"warning: on exit, {where}: {type(error).__name__}: {error}", file=sys.stderr)

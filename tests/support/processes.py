"""Waiting on a subprocess with a deadline: a test that waits for a line that never comes (the
process died at start, or hangs) fails within seconds, saying what the process printed, and the
process is killed. Never `iter(readline, marker)` or a bare `readline()` on a live process."""

from __future__ import annotations

import os
import queue
import selectors
import socket
import subprocess
import sys
import threading
import time

import pytest

DEADLINE = 60.0  # seconds: a sandbox starts in about 2 on this machine, loaded


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = DEADLINE) -> str:
    """What the process printed on stdout up to and including the first line containing `marker`.
    Fails the test (killing the process) when the line has not come within `timeout` seconds, or
    when stdout ends first."""
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")  # end of output

    threading.Thread(target=pump, daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            _fail(process, f"no line with {marker!r} within {timeout:.0f} s", seen)
        if line == "":
            _fail(process, f"the process ended its output before a line with {marker!r}", seen)
        seen += line
        if marker in line:
            return seen


def read_fd_until(fd: int, marker: str | None, timeout: float = DEADLINE) -> str:
    """Text from a file descriptor (a pipe, a pty) until it contains `marker`, or, with None, to
    the end of output. Fails the test after `timeout` seconds, or at an end of output before the
    marker."""
    seen = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while marker is None or marker not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                pytest.fail(f"timed out after {timeout:.0f} s; read so far:\n{seen}", pytrace=False)
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # a pty whose other side has closed
                chunk = b""
            if not chunk:
                if marker is None:
                    break
                pytest.fail(f"end of output before {marker!r}; read so far:\n{seen}", pytrace=False)
            seen += chunk.decode(errors="replace")
    return seen


def stop(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """Kill the process if it still runs, wait for it (bounded), and return its stderr."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=timeout)
    return process.stderr.read() if process.stderr else ""


def _fail(process: subprocess.Popen[str], why: str, seen: str) -> None:
    stderr = stop(process)
    pytest.fail(f"{why}; exit code {process.returncode}\nstdout:\n{seen}\nstderr:\n{stderr}", pytrace=False)


def closed_local_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: a port this process bound and released
    (port 9 may be served on some machines)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_cli(
    workspace, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own (`python -m ml_provisioner --workspace WORKSPACE ARGS`)."""

    return subprocess.run(
        [sys.executable, "-m", "ml_provisioner", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )

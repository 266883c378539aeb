"""A fault-injecting HTTP proxy between the CLI process and the sandbox endpoint (both on 127.0.0.1).

Every request is forwarded unchanged, except the ones a rule names: the nth call of an API action
(``Action=`` in a query API's body, the ``X-Amz-Target`` header of a JSON API, ``s3:<METHOD>``
for S3), optionally counted only after another action was seen. A rule can

- ``signal``: forward the call, then send a signal to the CLI process while it waits for the
  answer (SIGKILL: the answer never arrives; SIGINT: Ctrl-C in the middle of the call);
- ``delay``: wait that many seconds, then forward;
- ``drop``: close the connection without an answer (``forward=True``: after the endpoint acted);
- ``throttle``: answer 400 Throttling, as AWS does when a rate limit is exceeded;
- ``error``: answer with this (HTTP status, error code, message), e.g. an AssumeRole refused;
- ``hang``: accept the call and never answer (a black-holed endpoint).

    proxy.at("ExecuteChangeSet", signal=signal.SIGKILL)
    proxy.at("DescribeStacks", after="ExecuteChangeSet", throttle=True, times=50)
    code, out, err = proxy.cli("deploy-product", "-c", config, "--force")
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal as signals
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CLI = str(Path(sys.executable).parent / "ml-provisioner")  # the installed entry point


@dataclass
class Rule:
    action: str
    nth: int = 1  # the first call (1-based, counted after `after`) that the fault hits
    times: int = 1  # how many calls from the nth on
    after: str | None = None  # count only calls made after this action was seen
    signal: int | None = None
    delay: float = 0.0
    drop: bool = False
    forward: bool = False  # with drop: let the endpoint act, then lose its answer
    throttle: bool = False
    error: tuple[int, str, str] | None = None
    hang: bool = False
    seen: int = 0
    hits: int = 0

    def applies(self, action: str, history: list[str]) -> bool:
        if action != self.action:
            return False
        if self.after is not None and self.after not in history:
            return False
        self.seen += 1
        if self.nth <= self.seen < self.nth + self.times:
            self.hits += 1
            return True
        return False


class FaultProxy:
    def __init__(self, upstream: str):
        url = urlparse(upstream)
        assert url.hostname == "127.0.0.1", "traffic stays on this machine"
        self.upstream = (url.hostname, url.port)
        self.rules: list[Rule] = []
        self.calls: list[str] = []  # every action seen, in order
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._released = threading.Event()  # ends every hanging call on close
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        if self.process and self.process.poll() is None:
            self.process.kill()

    def at(self, action: str, **fault) -> Rule:
        rule = Rule(action, **fault)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self.calls.clear()

    # -- the CLI, as a user runs it ---------------------------------------------------------------

    def start(self, *args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
        environment = {**os.environ, "AWS_ENDPOINT_URL": self.url, "NO_COLOR": "1", **(env or {})}
        popen.setdefault("stdin", subprocess.DEVNULL)
        self.process = subprocess.Popen(
            [CLI, *args], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
        )
        return self.process

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> tuple[int, str, str]:
        """Run the CLI to its end: (exit code, stdout, stderr); a signal's death is -<signal>."""
        process = self.start(*args, env=env)
        out, err = process.communicate(timeout=timeout)
        return process.returncode, out, err

    # -- what a call meets ------------------------------------------------------------------------

    def _fault_for(self, action: str) -> Rule | None:
        with self._lock:
            history = list(self.calls)
            self.calls.append(action)
            return next((rule for rule in self.rules if rule.applies(action, history)), None)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, like botocore's connection pool

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = _action(self.command, self.headers, body)
        rule = self.proxy._fault_for(action)
        if rule and rule.hang:
            self.proxy._released.wait(timeout=600)  # released when the test ends; bounded regardless
            self.close_connection = True
            return
        if rule and rule.delay:
            time.sleep(rule.delay)
        if rule and rule.throttle:
            self._answer(*_throttling(self.headers))
            return
        if rule and rule.error:
            self._answer(*_error(self.headers, *rule.error))
            return
        if rule and rule.drop and not rule.forward:
            self.close_connection = True
            return
        status, headers, payload = self._forward(body)
        if rule and rule.drop:
            self.close_connection = True
            return
        if rule and rule.signal is not None:
            assert self.proxy.process is not None, "no CLI process to signal"
            self.proxy.process.send_signal(rule.signal)
            # the answer is held until the CLI has exited: it is interrupted while it waits for
            # it, however long the signal takes to land on a loaded machine
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proxy.process.wait(timeout=300)
        try:
            self._answer(status, headers, payload)
        except OSError:
            self.close_connection = True  # the CLI is gone

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(*self.proxy.upstream, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
            response = upstream.getresponse()
            payload = b"" if self.command == "HEAD" else response.read()
            return response.status, response.getheaders(), payload
        finally:
            upstream.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _action(method: str, headers, body: bytes) -> str:
    if target := headers.get("X-Amz-Target"):
        return target.rsplit(".", 1)[-1]
    form = "x-www-form-urlencoded" in headers.get("Content-Type", "")
    if form and (actions := parse_qs(body.decode(errors="replace")).get("Action")):
        return actions[0]
    return f"s3:{method}"


def _throttling(headers) -> tuple[int, list[tuple[str, str]], bytes]:
    if headers.get("X-Amz-Target"):
        return _error(headers, 400, "ThrottlingException", "Rate exceeded")
    return _error(headers, 400, "Throttling", "Rate exceeded")


def _error(headers, status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    if headers.get("X-Amz-Target"):
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1")], body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    ).encode()
    return status, [("Content-Type", "text/xml")], body


SIGINT, SIGKILL, SIGTERM = signals.SIGINT, signals.SIGKILL, signals.SIGTERM

"""The public entry point: start_sandbox() / Sandbox."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from ml_provisioner_sandbox import Sandbox, start_sandbox


def test_start_on_a_free_port_then_stop() -> None:
    with start_sandbox(port=0) as sandbox:
        assert isinstance(sandbox, Sandbox)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.url) and sandbox.port > 0
        sts = boto3.client(
            "sts",
            endpoint_url=sandbox.url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        assert sts.get_caller_identity()["Account"] == "123456789012"
    with pytest.raises(EndpointConnectionError):
        sts.get_caller_identity()


def test_a_busy_port_is_an_error_not_a_hang(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "ml_provisioner", "--workspace", str(tmp_path), "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,  # it used to wait forever for a server thread that had exited
        )
    assert done.returncode == 2, done.stderr
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "hint: stop what listens there, or choose another port with --port" in done.stderr

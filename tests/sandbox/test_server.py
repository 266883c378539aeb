"""The public entry point: start_sandbox() / Sandbox."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from ml_provisioner.sandbox import Sandbox, start_sandbox


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

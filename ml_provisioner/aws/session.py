"""Every boto3 client comes from here: one botocore Config (retries), the standard credential
chain (profile, environment, instance/task role), the config's region, and an optional endpoint
(``--endpoint-url`` or ``AWS_ENDPOINT_URL``, e.g. the local sandbox)."""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ml_provisioner import __version__
from ml_provisioner.config.regions import url_suffix
from ml_provisioner.errors import BadInput, OperationFailed

# How long one call may take, and how often it is tried. Standard mode retries throttling and
# transient errors (timeouts too) with exponential backoff and jitter, so the worst case of an
# endpoint that accepts connections but never answers is about attempts x read timeout + backoff:
# 4 x 12 s + at most 7 s, under a minute. Each can be set in the environment (tests use short ones).
TIMEOUT_SETTINGS = {  # environment variable -> default
    "ML_PROVISIONER_AWS_CONNECT_TIMEOUT": 5.0,  # seconds to open a connection
    "ML_PROVISIONER_AWS_READ_TIMEOUT": 12.0,  # seconds to wait for an answer
    "ML_PROVISIONER_AWS_MAX_ATTEMPTS": 4.0,  # attempts per call, the first included
}


def _setting(name: str) -> float:
    value = os.environ.get(name)
    if not value:
        return TIMEOUT_SETTINGS[name]
    try:
        number = float(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise BadInput(
            f"{name}={value!r} is not a positive number",
            f"unset it or set a number; the default is {TIMEOUT_SETTINGS[name]:g}",
        )
    return number


def botocore_config(*, preflight: bool = False) -> Config:
    """The one botocore Config of every client. The first call of a run only asks who we are:
    an endpoint that does not answer fails it after two attempts."""
    attempts = max(1, int(_setting("ML_PROVISIONER_AWS_MAX_ATTEMPTS")))
    return Config(
        retries={"mode": "standard", "total_max_attempts": min(attempts, 2) if preflight else attempts},
        connect_timeout=_setting("ML_PROVISIONER_AWS_CONNECT_TIMEOUT"),
        read_timeout=_setting("ML_PROVISIONER_AWS_READ_TIMEOUT"),
        user_agent_extra=f"ml-provisioner/{__version__}",
    )


# boto3 sessions are not thread-safe; clients are. A session may be shared (aws.access), so
# clients are made one at a time.
_CLIENT_LOCK = threading.Lock()


@dataclass
class AwsSession:
    region: str
    endpoint_url: str | None = None
    profile: str | None = None
    # Service-role mode: CloudFormation acts with this role, never with the caller's credentials.
    cloudformation_role_arn: str | None = None
    # Credentials other than the standard chain's, e.g. an assumed role's (aws.access).
    boto_session: boto3.Session | None = field(default=None, repr=False)
    # Called with (service, client) for every new client, e.g. to rate-limit or count its calls.
    on_client: Callable[[str, Any], None] | None = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _identity: dict[str, str] | None = field(default=None, repr=False)

    def stack_role(self) -> dict[str, str]:
        """The RoleARN argument of the calls that make CloudFormation act (change sets, deletion)."""
        return {"RoleARN": self.cloudformation_role_arn} if self.cloudformation_role_arn else {}

    @cached_property
    def _boto(self) -> boto3.Session:
        return self.boto_session or boto3.Session(profile_name=self.profile, region_name=self.region)

    def object_url(self, bucket: str, key: str) -> str:
        """An S3 object's URL as CloudFormation fetches a TemplateURL: virtual-hosted on AWS, by path on
        an endpoint that is not AWS's (the sandbox, another emulator)."""
        endpoint: str = self.client("s3").meta.endpoint_url
        host = urllib.parse.urlsplit(endpoint).hostname or ""
        if re.search(r"\.amazonaws\.com(\.cn)?$|\.api\.aws$", host):
            return f"https://{bucket}.s3.{self.region}.{url_suffix(self.region)}/{key}"
        return f"{endpoint.rstrip('/')}/{bucket}/{key}"

    def client(self, service: str) -> Any:
        """A client of the service. Its endpoint is --endpoint-url when given; otherwise botocore
        resolves it as for every AWS tool (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the config
        file's endpoint_url and services sections, then AWS's own)."""
        with _CLIENT_LOCK:
            if service not in self._clients:
                client = self._boto.client(service, endpoint_url=self.endpoint_url, config=botocore_config())
                if self.on_client:
                    self.on_client(service, client)
                self._clients[service] = client
            return self._clients[service]

    def caller_identity(self) -> dict[str, str]:
        """Who we are (Account, Arn), asked once: fails early, with a clear message, without
        credentials or an endpoint."""
        if self._identity is None:
            with _CLIENT_LOCK:
                sts = self._boto.client("sts", endpoint_url=self.endpoint_url, config=botocore_config(preflight=True))
            self._identity = sts.get_caller_identity()
        return self._identity

    def caller_account(self) -> str:
        """Who we are: fails early, with a clear message, without credentials or an endpoint."""
        return str(self.caller_identity()["Account"])

    def require_account(self, expected: str) -> None:
        """Refuse to touch an account other than the one the config names."""
        account = self.caller_account()
        if account != expected:
            raise BadInput(
                f"the credentials are for account {account}, the config is for {expected}",
                "use credentials (or a profile) of the config's account, or name a role of it to assume "
                "(deployment.role_arn, --role-arn)",
            )


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore's failures into one-line OperationFailed errors with a hint."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise OperationFailed(
            f"{what}: no AWS credentials found",
            "configure a profile (aws configure), set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on a "
            "machine with an instance or task role; check with `aws sts get-caller-identity`",
        ) from None
    except botocore.exceptions.ProfileNotFound as error:
        raise OperationFailed(f"{what}: {error}", "check --profile (or AWS_PROFILE) and ~/.aws/config") from None
    except botocore.exceptions.EndpointConnectionError as error:
        raise OperationFailed(
            f"{what}: cannot reach the AWS endpoint {_shown(error.kwargs.get('endpoint_url', ''))}",
            "check the network, --endpoint-url / AWS_ENDPOINT_URL, or start `ml-provisioner sandbox`",
        ) from None
    except (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError) as error:
        config = botocore_config()
        waited = (
            config.read_timeout if isinstance(error, botocore.exceptions.ReadTimeoutError) else (config.connect_timeout)
        )
        raise OperationFailed(
            f"{what}: the AWS endpoint {_shown(error.kwargs.get('endpoint_url', '')).rstrip('/')} did not answer "
            f"(waited {waited:g} s for each of its attempts)",
            "check the network, a proxy or VPN in the way, and --endpoint-url / AWS_ENDPOINT_URL; on a slow "
            "link raise ML_PROVISIONER_AWS_READ_TIMEOUT",
        ) from None
    except botocore.exceptions.ConnectionClosedError as error:
        raise OperationFailed(
            f"{what}: the AWS endpoint {_shown(error.kwargs.get('endpoint_url', '')).rstrip('/')} closed the "
            "connection without an answer",
            "check the network, a proxy or VPN in the way, and --endpoint-url / AWS_ENDPOINT_URL",
        ) from None
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        code, message = info.get("Code", "Error"), info.get("Message", str(error))
        hint = None
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            hint = "run create-policy and attach the generated policy to the principal running ml-provisioner"
        elif code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"):
            hint = "refresh your credentials; check with `aws sts get-caller-identity`"
        raise OperationFailed(f"{what}: {code}: {message}", hint) from None
    except botocore.exceptions.WaiterError as error:
        raise OperationFailed(f"{what}: {error.last_response.get('StatusReason') or error}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise OperationFailed(f"{what}: {error}") from None


def _shown(url: str) -> str:
    """An endpoint URL as messages and the execution log may show it: without a user or password."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = f"{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=host))

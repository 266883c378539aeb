"""Reaching a product's account: the caller's own credentials (profile, SSO, environment, instance
role), or a role of the product's account assumed from them through STS.

The role comes from ``--role-arn``, else ``ML_PROVISIONER_ROLE_ARN``, else the config's
``deployment.role_arn`` ({account} and {region} in the first two stand for the product's, so one
value serves a fleet). It must be in the config's account and partition; the session name says
which product and who (CloudTrail shows it), and the credentials refresh themselves before they
expire. The account is then checked as for any other credentials."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.credentials
import botocore.exceptions
import botocore.session

from ml_provisioner.aws.session import AwsSession
from ml_provisioner.config.loader import LoadedConfig
from ml_provisioner.config.models import EXTERNAL_ID_ENV, ROLE_ENV, role_arn_problem
from ml_provisioner.errors import BadInput, OperationFailed
from ml_provisioner.naming import Names

SESSION_NAME_LIMIT = 64  # STS RoleSessionName: 2-64 characters of [\w+=,.@-]
_NOT_IN_SESSION_NAME = re.compile(r"[^\w+=,.@-]", re.ASCII)


@dataclass(frozen=True)
class Route:
    """How a product's account is reached: a role to assume (and where it was named), or none."""

    role_arn: str | None = None
    external_id: str | None = None
    named_by: str = ""  # "--role-arn", ML_PROVISIONER_ROLE_ARN, or "<file>: deployment.role_arn"


def route_for(loaded: LoadedConfig, role_arn: str | None = None, external_id: str | None = None) -> Route:
    """The role to deploy the config's product through: the option, the environment, or the config.
    Refused (exit 2, naming where it came from) when it is not a role of the config's account."""
    names = Names(loaded.config)
    deployment = loaded.config.deployment
    external_id = external_id or os.environ.get(EXTERNAL_ID_ENV) or None
    if role_arn:
        route = Route(_expand(role_arn, names), external_id, "--role-arn")
    elif os.environ.get(ROLE_ENV):
        route = Route(_expand(os.environ[ROLE_ENV], names), external_id, ROLE_ENV)
    elif deployment and deployment.role_arn:
        route = Route(deployment.role_arn, external_id or deployment.external_id, f"{loaded.path}: deployment.role_arn")
    else:
        if external_id:
            raise BadInput(
                "an external id is given but no role to assume", f"name the role with --role-arn or {ROLE_ENV}"
            )
        return Route()
    assert route.role_arn
    problem = role_arn_problem(route.role_arn, names.account, names.region)
    if problem:
        subject = f"{route.role_arn} " if problem.startswith("is in") else ""
        raise BadInput(
            f"{route.named_by}: {subject}{problem}",
            f"name a role of account {names.account}; `ml-provisioner bootstrap` creates one per product",
        )
    return route


def _expand(value: str, names: Names) -> str:
    return value.replace("{account}", names.account).replace("{region}", names.region)


def session_name(product: str, who: str) -> str:
    """``<product>@<who>`` within STS's RoleSessionName rules; a long product id is cut and keeps a
    hash of the whole, so two products never share a session name."""
    who = _NOT_IN_SESSION_NAME.sub("-", who)[:24] or "unknown"
    room = SESSION_NAME_LIMIT - len(who) - 1
    if len(product) > room:
        product = product[: room - 7] + "-" + hashlib.sha256(product.encode()).hexdigest()[:6]
    return f"{product}@{who}"


def who(caller_arn: str) -> str:
    """The person or workload behind an ARN: a user's name, an assumed role's session name (SSO: the
    user), else the last part."""
    return caller_arn.rsplit("/", 1)[-1] or caller_arn


class Caller:
    """The caller's own credentials, shared by every product of a run (one GetCallerIdentity)."""

    def __init__(self, endpoint_url: str | None = None, profile: str | None = None) -> None:
        self.endpoint_url, self.profile = endpoint_url, profile
        self._lock = threading.Lock()
        self._sessions: dict[str, boto3.Session] = {}
        self._arn: str | None = None

    def base(self, region: str) -> boto3.Session:
        with self._lock:
            if region not in self._sessions:
                self._sessions[region] = boto3.Session(profile_name=self.profile, region_name=region)
            return self._sessions[region]

    def arn(self, region: str) -> str:
        """Who is calling (asked once)."""
        if self._arn is None:
            self._arn = AwsSession(region, self.endpoint_url, boto_session=self.base(region)).caller_identity()["Arn"]
        return self._arn

    def session(
        self,
        names: Names,
        route: Route,
        *,
        cloudformation_role_arn: str | None = None,
        on_client: Any = None,
    ) -> AwsSession:
        """An AWS session in the product's account (checked): through its role when it has one."""
        boto = self.base(names.region)
        if route.role_arn:
            boto = self._assume(names, route)
        aws = AwsSession(
            names.region,
            self.endpoint_url,
            cloudformation_role_arn=cloudformation_role_arn,
            boto_session=boto,
            on_client=on_client,
        )
        aws.require_account(names.account)
        return aws

    def _assume(self, names: Names, route: Route) -> boto3.Session:
        assert route.role_arn
        caller = self.arn(names.region)
        sts = AwsSession(names.region, self.endpoint_url, boto_session=self.base(names.region)).client("sts")
        request = {"RoleArn": route.role_arn, "RoleSessionName": session_name(names.deployment_id, who(caller))}
        if route.external_id:
            request["ExternalId"] = route.external_id

        def fetch() -> dict[str, str]:
            credentials = sts.assume_role(**request)["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        try:
            first = fetch()
        except botocore.exceptions.ClientError as error:
            raise _assume_failed(error, route, caller) from None
        core = botocore.session.Session(profile=self.profile)
        # botocore refreshes these before they expire (a deploy can outlast one session)
        core._credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
            first, fetch, "sts-assume-role"
        )
        return boto3.Session(botocore_session=core, region_name=names.region)


def _assume_failed(error: botocore.exceptions.ClientError, route: Route, caller: str) -> OperationFailed:
    info = error.response.get("Error", {})
    code, message = info.get("Code", "Error"), info.get("Message", str(error))
    what = f"cannot assume {route.role_arn} (named by {route.named_by}) as {caller}: {code}: {message}"
    if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "RequestExpired"):
        return OperationFailed(
            f"your credentials have expired or are not valid; {what}",
            "refresh them (aws sso login, a new session token, or the CI role) and check with "
            "`aws sts get-caller-identity`",
        )
    if code in ("AccessDenied", "AccessDeniedException"):
        external = " and the external id it requires" if route.external_id else ""
        return OperationFailed(
            what,
            f"the role's trust policy must allow {caller}{external} (ml-provisioner bootstrap --trust <principal> "
            "sets it up) and your own policy must allow sts:AssumeRole on the role",
        )
    return OperationFailed(what)

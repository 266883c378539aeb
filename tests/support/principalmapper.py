"""principalmapper (NCC Group's IAM graph tool) over the sandbox's IAM, with the three small shims it
needs, each for a reason outside this project:

1. principalmapper 1.1.5 (its latest release) imports ``Mapping`` from ``collections``, gone since
   Python 3.10: the alias is restored before it is imported;
2. moto's GetAccountAuthorizationDetails leaves ``PolicyName`` and ``PolicyId`` out of each managed
   policy; principalmapper reads them: they are filled in from the ARN after the call;
3. principalmapper builds every role without its permission boundary, although the response
   carries it (users' boundaries are read): the roles' boundaries are filled in before admins and
   edges are computed. Without this, principalmapper judges every bounded role as unbounded.

Every client it makes goes to the sandbox's endpoint; a guard refuses any other host.
"""

from __future__ import annotations

import collections
import collections.abc
from typing import Any
from urllib.parse import urlsplit

for _name in ("Mapping", "MutableMapping"):  # shim 1
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

import botocore.session  # noqa: E402
from principalmapper.graphing import gathering  # noqa: E402
from principalmapper.querying import query_interface  # noqa: E402
from principalmapper.querying.presets import privesc  # noqa: E402

# Every service principalmapper's create_graph may make a client for.
SERVICES = (
    "autoscaling",
    "cloudformation",
    "codebuild",
    "ec2",
    "iam",
    "kms",
    "lambda",
    "sagemaker",
    "s3",
    "ssm",
    "secretsmanager",
    "sns",
    "sts",
    "sqs",
)


def _policy_names(parsed: dict[str, Any], **_: Any) -> None:  # shim 2
    for policy in parsed.get("Policies", []):
        policy.setdefault("PolicyName", policy["Arn"].rsplit("/", 1)[-1])
        policy.setdefault("PolicyId", policy["Arn"])


def _with_role_boundaries(original: Any, honour: bool) -> Any:  # shim 3
    def nodes_groups_and_policies(iam: Any) -> dict[str, Any]:
        result = original(iam)
        if not honour:
            return result
        policies = {p.arn: p for p in result["policies"]}
        boundary_of = {
            role["Arn"]: role["PermissionsBoundary"]["PermissionsBoundaryArn"]
            for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=["Role"])
            for role in page["RoleDetailList"]
            if "PermissionsBoundary" in role
        }
        for node in result["nodes"]:
            arn = boundary_of.get(node.arn)
            if arn and arn not in policies:  # not in the listing (moto lists what it lists): read it
                policies[arn] = _read_policy(iam, arn)
            if arn and policies[arn] is not None:
                node.permissions_boundary = policies[arn]
        return result

    return nodes_groups_and_policies


def _read_policy(iam: Any, arn: str) -> Any:
    from principalmapper.common import Policy

    try:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    except iam.exceptions.NoSuchEntityException:
        return None  # a boundary deleted under its role (AWS refuses that; moto does not)
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return Policy(arn, arn.rsplit("/", 1)[-1], document)


def graph(endpoint: str, regions: list[str], *, role_boundaries: bool = True) -> Any:
    """principalmapper's graph of the sandbox's default account (edge checkers: IAM and STS)."""
    host = urlsplit(endpoint).hostname
    assert host == "127.0.0.1", endpoint
    session = botocore.session.Session()
    session.set_credentials("sandbox", "sandbox")
    session.set_config_variable("region", regions[0])
    session.register("after-call.iam.GetAccountAuthorizationDetails", _policy_names)

    def only_the_sandbox(request: Any, **_: Any) -> None:
        if urlsplit(request.url).hostname != host:
            raise RuntimeError(f"principalmapper tried to leave the sandbox: {request.url}")

    session.register("before-send", only_the_sandbox)
    original = gathering.get_nodes_groups_and_policies
    gathering.get_nodes_groups_and_policies = _with_role_boundaries(original, role_boundaries)
    try:
        clients = {service: {"endpoint_url": endpoint} for service in SERVICES}
        return gathering.create_graph(session, ["iam", "sts"], regions, None, None, clients)
    finally:
        gathering.get_nodes_groups_and_policies = original


def can_escalate(graph: Any, node: Any) -> bool:
    return bool(privesc.can_privesc(graph, node)[0])


def allowed(node: Any, action: str, resource: str, conditions: dict[str, str] | None = None) -> bool:
    """principalmapper's local policy simulation: identity policies within the boundary."""
    return bool(query_interface.local_check_authorization(node, action, resource, conditions or {}))

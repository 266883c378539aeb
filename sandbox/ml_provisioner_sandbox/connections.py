"""AWS CodeConnections (and its legacy CodeStar Connections API) for the sandbox; moto has neither.

Enough of the API for the deploy tool and its tests: CreateConnection, GetConnection,
ListConnections, DeleteConnection, under both service prefixes, one store per account and region
(a connection is visible through either API, as on AWS). On AWS a new connection stays PENDING
until someone completes the provider's handshake in the console; the sandbox has no console, so
a connection is AVAILABLE at once unless the tag ``sandbox:status`` says otherwise (PENDING,
ERROR), which is how tests reproduce an unfinished handshake.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, ClassVar

from boto3 import Session
from moto.backend_index import backend_url_patterns
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.common_models import BaseModel
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.utilities.utils import get_partition

STATUS_TAG = "sandbox:status"
STATUSES = ("AVAILABLE", "PENDING", "ERROR")
PREFIXES = ("codeconnections", "codestar-connections")
_store: dict[tuple[str, str], dict[str, Connection]] = {}


class ResourceNotFoundException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


class Connection(BaseModel):
    def __init__(
        self, prefix: str, account_id: str, region: str, name: str, provider: str, tags: list[dict[str, str]]
    ) -> None:
        self.arn = f"arn:{get_partition(region)}:{prefix}:{region}:{account_id}:connection/{uuid.uuid4()}"
        self.name, self.provider, self.account_id = name, provider, account_id
        status = next((t["Value"] for t in tags if t["Key"] == STATUS_TAG), "AVAILABLE")
        self.status = status if status in STATUSES else "AVAILABLE"

    def to_dict(self) -> dict[str, str]:
        return {
            "ConnectionName": self.name,
            "ConnectionArn": self.arn,
            "ProviderType": self.provider,
            "OwnerAccountId": self.account_id,
            "ConnectionStatus": self.status,
        }


class ConnectionsBackend(BaseBackend):
    PREFIX: ClassVar[str]

    @property
    def connections(self) -> dict[str, Connection]:
        return _store.setdefault((self.account_id, self.region_name), {})

    @property
    def url_bases(self) -> list[str]:
        return [rf"https?://{re.escape(self.PREFIX)}\.(.+)\.amazonaws\.com"]

    @property
    def url_paths(self) -> dict[str, Any]:
        return {"/$": _RESPONSES[self.PREFIX].dispatch}

    def reset(self) -> None:
        self.connections.clear()
        super().reset()

    def create_connection(self, name: str, provider: str, tags: list[dict[str, str]]) -> Connection:
        connection = Connection(self.PREFIX, self.account_id, self.region_name, name, provider, tags)
        self.connections[connection.arn] = connection
        return connection

    def get_connection(self, arn: str) -> Connection:
        if arn not in self.connections:
            raise ResourceNotFoundException(f"Connection {arn} does not exist")
        return self.connections[arn]

    def delete_connection(self, arn: str) -> None:
        self.get_connection(arn)
        del self.connections[arn]


class CodeConnectionsBackend(ConnectionsBackend):
    PREFIX = "codeconnections"


class CodeStarConnectionsBackend(ConnectionsBackend):
    PREFIX = "codestar-connections"


class _ConnectionsResponse(BaseResponse):
    PREFIX: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(service_name=self.PREFIX)

    @property
    def backend(self) -> ConnectionsBackend:
        return BACKENDS[self.PREFIX][self.current_account][self.region]

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = json.loads(self.body or "{}")
        return params

    def create_connection(self) -> str:
        p = self._params()
        connection = self.backend.create_connection(
            p["ConnectionName"], p.get("ProviderType", "GitHub"), p.get("Tags", [])
        )
        return json.dumps({"ConnectionArn": connection.arn, "Tags": p.get("Tags", [])})

    def get_connection(self) -> str:
        return json.dumps({"Connection": self.backend.get_connection(self._params()["ConnectionArn"]).to_dict()})

    def list_connections(self) -> str:
        return json.dumps({"Connections": [c.to_dict() for c in self.backend.connections.values()]})

    def delete_connection(self) -> str:
        self.backend.delete_connection(self._params()["ConnectionArn"])
        return "{}"


class _CodeConnectionsResponse(_ConnectionsResponse):
    PREFIX = "codeconnections"


class _CodeStarConnectionsResponse(_ConnectionsResponse):
    PREFIX = "codestar-connections"


_RESPONSES: dict[str, type[_ConnectionsResponse]] = {
    "codeconnections": _CodeConnectionsResponse,
    "codestar-connections": _CodeStarConnectionsResponse,
}
# botocore's endpoint data lists no regions for these services: take CodePipeline's, which they serve.
_REGIONS = sorted(
    {
        region
        for partition in ("aws", "aws-cn", "aws-us-gov")
        for region in Session().get_available_regions("codepipeline", partition_name=partition)
    }
)
BACKENDS: dict[str, BackendDict[ConnectionsBackend]] = {
    prefix: BackendDict(backend, prefix, use_boto3_regions=False, additional_regions=_REGIONS)
    for prefix, backend in (
        ("codeconnections", CodeConnectionsBackend),
        ("codestar-connections", CodeStarConnectionsBackend),
    )
}


def install() -> None:
    """Route both services' requests to these backends.

    moto's server finds a service by its signing name and loads ``moto.<name>``'s
    ``<name>_backends``: the two modules are registered under those names.
    """
    import sys
    import types

    for prefix, backends in BACKENDS.items():
        safe = prefix.replace("-", "")
        module = types.ModuleType(f"moto.{safe}")
        setattr(module, f"{safe}_backends", backends)
        sys.modules[f"moto.{safe}"] = module
        pattern = re.compile(rf"https?://{re.escape(prefix)}\.(.+)\.amazonaws\.com")
        if all(service != prefix for service, _ in backend_url_patterns):
            backend_url_patterns.append((prefix, pattern))

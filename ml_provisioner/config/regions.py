"""AWS regions and partitions, read from data the installed packages ship (no network, no
credentials): botocore's region list, and cfn-lint's per-region CloudFormation resource types."""

import json
from collections.abc import Iterable
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import botocore

# Partitions whose services this product uses (SageMaker, CodePipeline, ...) with ordinary ARNs.
SUPPORTED_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

# The AWS console's host per partition (no package ships it); {region} is filled in.
CONSOLE_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


@cache
def _partitions() -> list[dict[str, Any]]:
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    return [partition for partition in data["partitions"] if partition["partition"] in SUPPORTED_PARTITIONS]


@cache
def region_partitions() -> dict[str, str]:
    """Map every region of the supported partitions to its partition name."""
    return {region: partition["partition"] for partition in _partitions() for region in partition["regions"]}


def partition_of(region: str) -> str:
    return region_partitions()[region]


def url_suffix(region: str) -> str:
    """The partition's domain (amazonaws.com, amazonaws.com.cn): service principals and endpoints."""
    partition = partition_of(region)
    return next(str(p["dnsSuffix"]) for p in _partitions() if p["partition"] == partition)


def console_url(region: str) -> str:
    return "https://" + CONSOLE_HOSTS[partition_of(region)].format(region=region)


@cache
def resource_types_in(region: str) -> frozenset[str] | None:
    """The CloudFormation resource types the region offers, from cfn-lint's bundled provider data
    (the same data `cfn-lint --regions` checks templates against, rule E3006); None when cfn-lint
    has no data for the region."""
    spec = find_spec("cfnlint")  # located, not imported: reading a JSON file needs no linter
    assert spec and spec.origin, "cfn-lint is a dependency of ml-provisioner"
    provider = Path(spec.origin).parent / "data" / "schemas" / "providers" / f"{region}.json"
    return frozenset(json.loads(provider.read_text())) if provider.is_file() else None


def unavailable_types(region: str, types: Iterable[str]) -> list[str]:
    """Which of the resource types the region does not offer (empty when it offers them all, or
    when there is no data to tell)."""
    offered = resource_types_in(region)
    return sorted({t for t in types if offered is not None and t not in offered})

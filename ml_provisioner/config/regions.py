"""AWS regions and partitions, read from the region data botocore ships (no network, no credentials)."""

import json
from functools import cache
from pathlib import Path

import botocore

# Partitions whose services this product uses (SageMaker, CodePipeline, ...) with ordinary ARNs.
SUPPORTED_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


@cache
def region_partitions() -> dict[str, str]:
    """Map every region of the supported partitions to its partition name."""
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    return {
        region: partition["partition"]
        for partition in data["partitions"]
        if partition["partition"] in SUPPORTED_PARTITIONS
        for region in partition["regions"]
    }


def partition_of(region: str) -> str:
    return region_partitions()[region]

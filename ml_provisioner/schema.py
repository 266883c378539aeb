"""The JSON Schema of a config file, generated from the pydantic models.

Editors use it (the example configs point at it with a yaml-language-server comment) for
completion and inline errors. pydantic writes the schema of the fields; the rules that live in
validator functions are added here as schema keywords, so an editor flags the same mistakes
`validate-config` reports. The models stay the authority: tests check both reject the same configs.
Imports no CDK: `ml-provisioner config-schema` is instant.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter

from ml_provisioner.config.models import (
    BRANCH,
    CONNECTION_ARN,
    CONNECTION_FIELDS,
    LOG_RETENTION_CHOICES,
    REPOSITORY,
    ProductConfig,
    SourceControl,
)

SCHEMA_FILE = "ml-provisioner-config.schema.json"
SCHEMA_ID = "urn:ml-provisioner:config-schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Every AWS region code has this shape (us-west-2, ap-southeast-1, us-gov-east-1, cn-north-1).
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d+$"
IPV4_CIDR_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}(/(\d|[12]\d|3[0-2]))?$"  # the model also takes a bare address
# What a mode-dependent field must be: STRING and NON_EMPTY fields are required.
STRING, NON_EMPTY = {"type": "string"}, {"minItems": 1}
ABSENT, EMPTY = {"type": "null"}, {"maxItems": 0}  # absent or null; absent or []


def config_schema() -> dict[str, Any]:
    """The schema of a config file: one of the three tier models, selected by `tier`."""
    generated = TypeAdapter(ProductConfig).json_schema()
    _add_validator_rules(generated["$defs"])
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "ML Provisioner product configuration",
        "description": "A configs/*.yaml file of ml-provisioner: the `tier` field "
        "(starter, professional, enterprise) selects which sections are required and allowed.",
        **generated,
    }


def render(schema: dict[str, Any]) -> str:
    """The committed file's exact text (what `ml-provisioner config-schema` prints)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _add_validator_rules(defs: dict[str, Any]) -> None:
    """What the models check in validator functions, as schema keywords."""
    region = defs["Environment"]["properties"]["region"]
    region.update(pattern=REGION_PATTERN, examples=["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"])
    defs["Monitoring"]["properties"]["log_retention_days"]["enum"] = list(LOG_RETENTION_CHOICES)

    product = defs["MlProduct"]
    fields = product["properties"]
    patterns = {
        "connection_arn": CONNECTION_ARN,
        "build_repository": REPOSITORY,
        "deploy_repository": REPOSITORY,
        "branch": BRANCH,
    }
    for name, pattern in patterns.items():  # the string branch of `string | null`
        string = next(option for option in fields[name]["anyOf"] if option.get("type") == "string")
        string["pattern"] = re.sub(r"\?P<\w+>", "", pattern.pattern)  # no named groups in JSON Schema
    # The connection's fields with codeconnections, and only then.
    product["allOf"] = [
        _when(
            "source_control",
            source.value,
            **{name: STRING if source is SourceControl.CODECONNECTIONS else ABSENT for name in CONNECTION_FIELDS},
        )
        for source in SourceControl
    ]

    vpc = defs["VpcIntegration"]
    fields = vpc["properties"]
    fields["subnet_ids"].update(minItems=2, uniqueItems=True)
    fields["route_table_ids"]["uniqueItems"] = True
    fields["endpoint_client_cidrs"]["items"]["pattern"] = IPV4_CIDR_PATTERN
    # Which fields each mode requires and forbids (a forbidden field may be absent or null).
    vpc["allOf"] = [
        _when("vpc_source", "direct", vpc_id=STRING, vpc_id_ssm_parameter=ABSENT),
        _when("vpc_source", "ssm", vpc_id_ssm_parameter=STRING, vpc_id=ABSENT),
        _when("security_group_mode", "sgprov", security_group_id_ssm_parameter=STRING, endpoint_client_cidrs=EMPTY),
        # sgprov: the product's own S3 gateway endpoint (route_table_ids) or an existing one
        {
            "if": {"properties": {"security_group_mode": {"const": "sgprov"}}, "required": ["security_group_mode"]},
            "then": {
                "anyOf": [
                    {"required": ["route_table_ids"], "properties": {"route_table_ids": dict(NON_EMPTY)}},
                    {"required": ["s3_gateway_endpoint_id"], "properties": {"s3_gateway_endpoint_id": dict(STRING)}},
                ]
            },
        },
        # never both
        {
            "if": {"required": ["s3_gateway_endpoint_id"], "properties": {"s3_gateway_endpoint_id": dict(STRING)}},
            "then": {"properties": {"route_table_ids": dict(EMPTY)}},
        },
        _when(
            "security_group_mode", "standalone", endpoint_client_cidrs=NON_EMPTY, security_group_id_ssm_parameter=ABSENT
        ),
    ]


def _when(field: str, value: str, **rules: dict[str, Any]) -> dict[str, Any]:
    """If `field` is `value`, each named field must match its rule; STRING and NON_EMPTY ones are required."""
    required = [name for name, rule in rules.items() if rule in (STRING, NON_EMPTY)]
    return {
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": {"required": required, "properties": {name: dict(rule) for name, rule in rules.items()}},
    }

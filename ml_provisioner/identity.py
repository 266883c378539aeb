"""How a deployment's id is spelled: the delimiter, the test-deployment marker, and their parsing.

A leaf module (no imports from the project), so the config rules, the names and the CLI share one
definition.

- Every physical name of a deployment is ``<deployment id>--<what>`` (or sits under a path segment
  ``/<deployment id>/``). No config field may contain ``--`` (validated), so a product id never
  does: ``a--*`` can therefore never match a name of product ``a-b``, whatever ``b`` is.
- A test deployment's id is ``t<4 hex>--<product id>``. It contains the delimiter, so no valid
  config produces it, and it does not start with ``<product id>--``, so none of the product's own
  name patterns matches its test deployments' names (nor the other way round).
"""

from __future__ import annotations

import re
import secrets

DELIMITER = "--"
TEST_MARKER_PATTERN = r"t[0-9a-f]{4}"
TEST_MARKER_WILDCARD = "t????"  # the IAM pattern that matches every new_test_marker()
LONGEST_TEST_MARKER = "tffff"  # for checking name lengths of test deployments
CHANGE_SET_PREFIX = "ml-provisioner-"  # how the change sets this tool makes are recognised
PLAN_PREFIX = CHANGE_SET_PREFIX + "plan-"  # ... and those kept for a saved plan (never leftovers)


def new_test_marker() -> str:
    return "t" + secrets.token_hex(2)


def deployment_id(product_id: str, test_marker: str | None) -> str:
    return f"{test_marker}{DELIMITER}{product_id}" if test_marker else product_id


def split_deployment_id(deployment: str) -> tuple[str | None, str]:
    """``t1a2b--p`` -> ("t1a2b", "p"); ``p`` -> (None, "p")."""
    match = re.fullmatch(rf"({TEST_MARKER_PATTERN}){DELIMITER}(.+)", deployment)
    return (match.group(1), match.group(2)) if match else (None, deployment)

"""Collected only by scripts/test-localstack, which starts LocalStack and names it in
ML_PROVISIONER_LOCALSTACK_URL; the rest of the suite runs against the sandbox alone."""

from __future__ import annotations

import os

if not os.environ.get("ML_PROVISIONER_LOCALSTACK_URL"):
    collect_ignore_glob = ["test_*.py"]

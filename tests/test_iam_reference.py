"""The IAM reference decodes a service's entry alone: the same entry as the whole database gives."""

from __future__ import annotations

import json

from ml_provisioner.policy import iam_reference


def test_each_service_decoded_alone_is_its_entry_in_the_whole_database():
    database = json.loads(iam_reference.DATABASE.read_text(encoding="utf-8"))
    services = [prefix for prefix, entry in database.items() if isinstance(entry, dict)]
    assert len(services) > 400
    for prefix in services:
        assert iam_reference._service(prefix) == database[prefix], prefix
    assert iam_reference._service("no-such-service") == {}

"""Loaded as sitecustomize into the seed code's Python (tests/test_seed_code.py): every AWS call
its botocore sessions make is written to $SEED_CALL_LOG, and any connection to a host other than
127.0.0.1 is refused and written there too."""

import json
import os
import socket

_log = open(os.environ["SEED_CALL_LOG"], "a")  # noqa: SIM115  (open for the process's life)
LOCAL = {"127.0.0.1", "localhost", "::1", None}


def _write(entry):
    _log.write(json.dumps(entry, default=lambda o: "<bytes>" if isinstance(o, bytes) else str(o)) + "\n")
    _log.flush()


_getaddrinfo = socket.getaddrinfo


def _local_only(host, *args, **kwargs):
    if host not in LOCAL:
        _write({"network": str(host)})
        raise socket.gaierror(f"refused by the test: {host} is not 127.0.0.1")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _local_only

try:
    import botocore.session
except ImportError:  # a process without botocore makes no AWS call
    pass
else:
    _init = botocore.session.Session.__init__

    def _recording(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        self.register("before-parameter-build", _record)

    def _record(params, model, **_):
        _write({"service": model.service_model.service_name, "operation": model.name, "params": params})

    botocore.session.Session.__init__ = _recording

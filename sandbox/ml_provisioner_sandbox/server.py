"""The sandbox endpoint: moto's ThreadedMotoServer plus this package's CloudFormation fixes.

The fixes patch moto in-process, so they apply to every server started in this process (and to
moto's decorators, should anything in the same process use them).
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType

from moto.iam import models as iam_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from .compat import check_moto

DEFAULT_ACCOUNT = "123456789012"  # moto's default: the account of credentials nobody issued
_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Teach moto the resource types, APIs and lifecycle details the deploy tool needs (idempotent).
    Raises IncompatibleMoto, before changing anything, on a moto whose internals are not the ones
    the fixes replace."""
    global _installed
    with _install_lock:
        if _installed:
            return
        check_moto()
        from moto.cloudformation import parsing

        from . import (
            change_sets,
            cloudformation_models,
            connections,
            drift,
            model_fixes,
            pricing,
            resource_import,
            service_fixes,
            stack_lifecycle,
            stack_sets,
        )

        stack_lifecycle.install()
        change_sets.install()
        resource_import.install()  # wraps change_sets' CreateChangeSet and ExecuteChangeSet
        drift.install()
        service_fixes.install()
        connections.install()
        pricing.install()
        stack_sets.install()
        # moto caches its type -> model table; the models above register by subclassing.
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()
        model_map = parsing.get_model_map()
        for model in cloudformation_models.NEW_MODELS + model_fixes.OVERRIDES:
            assert model_map[model.cloudformation_type()] is model, model
        _installed = True


class _Server(ThreadedMotoServer):
    """moto binds in its server thread, where werkzeug answers a busy port with sys.exit: the thread
    ends and start() waits forever. Binding in the caller makes it an OSError for the caller."""

    def start(self) -> None:
        with socket.create_server((self._ip_address, self._port)) as listener:  # raises EADDRINUSE
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler, fd=listener.fileno()
            )  # werkzeug serves a duplicate of the listening socket
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()


class Sandbox:
    """A running local AWS endpoint; `url` is what boto3 takes as endpoint_url."""

    def __init__(self, server: ThreadedMotoServer):
        self._server = server
        host, port = server.get_host_and_port()
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()

    def disable_polling(self, pipeline: str, region: str, account: str = DEFAULT_ACCOUNT) -> None:
        """Do what AWS does to a polling pipeline after 30 days without activity: stop its polling
        (GetPipeline then reports metadata.pollingDisabledAt)."""
        from moto.codepipeline.models import codepipeline_backends
        from moto.core.utils import utcnow

        vars(codepipeline_backends[account][region].pipelines[pipeline])["polling_disabled_at"] = utcnow()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_sandbox(port: int = 0, account_id: str = DEFAULT_ACCOUNT) -> Sandbox:
    """Start the endpoint on 127.0.0.1 (a free port when `port` is 0) and return once it accepts requests.

    `account_id` is the account of credentials the endpoint has not issued (e.g. `sandbox`); the
    credentials STS AssumeRole returns act as the role's account. (moto's MOTO_ACCOUNT_ID would put
    every request into one account.) Raises OSError when the port cannot be bound (EADDRINUSE)."""
    install()
    # moto resolves an unknown access key to this module global of its IAM models, at each request.
    vars(iam_models)["DEFAULT_ACCOUNT_ID"] = account_id
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call otherwise
    server = _Server(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return Sandbox(server)

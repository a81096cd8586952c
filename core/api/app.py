"""The web application factory: one Litestar app over one Runtime.

Nothing lives in module globals: ``create_app`` builds the runtime's accounts, the
middleware (authentication, CSRF) and the routes of core, the UI and the plugins. A web
process keeps no state of its own beyond caches keyed on the metadata version, so any
number of processes can serve the same database.
"""

from __future__ import annotations

import logging

from litestar import Controller, Litestar, Request, get
from litestar.config.compression import CompressionConfig
from litestar.logging import LoggingConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.types import Message, Scope

from core.api.admin import AuditController, WebhooksController
from core.api.approvals import ApprovalsController
from core.api.auth import AuthController
from core.api.automations import AutomationsController
from core.api.errors import EXCEPTION_HANDLERS
from core.api.headers import security_headers
from core.api.imports import ImportsController
from core.api.merge import MergeController
from core.api.meta import MetaController
from core.api.notifications import NotificationsController
from core.api.openapi import openapi_config
from core.api.records import ExportController, RecordsController
from core.api.reports import DashboardsController, ReportsController
from core.api.search import SearchController
from core.api.security import CSRFUnlessBearer, TesseraAuthentication, csrf_config
from core.auth import Accounts, secret_key
from core.db import checkpoint
from core.runtime import Runtime
from core.scheduler import JobRunner

MAX_BODY_BYTES = 2 * 1024 * 1024
log = logging.getLogger("tessera.app")


class HealthController(Controller):
    """Route handlers are declared in controllers: Litestar copies those per application."""

    @get("/healthz", sync_to_thread=True, include_in_schema=False)
    def health(self, request: Request) -> dict:
        with request.app.state.runtime.reading() as (_conn, schema):
            return {"ok": True, "metadata_version": schema.version}


async def private_schema(message: Message, scope: Scope) -> None:
    """The OpenAPI document and its page depend on who asks: no shared cache may keep one for another caller."""
    if message["type"] == "http.response.start" and scope.get("path", "").startswith("/schema"):
        headers = MutableScopeHeaders.from_message(message)
        headers["Cache-Control"] = "private, no-cache"
        headers["Vary"] = "Authorization, Cookie"


def create_app(runtime: Runtime | None = None, run_jobs: bool = False) -> Litestar:
    """The web application; ``run_jobs``: with a scheduler and workers in this process (``tessera serve``): they run
    everything that runs later (webhook deliveries, imports, e-mail, reminders, plugins' jobs) from the job queue."""
    runtime = runtime or Runtime()
    accounts = Accounts(runtime)
    secret = secret_key(runtime)
    handlers = [AuthController, RecordsController, ExportController, ImportsController, MetaController, AuditController, WebhooksController, HealthController]
    handlers += [MergeController, SearchController, NotificationsController, AutomationsController, ApprovalsController, ReportsController,
                 DashboardsController]
    handlers += _ui().handlers(runtime)
    for plugin_handlers in runtime.plugins.hook.tessera_web_routes():
        handlers += list(plugin_handlers or [])

    jobs = JobRunner(runtime) if run_jobs else None

    def start() -> None:
        try:
            runtime.webhooks.seal_stored_secrets()
        except Exception:  # noqa: BLE001 - serving goes on; the secrets left are sealed when first used
            log.exception("encrypting the webhook secrets stored in plain text failed")
        if jobs is not None:
            runtime.webhooks.enqueue_pending()
            jobs.start()

    def stop() -> None:
        if jobs is not None:
            jobs.stop()
        checkpoint(runtime.engine)  # a server stopped leaves its changes in the SQLite file, not in the -wal file alone

    app = Litestar(
        route_handlers=handlers,
        middleware=[
            DefineMiddleware(CSRFUnlessBearer, config=csrf_config(secret, runtime.settings.secure_cookies)),
            DefineMiddleware(TesseraAuthentication),
        ],
        exception_handlers=_ui_errors().page_errors(EXCEPTION_HANDLERS),  # HTML pages on the UI's paths, JSON on /api
        openapi_config=openapi_config(),
        template_config=_ui().template_config(runtime),
        request_max_body_size=MAX_BODY_BYTES,
        on_startup=[start],
        on_shutdown=[stop],
        before_send=[security_headers, private_schema],
        logging_config=LoggingConfig(log_exceptions="debug", disable_stack_trace={400, 401, 403, 404, 405, 409, 413, 422, 428, 429}),
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048),
        debug=False,
    )
    app.state.runtime = runtime
    app.state.accounts = accounts
    return app


def _ui():
    from ui import routes  # noqa: PLC0415 - the UI is a client of core's services, shipped beside core

    return routes


def _ui_errors():
    from ui import errors  # imported when the app is built, as in _ui()

    return errors

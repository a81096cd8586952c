"""/api/audit and /api/webhooks: for admins."""

from __future__ import annotations

import datetime as dt

from litestar.params import FromQuery, RawBody
from litestar import Controller, Request, delete, get, patch, post

from core import audit
from core.api.errors import ApiError, IdInPath, IdInQuery, json_body
from core.api.security import admin, client_ip, identity
from core.db import read_transaction
from core.webhooks import EVENTS, Webhooks
from core.words import sentence

DB = {"sync_to_thread": True}
MAX_PAGE = 500
WEBHOOK_SETTINGS = {"name": {"type": "string", "minLength": 1, "maxLength": 100}, "events": {"type": "array", "items": {"enum": list(EVENTS)},
                    "minItems": 1}, "url": {"type": "string", "minLength": 1, "maxLength": 2000}}
NEW_WEBHOOK = {"type": "object", "required": ["object", "url"], "additionalProperties": False,
               "properties": {**WEBHOOK_SETTINGS, "object": {"type": "string", "minLength": 1, "maxLength": 100},
                              "secret": {"type": "string", "maxLength": 200}}}
WEBHOOK_CHANGES = {"type": "object", "additionalProperties": False,
                   "properties": {**WEBHOOK_SETTINGS, "active": {"type": "boolean"}, "rotate_secret": {"type": "boolean"}}}


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        between = sentence("between", name="limit", low=1, high=MAX_PAGE)
        raise ApiError(400, "invalid_query", between, [{"parameter": "limit", "message": between}])
    return limit


class AuditController(Controller):
    path = "/api/audit"
    guards = [admin]
    tags = ["admin"]

    @get("/", **DB, summary="The audit log, newest first")
    def read_log(self, request: Request, event: FromQuery[str | None] = None, user_id: IdInQuery = None,
                 since: FromQuery[dt.datetime | None] = None, before_id: IdInQuery = None,
                 limit: FromQuery[int] = 100) -> dict:
        """Filter by ``event`` (``login.failed``; ``login*`` for every sign-in event), ``user_id`` and ``since``;
        page back with ``before_id`` (the last id seen)."""
        if event and event.rstrip("*") not in {e for e in audit.EVENTS} and not any(e.startswith(event.rstrip("*")) for e in audit.EVENTS):
            raise ApiError(400, "invalid_query", sentence("not_an_audit_event", event=event, events=", ".join(audit.EVENTS)),
                           [{"parameter": "event", "message": "not an audit event"}])
        with read_transaction(request.app.state.runtime.engine) as conn:
            items = audit.read(conn, event, user_id, since, before_id, _page_size(limit))
        return {"items": items, "limit": limit, "has_more": len(items) == limit}


def _webhooks(request: Request) -> Webhooks:
    return request.app.state.runtime.webhooks


class WebhooksController(Controller):
    path = "/api/webhooks"
    guards = [admin]
    tags = ["admin"]

    @get("/", **DB, summary="Webhook subscriptions")
    def list_webhooks(self, request: Request) -> dict:
        return {"items": _webhooks(request).subscriptions()}

    @post("/", **DB, opt={"body": NEW_WEBHOOK}, summary="Subscribe a URL to an object's events", status_code=201)
    def create_webhook(self, request: Request, body: RawBody) -> dict:
        data = json_body(body, NEW_WEBHOOK)
        user = identity(request)
        hook, secret = _webhooks(request).subscribe(data.get("name", ""), str(data["object"]), data.get("events"), data.get("url", ""),
                                                    data.get("secret"), user.user_id)
        audit.write_now(request.app.state.runtime.engine, "webhook.created", user.who(client_ip(request)), hook["object"], None,
                        {"webhook_id": hook["id"], "url": hook["url"]})
        return {**hook, "secret": secret}

    @get("/{webhook_id:int}", **DB, summary="One subscription")
    def get_webhook(self, request: Request, webhook_id: IdInPath) -> dict:
        return _webhooks(request).get(webhook_id)

    @patch("/{webhook_id:int}", **DB, opt={"body": WEBHOOK_CHANGES}, summary="Change a subscription (name, events, url, active, rotate_secret)")
    def change_webhook(self, request: Request, webhook_id: IdInPath, body: RawBody) -> dict:
        data = json_body(body, WEBHOOK_CHANGES)
        hook, secret = _webhooks(request).change(webhook_id, data)
        audit.write_now(request.app.state.runtime.engine, "webhook.changed", identity(request).who(client_ip(request)), hook["object"], None,
                        {"webhook_id": webhook_id, "changed": sorted(data)})
        return {**hook, **({"secret": secret} if secret else {})}

    @delete("/{webhook_id:int}", **DB, summary="Remove a subscription", status_code=204)
    def remove_webhook(self, request: Request, webhook_id: IdInPath) -> None:
        _webhooks(request).remove(webhook_id)
        audit.write_now(request.app.state.runtime.engine, "webhook.removed", identity(request).who(client_ip(request)), None, None,
                        {"webhook_id": webhook_id})

    @get("/{webhook_id:int}/deliveries", **DB, summary="The delivery log of a subscription, newest first")
    def deliveries(self, request: Request, webhook_id: IdInPath, before_id: IdInQuery = None, limit: FromQuery[int] = 50) -> dict:
        items = _webhooks(request).deliveries(webhook_id, _page_size(limit), before_id)
        return {"items": items, "limit": limit, "has_more": len(items) == limit}

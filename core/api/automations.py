"""Workflow rules seen from a record and from Setup (core/automations/engine.py).

    GET  /api/records/{object}/{id}/automations          the record's buttons (rules it meets) and its rules' runs
    POST /api/records/{object}/{id}/automations/{rule}   press a button: the rule runs now; its run
    GET  /api/automations/runs?rule=NAME                 a rule's runs, newest first (Setup: admins and customizers)

Rules themselves are metadata: /api/meta/automations.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from core.api.errors import ApiError, IdInQuery, reader_language
from core.api.security import SIGNED_IN, customizer, identity
from core.automations import engine
from core.db import read_transaction
from core.words import sentence

DB = {"sync_to_thread": True}
PAGE_MAX = 200


def _limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        between = sentence("between", name="limit", low=1, high=PAGE_MAX)
        raise ApiError(400, "invalid_query", between, [{"parameter": "limit", "message": between}])
    return limit


class AutomationsController(Controller):
    path = "/api"
    opt = SIGNED_IN
    tags = ["automations"]

    @get("/records/{object_name:str}/{record_id:str}/automations", **DB, summary="A record's rule buttons and its rules' runs")
    def record_automations(self, request: Request, object_name: FromPath[str], record_id: FromPath[str],
                           limit: FromQuery[int] = 50) -> dict:
        runtime, actor = request.app.state.runtime, identity(request).actor
        record = runtime.records.get(actor, object_name, record_id)  # 404 unless the reader may read it
        lang = reader_language(request)
        may_change = bool(runtime.records.updatable(actor, object_name, [record["id"]]))
        with runtime.reading() as (conn, schema):
            buttons = engine.buttons(schema, object_name, record)
            runs = engine.runs(conn, object_name=object_name, record_id=record["id"], limit=_limit(limit))
        return {"buttons": [{"name": rule.name, "label": rule.label(lang)} for rule in buttons] if may_change else [], "runs": runs}

    @post("/records/{object_name:str}/{record_id:str}/automations/{rule:str}", **DB, status_code=200,
          summary="Press a rule's button on a record: the rule runs now")
    def press(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], rule: FromPath[str]) -> dict:
        """The run as logged: ``status`` done, failed (with ``error``) or skipped (the record no longer meets the rule's
        condition). The presser must be able to change the record; the actions run as the system."""
        runtime, actor = request.app.state.runtime, identity(request).actor
        record = runtime.records.get(actor, object_name, record_id)
        try:
            return engine.press(runtime, actor, object_name, record["id"], rule)
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc)) from None

    @get("/automations/runs", **DB, guards=[customizer], summary="A workflow rule's runs, newest first")
    def rule_runs(self, request: Request, rule: FromQuery[str], limit: FromQuery[int] = 50, before_id: IdInQuery = None) -> dict:
        with read_transaction(request.app.state.runtime.engine) as conn:
            found = engine.runs(conn, rule=rule, limit=_limit(limit) + 1, before_id=before_id)
        return {"items": found[:limit], "has_more": len(found) > limit}

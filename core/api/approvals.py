"""/api/records/{object}/{id}/approval: submit a record for approval, decide, recall, and read where it stands.

Thin handlers over core/approvals/service.py, which checks who may do what: reading the state needs read access to
the record; submitting, update access; deciding, being an approver of the current step (or an administrator), never
the submitter; recalling, being the submitter (or an administrator). A refusal is a 403 (not yours to do) or a 409
(not now: nothing pending, already pending, the entry condition not met); a body of the wrong shape a 400 naming
the key.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, RawBody

from core.api.errors import json_body
from core.api.security import SIGNED_IN, identity
from core.approvals.service import COMMENT_LIMIT, DECISIONS, Approvals

DB = {"sync_to_thread": True}
COMMENT = {"type": ["string", "null"], "maxLength": COMMENT_LIMIT}
SUBMIT = {"type": "object", "properties": {"process": {"type": "string", "minLength": 1, "maxLength": 64}, "comment": COMMENT},
          "additionalProperties": False}
DECIDE = {"type": "object", "properties": {"decision": {"enum": list(DECISIONS)}, "comment": COMMENT},
          "required": ["decision"], "additionalProperties": False}
RECALL = {"type": "object", "properties": {"comment": COMMENT}, "additionalProperties": False}


def _body(body: bytes, shape: dict) -> dict:
    """An optional JSON body checked against ``shape``: no body is {}."""
    return json_body(body, shape) if body.strip() else json_body(b"{}", shape)


class ApprovalsController(Controller):
    path = "/api/records"
    opt = SIGNED_IN
    tags = ["approvals"]

    @get("/{object_name:str}/{record_id:str}/approval", **DB, summary="Where a record's approval stands")
    def approval_state(self, request: Request, object_name: FromPath[str], record_id: FromPath[str]) -> dict:
        return Approvals(request.app.state.runtime).state(identity(request).actor, object_name, record_id)

    @post("/{object_name:str}/{record_id:str}/approval", **DB, opt={"body": SUBMIT}, status_code=201,
          summary="Submit a record for approval")
    def submit(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], body: RawBody) -> dict:
        data = _body(body, SUBMIT)
        return Approvals(request.app.state.runtime).submit(identity(request).actor, object_name, record_id, data.get("process"),
                                                           data.get("comment"))

    @post("/{object_name:str}/{record_id:str}/approval/decision", **DB, opt={"body": DECIDE}, status_code=200,
          summary="Approve or reject the current step")
    def decide(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], body: RawBody) -> dict:
        data = json_body(body, DECIDE)
        return Approvals(request.app.state.runtime).decide(identity(request).actor, object_name, record_id, data["decision"],
                                                           data.get("comment"))

    @post("/{object_name:str}/{record_id:str}/approval/recall", **DB, opt={"body": RECALL}, status_code=200,
          summary="Recall a record from approval")
    def recall(self, request: Request, object_name: FromPath[str], record_id: FromPath[str], body: RawBody) -> dict:
        data = _body(body, RECALL)
        return Approvals(request.app.state.runtime).recall(identity(request).actor, object_name, record_id, data.get("comment"))

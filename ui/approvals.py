"""The approval panel of a record page: submit for approval, where a pending approval stands, approve or reject it
with a comment, recall it; and the reason a locked record cannot be edited.

A client of core/approvals/service.py, which decides who may do what: the panel only offers what the state says the
user may do now. Its forms post to /r/{object}/{id}/approval[/decision|/recall] with the page's CSRF token and come
back to the record page with what happened (or why not) as its notice or message.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Response, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect

from core.api.errors import IdInPath
from core.approvals.service import APPROVED, PENDING, REJECTED, Approvals, processes_of
from core.metadata.model import ObjectDef
from core.records import Forbidden, NotFound, RecordValidationError, Refused
from core.words import say
from ui.context import PAGE, Answer, Page, answer, provide_page, signed_in
from ui.i18n import label
from ui.timeline import _when as shown_time

DB = {"sync_to_thread": True}
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
TONES = {PENDING: "tone-orange", APPROVED: "tone-green", REJECTED: "tone-red"}


def approval_view(page: Page, obj: ObjectDef, record: dict) -> dict | None:
    """What the panel shows, or None when no approval process is for the object (nothing is read then)."""
    if not processes_of(page.meta(), obj.name):
        return None
    try:
        state = Approvals(page.runtime).state(page.actor, obj.name, record["id"])
    except (NotFound, Forbidden):
        return None
    meta = page.meta()
    status = state["status"]
    words = {PENDING: page.t("Awaiting approval"), APPROVED: page.t("Approved"), REJECTED: page.t("Rejected"),
             "recalled": page.t("Recalled")}
    submit = [{"name": name, "label": label((meta.approval_processes.get(name) or {}).get("label"), page.lang, name)}
              for name in state["may"]["submit"]]
    if status is None and not submit:
        return None
    return {
        **state,
        "process_text": label(state["process_label"], page.lang, state["process"] or ""),
        "status_text": words.get(status, ""), "tone": TONES.get(status, "tone-gray"),
        "step_text": label(state["step"]["label"], page.lang, state["step"]["name"]) if state["step"] else "",
        "all_must": bool(state["step"] and state["step"]["decide"] == "all"),
        "submitted_when": _when(page, state["submitted_at"]),
        "decisions": [{**d, "when": _when(page, d["decided_at"]),
                       "text": page.t("Approved") if d["decision"] == "approve" else page.t("Rejected")} for d in state["decisions"]],
        "submit": submit,
    }


def locked_reason(page: Page, view: dict | None) -> str | None:
    """Why the record cannot be edited now, or None."""
    if not view or not view["locked"]:
        return None
    return page.t("This record awaits approval in {process} since {when}: it cannot be edited until the approval is decided or recalled.",
                  process=view["process_text"], when=view["submitted_when"])


def _when(page: Page, value: str | None) -> str:
    return shown_time(value, page.zone) if value else ""


class ApprovalPages(Controller):
    """The approval panel's forms; each answers with the record page."""

    path = "/r"
    include_in_schema = False
    guards = [signed_in]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}
    exception_handlers = {Answer: answer}

    @post("/{object_name:str}/{record_id:int}/approval", **DB)
    def submit(self, page: PAGE, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        process = data.get("process") or None
        return _act(page, object_name, record_id, page.t("Submitted for approval."),
                    lambda service: service.submit(page.actor, object_name, record_id, process, data.get("comment")))

    @post("/{object_name:str}/{record_id:int}/approval/decision", **DB)
    def decide(self, page: PAGE, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        decision = data.get("decision")
        if decision not in ("approve", "reject"):
            return _back(page, object_name, record_id, message=page.t("Choose Approve or Reject."))
        done = page.t("You approved it.") if decision == "approve" else page.t("You rejected it.")
        return _act(page, object_name, record_id, done,
                    lambda service: service.decide(page.actor, object_name, record_id, decision, data.get("comment")))

    @post("/{object_name:str}/{record_id:int}/approval/recall", **DB)
    def recall(self, page: PAGE, object_name: FromPath[str], record_id: IdInPath, data: FORM) -> Response:
        return _act(page, object_name, record_id, page.t("Recalled from approval."),
                    lambda service: service.recall(page.actor, object_name, record_id, data.get("comment")))


def _act(page: Page, object_name: str, record_id: int, done: str, action) -> Response:
    try:
        action(Approvals(page.runtime))
    except NotFound as exc:
        return _back(page, object_name, record_id, message=say(exc, page.lang))
    except (Forbidden, Refused, RecordValidationError) as exc:
        reason = "; ".join(e.worded(page.lang) for e in exc.errors) if isinstance(exc, RecordValidationError) else say(exc, page.lang)
        return _back(page, object_name, record_id, message=page.t("Not done: {reason}", reason=reason))
    return _back(page, object_name, record_id, notice=done)


def _back(page: Page, object_name: str, record_id: int, **said: str) -> Response:
    return Redirect(f"/r/{object_name}/{record_id}?" + urlencode(said), status_code=303)

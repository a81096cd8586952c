"""The activity composer of a record page: log a call, add a task, a note or an event for the record.

Each kind is a short form over the activity object's own fields (those the user may change),
with the activity's type, status and "related to" pair preset; the activity is created through
the record service like any other record, so its validation, hooks and permissions apply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.metadata.model import ObjectDef
from ui.context import Page
from ui.fields import Column, choices, column
from ui.record_forms import SAVE_REFUSALS, FormErrors, Submission, refused, submitted
from ui.timeline import activities_relate_to


@dataclass(frozen=True)
class Kind:
    name: str
    activity_type: str
    status: str | None
    fields: tuple[str, ...]


KINDS = (
    Kind("call", "call", "done", ("subject", "due_date", "status", "description")),
    Kind("task", "task", "planned", ("subject", "due_date", "priority", "status", "description")),
    Kind("note", "note", "done", ("subject", "description")),
    Kind("event", "meeting", "planned", ("subject", "start_at", "end_at", "status", "description")),
)
BY_NAME = {k.name: k for k in KINDS}


def kinds(page: Page, obj: ObjectDef) -> list[Kind]:
    """The kinds the user may add to the object's records: none unless activities relate to it and they may create them."""
    if not activities_relate_to(page, obj) or not page.access.can("activity", "create"):
        return []
    activity = page.meta().objects["activity"]
    types = activity.fields.get("activity_type")
    offered = {v["value"] for v in types.spec.get("values", [])} if types is not None else set()
    if not page.access.writable("activity", "related_id") or not page.access.writable("activity", "related_object"):
        return []
    return [k for k in KINDS if types is None or k.activity_type in offered]


def columns(page: Page, kind: Kind) -> list[Column]:
    activity = page.meta().objects["activity"]
    shown = []
    for name in kind.fields:
        fdef = activity.fields.get(name)
        if fdef is None or fdef.removed or not page.access.visible("activity", name) or not page.access.writable("activity", name):
            continue
        shown.append(column(fdef, page.lang, True))
    return shown


def composer(page: Page, obj: ObjectDef, record: dict, open_kind: str | None = None, values: dict | None = None,
             errors: FormErrors | None = None, done: str | None = None) -> dict:
    """What the composer template needs: its tabs, the open form with its values and errors, and what was just logged."""
    offered = kinds(page, obj)
    kind = BY_NAME.get(open_kind or "") if open_kind in {k.name for k in offered} else None
    form = None
    if kind is not None:
        cols = columns(page, kind)
        shown = {**preset(kind), **(values or {})}
        form = {"kind": kind, "columns": cols, "values": shown, "errors": (errors or FormErrors()).fields,
                "problems": (errors or FormErrors()).general,
                "options": {c.name: choices(c.field, page.lang) for c in cols if c.widget in ("select", "multiselect")}}
    titles = {"call": page.t("Log a call"), "task": page.t("New task"), "note": page.t("Note"), "event": page.t("Event")}
    return {"kinds": [{"name": k.name, "title": titles[k.name], "open": kind is not None and k.name == kind.name} for k in offered],
            "form": form, "done": done, "record_id": record["id"], "object_name": obj.name}


def preset(kind: Kind) -> dict:
    today = dt.date.today().isoformat()
    values = {"due_date": today} if kind.name == "call" else {}
    if kind.status:
        values["status"] = kind.status
    return values


def log(page: Page, obj: ObjectDef, record: dict, kind: Kind, data: dict) -> tuple[dict | None, Submission, FormErrors | None, int]:
    """Create the activity from the posted form: (the activity, what was sent, errors, status)."""
    cols = columns(page, kind)
    sent = submitted(page, cols, data)
    if sent.problems:
        return None, sent, FormErrors(sent.problems), 422
    values = {"activity_type": kind.activity_type, "related_object": obj.name, "related_id": record["id"], **sent.values}
    if kind.status and "status" not in sent.values:
        values["status"] = kind.status
    try:
        created = page.runtime.records.create(page.actor, "activity", values)
    except SAVE_REFUSALS as exc:
        errors, status = refused(page, page.meta().objects["activity"], cols, exc)
        return None, sent, errors, status
    return created, sent, None, 201

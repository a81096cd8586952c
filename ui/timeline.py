"""A record's timeline: the activities related to it and the changes to its fields, in one list, newest first.

Activities are found through the activity object's "related to" pair (``related_object`` and the
dynamic lookup ``related_id``); field changes come from the record service's history, which leaves
out fields the user may not see. Changes saved together (one save, one person) are one entry.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

from core.metadata.model import FieldDef, ObjectDef
from core.records import Forbidden, NotFound, QueryError, RecordService
from ui.context import Page
from ui.fields import display, in_zone
from ui.i18n import label

ACTIVITIES_SHOWN = 30
CHANGES_SHOWN = 50
CLOSED_STATUSES = ("done", "cancelled")
KIND_ICONS = {"call": "☎", "task": "☑", "meeting": "◷", "note": "✎", "change": "↻", "merge": "⇄", "approval": "✓"}
APPROVAL_ENTRY = "_approval"  # core/approvals/service.py HISTORY_ENTRY: a submission, decision or recall
_MERGE_NOTE = re.compile(r"#(?P<merged>\d+) into #(?P<survivor>\d+)")


def activities_relate_to(page: Page, obj: ObjectDef) -> bool:
    """Whether activities can be related to the object's records and the user may read them there."""
    activity = page.meta().objects.get("activity")
    if activity is None or obj.name == "activity" or obj.spec.get("system"):
        return False
    if not {"related_object", "related_id"} <= set(activity.fields):
        return False
    return page.access.can("activity", "read") and page.access.visible("activity", "related_id") \
        and page.access.visible("activity", "related_object")


def timeline(page: Page, obj: ObjectDef, record: dict) -> dict:
    """The entries newest first, and a link to every activity of the record when there are more than shown."""
    activities, more = _activities(page, obj, record)
    entries = activities + _changes(page, obj, record)
    entries.sort(key=lambda e: (e["at"], e["order"]), reverse=True)
    return {"entries": entries, "all_activities": more, "problem": None}


def _activities(page: Page, obj: ObjectDef, record: dict) -> tuple[list[dict], str | None]:
    if not activities_relate_to(page, obj):
        return [], None
    activity = page.meta().objects["activity"]
    wanted = {"related_object": obj.name, "related_id": record["id"]}
    try:
        found = page.runtime.records.list(page.actor, "activity", {**wanted, "sort": "-created_at", "limit": ACTIVITIES_SHOWN})
    except QueryError:
        return [], None
    fields = activity.fields
    may_close = (page.access.can("activity", "update") and "status" in fields and page.access.writable("activity", "status")
                 and any(v["value"] == "done" for v in fields["status"].spec.get("values", [])))
    entries = []
    for a in found.items:
        kind = a.get("activity_type") or "task"
        status = a.get("status")
        entries.append({
            "type": "activity", "kind": kind, "icon": KIND_ICONS.get(kind, "•"), "id": a["id"], "version": a["version"],
            "href": f"/r/activity/{a['id']}", "subject": a.get("subject") or f"#{a['id']}",
            "kind_label": _shown(fields.get("activity_type"), kind, page.lang),
            "status": _shown(fields.get("status"), status, page.lang), "closed": status in CLOSED_STATUSES,
            "due": _shown(fields.get("due_date"), a.get("due_date"), page.lang) or _shown(fields.get("start_at"), a.get("start_at"), page.lang),
            "description": a.get("description") or "", "who": _label(a.get("created_by")) or _label(a.get("owner")),
            "at": _instant(a.get("created_at")), "order": 1, "when": _when(a.get("created_at"), page.zone),
            "may_close": may_close and status not in CLOSED_STATUSES,
        })
    more = f"/r/activity?{urlencode(wanted)}" if found.has_more else None
    return entries, more


def _changes(page: Page, obj: ObjectDef, record: dict) -> list[dict]:
    try:
        history = page.runtime.records.history(page.actor, obj.name, record["id"])[-CHANGES_SHOWN:]
    except (Forbidden, NotFound):
        return []
    saves: dict[tuple, dict] = {}
    for entry in history:
        key = (entry["changed_at"], entry["changed_by_name"])
        save = saves.setdefault(key, {"type": "change", "kind": "change", "icon": KIND_ICONS["change"], "changes": [],
                                      "who": entry["changed_by_label"], "at": _instant(entry["changed_at"]), "order": 0,
                                      "when": _when(entry["changed_at"], page.zone)})
        if entry["field"] == APPROVAL_ENTRY:
            save.update(kind="approval", icon=KIND_ICONS["approval"])
            save["changes"].append(approval_note(page, entry["new"]))
            continue
        if entry["field"] == RecordService.MERGE_ENTRY:
            save.update(kind="merge", icon=KIND_ICONS["merge"])
            save["changes"].append({"field": page.t("Merge"), "old": "", "new": merge_note(page, entry["new"])})
            continue
        fdef = obj.fields.get(entry["field"])
        save["changes"].append({"field": fdef.label(page.lang) if fdef else entry["field"],
                                "old": shown_value(fdef, entry["old"], page.lang), "new": shown_value(fdef, entry["new"], page.lang)})
    return list(saves.values())


def approval_note(page: Page, note: Any) -> dict:
    """An approval entry as a line of the timeline: what was done, in which process, with the comment."""
    note = note if isinstance(note, dict) else {}
    body = page.meta().approval_processes.get(note.get("process") or "") or {}
    process = label(body.get("label"), page.lang, note.get("process") or "")
    said = {"submit": page.t("Submitted for approval"), "approve": page.t("Approved"), "reject": page.t("Rejected"),
            "recall": page.t("Recalled from approval")}.get(note.get("action"), note.get("action") or "")
    return {"field": said, "old": "", "new": process, "comment": note.get("comment") or ""}


def merge_note(page: Page, note: Any) -> str:
    """The merge entry ('merged account #N into #M') in the page's language."""
    found = _MERGE_NOTE.search(str(note or ""))
    if found is None:
        return str(note or "")
    return page.t("Record #{merged} was merged into #{survivor}", merged=found["merged"], survivor=found["survivor"])


def shown_value(fdef: FieldDef | None, value: Any, lang: str) -> str:
    """A value as history and conflicts keep it (a lookup as its id)."""
    if fdef is None or value is None or (fdef.type.family == "relation" and fdef.type.multiple):
        return _plain(value)
    if fdef.type.single_link and not isinstance(value, dict):
        return f"#{value}"
    return display(fdef, value, lang)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v.get("id") if isinstance(v, dict) else v) for v in value)
    return str(value)


def _shown(fdef: FieldDef | None, value: Any, lang: str) -> str:
    return display(fdef, value, lang) if fdef is not None and value is not None else ""


def _label(value: Any) -> str:
    return str(value.get("label") or "") if isinstance(value, dict) else ""


def _instant(value: Any) -> float:
    """A timestamp as seconds, to order activities and changes whatever way each is written."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
        except ValueError:
            return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def _when(value: Any, zone: str) -> str:
    """A stored time as the reader reads it: in their time zone, to the minute."""
    if not value or zone == "UTC":
        return str(value or "").replace("T", " ")[:16]
    try:
        return in_zone(str(value), zone).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value).replace("T", " ")[:16]

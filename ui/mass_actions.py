"""Mass update and mass delete from the list page.

Nothing is written before the person confirms: the action bar (or, without JavaScript, the
step asking for the value) leads to a confirmation step stating the change and the number
of records ("Set Stage to Closed Won on 12 accounts", "Clear Phone on 12 accounts", "Delete
12 accounts"), whose form carries ``confirmed``. Emptying a field is a choice of its own
(``clear``, "Clear this field"): an empty value without it is refused, never taken as "clear".

Each selected record goes through the record service on its own, as the signed-in user,
so permissions, validation and plugin hooks apply to every one of them, and one refusal
does not undo the others. The list sends ``shown=<id>:<version>`` for every row it drew:
a record changed by someone after the page was drawn is reported as a conflict, not
overwritten. ``id`` names the rows ticked; ``all=page`` stands for every row shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.metadata.model import FieldDef, ObjectDef
from core.query import MAX_LIMIT, QueryError
from core.records import Conflict, Forbidden, NotFound, RecordError, RecordValidationError, json_value
from core.sameness import blank
from core.words import say
from ui.context import Page, counted
from ui.fields import display, record_title

MASS_LIMIT = MAX_LIMIT  # one list read finds the titles and current versions of all of them
RECORD_ID = re.compile(r"^[0-9]{1,18}$")


@dataclass
class Selection:
    ids: list[int]
    versions: dict[int, int | None]  # as the list showed them


@dataclass
class Outcome:
    """What a mass action did: how many records changed, and why each other one did not."""

    changed: int = 0
    unchanged: int = 0
    failures: list[dict] = field(default_factory=list)


@dataclass
class Change:
    """What a mass update is to do: set ``field`` to ``value`` on every selected record, or clear it."""

    field: FieldDef
    value: Any  # as the record service parsed it; None when clearing
    clear: bool
    sent: list[str]  # the value as the form sent it, for the confirmation step to send again


def values(data: dict, key: str) -> list[str]:
    raw = data.get(key)
    if raw is None:
        return []
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def one(data: dict, key: str) -> str:
    found = values(data, key)
    return found[-1] if found else ""


def selection(data: dict) -> Selection:
    shown: dict[int, int | None] = {}
    for item in values(data, "shown"):
        record_id, _, version = item.partition(":")
        if RECORD_ID.match(record_id):
            shown[int(record_id)] = int(version) if RECORD_ID.match(version) else None
    if "page" in values(data, "all"):
        ticked = list(shown)
    else:
        ticked = [int(v) for v in values(data, "id") if RECORD_ID.match(v)]
    ids = list(dict.fromkeys(ticked))
    return Selection(ids, {i: shown.get(i) for i in ids})


def readable(page: Page, obj: ObjectDef, ids: list[int]) -> dict[int, dict]:
    """The selected records the user may read, as read now (their titles and current versions)."""
    if not ids:
        return {}
    try:
        found = page.runtime.records.list(page.actor, obj.name, [("id__in", ",".join(map(str, ids))), ("limit", str(len(ids)))])
    except QueryError:
        return {}
    return {r["id"]: r for r in found.items}


def asked_change(page: Page, obj: ObjectDef, fdef: FieldDef, data: dict, value: Any) -> tuple[Change | None, str | None]:
    """The change the form asks for (``value``: what its input means, a lookup's record found from its text),
    checked by the record service without writing; or why it cannot be made.

    An empty value is refused unless "Clear this field" (``clear``) is ticked, and a value beside that choice too:
    a field is emptied on many records only when someone said so."""
    clearing = one(data, "clear") in ("1", "on", "true")
    title = fdef.label(page.lang)
    if clearing and not blank(fdef, value):
        return None, page.t("{field}: give a value or tick “Clear this field”, not both.", field=title)
    if not clearing and blank(fdef, value):
        return None, page.t("{field}: no value given. To empty it on every selected record, tick “Clear this field”.", field=title)
    try:
        parsed = page.runtime.records.check(page.actor, obj.name, {fdef.name: None if clearing else value})
    except RecordValidationError as exc:
        return None, reason(page, obj, exc, "update")
    except Forbidden:
        return None, page.t("Your role may not change this record.")
    return Change(fdef, parsed.get(fdef.name), clearing, _sent_again(fdef, data, value, clearing)), None


def _sent_again(fdef: FieldDef, data: dict, value: Any, clearing: bool) -> list[str]:
    """What the confirmation step sends back as ``value``: a lookup sends the record its text named,
    not the id its picker held before the text was changed."""
    if clearing:
        return []
    if fdef.type.name == "lookup":
        return [str(value)]
    return values(data, "value")


def sentence(page: Page, obj: ObjectDef, count: int, change: Change | None = None) -> str:
    """The mass action in words, with the number of records: 'Set Stage to Closed Won on 12 accounts', 'Delete 12 accounts'."""
    objects = counted(obj, count, page.lang)
    if change is None:
        return page.t("Delete {n} {objects}", n=count, objects=objects)
    title = change.field.label(page.lang)
    if change.clear:
        return page.t("Clear {field} on {n} {objects}", field=title, n=count, objects=objects)
    return page.t("Set {field} to {value} on {n} {objects}", field=title, value=value_text(page, change.field, change.value),
                  n=count, objects=objects)


def value_text(page: Page, fdef: FieldDef, value: Any) -> str:
    """A parsed value as a person reads it: a choice's label, a record's name, Yes or No."""
    ftype = fdef.type
    if ftype.family == "boolean":
        return page.t("Yes") if value else page.t("No")
    if ftype.single_link and fdef.spec.get("target"):
        return _titles(page, fdef.spec["target"], [value])
    if ftype.family == "relation" and ftype.multiple:
        return _titles(page, fdef.spec["target"], [link["id"] for link in value])
    return page.show(fdef, json_value(fdef.type.format(value, fdef.spec)))


def _titles(page: Page, object_name: str, ids: list[int]) -> str:
    """The names of records the user may read, else their numbers."""
    try:
        target = page.meta().object(object_name)
        found = readable(page, target, ids)
    except (Forbidden, RecordError):
        found, target = {}, None
    return ", ".join(record_title(target, found[i], page.lang) if i in found else f"#{i}" for i in ids)


def update_each(page: Page, obj: ObjectDef, chosen: Selection, fdef: FieldDef, value: Any) -> Outcome:
    outcome, found = Outcome(), readable(page, obj, chosen.ids)
    for record_id in chosen.ids:
        record = found.get(record_id)
        if record is None:
            outcome.failures.append(_failure(obj, record_id, None, page.t("Not found: deleted meanwhile, or not yours to see."), page))
            continue
        version = chosen.versions.get(record_id) or record["version"]
        try:
            saved = page.runtime.records.update(page.actor, obj.name, record_id, {fdef.name: value}, version=version)
        except (RecordError, RecordValidationError) as exc:
            outcome.failures.append(_failure(obj, record_id, record, reason(page, obj, exc, "update"), page))
            continue
        if saved["version"] == version:
            outcome.unchanged += 1
        else:
            outcome.changed += 1
    return outcome


def delete_each(page: Page, obj: ObjectDef, chosen: Selection) -> Outcome:
    outcome, found = Outcome(), readable(page, obj, chosen.ids)
    for record_id in chosen.ids:
        record = found.get(record_id)
        if record is None:
            outcome.failures.append(_failure(obj, record_id, None, page.t("Not found: deleted meanwhile, or not yours to see."), page))
            continue
        try:
            page.runtime.records.delete(page.actor, obj.name, record_id, version=chosen.versions.get(record_id) or record["version"])
        except (RecordError, RecordValidationError) as exc:
            outcome.failures.append(_failure(obj, record_id, record, reason(page, obj, exc, "delete"), page))
            continue
        outcome.changed += 1
    return outcome


def reason(page: Page, obj: ObjectDef, exc: Exception, operation: str) -> str:
    """Why the record service refused one record, in words for the person who asked."""
    if isinstance(exc, RecordValidationError):
        return "; ".join(f"{_field_title(page, obj, e.field)}: {e.worded(page.lang)}" if e.field else e.worded(page.lang) for e in exc.errors)
    if isinstance(exc, Conflict):
        return page.t("Someone changed it after the list was shown (it is now at version {version}); it was left as it is.",
                      version=exc.current_version)
    if isinstance(exc, Forbidden):
        return page.t("Your role may not delete this record.") if operation == "delete" else page.t("Your role may not change this record.")
    if isinstance(exc, NotFound):
        return page.t("Not found: deleted meanwhile, or not yours to see.")
    return say(exc, page.lang)  # Refused and the like: the record service's own sentence says what stands in the way


def _field_title(page: Page, obj: ObjectDef, name: str) -> str:
    fdef = obj.fields.get(name)
    return fdef.label(page.lang) if fdef else name


def _failure(obj: ObjectDef, record_id: int, record: dict | None, why: str, page: Page) -> dict:
    title = record_title(obj, record, page.lang) if record else f"#{record_id}"
    return {"id": record_id, "title": title, "reason": why, "href": f"/r/{obj.name}/{record_id}" if record else None}

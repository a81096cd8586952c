"""Changing one field from the record page, or from a cell of a list: its input in place of its value, saved
with the record's version.

The version is the one the page was drawn with, so a change someone made meanwhile is a conflict
shown beside the field (with what they changed), never overwritten unseen; saving again after
that applies the value over theirs, as the full form does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.metadata.model import ObjectDef
from core.records import Conflict
from ui import lookups
from ui.context import Page
from ui.fields import Column, choices, column, form_value
from ui.record_forms import SAVE_REFUSALS, refused, submitted
from ui.timeline import shown_value

NOT_INLINE = ("readonly", "links")  # read-only values, and many-to-many links (edited on the form)


def editable(page: Page, obj: ObjectDef, name: str) -> Column | None:
    """The field as an input, if the user may change it on the page."""
    fdef = obj.fields.get(name)
    if fdef is None or fdef.removed or not page.access.can(obj.name, "update") or not page.access.visible(obj.name, name):
        return None
    col = lookups.narrowed(page, column(fdef, page.lang, page.access.writable(obj.name, name)))
    return col if col.editable and col.widget not in NOT_INLINE else None


@dataclass(frozen=True)
class Place:
    """Where the input opens: the record page's field (by default), or a list's cell (``in=cell``; ``link=1`` for
    the row's first cell, which links to the record)."""

    cell: bool = False
    link: bool = False

    @classmethod
    def asked(cls, page: Page, values) -> "Place":
        cell = page.htmx and _one(values, "in") == "cell"
        return cls(cell, cell and _one(values, "link") == "1")

    @property
    def template(self) -> str:
        return "records/_cell_edit.html" if self.cell else "records/_field_edit.html"

    def ids(self, record: dict, name: str) -> tuple[str, str]:
        """The id of the element the input replaces, and of the input itself."""
        if self.cell:
            return f"cell-{record['id']}-{name}", f"inline-{record['id']}-{name}"
        return f"value-{name}", f"inline-{name}"


def _one(values, key: str) -> str:
    value = values.get(key) if values is not None else None
    if isinstance(value, list):
        value = value[-1] if value else None
    return str(value or "")


@dataclass
class Editing:
    """One field's input on the page: the value shown in it, the version it is saved against, what went wrong."""

    col: Column
    value: Any
    version: str
    error: str | None = None
    conflict: dict | None = None
    typed: dict = field(default_factory=dict)  # a lookup's text that named no record
    place: Place = Place()

    def context(self, page: Page, record: dict) -> dict:
        titles = {}
        if self.col.widget == "lookup":
            titles = lookups.shown_titles(page, [self.col.field], {self.col.name: self.value}, record, self.typed)
        target, fid = self.place.ids(record, self.col.name)
        return {"c": self.col, "value": self.value, "version": self.version, "error": self.error, "conflict": self.conflict,
                "options": {self.col.name: choices(self.col.field, page.lang)} if self.col.widget in ("select", "multiselect") else {},
                "lookups": titles, "fid": fid, "input_name": self.col.name, "target": target, "place": self.place}


def opened(col: Column, record: dict, version: str | None, place: Place = Place()) -> Editing:
    return Editing(col, form_value(record, col.name), version or str(record["version"]), place=place)


def save(page: Page, obj: ObjectDef, record: dict, col: Column, data: dict, place: Place = Place()) -> tuple[dict | None, Editing | None, int]:
    """Save the posted value: (the saved record, None, 200), or (None, the input again with why, status)."""
    version = str(data.get("version") or record["version"])
    sent = submitted(page, [col], data, record)
    shown = sent.values.get(col.name, form_value(record, col.name))
    if sent.problems:
        return None, Editing(col, None, version, error=sent.problems[col.name], typed=sent.typed, place=place), 422
    try:
        saved = page.runtime.records.update(page.actor, obj.name, record["id"], {col.name: sent.values.get(col.name)}, version=version)
    except Conflict as exc:
        return None, Editing(col, shown, str(exc.current_version), conflict=_conflict(page, obj, exc, record, col), place=place), 409
    except SAVE_REFUSALS as exc:
        errors, status = refused(page, obj, [col], exc)
        return None, Editing(col, shown, version, error="; ".join([*errors.fields.values(), *errors.general]), place=place), status
    return saved, None, 200


def _conflict(page: Page, obj: ObjectDef, exc: Conflict, record: dict, col: Column) -> dict:
    changes = []
    for change in exc.changes:
        fdef = obj.fields.get(change["field"])
        if fdef is None or not page.access.visible(obj.name, change["field"]):
            continue
        changes.append({"field": fdef.label(page.lang), "who": change["changed_by_label"],
                        "old": shown_value(fdef, change["old"], page.lang), "new": shown_value(fdef, change["new"], page.lang)})
    return {"changes": changes, "current": shown_value(col.field, record.get(col.name), page.lang)}

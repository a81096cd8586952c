"""Records named by their titles, as a person types them: in a form's lookup box, say.

Every read goes through the record service's permission-checked reads as the acting user, so a
record they may not read is neither found nor named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.metadata.model import ObjectDef
from core.naming import display_field, record_name
from core.query import QueryError
from core.records import Actor, RecordError, RecordService

PREFIX_ROWS = 100  # records beginning with the text that are compared with it whole, ignoring case


@dataclass(frozen=True)
class TitleMatches:
    """The records a text names best: all of them when ``count`` is small, else the first ones."""

    ids: list[int]
    count: int

    @property
    def single(self) -> int | None:
        return self.ids[0] if self.count == 1 else None


NONE = TitleMatches([], 0)


def find_by_title(records: RecordService, actor: Actor, obj: ObjectDef, text: str, within: dict | None = None) -> TitleMatches:
    """The readable records of ``obj`` whose title (or name, for a user their full name) is ``text`` (ignoring
    case and surrounding spaces); if there are none, those whose title begins with it; if none either, those
    whose title contains it. Only records meeting the filters ``within`` (field: value) count, when given."""
    text, title, within = text.strip(), obj.title_field, within or {}
    if not text:
        return NONE
    exact = _matching(records, actor, obj, {**within, title: text})
    if exact[1]:
        return TitleMatches([r["id"] for r in exact[0]], exact[1])
    starting, count = _matching(records, actor, obj, {**within, f"{title}__startswith": text}, PREFIX_ROWS)
    same = _same(starting, title, text) or _named(records, actor, obj, text, within)
    if same:
        return TitleMatches(same, len(same))
    if count:
        return TitleMatches([r["id"] for r in starting], count)
    containing, count = _matching(records, actor, obj, {**within, f"{title}__contains": text})
    return TitleMatches([r["id"] for r in containing], count)


def _same(found: list[dict], field: str, text: str) -> list[int]:
    return [r["id"] for r in found if str(r.get(field) or "").strip().casefold() == text.casefold()]


def _named(records: RecordService, actor: Actor, obj: ObjectDef, text: str, within: dict) -> list[int]:
    """The records whose display field (a user's full name) is the text, ignoring case."""
    shown = display_field(obj)
    if shown is None:
        return []
    starting, _count = _matching(records, actor, obj, {**within, f"{shown}__startswith": text}, PREFIX_ROWS)
    return _same(starting, shown, text)


def title_of(records: RecordService, actor: Actor, obj: ObjectDef, record_id: Any) -> str | None:
    """The record's title, if the actor may read the record and its title field."""
    try:
        found = records.get(actor, obj.name, record_id)
    except RecordError:
        return None
    value = record_name(obj, found)
    return None if value in (None, "") else str(value)


def _matching(records: RecordService, actor: Actor, obj: ObjectDef, condition: dict, limit: int = 10) -> tuple[list[dict], int]:
    """The first records meeting the condition and how many meet it; none when the actor may not filter so."""
    try:
        page = records.list(actor, obj.name, {**condition, "limit": str(limit), "count": "true"})
    except (QueryError, RecordError):
        return [], 0
    return page.items, page.count or 0

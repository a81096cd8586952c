"""Lookup pickers (a record form's lookups, the share pickers, a mass update's value): the text typed
in a picker's search box, resolved on save, and the titles a form shows for the records it holds.

A picker is a hidden id and a search box (``_<field>``) that choosing a suggestion fills. When
the box's text is not the chosen record's title, the text says what the person meant (a
browser without JavaScript only ever sends the text), so the server finds the record it names.
Every read is the signed-in user's, through the record service: what they may not read is
neither found nor named.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.fieldtypes import as_record_id
from core.metadata.model import FieldDef, ObjectDef
from core.query import QueryError
from core.records import RecordError
from core.titles import find_by_title, title_of
from ui.context import Page, plural, singular
from ui.fields import Column
from ui.i18n import in_sentence


@dataclass(frozen=True)
class Choice:
    """What a lookup's input comes to: the id to save (None clears it), or why its text names no single record."""

    value: Any
    problem: str | None = None


@dataclass(frozen=True)
class Within:
    """A lookup narrowed by its form's other fields (the layout's ``narrow_by``): the target's fields and the
    values they must hold, and the labels of the form's fields, for saying why a record is refused."""

    conditions: dict[str, Any]
    by: str

    @classmethod
    def of(cls, page: Page, fdef: FieldDef, values: dict) -> "Within | None":
        """The narrowing of the lookup ``fdef`` given the form's ``values``; None when its layout narrows it by
        nothing or the fields it is narrowed by are empty (a deal without an account offers every contact)."""
        source = page.meta().objects.get(fdef.object)
        pairs = page.meta().form_layout(source).narrowing(fdef.name) if source is not None else {}
        held = {target_field: _plain(values.get(field)) for target_field, field in pairs.items()}
        conditions = {name: value for name, value in held.items() if value not in (None, "")}
        if not conditions:
            return None
        labels = [source.fields[pairs[name]].label(page.lang) for name in conditions if pairs[name] in source.fields]
        return cls(conditions, ", ".join(labels))

    def holds(self, page: Page, target: ObjectDef, record_id: int) -> bool:
        """Whether the record is one the narrowed lookup offers."""
        return bool(_within(page, target, {"id": record_id, **self.conditions}, 1))


def _plain(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def _within(page: Page, target: ObjectDef, conditions: dict, limit: int) -> list[dict]:
    try:
        return page.runtime.records.list(page.actor, target.name, {**conditions, "limit": str(limit)}).items
    except (QueryError, RecordError):
        return []


def narrowed(page: Page, col: Column) -> Column:
    """The column knowing the form's fields that narrow its lookup (its search sends their values)."""
    if col.widget != "lookup":
        return col
    source = page.meta().objects.get(col.field.object)
    by = tuple(page.meta().form_layout(source).narrowing(col.name).values()) if source is not None else ()
    return replace(col, narrowed_by=by) if by else col


def choose(page: Page, target: ObjectDef, chosen_id: Any, text: str, within: Within | None = None) -> Choice:
    """The record of ``target`` a lookup names: the chosen one while the text is its title, else the one record the
    text names; among the records ``within`` allows, when the lookup is narrowed by another field."""
    text, chosen = text.strip(), as_record_id(chosen_id)
    if not text:
        return Choice(None)
    if chosen is not None and text.casefold() in names_of(page, target, chosen):
        if within is not None and not within.holds(page, target, chosen):
            return Choice(None, _outside(page, target, text, within))
        return Choice(chosen)
    found = find_by_title(page.runtime.records, page.actor, target, text, within.conditions if within else None)
    if found.single is not None:
        return Choice(found.single)
    if found.count == 0 and within is not None and find_by_title(page.runtime.records, page.actor, target, text).count:
        return Choice(None, _outside(page, target, text, within))
    if found.count == 0:
        return Choice(None, page.t("no {object} called '{text}'", object=in_sentence(singular(target, page.lang)), text=text))
    return Choice(None, page.t("{n} {objects} match '{text}'; choose one from the list", n=found.count,
                               objects=in_sentence(plural(target, page.lang)), text=text))


def _outside(page: Page, target: ObjectDef, text: str, within: Within) -> str:
    return page.t("'{text}' is not one of the {objects} of the chosen {field}", text=text,
                  objects=in_sentence(plural(target, page.lang)), field=in_sentence(within.by))


def names_of(page: Page, target: ObjectDef, record_id: int) -> set[str]:
    """What the search box shows for the record, ignoring case: its title, and '#id' (all a record without a readable title shows)."""
    title = title_of(page.runtime.records, page.actor, target, record_id)
    return {f"#{record_id}"} | ({title.strip().casefold()} if title else set())


def shown_titles(page: Page, fields: list[FieldDef], values: dict, record: dict | None, typed: dict[str, str]) -> dict[str, str]:
    """The text of each lookup's search box: what was typed when it named no record, else the held record's
    title if the user may read it, else '#id' (as for a record that is not there)."""
    texts = {}
    for fdef in fields:
        if fdef.type.name != "lookup":
            continue
        if fdef.name in typed:
            texts[fdef.name] = typed[fdef.name]
        elif values.get(fdef.name) not in (None, ""):
            texts[fdef.name] = _title(page, fdef, values[fdef.name], (record or {}).get(fdef.name))
    return texts


def _title(page: Page, fdef: FieldDef, value: Any, stored: Any) -> str:
    if isinstance(stored, dict) and str(stored.get("id")) == str(value) and stored.get("label") not in (None, ""):
        return str(stored["label"])  # read with the record, as the user may see it
    target = page.meta().object(fdef.spec["target"])
    title = title_of(page.runtime.records, page.actor, target, value) if as_record_id(value) else None
    return title if title is not None else f"#{value}"

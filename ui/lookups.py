"""Lookup pickers (a record form's lookups, the share pickers, a mass update's value): the text typed
in a picker's search box, resolved on save, and the titles a form shows for the records it holds.

A picker is a hidden id and a search box (``_<field>``) that choosing a suggestion fills. When
the box's text is not the chosen record's title, the text says what the person meant (a
browser without JavaScript only ever sends the text), so the server finds the record it names.
Every read is the signed-in user's, through the record service: what they may not read is
neither found nor named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.fieldtypes import as_record_id
from core.metadata.model import FieldDef, ObjectDef
from core.titles import find_by_title, title_of
from ui.context import Page, plural, singular
from ui.i18n import in_sentence


@dataclass(frozen=True)
class Choice:
    """What a lookup's input comes to: the id to save (None clears it), or why its text names no single record."""

    value: Any
    problem: str | None = None


def choose(page: Page, target: ObjectDef, chosen_id: Any, text: str) -> Choice:
    """The record of ``target`` a lookup names: the chosen one while the text is its title, else the one record the text names."""
    text, chosen = text.strip(), as_record_id(chosen_id)
    if not text:
        return Choice(None)
    if chosen is not None and text.casefold() in names_of(page, target, chosen):
        return Choice(chosen)
    found = find_by_title(page.runtime.records, page.actor, target, text)
    if found.single is not None:
        return Choice(found.single)
    if found.count == 0:
        return Choice(None, page.t("no {object} called '{text}'", object=in_sentence(singular(target, page.lang)), text=text))
    return Choice(None, page.t("{n} {objects} match '{text}'; choose one from the list", n=found.count,
                               objects=in_sentence(plural(target, page.lang)), text=text))


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

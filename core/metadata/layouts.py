"""One reading of a layout's keys, with their defaults, for every page and service that draws records.

A layout document (metadata/layouts, plugins' layouts, a customization) says how an object's records
are shown: a list's ``columns`` and ``sort``, a detail or form's ``sections``, a detail's
``highlights`` and ``related_lists``, a board's ``group_by``, ``sum_field`` and ``card_fields``, and
the lookups a form narrows by another field (``narrow_by``). Read them through ``LayoutView`` rather
than the dictionary, so that a key's default and shape live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RELATED_ROWS = 5  # rows of a related list whose layout does not say


@dataclass(frozen=True)
class Section:
    """A titled group of fields, on a tab when ``tab`` names one."""

    label: dict
    fields: list[str]
    columns: int = 2
    tab: dict | None = None


@dataclass(frozen=True)
class RelatedList:
    """Records of ``child`` pointing here by its field ``via`` (named ``child.via``), the columns and rows shown."""

    name: str
    columns: list[str] = field(default_factory=list)
    rows: int = RELATED_ROWS
    hidden: bool = False  # named so that a plugin's list does not join, and not shown

    @property
    def child(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def via(self) -> str:
        return self.name.split(".", 1)[1]

    def as_entry(self) -> str | dict:
        """How a layout document holds it: the name alone when nothing else is said."""
        if not self.columns and self.rows == RELATED_ROWS and not self.hidden:
            return self.name
        entry: dict[str, Any] = {"list": self.name}
        if self.hidden:
            entry["hidden"] = True
        if self.columns:
            entry["columns"] = list(self.columns)
        if self.rows != RELATED_ROWS:
            entry["rows"] = self.rows
        return entry


def related_list(entry: str | dict) -> RelatedList:
    if isinstance(entry, str):
        return RelatedList(entry)
    return RelatedList(entry["list"], list(entry.get("columns") or []), entry.get("rows", RELATED_ROWS), bool(entry.get("hidden")))


@dataclass(frozen=True)
class LayoutView:
    """A layout's keys with their defaults; an object without such a layout reads as an empty one."""

    body: dict = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.body)

    @property
    def object(self) -> str:
        return self.body.get("object", "")

    @property
    def kind(self) -> str:
        return self.body.get("kind", "")

    @property
    def columns(self) -> list[str]:
        return list(self.body.get("columns") or [])

    @property
    def sort(self) -> str:
        return self.body.get("sort") or ""

    @property
    def sections(self) -> list[Section]:
        return [Section(s.get("label") or {}, list(s.get("fields") or []), s.get("columns", 2), s.get("tab"))
                for s in self.body.get("sections") or []]

    @property
    def highlights(self) -> list[str]:
        return list(self.body.get("highlights") or [])

    @property
    def related_lists(self) -> list[RelatedList]:
        """The lists the layout names, in its order, hidden ones included; none named means every relation is shown."""
        return [related_list(entry) for entry in self.body.get("related_lists") or []]

    @property
    def names_related_lists(self) -> bool:
        return bool(self.body.get("related_lists"))

    @property
    def shown_related_lists(self) -> list[RelatedList]:
        return [item for item in self.related_lists if not item.hidden]

    @property
    def group_by(self) -> str | None:
        return self.body.get("group_by")

    @property
    def sum_field(self) -> str | None:
        return self.body.get("sum_field")

    @property
    def card_fields(self) -> list[str]:
        return list(self.body.get("card_fields") or [])

    @property
    def narrow_by(self) -> dict[str, dict[str, str]]:
        """Lookup field -> {field of the record it points to: field of this form}: the lookup offers only records
        whose field holds what the form's field holds (a deal's contact: contacts of the deal's account)."""
        return {name: dict(pairs) for name, pairs in (self.body.get("narrow_by") or {}).items()}

    def narrowing(self, lookup: str) -> dict[str, str]:
        return self.narrow_by.get(lookup, {})


def fallback_sections(obj_spec: dict, field_names: list[str]) -> LayoutView:
    """What a detail or form shows for an object without a layout: all its fields in one section."""
    return LayoutView({"object": obj_spec.get("name", ""), "sections": [{"label": obj_spec.get("label") or {}, "fields": field_names}]})

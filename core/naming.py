"""What names a record wherever another record points at it (a lookup's label, a link, a picker, a title).

A record is named by its object's ``display_field`` when the object names one, the record holds
text in it and the reader may see it (a user's full name), else by its title field (the username).
This is the one place that says so: the record service's lookup join, the link and dynamic-lookup labels, and the
pages' titles all ask here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.metadata.model import ObjectDef

def display_field(obj: ObjectDef, visible=lambda object_name, field_name: True) -> str | None:
    """The field naming the object's records before its title field, if it has one the reader may see."""
    name = obj.spec.get("display_field")
    field = obj.fields.get(name) if name else None
    if field is None or field.removed or not visible(obj.name, name):
        return None
    return name


def title_column(obj: ObjectDef, table: sa.FromClause, visible) -> sa.ColumnElement:
    """The SQL expression of a record's name: the display field when it holds text, else the title field."""
    title = table.c[obj.title_field]
    name = display_field(obj, visible)
    if name is None or name not in table.c:
        return title
    return sa.func.coalesce(sa.func.nullif(sa.func.trim(table.c[name]), ""), title)


def record_name(obj: ObjectDef, record: dict) -> Any:
    """A read record's name: its display field when it holds text, else its title field (None when neither does)."""
    name = obj.spec.get("display_field")
    shown = record.get(name) if name else None
    if isinstance(shown, str) and shown.strip():
        return shown.strip()
    return record.get(obj.title_field)

"""When two values of a field are one value: what updates write, and what history and conflicts report.

Forms, imports and API clients spell one value in several ways: an empty text as "", as
spaces or as null; an empty multi-picklist or set of links as [] or null; a lookup as 12,
"12" or {"id": 12}; a number as 12.5, "12.50" or Decimal("12.5"); a date or a time as an
object or as ISO text, in any offset; an unticked checkbox as false or as no value. The
record service compares values with ``same`` (never with ``==``): an update writes only
the fields that are not the same, so a form saved untouched changes no version and leaves
no history, and history and conflict warnings list real changes only.

``comparable`` gives a value's one spelling for comparison (hashable, so that values can
be grouped); ``blank`` says whether a value is none at all.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any, Hashable, Iterable

from core.fieldtypes import as_record_id
from core.metadata.model import FieldDef



def same(fdef: FieldDef | None, a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are one value of the field (``fdef`` None: a field no longer defined)."""
    if type(a) is type(b) and a == b:  # the same spelling (most values of a batch): nothing to compare further
        return True
    return comparable(fdef, a) == comparable(fdef, b)


def blank(fdef: FieldDef | None, value: Any) -> bool:
    """Whether the value is no value at all for the field ("", spaces, [], null; an unticked checkbox is a value)."""
    if _kind(fdef) == "boolean":
        return value is None or (isinstance(value, str) and value.strip() == "")
    return comparable(fdef, value) is None


def comparable(fdef: FieldDef | None, value: Any) -> Hashable:
    """The value in one spelling: None for no value, else something equal for every spelling of it."""
    return _value(_kind(fdef), value, fdef)


def _kind(fdef: FieldDef | None) -> str | None:
    """How the field's values compare, from its type's family: text, number, reference, choices, links, date,
    datetime, boolean or document (None: a field no longer defined)."""
    if fdef is None:
        return None
    ftype = fdef.type
    family = ftype.family
    if family == "text" or ftype.single_choice:
        return "text"
    if family == "choice":
        return "choices"
    if family == "relation":
        return "links" if ftype.multiple else "reference"
    if family == "date":
        return "datetime" if ftype.with_time else "date"
    if family in ("number", "boolean"):
        return family
    return "document"


def _value(kind: str | None, value: Any, fdef: FieldDef | None = None) -> Hashable:
    if value is None:
        return False if kind == "boolean" else None
    if kind == "text":
        return _text(value)
    if kind == "number":
        return _number(value)
    if kind == "reference":
        return _reference(value)
    if kind == "choices":
        return _choices(value)
    if kind == "links":
        return _links(value, fdef.through if fdef is not None else [])
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "boolean":
        return _boolean(value)
    if kind == "document":
        return None if value == "" else _json(value)
    return _unknown(value)


def _text(value: Any) -> Hashable:
    if not isinstance(value, str):
        return _unknown(value)
    if value.strip() == "":
        return None
    return value.replace("\r\n", "\n")  # a browser sends a textarea's line breaks as CRLF


def _number(value: Any) -> Hashable:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() == "":
        return None
    try:
        number = decimal.Decimal(str(value).strip())
    except (decimal.InvalidOperation, ValueError):
        return _unknown(value)
    return number if number.is_finite() else str(number)


def _reference(value: Any) -> Hashable:
    if isinstance(value, dict):
        value = value.get("id")
        if value is None:
            return None
    if isinstance(value, str) and value.strip() == "":
        return None
    number = as_record_id(value)
    return number if number is not None else _unknown(value)


def _choices(value: Any) -> Hashable:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)):
        return _unknown(value)
    return frozenset(map(str, value)) or None


def _links(value: Any, through: Iterable[FieldDef]) -> Hashable:
    """Links as (id, relation values) in the order of their ids: the order they were given in is no change."""
    if not isinstance(value, (list, tuple)):
        return _unknown(value)
    fields = list(through)
    links = []
    for link in value:
        item = link if isinstance(link, dict) else {"id": link}
        record = _reference(item.get("id"))
        links.append((record, tuple(_value(_kind(t), item.get(t.name), t) for t in fields)))
    return tuple(sorted(links, key=lambda pair: str(pair[0]))) or None


def _date(value: Any) -> Hashable:
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        if value.strip() == "":
            return None
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return _datetime(value)
    return _unknown(value)


def _datetime(value: Any) -> Hashable:
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # stored without a zone: UTC (SQLite)
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    return _unknown(value)


def _boolean(value: Any) -> Hashable:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("", "false", "0", "no", "off"):
            return False
        if lowered in ("true", "1", "yes", "on"):
            return True
    return value


def _json(value: Any) -> Hashable:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _unknown(value: Any) -> Hashable:
    """A value of a field whose type is not known (a removed field's history), or not of its type: by its shape."""
    if isinstance(value, str):
        return _text(value) if value.strip() == "" else value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return _number(value)
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dict) and "id" in value:
        return _reference(value)
    if isinstance(value, (list, tuple)):
        return None if not value else _json(value)
    if isinstance(value, dict):
        return _json(value)
    return value

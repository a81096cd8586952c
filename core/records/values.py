"""Small conversions the record service's parts share: ids, versions, times, parameters."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any


from core.fieldtypes import as_record_id, iso_utc
from core.person_names import name_fields
from core.metadata.model import FieldDef, ObjectDef
from core.permissions import ACTOR_ID
from core.runtime import Schema
from core.words import WORDS, Sentence, sentence
from core.records.actor import Actor
from core.records.errors import NotFound, RecordError


MAX_VERSION = 2**31 - 1  # the version column is an INTEGER


SYSTEM_TAIL = ("version", "created_at", "created_by", "updated_at", "updated_by", "owner", "deleted_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _name_fields(schema: Schema, obj) -> list:
    """The object's full-name fields, found once per metadata version (every write asks)."""
    return schema.memo(("full names", obj.name), lambda: name_fields(obj.fields.values()))


def json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _field_def(schema: Schema, obj: ObjectDef | None, name: str) -> FieldDef | None:
    """A field of the object by name, system fields (owner) included; None for one no longer defined."""
    if obj is None:
        return None
    return obj.fields.get(name) or schema.system_fields(obj.name).get(name)


def _params(actor: Actor | None) -> dict:
    return actor.params if actor is not None else {ACTOR_ID: None}


_iso = iso_utc


def _label(value: Any) -> Any:
    return json_value(value)


def operation_word(operation: str) -> Sentence | str:
    """An operation (read, create, update, delete) as a word of the sentence that names it."""
    return sentence(f"operation_{operation}") if f"operation_{operation}" in WORDS else operation


def _record_id(value: Any) -> int:
    number = as_record_id(value)
    if number is None:
        raise NotFound(sentence("not_a_record_id", value=value))
    return number


def _version(value: Any) -> int:
    if value is None:
        raise RecordError(sentence("version_needed"))
    text = value.removeprefix("W/").strip('"') if isinstance(value, str) else value  # an If-Match header: "3" or W/"3"
    number = as_record_id(text)
    if number is None:
        raise RecordError(sentence("not_a_version", value=value)) from None
    if not 1 <= number <= MAX_VERSION:
        raise RecordError(sentence("version_from_one", value=value))
    return number


def _aware(when: dt.datetime) -> dt.datetime:
    """A stored time as UTC: SQLite gives it back without its zone."""
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)

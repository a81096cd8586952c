"""When each record entered and left each value of its object's process field: the stage intervals.

An opportunity's stage, a lead's status, a ticket's status: the object's ``process_field``. Each
time a record takes a value, an interval opens (``entered_at``); when it takes another, that
interval closes (``left_at``) and the next opens. A subscriber of the record service's changes
keeps them inside the writing transaction, so reports of the time spent in each stage and of
the stages records reached (core/reports/) read one row per stage visited instead of walking the
whole field history on every request. ``fill_missing`` builds them once from the field history
for data written before they were kept.
"""

from __future__ import annotations

import datetime as dt
import json
from itertools import groupby
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core.coretables import field_history, stage_interval
from core.records.events import CREATED, DELETED, RecordChanges

UTC = dt.timezone.utc
BATCH = 5000


def receive(runtime: Any, conn: Connection, change: RecordChanges) -> None:
    """A subscriber of record changes: open and close the intervals of the written records' process field."""
    if change.event == DELETED:
        return
    schema = change.schema or runtime.schema(conn)
    obj = schema.meta.objects.get(change.object_name)
    field = obj.process_field if obj is not None else None
    if not field or field not in obj.fields:
        return
    values, now = change.values(), dt.datetime.now(UTC)
    moved: dict[int, Any] = {}
    for record_id in change.ids:
        record = values.get(record_id)
        if record is None:
            continue
        changes = change.changes_of(record_id) if change.event != CREATED else None
        if changes is None and change.event == CREATED:
            moved[record_id] = record.get(field)
        elif changes and field in changes:
            moved[record_id] = changes[field][1]
    if not moved:
        return
    key = sa.and_(stage_interval.c.object == obj.name, stage_interval.c.field == field)
    if change.event != CREATED:
        conn.execute(sa.update(stage_interval).where(key, stage_interval.c.record_id.in_(list(moved)), stage_interval.c.left_at.is_(None))
                     .values(left_at=now))
    conn.execute(sa.insert(stage_interval), [{"object": obj.name, "field": field, "record_id": record_id, "value": _text(value),
                                              "entered_at": now} for record_id, value in moved.items()])


def fill_missing(conn: Connection, schema) -> dict[str, int]:
    """Build the intervals of every object with a process field that has records but no interval yet (data written
    before they were kept); the number of intervals made per object."""
    made = {}
    for obj in schema.meta.objects.values():
        field = obj.process_field
        if not field or field not in obj.fields or obj.spec.get("system"):
            continue
        key = sa.and_(stage_interval.c.object == obj.name, stage_interval.c.field == field)
        if conn.execute(select(stage_interval.c.id).where(key).limit(1)).first() is not None:
            continue
        table = schema.tables.table(obj.name)
        if conn.execute(select(table.c.id).limit(1)).first() is None:
            continue
        made[obj.name] = rebuild(conn, schema, obj.name)
    return made


def rebuild(conn: Connection, schema, object_name: str) -> int:
    """The intervals of ``object_name`` made again from its records and their field history; how many there are."""
    obj = schema.meta.object(object_name)
    field = obj.process_field
    table = schema.tables.table(object_name)
    conn.execute(sa.delete(stage_interval).where(stage_interval.c.object == object_name, stage_interval.c.field == field))
    history = conn.execute(select(field_history.c.record_id, field_history.c.old_value, field_history.c.new_value, field_history.c.changed_at)
                           .where(field_history.c.object == object_name, field_history.c.field == field)
                           .order_by(field_history.c.record_id, field_history.c.id))
    changes = {record_id: list(rows) for record_id, rows in groupby(history, key=lambda row: row[0])}
    records = conn.execute(select(table.c.id, table.c.created_at, table.c[field]).order_by(table.c.id))
    count, batch = 0, []
    for interval in _intervals(records, changes, object_name, field):
        batch.append(interval)
        if len(batch) >= BATCH:
            conn.execute(sa.insert(stage_interval), batch)
            count, batch = count + len(batch), []
    if batch:
        conn.execute(sa.insert(stage_interval), batch)
    return count + len(batch)


def _intervals(records, changes: dict, object_name: str, field: str) -> Iterator[dict]:
    for record_id, created_at, current in records:
        moves = changes.get(record_id, [])
        value, start = (_loaded(moves[0][1]) if moves else current), _aware(created_at)
        for _id, _old, new, at in moves:
            yield {"object": object_name, "field": field, "record_id": record_id, "value": _text(value), "entered_at": start, "left_at": _aware(at)}
            value, start = _loaded(new), _aware(at)
        yield {"object": object_name, "field": field, "record_id": record_id, "value": _text(value), "entered_at": start, "left_at": None}


def _loaded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _aware(moment: Any) -> dt.datetime:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

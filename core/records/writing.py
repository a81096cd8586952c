"""Creating and updating records: validation, hooks, checks, the write, field history, webhooks."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import search
from core.coretables import field_history
from core.db import prepare_bulk
from core.fieldtypes import format_autonumber
from core.metadata.model import FieldDef, ObjectDef
from core.plugins import RecordEvent, Refusal
from core.permissions import TRUSTED, Access
from core.runtime import Runtime, Schema
from core.validation import FieldError, RecordValidationError
from core.words import sentence
from core.records.actor import Actor
from core.records.errors import Conflict, Forbidden, NotFound
from core.records.reading import _changes
from core.records.rows import _bulk_insert, _insert_one, _insert_plan, BULK_INSERT_MIN
from core.records import pipeline
from core.records.events import RecordChanges, publish
from core.records.pipeline import _as_json, _plugin_problem, reserve_numbers
from core.records.transaction import BulkWriter, TransactionRecords
from core.records.values import _params, _record_id, _version, operation_word


class Writes:
    """The record service's part for creating and updating records (see core/records/service.py)."""

    runtime: Runtime

    def create(self, actor: Actor, object_name: str, data: Any) -> dict:
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "create")
            return self._create(conn, schema, actor, object_name, data, access=access)

    def _create(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, data: Any, trusted: bool = False,
                access: Access = TRUSTED) -> dict:
        record_id = self._insert(conn, schema, actor, object_name, [data], trusted, access)[0]
        # The creator sees what they made even when their read scope would not cover it (a record given to a teammate).
        return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    def create_many(self, actor: Actor, object_name: str, rows: list[Any]) -> list[int]:
        """Create many records in one transaction: all are created, or none."""
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "create")
            return self._insert(conn, schema, actor, object_name, rows, access=access)

    @contextmanager
    def bulk(self, actor: Actor, object_name: str, dry_run: bool = False) -> Iterator["BulkWriter"]:
        """One transaction of batch writes for an import: each invalid row is reported, not raised.

        With ``dry_run`` everything runs (validation, hooks, checks) and is rolled back at the end.
        """
        with self.runtime.writing() as (conn, schema):
            schema.meta.object(object_name)
            prepare_bulk(conn)
            yield BulkWriter(self, conn, schema, actor, object_name)
            if dry_run:
                search.forget(conn)
                conn.get_transaction().rollback()

    def _insert(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, rows: list[Any], trusted: bool = False,
                access: Access = TRUSTED, rejected: dict[int, list[FieldError]] | None = None) -> list[int]:
        """Insert ``rows`` through the write pipeline (core/records/pipeline.py); return their ids in order.

        Without ``rejected`` any invalid row refuses the whole batch. With it (imports), each
        invalid row's errors go there by index, its id is None, and the valid rows are inserted.
        """
        write = pipeline.run(pipeline.Write(
            self, conn, schema, actor, access, schema.meta.object(object_name), pipeline.CREATE,  # type: ignore[arg-type]
            [pipeline.Item(position, given) for position, given in enumerate(rows)], trusted=trusted, rejected=rejected,
            batch=len(rows) > 1 or rejected is not None))
        ids: list[int | None] = [None] * len(rows)
        for item in write.items:
            ids[item.position] = item.record_id
        return ids  # type: ignore[return-value]

    def _run_before(self, conn, schema: Schema, actor: Actor, obj: ObjectDef, hook_name: str, values: dict,
                    previous: dict | None, now: dt.datetime) -> dict:
        """Run a before-hook and the validators of plugins; what hooks set is checked like input."""
        plugins = self.runtime.plugins
        shown = _as_json(obj, values)
        event = RecordEvent(obj.name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                            hooks=plugins.hook, values=dict(shown), previous=previous, now=now)
        hook = plugins.caller(hook_name, obj.name)
        if hook:
            try:
                hook(event=event)
            except Refusal as exc:
                raise RecordValidationError(obj.name, [FieldError(exc.field, plugins.sentence(exc))]) from None
            if event.values != shown:  # only what hooks changed needs checking again
                values = schema.validator(obj.name).validate(event.values, partial=previous is not None, trusted=True)
                event.values = _as_json(obj, values)
        validators = plugins.caller("tessera_validate_record", obj.name)
        problems = [p for result in reversed(validators(event=event)) for p in (result or [])] if validators else []
        if problems:
            raise RecordValidationError(obj.name, [_plugin_problem(plugins, problem) for problem in problems])
        return values

    def _insert_rows(self, conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None = None) -> list[int]:
        """Insert the rows; return their ids in the rows' order.

        Several rows go in one statement (see ``_bulk_insert``), one row in one ``INSERT ... RETURNING
        id`` on the driver's cursor; a table these cannot serve takes SQLAlchemy's own insert.
        """
        if len(parsed) >= BULK_INSERT_MIN:
            ids = _bulk_insert(conn, table, parsed, schema)
            if ids is not None:
                return ids
        elif parsed and (plan := _insert_plan(conn, table, parsed, schema)) is not None:
            return [_insert_one(conn, plan, parsed[0])]
        # Rows may name different columns; group them so each executemany is uniform.
        ids: list[int | None] = [None] * len(parsed)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, values in enumerate(parsed):
            groups.setdefault(tuple(sorted(values)), []).append(i)
        for columns, indexes in groups.items():
            statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            result = conn.execute(statement, [parsed[i] for i in indexes])
            for i, row in zip(indexes, result):
                ids[i] = row[0]
        return ids  # type: ignore[return-value]

    def _assign_autonumbers(self, conn: Connection, obj: ObjectDef, parsed: list[dict]) -> None:
        for fdef in obj.active_fields():
            if fdef.type.name != "autonumber":
                continue
            first = reserve_numbers(conn, f"{obj.name}.{fdef.name}", len(parsed))
            for offset, values in enumerate(parsed):
                values[fdef.name] = format_autonumber(fdef.spec, first + offset)

    def update(self, actor: Actor, object_name: str, record_id: Any, changes: Any, version: Any = None) -> dict:
        record_id = _record_id(record_id)
        if isinstance(changes, dict):
            changes = dict(changes)
            if version is None:
                version = changes.pop("version", None)
            else:
                changes.pop("version", None)
        expected = _version(version)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            return self._update(conn, schema, actor, object_name, record_id, changes, expected, access=access)

    def _update(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, record_id: int, changes: Any, expected: int,
                trusted: bool = False, access: Access = TRUSTED) -> dict:
        """Change one record at version ``expected`` through the write pipeline (core/records/pipeline.py); return it."""
        write = pipeline.run(pipeline.Write(
            self, conn, schema, actor, access, schema.meta.object(object_name), pipeline.UPDATE,  # type: ignore[arg-type]
            [pipeline.Item(0, changes, record_id, expected)], trusted=trusted))
        if write.items and access.unrestricted:
            return write.records()[record_id]
        return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    def _publish(self, conn: Connection, object_name: str, event: str, ids: list[int], fetch: Callable[[], list[dict]],
                 changes: dict | None = None, actor: Actor | None = None) -> None:
        """Tell the subscribers of record changes (core/records/events.py) about a write other than the pipeline's:
        deletes, restores, references moved by a merge or an on_delete. ``changes``: the same for every record."""
        per_record = None if changes is None else {record_id: changes for record_id in ids}
        publish(self.runtime.record_subscribers, conn, RecordChanges(object_name, event, actor, ids, fetch, per_record))

    def _update_many(self, conn: Connection, schema: Schema, actor: Actor, access: Access, object_name: str,
                     items: list[tuple[int, dict]]) -> dict[int, list[FieldError]]:
        """Change many records at their current versions through the write pipeline; the problems of each refused item by index."""
        rejected: dict[int, list[FieldError]] = {}
        pipeline.run(pipeline.Write(
            self, conn, schema, actor, access, schema.meta.object(object_name), pipeline.UPDATE,  # type: ignore[arg-type]
            [pipeline.Item(position, changes, record_id) for position, (record_id, changes) in enumerate(items)],
            rejected=rejected, batch=True))
        return rejected

    def _current_rows(self, conn: Connection, schema: Schema, access: Access, actor: Actor | None, table: sa.Table, object_name: str,
                      ids: list[int], operation: str = "update") -> tuple[dict[int, sa.Row], set[int]]:
        """The stored rows the actor may read (locked for the transaction), and the ids of those they may ``operation``."""
        params = _params(actor)
        # one id compares with = (an expanding IN is rewritten on every execution)
        one = len(ids) == 1
        wanted = sa.bindparam("tessera_id", type_=sa.BigInteger) if one else sa.bindparam("tessera_ids", expanding=True)
        given = {"tessera_id": ids[0]} if one else {"tessera_ids": ids}
        statement = select(table).where(table.c.id == wanted if one else table.c.id.in_(wanted), table.c.deleted_at.is_(None))
        visible = schema.row_condition(access, object_name, "read")
        if visible is not None:
            statement = statement.where(visible)
        current = {row.id: row for row in conn.execute(statement.with_for_update(), {**params, **given})}
        allowed = schema.row_condition(access, object_name, operation)
        if allowed is None or not current:
            return current, set(current)
        if one:
            may = conn.execute(select(table.c.id).where(table.c.id == wanted, allowed), {**params, **given}).scalars()
        else:
            may = conn.execute(select(table.c.id).where(table.c.id.in_(wanted), allowed), {**params, "tessera_ids": list(current)}).scalars()
        return current, set(may)


    def _current(self, conn: Connection, schema: Schema, access: Access, actor: Actor | None, table: sa.Table,
                 object_name: str, record_id: int, operation: str) -> sa.Row:
        """The stored row the actor is about to change: NotFound unless they may read it, Forbidden unless they may change it."""
        current, may = self._current_rows(conn, schema, access, actor, table, object_name, [record_id], operation)
        if record_id not in current:
            raise NotFound(sentence("record_missing", object=object_name, id=record_id))
        if record_id not in may:
            raise Forbidden(sentence("may_not_this", operation=operation_word(operation), object=object_name), object_name, operation, record_id)
        return current[record_id]

    def _conflict(self, conn: Connection, schema: Schema, object_name: str, record_id: int, expected: int, current: int | None,
                  access: Access, actor: Actor) -> Conflict:
        """The stale update's refusal, with what changed since ``expected`` (real changes the actor may see)."""
        changes = _changes(conn, schema, access, actor, object_name, record_id, field_history.c.record_version > expected)
        return Conflict(
            sentence("stale_version", object=object_name, id=record_id, expected=expected, current=current),
            current or 0,
            changes,
        )

    def _write_links(self, conn: Connection, schema: Schema, fdef: FieldDef, record_id: int, links: list[dict], replace: bool = False) -> None:
        """Links arrive parsed by the validator: [{"id": 12, "role": "buyer"}, ...]."""
        junction = schema.tables.objects[fdef.object].junctions[fdef.name]
        if replace:
            conn.execute(junction.delete().where(junction.c.source_id == record_id))
        rows = [{"source_id": record_id, "target_id": link["id"], **{t.name: link.get(t.name) for t in fdef.through}} for link in links]
        if rows:
            conn.execute(junction.insert(), rows)

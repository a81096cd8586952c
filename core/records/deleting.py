"""Deleting and restoring records, and following their references' on_delete."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, and_, func, select

from core.approvals.service import delete_refusal
from core import search
from core.coretables import field_history
from core.metadata.model import FieldDef, ObjectDef
from core.plugins import RecordEvent, Refusal
from core.runtime import Runtime, Schema
from core.validation import positions_by_key
from core.words import sentence
from core.records.actor import Actor
from core.records.checks import HOLDING_FIELDS
from core.records.errors import NotFound, Refused
from core.records.transaction import TransactionRecords
from core.records.values import _now, _params, _record_id, _version
from core.records.pipeline import _history_row, _run_after




class Deletes:
    """The record service's part for deleting and restoring (see core/records/service.py)."""

    runtime: Runtime

    def delete(self, actor: Actor, object_name: str, record_id: Any, version: Any = None) -> None:
        """Soft delete: the record is hidden, restorable, and its relations follow on_delete."""
        record_id = _record_id(record_id)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "delete")
            table = schema.tables.table(object_name)
            current = self._current(conn, schema, access, actor, table, object_name, record_id, "delete").version
            if version is not None and current != _version(version):
                raise self._conflict(conn, schema, object_name, record_id, _version(version), current, access, actor)
            awaiting = delete_refusal(conn, schema.meta, object_name, record_id)
            if awaiting is not None:
                raise Refused(awaiting)
            plugins = self.runtime.plugins
            before, after = plugins.caller("tessera_before_delete", object_name), plugins.caller("tessera_after_delete", object_name)
            hooked = before or after
            event = None
            if hooked:
                previous = self._fetch(conn, schema, object_name, record_id)
                event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta, hooks=self.runtime.plugins.hook, previous=previous, record=previous)
                try:
                    if before:
                        before(event=event)
                except Refusal as exc:
                    raise Refused(plugins.sentence(exc)) from None
            followed: list[tuple] = []
            with self._grants_kept(conn, schema, access, object_name, "delete") if self._deletes_reach_people(schema, object_name) else nullcontext():
                self._soft_delete(conn, schema, actor, object_name, [record_id], _now(), followed)
            if event is not None and after:
                _run_after(self.runtime.plugins, after, event, refused=Refused)
            self._publish(conn, object_name, "deleted", [record_id], lambda: [self._fetch(conn, schema, object_name, record_id, True)],
                          actor=actor)
            self._announce(conn, schema, followed, actor)

    def _announce(self, conn: Connection, schema: Schema, followed: list[tuple], actor: Actor) -> None:
        """Publish the records a delete changed through on_delete: cascaded deletes, references set to null."""
        for object_name, event, ids, changes in followed:
            self._publish(conn, object_name, event, ids, lambda name=object_name, ids=ids: self._fetch_many(conn, schema, name, ids),
                          changes, actor)

    def _soft_delete(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, ids: list[int], now: dt.datetime,
                     followed: list[tuple] | None = None) -> None:
        """Soft-delete records and follow their references' on_delete; what that changed is added to ``followed``
        as (object, "deleted" or "updated", ids, changes or None)."""
        for obj, fdef in self._referencing(schema, object_name):
            table = schema.tables.table(obj.name)
            column = table.c[fdef.name]
            live = and_(column.in_(ids), table.c.deleted_at.is_(None))
            rule = fdef.spec.get("on_delete", "restrict")
            if rule == "restrict":
                count = conn.execute(select(func.count()).select_from(table).where(live)).scalar_one()
                if count:
                    raise Refused(sentence("still_referenced", object=object_name, ids=", ".join(map(str, ids[:5])), count=count,
                                           other=obj.name, field=fdef.name))
            elif rule == "set_null":
                rows = conn.execute(select(table.c.id, table.c.version, column).where(live)).all()
                if rows:
                    conn.execute(sa.update(table).where(live).values({fdef.name: None, "version": table.c.version + 1,
                                                                      "updated_at": now, "updated_by": actor.user_id}))
                    conn.execute(field_history.insert(), [
                        _history_row(obj, rid, fdef.name, old, None, ver + 1, now, actor) for rid, ver, old in rows
                    ])
                    if followed is not None:
                        for old, positions in positions_by_key(old for _rid, _ver, old in rows).items():
                            followed.append((obj.name, "updated", [rows[i][0] for i in positions], {fdef.name: (old, None)}))
            elif rule == "cascade":
                child_ids = list(conn.execute(select(table.c.id).where(live)).scalars())
                if child_ids:
                    if followed is not None:
                        followed.append((obj.name, "deleted", child_ids, None))
                    self._soft_delete(conn, schema, actor, obj.name, child_ids, now, followed)
        table = schema.tables.table(object_name)
        search.touch(conn, object_name, ids)
        conn.execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.deleted_at.is_(None))
            .values(deleted_at=now, version=table.c.version + 1, updated_at=now, updated_by=actor.user_id)
        )

    def _referencing(self, schema: Schema, object_name: str) -> list[tuple[ObjectDef, FieldDef]]:
        return [
            (obj, fdef)
            for obj in schema.meta.objects.values()
            for fdef in obj.active_fields()
            if fdef.type.name == "lookup" and fdef.spec.get("target") == object_name
        ]

    # --- merging duplicates -------------------------------------------------------------------

    def restore(self, actor: Actor, object_name: str, record_id: Any) -> dict:
        record_id = _record_id(record_id)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "delete")
            table = schema.tables.table(object_name)
            allowed = schema.row_condition(access, object_name, "delete")
            with self._grants_kept(conn, schema, access, object_name, "update") if object_name in HOLDING_FIELDS else nullcontext():
                result = conn.execute(
                    sa.update(table)
                    .where(table.c.id == record_id, table.c.deleted_at.is_not(None), *([] if allowed is None else [allowed]))
                    .values(deleted_at=None, version=table.c.version + 1, updated_at=_now(), updated_by=actor.user_id),
                    _params(actor),
                )
                if result.rowcount != 1:
                    raise NotFound(sentence("not_deleted", object=object_name, id=record_id))
            search.touch(conn, object_name, [record_id])
            self._publish(conn, object_name, "updated", [record_id], lambda: [self._fetch(conn, schema, object_name, record_id)], actor=actor)
            return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    # --- sharing ------------------------------------------------------------------------------

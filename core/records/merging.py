"""Merging duplicates into one survivor: references repointed, shares moved, the merged deleted."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, and_, select

from core import audit
from core.coretables import field_history, share
from core.metadata.model import FieldDef, ObjectDef
from core.plugins import RecordEvent, Refusal
from core.permissions import SHARE_ACCESS
from core.runtime import Runtime, Schema
from core.sameness import same
from core.words import sentence
from core.records.actor import Actor
from core.records.errors import Refused
from core.records.transaction import TransactionRecords
from core.records.values import _now
from core.records.pipeline import _history_row, _link_value, _run_after




class Merges:
    """The record service's part for merging duplicates (see core/records/service.py)."""

    runtime: Runtime

    MERGE_ENTRY = "_merged"  # the history entry a merge leaves; no field can have this name (names start with a letter)

    def merge(self, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int], changes: dict,
              versions: Mapping[int, int]) -> tuple[dict, dict[str, int]]:
        """Merge duplicate records into the survivor, in one transaction (core/merge.py chooses ``changes``).

        The actor needs update on the survivor and delete on each merged record, each at the
        version in ``versions``. Unique values the survivor takes are first cleared on the merged
        record holding them (a deleted record keeps its values); the survivor is then changed like
        any update; every lookup, 'related to', many-to-many link and share that pointed at a merged
        record points at the survivor (a survivor's own lookup to a merged record, which would
        point at itself, is cleared); the merged records are soft-deleted. Returns the survivor as
        the actor sees it and how many references moved, per ``object.field`` (and ``shares``).
        """
        now = _now()
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            self._allowed(schema, actor, object_name, "delete")
            table = schema.tables.table(object_name)
            stored = {survivor_id: self._current(conn, schema, access, actor, table, object_name, survivor_id, "update")}
            for rid in merged_ids:
                stored[rid] = self._current(conn, schema, access, actor, table, object_name, rid, "delete")
            for rid, row in stored.items():
                if row.version != versions[rid]:
                    raise self._conflict(conn, schema, object_name, rid, versions[rid], row.version, access, actor)
            deleting = self._before_merge_delete(conn, schema, actor, object_name, merged_ids)
            followed: list[tuple] = []
            with self._grants_kept(conn, schema, access, object_name, "delete") if self._deletes_reach_people(schema, object_name) else nullcontext():
                self._release_unique(conn, schema, actor, object_name, merged_ids, changes, now)
                self._update(conn, schema, actor, object_name, survivor_id, changes, stored[survivor_id].version, access=access)
                moved = self._repoint(conn, schema, actor, object_name, survivor_id, merged_ids, now)
                self._soft_delete(conn, schema, actor, object_name, merged_ids, now, followed)
            after = self.runtime.plugins.caller("tessera_after_delete", object_name)
            for event in deleting:
                if after:
                    _run_after(self.runtime.plugins, after, event, refused=Refused)
            self._publish(conn, object_name, "deleted", merged_ids, lambda: self._fetch_many(conn, schema, object_name, merged_ids), actor=actor)
            self._announce(conn, schema, followed, actor)
            self._note_merge(conn, schema, actor, object_name, survivor_id, merged_ids, now)
            return self._fetch(conn, schema, object_name, survivor_id, access=access, actor=actor, row_scope=False), moved

    def _before_merge_delete(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, merged_ids: list[int]) -> list[RecordEvent]:
        """Run the before-delete hooks of the merged records (a refusal stops the merge); the events for the after-hooks."""
        plugins = self.runtime.plugins
        before, after = plugins.caller("tessera_before_delete", object_name), plugins.caller("tessera_after_delete", object_name)
        if not (before or after):
            return []
        events = []
        for previous in self._fetch_many(conn, schema, object_name, merged_ids):
            event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                                hooks=plugins.hook, previous=previous, record=previous)
            try:
                if before:
                    before(event=event)
            except Refusal as exc:
                raise Refused(sentence("not_mergeable", object=object_name, id=previous["id"], reason=plugins.sentence(exc))) from None
            events.append(event)
        return events

    def _release_unique(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, merged_ids: list[int],
                        changes: dict, now: dt.datetime) -> None:
        """Clear on the merged records the unique values the survivor is about to take."""
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        for name, value in changes.items():
            fdef = obj.fields.get(name)
            if fdef is None or not fdef.spec.get("unique") or value is None:
                continue
            try:
                parsed = fdef.type.parse(value, fdef.spec)
            except (TypeError, ValueError):
                continue  # the survivor's update reports it
            holder = and_(table.c.id.in_(merged_ids), table.c[name] == parsed)
            rows = conn.execute(select(table.c.id, table.c.version).where(holder)).all()
            if rows:
                conn.execute(sa.update(table).where(holder).values({name: None, "version": table.c.version + 1,
                                                                    "updated_at": now, "updated_by": actor.user_id}))
                conn.execute(field_history.insert(), [_history_row(obj, rid, name, parsed, None, ver + 1, now, actor) for rid, ver in rows])

    def _repoint(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int],
                 now: dt.datetime) -> dict[str, int]:
        """Point every reference to a merged record at the survivor; the after-update hooks and webhooks of the records changed."""
        moved: dict[str, int] = {}
        changed: dict[str, dict[int, dict]] = {}  # object -> record id -> field -> (old, new)
        for obj in schema.meta.objects.values():
            for fdef in obj.active_fields():
                kind, target = fdef.type.name, fdef.spec.get("target")
                if (kind == "lookup" and target == object_name) or kind == "dynamic_lookup":
                    found = self._repoint_lookup(conn, schema, actor, obj, fdef, object_name, survivor_id, merged_ids, now)
                elif kind == "many_to_many" and object_name in (target, obj.name):
                    found = self._repoint_links(conn, schema, actor, obj, fdef, object_name, survivor_id, merged_ids, now)
                else:
                    continue
                if found:
                    moved[f"{obj.name}.{fdef.name}"] = len(found)
                    for rid, change in found.items():
                        changed.setdefault(obj.name, {}).setdefault(rid, {})[fdef.name] = change
        shares = self._move_shares(conn, actor, object_name, survivor_id, merged_ids)
        if shares:
            moved["shares"] = shares
        for name, records in changed.items():
            self._after_repoint(conn, schema, actor, name, records)
        return moved

    def _repoint_lookup(self, conn: Connection, schema: Schema, actor: Actor, obj: ObjectDef, fdef: FieldDef, object_name: str,
                        survivor_id: int, merged_ids: list[int], now: dt.datetime) -> dict[int, tuple]:
        table = schema.tables.table(obj.name)
        column = table.c[fdef.name]
        pointing = and_(column.in_(merged_ids), table.c.deleted_at.is_(None))
        if fdef.type.name == "dynamic_lookup":
            pointing = and_(pointing, table.c[fdef.spec["object_field"]] == object_name)
        rows = conn.execute(select(table.c.id, table.c.version, column).where(pointing)).all()
        if not rows:
            return {}
        itself = obj.name == object_name
        stamp = {"version": table.c.version + 1, "updated_at": now, "updated_by": actor.user_id}
        conn.execute(sa.update(table).where(pointing, *([table.c.id != survivor_id] if itself else [])).values({fdef.name: survivor_id, **stamp}))
        if itself:
            conn.execute(sa.update(table).where(pointing, table.c.id == survivor_id).values({fdef.name: None, **stamp}))
        found = {rid: (old, None if itself and rid == survivor_id else survivor_id) for rid, _version, old in rows}
        conn.execute(field_history.insert(), [_history_row(obj, rid, fdef.name, found[rid][0], found[rid][1], version + 1, now, actor)
                                              for rid, version, _old in rows])
        return found

    def _repoint_links(self, conn: Connection, schema: Schema, actor: Actor, obj: ObjectDef, fdef: FieldDef, object_name: str,
                       survivor_id: int, merged_ids: list[int], now: dt.datetime) -> dict[int, tuple]:
        """Move the links from or to the merged records to the survivor, keeping one link per pair."""
        junction = schema.tables.objects[obj.name].junctions[fdef.name]
        target = fdef.spec["target"]
        ends = set(merged_ids) | {survivor_id}
        sides = ([("source_id", "target_id")] if obj.name == object_name else []) + ([("target_id", "source_id")] if target == object_name else [])
        plans = []
        for end, other in sides:
            rows = conn.execute(select(junction.c.id, junction.c[other]).where(junction.c[end].in_(merged_ids)).order_by(junction.c.id)).all()
            plans.append((end, other, rows))
        owners = {survivor_id if end == "source_id" else peer for end, _other, rows in plans for _id, peer in rows}
        owners = sorted(owners - set(merged_ids) if obj.name == object_name else owners)  # merged records are going: no history
        if not owners:
            return {}
        before = self._links(conn, schema, fdef, owners)
        for end, other, rows in plans:
            linked = set(conn.execute(select(junction.c[other]).where(junction.c[end] == survivor_id)).scalars())
            dropped, kept = [], []
            for link_id, peer in rows:
                self_link = obj.name == target == object_name and peer in ends
                (dropped if peer in linked or self_link else kept).append(link_id)
                linked.add(peer)
            if dropped:
                conn.execute(junction.delete().where(junction.c.id.in_(dropped)))
            if kept:
                conn.execute(sa.update(junction).where(junction.c.id.in_(kept)).values({end: survivor_id}))
        after = self._links(conn, schema, fdef, owners)
        found = {}
        for rid in owners:
            old = [_link_value(fdef, link) for link in before[rid]]
            new = [_link_value(fdef, link) for link in after[rid]]
            if not same(fdef, old, new):
                found[rid] = (old, new)
        if not found:
            return {}
        table = schema.tables.table(obj.name)
        conn.execute(sa.update(table).where(table.c.id.in_(list(found))).values(version=table.c.version + 1, updated_at=now,
                                                                                 updated_by=actor.user_id))
        versions = dict(conn.execute(select(table.c.id, table.c.version).where(table.c.id.in_(list(found)))).all())
        conn.execute(field_history.insert(), [
            dict(object=obj.name, record_id=rid, field=fdef.name, old_value=old, new_value=new, record_version=versions[rid],
                 changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name) for rid, (old, new) in found.items()
        ])
        return found

    def _move_shares(self, conn: Connection, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int]) -> int:
        """The merged records' shares go to the survivor; of two shares with the same user or team, the wider access stays."""
        mine = and_(share.c.object == object_name, share.c.record_id == survivor_id)
        held = {(r.user_id, r.team_id): r for r in conn.execute(select(share).where(mine))}
        rows = conn.execute(select(share).where(share.c.object == object_name, share.c.record_id.in_(merged_ids)).order_by(share.c.id)).all()
        for row in rows:
            key = (row.user_id, row.team_id)
            existing = held.get(key)
            if existing is None:
                conn.execute(sa.update(share).where(share.c.id == row.id).values(record_id=survivor_id))
                held[key] = row
                target = {"user": row.user_id} if row.user_id is not None else {"team": row.team_id}
                audit.write(conn, "share.created", audit.Who(actor.user_id, actor.name), object_name, survivor_id,
                            {**target, "access": row.access, "merged_from": row.record_id})
                continue
            if SHARE_ACCESS.index(row.access) > SHARE_ACCESS.index(existing.access):
                conn.execute(sa.update(share).where(share.c.id == existing.id).values(access=row.access))
                held[key] = row
            conn.execute(share.delete().where(share.c.id == row.id))
        return len(rows)

    def _after_repoint(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, records: dict[int, dict]) -> None:
        """The after-update hooks and webhooks of records whose references moved (their before-hooks do not run: see docs/api.md)."""
        obj = schema.meta.object(object_name)
        after = self.runtime.plugins.caller("tessera_after_update", object_name)
        alike: dict[str, list[dict]] = {}  # one webhook batch per kind of change (the same lookup moved, say)
        for record in self._fetch_many(conn, schema, object_name, list(records)):
            changes = records[record["id"]]
            if after:
                _run_after(self.runtime.plugins, after, RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                                        hooks=self.runtime.plugins.hook, values={k: new for k, (_old, new) in changes.items()},
                                        record=record, changes=changes))
            alike.setdefault(repr(sorted(changes.items())), []).append(record)
        for batch in alike.values():
            self._publish(conn, obj.name, "updated", [record["id"] for record in batch], lambda batch=batch: batch, records[batch[0]["id"]], actor)

    def _note_merge(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int],
                    now: dt.datetime) -> None:
        """A history entry on the survivor and on each merged record: 'merged <object> #N into #M'."""
        table = schema.tables.table(object_name)
        versions = dict(conn.execute(select(table.c.id, table.c.version).where(table.c.id.in_([survivor_id, *merged_ids]))).all())
        rows = []
        for rid in merged_ids:
            note = f"merged {object_name} #{rid} into #{survivor_id}"
            for record_id in (survivor_id, rid):
                rows.append(dict(object=object_name, record_id=record_id, field=self.MERGE_ENTRY, old_value=None, new_value=note,
                                 record_version=versions[record_id], changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name))
        conn.execute(field_history.insert(), rows)

"""Sharing one record with a user or a team."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, and_, select

from core import audit
from core.coretables import share
from core.fieldtypes import iso_utc
from core.permissions import SHARE_ACCESS, Access
from core.runtime import Runtime, Schema
from core.validation import FieldError, RecordValidationError
from core.words import sentence
from core.records.actor import Actor
from core.records.errors import NotFound
from core.records.reading import _name_of
from core.records.values import _now, _params, _record_id




class Shares:
    """The record service's part for sharing records (see core/records/service.py)."""

    runtime: Runtime

    def shares(self, actor: Actor, object_name: str, record_id: Any) -> list[dict]:
        """Who a record is shared with (anyone who may read the record may see this)."""
        record_id = _record_id(record_id)
        with self.runtime.reading() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "read")
            self._fetch(conn, schema, object_name, record_id, access=access, actor=actor)
            return self._share_rows(conn, schema, access, actor, object_name, record_id)

    def share(self, actor: Actor, object_name: str, record_id: Any, user: Any = None, team: Any = None, level: str = "read") -> dict:
        """Share a record with one user or one team (``level`` read or edit); sharing again changes the level.

        Whoever may update the record may share it.
        """
        record_id = _record_id(record_id)
        if level not in SHARE_ACCESS:
            raise RecordValidationError(object_name, [FieldError.coded("access", "not_share_level", level=level)])
        if (user is None) == (team is None):
            raise RecordValidationError(object_name, [FieldError.coded("user", "share_with_one")])
        target, target_id = ("user", user) if user is not None else ("team", team)
        try:
            target_id = _record_id(target_id)
        except NotFound:
            raise RecordValidationError(object_name, [FieldError.coded(target, "not_an_id_of", value=target_id, object=target)]) from None
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            self._current(conn, schema, access, actor, schema.tables.table(object_name), object_name, record_id, "update")
            if not self._existing(conn, schema, target, {target_id: [0]}):
                raise RecordValidationError(object_name, [FieldError.coded(target, "record_missing", object=target, id=target_id)])
            column = share.c.user_id if target == "user" else share.c.team_id
            mine = and_(share.c.object == object_name, share.c.record_id == record_id, column == target_id)
            if conn.execute(sa.update(share).where(mine).values(access=level)).rowcount == 0:
                conn.execute(share.insert().values(object=object_name, record_id=record_id, access=level, created_at=_now(),
                                                   created_by=actor.user_id, **{column.name: target_id}))
            audit.write(conn, "share.created", audit.Who(actor.user_id, actor.name), object_name, record_id,
                        {target: target_id, "access": level})
            return next(s for s in self._share_rows(conn, schema, access, actor, object_name, record_id)
                        if s.get(target, {}).get("id") == target_id)

    def unshare(self, actor: Actor, object_name: str, record_id: Any, share_id: Any) -> None:
        record_id, share_id = _record_id(record_id), _record_id(share_id)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            self._current(conn, schema, access, actor, schema.tables.table(object_name), object_name, record_id, "update")
            removed = conn.execute(share.delete().where(share.c.id == share_id, share.c.object == object_name, share.c.record_id == record_id))
            if removed.rowcount != 1:
                raise NotFound(sentence("share_missing", object=object_name, id=record_id, share=share_id))
            audit.write(conn, "share.removed", audit.Who(actor.user_id, actor.name), object_name, record_id, {"share_id": share_id})

    def _share_rows(self, conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str, record_id: int) -> list[dict]:
        """The record's shares; a user named as lookups name them (their username where the reader may not read them)."""
        users, teams = schema.tables.table("user"), schema.tables.table("team")
        rows = conn.execute(
            select(share, users.c.username, _name_of(schema, access, "user").label("user_label"), teams.c.name.label("team_name"))
            .outerjoin(users, users.c.id == share.c.user_id).outerjoin(teams, teams.c.id == share.c.team_id)
            .where(share.c.object == object_name, share.c.record_id == record_id).order_by(share.c.id),
            _params(actor),
        )
        result = []
        for row in rows:
            entry: dict[str, Any] = {"id": row.id, "access": row.access, "created_at": iso_utc(row.created_at), "created_by": row.created_by}
            if row.user_id is not None:
                entry["user"] = {"id": row.user_id, "label": row.user_label or row.username}
            else:
                entry["team"] = {"id": row.team_id, "label": row.team_name}
            result.append(entry)
        return result

    # --- checks -------------------------------------------------------------------------------

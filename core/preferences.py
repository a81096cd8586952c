"""What the UI remembers per user: saved list views (personal or shared) and recently viewed records."""

from __future__ import annotations

import datetime as dt
from typing import Collection
from urllib.parse import parse_qsl

import sqlalchemy as sa
from sqlalchemy import Connection, and_, or_, select

from core.coretables import recent_view, saved_view
from core.db import PreparedRead, read_transaction, write_transaction
from core.fieldtypes import iso_utc

RECENT_KEPT = 20
NAME_LENGTH = 100
COLUMNS = "columns"  # the list parameter naming the columns a view shows
QUERY_LENGTH = 4000  # a list's query string; far more than any filter builder produces


# Asked on every list page: built once (its compiled form is then cached by SQLAlchemy).
VIEWS_OF_OBJECT = (select(saved_view).where(saved_view.c.object == sa.bindparam("object"),
                                            or_(saved_view.c.owner == sa.bindparam("user_id"), saved_view.c.shared.is_(True)))
                   .order_by(saved_view.c.name, saved_view.c.id))
VIEWS_READ = PreparedRead(VIEWS_OF_OBJECT)  # read by every list page: compiled once


class ViewError(ValueError):
    """A saved view that cannot be made or removed as asked; ``field`` names the input at fault, ``value`` the part of it."""

    def __init__(self, message: str, field: str = "", value: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Preferences:
    def __init__(self, runtime) -> None:
        self.engine = runtime.engine

    # --- recently viewed ------------------------------------------------------------------

    def viewed(self, user_id: int, object_name: str, record_id: int) -> None:
        with write_transaction(self.engine) as conn:
            key = and_(recent_view.c.user_id == user_id, recent_view.c.object == object_name, recent_view.c.record_id == record_id)
            if conn.execute(sa.update(recent_view).where(key).values(viewed_at=_now())).rowcount == 0:
                conn.execute(recent_view.insert().values(user_id=user_id, object=object_name, record_id=record_id, viewed_at=_now()))
            stale = select(recent_view.c.viewed_at).where(recent_view.c.user_id == user_id).order_by(recent_view.c.viewed_at.desc()).offset(RECENT_KEPT).limit(1)
            cutoff = conn.execute(stale).scalar()
            if cutoff is not None:
                conn.execute(recent_view.delete().where(recent_view.c.user_id == user_id, recent_view.c.viewed_at <= cutoff))

    def recent(self, user_id: int, limit: int = 10) -> list[tuple[str, int]]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(recent_view.c.object, recent_view.c.record_id).where(recent_view.c.user_id == user_id)
                                .order_by(recent_view.c.viewed_at.desc()).limit(limit))
            return [(r.object, r.record_id) for r in rows]

    # --- saved views ----------------------------------------------------------------------

    def save_view(self, user_id: int, object_name: str, name: str, query: str, shared: bool,
                  showable: Collection[str] | None = None) -> dict:
        """Keep a list's query under a name; saving a name again overwrites the user's own view of that name only.

        A shared view is listed to everyone who may read the object; only its owner may change or remove it.
        The columns the query chooses (``columns``, names separated by commas) must be ``showable``, when given:
        the fields the user may show in the list.
        """
        name = (name or "").strip()
        if not 1 <= len(name) <= NAME_LENGTH:
            raise ViewError(f"give the view a name of 1 to {NAME_LENGTH} characters", "name")
        if any(not ch.isprintable() for ch in name):
            raise ViewError("a view's name cannot hold control characters (such as line breaks)", "name")
        if len(query) > QUERY_LENGTH or "\x00" in query:
            raise ViewError(f"the view's filters are too long to keep (at most {QUERY_LENGTH} characters)", "query")
        if showable is not None:
            _check_columns(query, set(showable))
        with write_transaction(self.engine) as conn:
            mine = and_(saved_view.c.object == object_name, saved_view.c.owner == user_id, saved_view.c.name == name)
            values = {"query": query, "shared": shared, "created_at": _now()}
            if conn.execute(sa.update(saved_view).where(mine).values(**values)).rowcount == 0:
                conn.execute(saved_view.insert().values(object=object_name, name=name, owner=user_id, **values))
            row = conn.execute(select(saved_view).where(mine)).first()
        return _view(row)

    def views(self, user_id: int, object_name: str, conn: Connection | None = None) -> list[dict]:
        """The user's own views of the object and those others share, by name (in ``conn``'s transaction when given)."""
        values = {"object": object_name, "user_id": user_id}
        if conn is not None:
            return [_view(r, user_id) for r in VIEWS_READ.all(conn, **values)]
        with read_transaction(self.engine) as own:
            return [_view(r, user_id) for r in VIEWS_READ.all(own, **values)]

    def remove_view(self, user_id: int, view_id: int, object_name: str | None = None) -> None:
        """Remove one of the user's own views (of ``object_name``, when given); another's shared view is refused."""
        mine = [saved_view.c.id == view_id, saved_view.c.owner == user_id]
        if object_name is not None:
            mine.append(saved_view.c.object == object_name)
        with write_transaction(self.engine) as conn:
            if conn.execute(saved_view.delete().where(*mine)).rowcount != 1:
                raise ViewError("that view is not one of yours", "view")


def _check_columns(query: str, showable: set[str]) -> None:
    """Refuse a view whose columns name a field the user may not show (unknown to the object, or hidden from them)."""
    for key, value in parse_qsl(query):
        if key != COLUMNS:
            continue
        unknown = next((n.strip() for n in value.split(",") if n.strip() and n.strip() not in showable), None)
        if unknown is not None:
            raise ViewError(f"columns: there is no field '{unknown}' you may show in this list", COLUMNS, unknown)


def _view(row, user_id: int | None = None) -> dict:
    return {"id": row.id, "object": row.object, "name": row.name, "query": row.query, "shared": row.shared,
            "mine": user_id is None or row.owner == user_id, "created_at": iso_utc(row.created_at)}

"""The audit log: sign-ins, token use, permission denials, metadata changes, exports.

Rows are written in the transaction of what they record when there is one (a metadata
change and its audit row commit together), else in a transaction of their own. Admins
read the log through the API (GET /api/audit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select

from core.coretables import audit
from core.db import write_transaction
from core.fieldtypes import iso_utc

EVENTS = (
    "login", "login.failed", "login.throttled", "logout",
    "token.created", "token.used", "token.revoked", "token.refused",
    "permission.denied", "metadata.changed", "export",
    "user.created", "password.changed", "share.created", "share.removed",
    "webhook.created", "webhook.changed", "webhook.removed",
    "import",
)


@dataclass(frozen=True)
class Who:
    """The person (or client) an audit row is about."""

    user_id: int | None = None
    username: str | None = None
    ip: str | None = None


def write(conn: Connection, event: str, who: Who = Who(), object_name: str | None = None, record_id: int | None = None,
          detail: dict[str, Any] | None = None) -> None:
    assert event in EVENTS, event
    conn.execute(audit.insert().values(
        at=dt.datetime.now(dt.timezone.utc), event=event, user_id=who.user_id, username=(who.username or None) and who.username[:200],
        ip=who.ip, object=object_name, record_id=record_id, detail=detail,
    ))


def write_now(engine: Engine, event: str, who: Who = Who(), object_name: str | None = None, record_id: int | None = None,
              detail: dict[str, Any] | None = None) -> None:
    """Write one row in its own transaction."""
    with write_transaction(engine) as conn:
        write(conn, event, who, object_name, record_id, detail)


def read(conn: Connection, event: str | None = None, user_id: int | None = None, since: dt.datetime | None = None,
         before_id: int | None = None, limit: int = 100) -> list[dict]:
    """Newest first; ``before_id`` pages back through older rows."""
    statement = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if event:
        statement = statement.where(audit.c.event == event if not event.endswith("*") else audit.c.event.startswith(event[:-1]))
    if user_id is not None:
        statement = statement.where(audit.c.user_id == user_id)
    if since is not None:
        statement = statement.where(audit.c.at >= since)
    if before_id is not None:
        statement = statement.where(audit.c.id < before_id)
    return [_row(r) for r in conn.execute(statement)]


def _row(row: sa.Row) -> dict:
    m = row._mapping
    return {"id": m["id"], "at": iso_utc(m["at"]), "event": m["event"], "user_id": m["user_id"], "username": m["username"],
            "ip": m["ip"], "object": m["object"], "record_id": m["record_id"], "detail": m["detail"]}

"""Who a rule's notification or e-mail, or an approval step, goes to: recipients as metadata names them.

A recipient is ``owner`` (the record's owner), ``creator``, ``updater`` (who last changed it),
``manager`` (the owner's manager, the user's ``manager`` field), ``user:LOGIN``,
``role:ROLE`` (every active user whose role has that name or permission set), ``team:TEAM``
(every active member of the team of that name), or ``field:NAME`` (a lookup to a user, or an
e-mail field, of the record). They are resolved in the caller's transaction, with the user
and team tables as they are then: only active users are ever chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

SYSTEM = {"owner": "owner", "creator": "created_by", "updater": "updated_by"}


@dataclass
class Resolved:
    """User ids (each reached in their own language) and plain e-mail addresses."""

    users: list[int] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    def add_user(self, user_id: Any) -> None:
        if isinstance(user_id, int) and user_id not in self.users:
            self.users.append(user_id)


def _id(value: Any) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def resolve(conn: Connection, tables: Any, recipients: Iterable[str], record: Mapping[str, Any]) -> Resolved:
    """The active users and addresses ``recipients`` name for ``record`` (as the record service gives it)."""
    found = Resolved()
    user = tables.table("user")
    for recipient in recipients:
        kind, _, name = str(recipient).partition(":")
        if kind in SYSTEM:
            found.add_user(_id(record.get(SYSTEM[kind])))
        elif kind == "manager":
            owner = _id(record.get("owner"))
            if owner is not None:
                found.add_user(conn.execute(select(user.c.manager).where(user.c.id == owner)).scalar())
        elif kind == "user":
            found.add_user(conn.execute(select(user.c.id).where(user.c.username == name)).scalar())
        elif kind == "role":
            for user_id in role_members(conn, tables, name):
                found.add_user(user_id)
        elif kind == "team":
            for user_id in team_members(conn, tables, name):
                found.add_user(user_id)
        elif kind == "field":
            value = record.get(name)
            if isinstance(value, str) and "@" in value:
                if value not in found.addresses:
                    found.addresses.append(value)
            else:
                found.add_user(_id(value))
    return _active(conn, tables, found)


def _active(conn: Connection, tables: Any, found: Resolved) -> Resolved:
    if not found.users:
        return found
    user = tables.table("user")
    active = set(conn.execute(select(user.c.id).where(user.c.id.in_(found.users), user.c.active.is_(True),
                                                      user.c.deleted_at.is_(None))).scalars())
    return Resolved([u for u in found.users if u in active], found.addresses)


def role_members(conn: Connection, tables: Any, name: str) -> list[int]:
    """Active users whose role is named ``name`` or gives the permission set ``name``, by id."""
    user, role = tables.table("user"), tables.table("role")
    roles = select(role.c.id).where(role.c.deleted_at.is_(None), sa.or_(role.c.name == name, role.c.permission_set == name))
    return list(conn.execute(select(user.c.id).where(user.c.role.in_(roles), user.c.active.is_(True), user.c.deleted_at.is_(None))
                             .order_by(user.c.id)).scalars())


def team_members(conn: Connection, tables: Any, name: str) -> list[int]:
    """Active members of the team named ``name``, by id."""
    user, team = tables.table("user"), tables.table("team")
    junction = tables.objects["user"].junctions["teams"]
    teams = select(team.c.id).where(team.c.name == name, team.c.deleted_at.is_(None))
    return list(conn.execute(select(user.c.id).join(junction, junction.c.source_id == user.c.id)
                             .where(junction.c.target_id.in_(teams), user.c.active.is_(True), user.c.deleted_at.is_(None))
                             .distinct().order_by(user.c.id)).scalars())


def unknown(conn: Connection, tables: Any, recipients: Iterable[str]) -> list[tuple[int, str, str]]:
    """(index, kind, name) of each ``user:``, ``role:`` or ``team:`` recipient that names nobody there is."""
    user, role, team = tables.table("user"), tables.table("role"), tables.table("team")
    missing = []
    for i, recipient in enumerate(recipients):
        kind, _, name = str(recipient).partition(":")
        if kind == "user":
            query = select(user.c.id).where(user.c.username == name, user.c.active.is_(True), user.c.deleted_at.is_(None))
        elif kind == "role":
            query = select(role.c.id).where(sa.or_(role.c.name == name, role.c.permission_set == name), role.c.deleted_at.is_(None))
        elif kind == "team":
            query = select(team.c.id).where(team.c.name == name, team.c.deleted_at.is_(None))
        else:
            continue
        if conn.execute(query.limit(1)).first() is None:
            missing.append((i, kind, name))
    return missing

"""Who may do what, expressed as SQL.

A user's role names a permission set (metadata). Per object and operation (read, create,
update, delete) the set gives a scope:

* ``none``: nothing;
* ``own``: records the user owns, and records shared with the user or one of their teams;
* ``team``: records owned by the user or by any member of one of their teams, and shared ones;
* ``all``: every record.

Per field it gives ``hidden``, ``read`` or ``edit`` (``edit`` when the field is not named).
A set with ``admin`` may do everything. Users, teams and roles are readable by every
signed-in user unless the set says otherwise, so that owners and assignees have names.
Trusted code (an actor without a permission set: the CLI, scheduled jobs, plugin hooks)
is not restricted.

Every check is a condition inside the SQL statement that reads or writes, with the acting
user's id as the bound parameter ``actor_id``, so one cached statement serves every user
of a role and nothing is filtered after the query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy import BigInteger, and_, or_, select

from core.coretables import share

SCOPES = ("none", "own", "team", "all")
OPERATIONS = ("read", "create", "update", "delete")
FIELD_ACCESS = ("hidden", "read", "edit")
DIRECTORY = frozenset({"user", "team", "role"})
ADMIN_SET = "admin"  # the built-in permission set of administrators (metadata/permission_sets/admin.json)
SHARE_ACCESS = ("read", "edit")
ACTOR_ID = "actor_id"


_ID = BigInteger()


def actor_id() -> sa.BindParameter:
    return sa.bindparam(ACTOR_ID, type_=_ID)


@dataclass(frozen=True)
class Access:
    """One permission set, resolved: scopes per object and operation, access per field."""

    name: str
    admin: bool = False
    customizer: bool = False
    objects: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    trusted: bool = False

    @classmethod
    def from_permission_set(cls, name: str, body: Mapping | None) -> "Access":
        """A set that does not exist grants nothing."""
        if body is None:
            return cls(name)
        return cls(name, bool(body.get("admin")), bool(body.get("customizer")), body.get("objects", {}), body.get("fields", {}))

    @property
    def unrestricted(self) -> bool:
        return self.trusted or self.admin

    @property
    def may_customize(self) -> bool:
        return self.unrestricted or self.customizer

    def scope(self, object_name: str, operation: str) -> str:
        if self.unrestricted:
            return "all"
        scope = self.objects.get(object_name, {}).get(operation)
        if scope is None:
            return "all" if operation == "read" and object_name in DIRECTORY else "none"
        return scope

    def can(self, object_name: str, operation: str) -> bool:
        return self.scope(object_name, operation) != "none"

    def field_access(self, object_name: str, field_name: str) -> str:
        if self.unrestricted:
            return "edit"
        return self.fields.get(object_name, {}).get(field_name, "edit")

    def visible(self, object_name: str, field_name: str) -> bool:
        return self.field_access(object_name, field_name) != "hidden"

    def writable(self, object_name: str, field_name: str) -> bool:
        return self.field_access(object_name, field_name) == "edit"

    def hidden(self, object_name: str) -> frozenset[str]:
        """Fields of the object this set may not see."""
        return self._named(object_name, ("hidden",))

    def locked(self, object_name: str) -> frozenset[str]:
        """Fields of the object this set may see but not change."""
        return self._named(object_name, ("read",))

    def _named(self, object_name: str, levels: tuple[str, ...]) -> frozenset[str]:
        if self.unrestricted:
            return frozenset()
        return frozenset(name for name, level in self.fields.get(object_name, {}).items() if level in levels)


TRUSTED = Access("(trusted code)", trusted=True)


class Memberships:
    """SQL for 'my teams' and 'members of my teams', from the user.teams junction table."""

    def __init__(self, junction: sa.Table) -> None:
        self.junction = junction

    def my_teams(self) -> sa.Select:
        mine = self.junction.alias("my_teams")
        return select(mine.c.target_id).where(mine.c.source_id == actor_id())

    def teammates(self) -> sa.Select:
        """Ids of every user sharing a team with the actor (the actor included, if in a team)."""
        members = self.junction.alias("teammates")
        return select(members.c.source_id).where(members.c.target_id.in_(self.my_teams()))


def row_condition(access: Access, memberships: Memberships, object_name: str, table: sa.FromClause,
                  operation: str) -> sa.ColumnElement | None:
    """The condition a row must meet for ``operation``; None when every row qualifies."""
    scope = access.scope(object_name, operation)
    if scope == "all":
        return None
    if scope == "none":
        return sa.false()
    me = actor_id()
    owned = table.c.owner == me if scope == "own" else or_(table.c.owner == me, table.c.owner.in_(memberships.teammates()))
    if operation == "delete":
        return owned
    return or_(owned, table.c.id.in_(shared_ids(memberships, object_name, operation)))


def shared_ids(memberships: Memberships, object_name: str, operation: str) -> sa.Select:
    """Ids of the object's records shared with the actor or their teams (``edit`` shares for updates)."""
    wanted = [share.c.object == object_name, or_(share.c.user_id == actor_id(), share.c.team_id.in_(memberships.my_teams()))]
    if operation != "read":
        wanted.append(share.c.access == "edit")
    return select(share.c.record_id).where(and_(*wanted))


def assignable_owners(conn: sa.Connection, access: Access, memberships: Memberships, object_name: str,
                      operation: str, user_id: int | None) -> set[int] | None:
    """The owners the actor may give a record they create or update; None when anyone."""
    scope = access.scope(object_name, operation)
    if scope == "all":
        return None
    if scope == "none" or user_id is None:
        return set()
    if scope == "own":
        return {user_id}
    return {user_id, *conn.execute(memberships.teammates(), {ACTOR_ID: user_id}).scalars()}

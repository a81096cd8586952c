"""Who may hand out the privileged permission sets, and the rule that an active admin remains.

Two kinds of permission set are privileged: one with ``admin`` may do everything, one with
``customizer`` may change the configuration. Making someone hold such a set, or stop
holding it, needs at least that privilege (an admin for admin; an admin or a customizer
for customizer), whichever way it happens:

* directly: a user given a role (or taken off one), made active or inactive, deleted,
  restored or merged;
* through a role: a role pointed at such a set (or away from it), restored or merged;
* through the set: a set made admin or customizer, changed or removed while it is one.

Trusted code (the CLI, scheduled jobs, plugin hooks acting as the system) may do all of it.

Nobody, not even trusted code, may leave the database without an active admin once it has
one: the last active admin (a live, active user whose live role names an admin set) cannot
be deleted, deactivated or demoted, through their user, their role or their permission set.

The callers (the record service, the metadata change of core/runtime.py) take a snapshot of
the privileged users before a change and another after it, in the same transaction, and
refuse with their own kind of error when ``refused_change`` or ``lost_every_admin`` says so.

Concurrency: two transactions could each demote one of the last two admins, each seeing the
other still in place. So a change that leaves fewer active admins than it found takes
``lock_admins`` (on PostgreSQL a transaction-level advisory lock, held to its commit) and
counts again: transactions that remove admins take turns, and PostgreSQL's READ COMMITTED
lets the count made after the lock see every change committed before it. The lock is
taken only by such changes, so ordinary writes to users and roles do not queue on it; a
row lock (``SELECT ... FOR UPDATE`` of every admin) would serve too, but it would lock rows
other writers wait for and deadlock where two writers lock the same admins in different
orders. On SQLite writers already take turns (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, and_, or_, select

from core.permissions import Access
from core.words import Sentence, sentence

NONE, CUSTOMIZER, ADMIN = 0, 1, 2
LEVEL_NAMES = {CUSTOMIZER: "customizer", ADMIN: "admin"}
PG_ADMIN_LOCK = 7_420_002  # beside core/runtime.py's metadata lock


def level(body: Mapping | None) -> int:
    """How privileged a permission set is: ADMIN, CUSTOMIZER or NONE (also for a set that does not exist)."""
    if not body:
        return NONE
    if body.get("admin"):
        return ADMIN
    return CUSTOMIZER if body.get("customizer") else NONE


def level_of(permission_sets: Mapping[str, Mapping], name: str | None) -> int:
    return level(permission_sets.get(name)) if name else NONE


def may_grant(access: Access, wanted: int) -> bool:
    """Whether ``access`` may make someone hold (or stop holding) a set of level ``wanted``."""
    if wanted == ADMIN:
        return access.unrestricted
    if wanted == CUSTOMIZER:
        return access.may_customize
    return True


def refusal(wanted: int, through: Sentence) -> Sentence:
    """The sentence refusing a change of ``wanted`` level made ``through`` something (a role, a permission set, a user)."""
    return sentence("only_admin_grants" if wanted == ADMIN else "only_customizer_grants", through=through)


def privileged_sets(permission_sets: Mapping[str, Mapping]) -> dict[str, int]:
    """The privileged sets by name, with their level."""
    return {name: level(body) for name, body in permission_sets.items() if level(body) != NONE}


def refused_set_change(old_sets: Mapping[str, Mapping], new_sets: Mapping[str, Mapping], access: Access) -> Sentence | None:
    """Why ``access`` may not change the permission sets from ``old_sets`` to ``new_sets``; None when it may.

    A set added, changed or removed needs the privilege it had and the one it gets.
    """
    for name in sorted(set(old_sets) | set(new_sets)):
        before, after = old_sets.get(name), new_sets.get(name)
        if before == after:
            continue
        wanted = max(level(before), level(after))
        if not may_grant(access, wanted):
            return refusal(wanted, sentence("through_set", name=name))
    return None


@dataclass(frozen=True)
class Holders:
    """The users who hold a privileged set now: live, active, with a live role naming one."""

    levels: dict[int, int]  # user id -> level
    names: dict[int, str]  # user id -> username

    @property
    def admins(self) -> set[int]:
        return {user_id for user_id, held in self.levels.items() if held == ADMIN}


def holders(conn: Connection, user: sa.Table, role: sa.Table, permission_sets: Mapping[str, Mapping]) -> Holders:
    """Who holds a privileged set, read in ``conn``'s transaction (``user`` and ``role``: their tables)."""
    sets = privileged_sets(permission_sets)
    if not sets:
        return Holders({}, {})
    rows = conn.execute(
        select(user.c.id, user.c.username, role.c.permission_set)
        .select_from(user.join(role, and_(role.c.id == user.c.role, role.c.deleted_at.is_(None))))
        .where(user.c.deleted_at.is_(None), or_(user.c.active.is_(None), user.c.active.is_(True)),
               role.c.permission_set.in_(list(sets)))
    ).all()
    return Holders({row.id: sets[row.permission_set] for row in rows}, {row.id: row.username for row in rows})


def refused_change(before: Holders, after: Holders, access: Access) -> Sentence | None:
    """Why ``access`` may not make the change from ``before`` to ``after``; None when it may."""
    for user_id in sorted(set(before.levels) | set(after.levels)):
        old, new = before.levels.get(user_id, NONE), after.levels.get(user_id, NONE)
        if old != new and not may_grant(access, max(old, new)):
            name = after.names.get(user_id) or before.names.get(user_id)
            return refusal(max(old, new), sentence("through_user", name=name))
    return None


def fewer_admins(before: Holders, after: Holders) -> bool:
    """Whether some active admin of ``before`` is not one in ``after`` (the change must then be counted again under the lock)."""
    return not before.admins <= after.admins


def lost_every_admin(before: Holders, after: Holders) -> Sentence | None:
    """The refusal when a change would leave no active admin where there was one; None otherwise."""
    if not before.admins or after.admins:
        return None
    names = sorted(before.names[user_id] for user_id in before.admins)
    if len(names) == 1:
        return sentence("last_admin", name=names[0])
    return sentence("last_admins", names=", ".join(repr(n) for n in names))


def lock_admins(conn: Connection) -> None:
    """Take turns with every other transaction that removes admins (PostgreSQL; SQLite's writers take turns already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_ADMIN_LOCK})

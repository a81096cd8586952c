"""@mentions in activities: each user named in an activity's description is notified, in the activity's transaction.

Core's own record hooks, registered by ``core.plugins.load_plugins`` in every application like a plugin's (they
concern the activity object only, so other objects' writes never call them); the record service is not changed.

How a mention is written (the composer's hint says so too):

- ``@login``: the user's login (user name), any case; it ends at a space, at punctuation or where Latin letters and
  digits meet other script (``请@alice看一下`` names alice). An e-mail address (``wang@example.com``) is no mention.
- ``@"Full Name"`` (or ``@“全名”``): the user's full name, any case; a full name that several users share names none
  of them (write their logins instead).

A mentioned user is notified only when they may read the note and the record it is on (what they are shown would
otherwise be nothing), is active, and is not the note's author. Saving the note again notifies nobody twice (the
notification's key is the activity's); a user added to the text by a later change is notified then.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, and_, func, select

from core import notifications
from core.hookspecs import hookimpl
from core.naming import record_name
from core.records import Actor

NAME = "tessera.mentions"  # its name in the plugin manager
OBJECTS = ("activity",)  # the objects whose writes call these hooks
FIELD = "description"  # the field whose text is read for mentions
SUBJECT_SHOWN = 120  # characters of the activity's subject the notification quotes

# "@" not inside a word or an e-mail address, then "quoted full name" or a login.
MENTION = re.compile(r"""(?<![A-Za-z0-9_.+\-@])@(?:["“]([^"”\n]{1,200})["”]|([^\s,;:!?()\[\]{}<>"'“”‘’，。；：！？（）【】、《》]{1,150}))""")
ASCII_HEAD = re.compile(r"[A-Za-z0-9_.\-]+")


def mentioned(text: str | None) -> tuple[set[str], set[str]]:
    """The logins and the full names ``text`` mentions, each in lower case: (logins, names). A login is offered as
    written and without what trails it (a full stop ending the sentence, Chinese text right after it)."""
    logins: set[str] = set()
    names: set[str] = set()
    if not text or "@" not in text:
        return logins, names
    for quoted, login in MENTION.findall(text):
        if quoted:
            if quoted.strip():
                names.add(" ".join(quoted.split()).lower())
            continue
        for candidate in (login, login.rstrip(".-_"), _ascii_head(login)):
            if candidate:
                logins.add(candidate.lower())
    return logins, names


def _ascii_head(login: str) -> str:
    head = ASCII_HEAD.match(login)
    return head.group(0).rstrip(".-_") if head else ""


def notify_mentions(conn: Connection, schema, records, activity: dict, author: Actor, text: str | None) -> list[int]:
    """Notify every user ``text`` mentions who may read ``activity`` and the record it relates to (in ``conn``'s
    transaction, the one writing the activity); the ids of the mentioned users who may read it, each notified once
    (one already notified of this activity is not notified again).

    ``schema``: the metadata in effect (``Schema``); ``records``: trusted record access in the same transaction (a
    hook's ``event.records``), to read the related record's title."""
    logins, names = mentioned(text)
    if not logins and not names:
        return []
    people = _people(conn, schema, logins, names, author)
    if not people:
        return []
    linked_object, linked_id = _linked(schema, activity)
    readers = [p for p in people if _may_read_note(conn, schema, p, activity["id"])
               and (linked_object == "activity" or _may_read(conn, schema, p, linked_object, linked_id))]
    if not readers:
        return []
    subject = str(activity.get("subject") or f"#{activity['id']}")
    subject = subject if len(subject) <= SUBJECT_SHOWN else subject[: SUBJECT_SHOWN - 1] + "…"
    by = _display_name(conn, schema, author)
    if linked_object != "activity":
        title = _title(schema, records, linked_object, linked_id)
        code, params = "notice_mention", {"actor": by, "title": title, "subject": subject}
        text_en = f"{by} mentioned you on {title}: “{subject}”"
    else:
        code, params = "notice_mention_plain", {"actor": by, "subject": subject}
        text_en = f"{by} mentioned you in “{subject}”"
    notifications.notify(conn, [p.user_id for p in readers], "mention", code=code, params=params, text=text_en,
                                object=linked_object, record_id=linked_id, actor_id=author.user_id, actor_name=by,
                                key=f"mention:activity:{activity['id']}")
    return [p.user_id for p in readers]


def _people(conn: Connection, schema, logins: set[str], names: set[str], author: Actor) -> list[Actor]:
    """The active users the mentions name, as actors with their roles' permission sets; a full name several users
    share names nobody."""
    user, role = schema.tables.table("user"), schema.tables.table("role")
    named = []
    if logins:
        named.append(func.lower(user.c.username).in_(sorted(logins)))
    if names:
        named.append(func.lower(user.c.full_name).in_(sorted(names)))
    rows = conn.execute(
        select(user.c.id, user.c.username, user.c.full_name, role.c.permission_set)
        .select_from(user.outerjoin(role, and_(role.c.id == user.c.role, role.c.deleted_at.is_(None))))
        .where(user.c.deleted_at.is_(None), sa.or_(user.c.active.is_(None), user.c.active.is_(True)), sa.or_(*named))
    ).all()
    by_name: dict[str, list] = {}
    for row in rows:
        if row.full_name:
            by_name.setdefault(" ".join(row.full_name.split()).lower(), []).append(row)
    chosen = {}
    for row in rows:
        if row.username.lower() in logins:
            chosen[row.id] = row
    for name in names:
        found = by_name.get(name, [])
        if len(found) == 1:
            chosen[found[0].id] = found[0]
    return [Actor(row.id, row.username, row.permission_set or "") for uid, row in sorted(chosen.items()) if uid != author.user_id]


def _linked(schema, activity: dict) -> tuple[str, int]:
    """The record the notification links to: the one the activity is related to, else the activity itself."""
    related_object, related_id = activity.get("related_object"), activity.get("related_id")
    if isinstance(related_id, dict):
        related_id = related_id.get("id")
    if related_object in schema.meta.objects and related_object != "activity" and isinstance(related_id, int):
        return related_object, related_id
    return "activity", activity["id"]


def _may_read(conn: Connection, schema, actor: Actor, object_name: str, record_id: int) -> bool:
    """Whether ``actor`` may read the record (their role's scope, shares with them or their teams), in this transaction."""
    access = schema.access(actor)
    if not access.can(object_name, "read"):
        return False
    table = schema.tables.table(object_name)
    query = select(table.c.id).where(table.c.id == record_id, table.c.deleted_at.is_(None))
    condition = schema.row_condition(access, object_name, "read")
    if condition is not None:
        query = query.where(condition)
    return conn.execute(query, actor.params).first() is not None


def _may_read_note(conn: Connection, schema, actor: Actor, activity_id: int) -> bool:
    return schema.access(actor).visible("activity", FIELD) and _may_read(conn, schema, actor, "activity", activity_id)


def _display_name(conn: Connection, schema, author: Actor) -> str:
    if author.user_id is None:
        return author.name
    user = schema.tables.table("user")
    full = conn.execute(select(user.c.full_name).where(user.c.id == author.user_id)).scalar()
    return (full or "").strip() or author.name


def _title(schema, records, object_name: str, record_id: int) -> str:
    obj = schema.meta.object(object_name)
    try:
        name = record_name(obj, records.get(object_name, record_id))
    except Exception:  # noqa: BLE001 - a record that cannot be read by title still gets its mention
        name = None
    return str(name) if name not in (None, "") else f"{object_name} #{record_id}"


# --- the hooks ------------------------------------------------------------------------------------------


@hookimpl
def tessera_after_create(event: Any) -> None:
    text = (event.record or {}).get(FIELD)
    if isinstance(text, str) and "@" in text:
        notify_mentions(event.records.connection, event.records.schema, event.records, event.record, event.actor, text)


@hookimpl
def tessera_after_update(event: Any) -> None:
    if FIELD not in (event.changes or {}):
        return
    text = (event.record or {}).get(FIELD)
    if isinstance(text, str) and "@" in text:
        notify_mentions(event.records.connection, event.records.schema, event.records, event.record, event.actor, text)

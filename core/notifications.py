"""In-app notifications: what the bell in the top bar counts and lists, one row per recipient.

A notification is written with ``notify`` in the transaction of the change that causes it, so it exists exactly
when that change committed. Its message is kept as a code (core's ``WORDS``, or a plugin's ``tessera_words``) with
its params, and read in the reader's language when shown; or as a plain text the caller gives (shown as it is),
which also stands in for a code nobody words any more. A ``key`` makes a repeated cause notify each user once
(``mention:activity:12``: the same note saved again notifies nobody twice).

Every read and change is one user's own: ``items``, ``unread_count`` and ``mark_read`` take the user's id and
never touch another's rows.

Each user also chooses how they want their notifications by e-mail (``email_choice``): each one as it comes, a
daily digest, or never; core/notification_mail.py sends them so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core import notification_mail
from core.coretables import notification, notification_setting
from core.db import PreparedRead, read_transaction, write_transaction
from core.fieldtypes import iso_utc
from core.words import WORDS, Sentence

KINDS = ("mention", "reminder", "approval", "rule")  # core's own; a plugin may use others of the same shape
KIND_SHAPE = re.compile(r"[a-z][a-z0-9_.]{0,31}")
TEXT_LIMIT = 2000  # a plain message longer than this is cut (with "…")
PAGE_DEFAULT, PAGE_MAX = 20, 100
EMAIL_CHOICES = ("each", "digest", "never")  # each notification as it comes, a daily digest, no e-mail
EMAIL_DEFAULT = "each"
ALL = "all"  # mark_read(conn, user, ALL): every unread notification of the user


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Notification:
    """One notification as its reader sees it; ``message`` in their language."""

    id: int
    kind: str
    object: str | None
    record_id: int | None
    message: str
    code: str | None
    params: dict
    actor: str | None
    created_at: str
    read_at: str | None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    @property
    def link(self) -> str | None:
        """The page of the record it is about, when it names one."""
        return f"/r/{self.object}/{self.record_id}" if self.object and self.record_id else None

    def as_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "object": self.object, "record_id": self.record_id, "message": self.message,
                "code": self.code, "params": self.params, "actor": self.actor, "created_at": self.created_at,
                "read_at": self.read_at, "read": self.read, "link": self.link}


# --- writing ------------------------------------------------------------------------------------------


def notify(conn: Connection, user_ids: Iterable[int], kind: str, *, code: str | None = None, params: Mapping[str, Any] | None = None,
           text: str | None = None, object: str | None = None, record_id: int | None = None,
           actor_id: int | None = None, actor_name: str | None = None, key: str | None = None) -> list[int]:
    """Notify each of ``user_ids`` in the caller's transaction: the ids of the notifications made.

    The message is ``code`` with ``params`` (a code of core/words.py, or a plugin's), or ``text`` (plain, shown as it
    is), or both (the text then serves readers when no wording of the code is known). ``object`` and ``record_id``
    link it to a record; ``actor_name`` says who caused it. With ``key`` a user already notified under that key is not
    notified again (their id is left out of the answer). A mistake in the arguments is a programming error
    (ValueError), said plainly."""
    _check(kind, code, params, text, object, record_id, key)
    users = sorted({int(u) for u in user_ids})
    if not users:
        return []
    if text is not None and len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1] + "…"
    values = {"kind": kind, "object": object, "record_id": record_id, "code": code, "params": dict(params or {}) if code else None,
              "text": text, "actor_id": actor_id, "actor_name": (actor_name or None) and actor_name[:200], "key": key,
              "created_at": now(), "read_at": None}
    made: dict[int, int] = {}  # notification id -> its recipient
    if key is None:
        for user in users:
            made[conn.execute(sa.insert(notification).values(user_id=user, **values).returning(notification.c.id)).scalar_one()] = user
    else:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        for user in users:
            found = conn.execute(insert(notification).values(user_id=user, **values)
                                 .on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(notification.c.id)).scalar()
            if found is not None:
                made[found] = user
    notification_mail.enqueue_each(conn, made)
    return list(made)


def _check(kind: str, code: str | None, params: Mapping | None, text: str | None, object_name: str | None,
           record_id: int | None, key: str | None) -> None:
    if not isinstance(kind, str) or not KIND_SHAPE.fullmatch(kind):
        raise ValueError(f"a notification's kind is a short lower-case name such as 'mention', not {kind!r}")
    if not code and not (text or "").strip():
        raise ValueError("a notification needs a message: a code (with its params) or a text")
    if code is not None and not 1 <= len(code) <= 128:
        raise ValueError(f"a message code is 1 to 128 characters, not {code!r}")
    if params is not None and not isinstance(params, Mapping):
        raise ValueError("a message's params are a mapping of name -> value")
    if (object_name is None) != (record_id is None):
        raise ValueError("a notification links to a record with both object and record_id, or to none")
    if object_name is not None and not 1 <= len(object_name) <= 64:
        raise ValueError(f"an object's name is 1 to 64 characters, not {object_name!r}")
    if key is not None and not 1 <= len(key) <= 200:
        raise ValueError(f"a notification's key is 1 to 200 characters, not {key!r}")


# --- reading: a user's own ----------------------------------------------------------------------------


UNREAD = PreparedRead(select(func.count().label("unread")).select_from(notification)
                      .where(notification.c.user_id == sa.bindparam("user_id"), notification.c.read_at.is_(None)))


def unread_count(conn: Connection, user_id: int) -> int:
    """How many of the user's notifications are unread (the bell's badge); read on the index (user_id, read_at, id).
    Every page asks, so the statement is compiled once."""
    return UNREAD.first(conn, user_id=user_id).unread


def items(conn: Connection, user_id: int, lang: str = "en", *, unread_only: bool = False, limit: int = PAGE_DEFAULT,
          before_id: int | None = None, words: Mapping[str, Mapping] | None = None) -> tuple[list[Notification], bool]:
    """The user's notifications, newest first, in ``lang``; and whether there are more (page on with the last id as
    ``before_id``). ``words``: the plugins' wordings (``runtime.plugins.words``), for their codes."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit: from 1 to {PAGE_MAX}")
    c = notification.c
    query = select(notification).where(c.user_id == user_id)
    if unread_only:
        query = query.where(c.read_at.is_(None))
    if before_id is not None:
        query = query.where(c.id < before_id)
    rows = conn.execute(query.order_by(c.id.desc()).limit(limit + 1)).all()
    return [shown(row, lang, words) for row in rows[:limit]], len(rows) > limit


def one(conn: Connection, user_id: int, notification_id: int, lang: str = "en", words: Mapping | None = None) -> Notification | None:
    """One of the user's own notifications; None when there is no such notification of theirs."""
    row = conn.execute(select(notification).where(notification.c.id == notification_id, notification.c.user_id == user_id)).first()
    return shown(row, lang, words) if row is not None else None


def shown(row, lang: str, words: Mapping | None = None) -> Notification:
    return Notification(row.id, row.kind, row.object, row.record_id, message(row.code, row.params, row.text, lang, words), row.code,
                        dict(row.params or {}), row.actor_name, iso_utc(row.created_at), iso_utc(row.read_at) if row.read_at else None)


def message(code: str | None, params: Mapping | None, text: str | None, lang: str, words: Mapping | None = None) -> str:
    """A stored message in ``lang``: its code worded (core's words, else the plugins'), else its plain text, else the
    code itself. A wording that names a param the notification lacks falls back the same way."""
    if code:
        wording = WORDS.get(code) or (words or {}).get(code)
        if wording:
            try:
                return Sentence(code, dict(params or {}), wording, text or code).in_(lang)
            except (KeyError, IndexError, ValueError):
                pass
    return text or code or ""


# --- marking read: a user's own ----------------------------------------------------------------------


def mark_read(conn: Connection, user_id: int, ids: Iterable[int] | str) -> int:
    """Mark the user's notifications read: those of ``ids`` that are theirs, or every one (``ALL``); how many were
    unread. Another user's ids are left as they are, silently."""
    c = notification.c
    query = sa.update(notification).where(c.user_id == user_id, c.read_at.is_(None))
    if ids != ALL:
        wanted = sorted({int(i) for i in ids})  # type: ignore[union-attr]
        if not wanted:
            return 0
        query = query.where(c.id.in_(wanted))
    return conn.execute(query.values(read_at=now())).rowcount


# --- e-mail: each user's choice ----------------------------------------------------------------------


def email_choice(conn: Connection, user_id: int) -> str:
    """How the user wants their notifications by e-mail: "each" (every one as it comes), "digest" (a daily digest)
    or "never"; ``EMAIL_DEFAULT`` until they choose."""
    found = conn.execute(select(notification_setting.c.email).where(notification_setting.c.user_id == user_id)).scalar()
    return found if found in EMAIL_CHOICES else EMAIL_DEFAULT


def set_email_choice(conn: Connection, user_id: int, choice: str) -> None:
    if choice not in EMAIL_CHOICES:
        raise ValueError(f"e-mail choice: one of {', '.join(EMAIL_CHOICES)}, not {choice!r}")
    values = {"email": choice, "changed_at": now()}
    if conn.execute(sa.update(notification_setting).where(notification_setting.c.user_id == user_id).values(**values)).rowcount == 0:
        conn.execute(sa.insert(notification_setting).values(user_id=user_id, **values))


# --- the same, each in a transaction of its own (the API, the pages) ----------------------------------


class Notifications:
    """A user's notifications over the runtime's database, each call its own transaction."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    @property
    def engine(self):
        return self.runtime.engine

    def notify(self, user_ids: Iterable[int], kind: str, **what: Any) -> list[int]:
        with write_transaction(self.engine) as conn:
            return notify(conn, user_ids, kind, **what)

    def unread_count(self, user_id: int) -> int:
        with read_transaction(self.engine) as conn:
            return unread_count(conn, user_id)

    def list(self, user_id: int, lang: str = "en", unread_only: bool = False, limit: int = PAGE_DEFAULT,
             before_id: int | None = None) -> tuple[list[Notification], bool]:
        with read_transaction(self.engine) as conn:
            return items(conn, user_id, lang, unread_only=unread_only, limit=limit, before_id=before_id, words=self.runtime.plugins.words)

    def get(self, user_id: int, notification_id: int, lang: str = "en") -> Notification | None:
        with read_transaction(self.engine) as conn:
            return one(conn, user_id, notification_id, lang, self.runtime.plugins.words)

    def mark_read(self, user_id: int, ids: Iterable[int] | str) -> int:
        with write_transaction(self.engine) as conn:
            return mark_read(conn, user_id, ids)

    def email_choice(self, user_id: int) -> str:
        with read_transaction(self.engine) as conn:
            return email_choice(conn, user_id)

    def set_email_choice(self, user_id: int, choice: str) -> None:
        with write_transaction(self.engine) as conn:
            set_email_choice(conn, user_id, choice)

"""Notifications by e-mail, as each user chose on their profile: each one as it comes, a daily digest, or none.

``notify`` (core/notifications.py) enqueues, in the transaction that made the notifications, one
``notifications.mail`` job for those whose readers want each one (the job words each in its reader's language
and queues a mail per notification, core/mail.py), and for each reader who chose the digest a
``notifications.digest`` job due at the next 07:00 UTC, one per reader and day (its key): that job gathers the
reader's notifications of the day before it that are still unread into one mail. Nothing scans for digests, and a
day without notifications sends none. A user without an address, or no longer active, gets no mail. Keys keep
each mail single when a job runs again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import Connection, select

from core import mail, notifications, queue
from core.coretables import notification, notification_setting
from core.db import write_transaction
from core.words import sentence

KIND = "notifications.mail"
DIGEST = "notifications.digest"
DIGEST_HOUR = 7  # UTC
SUBJECT_LIMIT = 150


def enqueue_each(conn: Connection, notifications: dict[int, int], now: dt.datetime | None = None) -> None:
    """In the caller's transaction: a job mailing the notifications (id -> reader) whose readers want each one, and
    the digest job of each reader who chose the digest (one per reader and day)."""
    if not notifications:
        return
    choices = dict(conn.execute(select(notification_setting.c.user_id, notification_setting.c.email).where(
        notification_setting.c.user_id.in_(set(notifications.values())))).all())
    wanted = sorted(nid for nid, user in notifications.items() if choices.get(user, "each") == "each")
    if wanted:
        queue.enqueue(conn, KIND, {"ids": wanted}, queue=mail.QUEUE)
    due = next_digest(now or dt.datetime.now(dt.timezone.utc))
    for user in sorted({user for user in notifications.values() if choices.get(user) == "digest"}):
        queue.enqueue(conn, DIGEST, {"user": user, "until": due.isoformat()}, queue=mail.QUEUE, run_at=due,
                      key=f"{DIGEST}:{user}:{due.date().isoformat()}")


def next_digest(moment: dt.datetime) -> dt.datetime:
    """The next 07:00 UTC after ``moment``."""
    due = moment.astimezone(dt.timezone.utc).replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return due if due > moment else due + dt.timedelta(days=1)


def mail_each(runtime: Any, job: queue.Job) -> None:
    """The handler of ``notifications.mail``: one mail per notification, to its reader, in their language. Without an
    SMTP server set there is none: the notifications are in the bell, and no mail is queued to fail."""
    if runtime.settings.smtp is None:
        return
    with write_transaction(runtime.engine) as conn:
        rows = conn.execute(select(notification).where(notification.c.id.in_(job.payload["ids"]))).all()
        readers = _readers(runtime, conn, {row.user_id for row in rows})
        for row in rows:
            reader = readers.get(row.user_id)
            if reader is None:
                continue
            note = notifications.shown(row, reader["language"], runtime.plugins.words)
            subject = _cut(note.message)
            text = "\n\n".join([note.message, _open_line(runtime, note, reader["language"]), _footer(reader["language"])])
            mail.enqueue_mail(conn, reader["to"], subject, text, key=f"notification:{row.id}")


def mail_digest(runtime: Any, job: queue.Job) -> None:
    """The handler of ``notifications.digest``: one mail of the reader's notifications of the day before the job's
    time that are still unread; none when every one was read, or when no SMTP server is set."""
    if runtime.settings.smtp is None:
        return
    send_digest(runtime, job.payload["user"], dt.datetime.fromisoformat(job.payload["until"]))


def send_digest(runtime: Any, user_id: int, until: dt.datetime) -> bool:
    """Queue ``user_id``'s digest of the unread notifications made in the day before ``until``; whether one was queued."""
    since = until - dt.timedelta(days=1)
    with write_transaction(runtime.engine) as conn:
        reader = _readers(runtime, conn, [user_id]).get(user_id)
        if reader is None:
            return False
        rows = conn.execute(select(notification).where(
            notification.c.user_id == user_id, notification.c.read_at.is_(None), notification.c.created_at > since,
            notification.c.created_at <= until).order_by(notification.c.id)).all()
        if not rows:
            return False
        lang = reader["language"]
        notes = [notifications.shown(row, lang, runtime.plugins.words) for row in rows]
        subject = str(sentence("digest_subject", count=len(notes)).in_(lang))
        lines = [f"- {note.message}" + (f"\n  {runtime.settings.base_url}{note.link}" if note.link else "") for note in notes]
        mail.enqueue_mail(conn, reader["to"], subject, "\n".join([subject, "", *lines, "", _footer(lang)]),
                          key=f"digest:{user_id}:{until.date().isoformat()}")
    return True


def _readers(runtime: Any, conn: Connection, user_ids: Iterable[int]) -> dict[int, dict]:
    """The users who can be mailed: active, with an address; their "Name <address>" and language."""
    users = mail._users(runtime.schema(conn), conn, sorted(user_ids))
    return {user_id: {"to": mail.named_address(user["name"], user["email"]), "language": user["language"]}
            for user_id, user in users.items() if user["active"] and user["email"]}


def _open_line(runtime: Any, note: notifications.Notification, lang: str) -> str:
    return str(sentence("notification_open", link=f"{runtime.settings.base_url}/notifications/{note.id}/open").in_(lang))


def _footer(lang: str) -> str:
    return str(sentence("notification_mail_footer").in_(lang))


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"

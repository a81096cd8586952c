"""Reminders: in-app notifications (kind ``reminder``) to the person a record waits on, given by scheduled jobs.

Core's own scheduled job, registered by ``core.plugins.load_plugins`` in every application like a plugin's:

- ``tessera.overdue_tasks``, every 15 minutes: each open task (an activity of type ``task`` whose status is not
  ``done`` or ``cancelled``) whose due date has passed (it is before today, in UTC) reminds its assignee, or its
  owner when nobody is assigned. The query reads the activity's ``due_date`` index over the last ``LOOKBACK_DAYS``
  days only: a task overdue longer than that when the job first sees it is not reminded (nor read each tick).

``remind`` is what the plugins' jobs call too (marketing's renewals, service's maintenance and SLAs, sales'
contracts and next steps): one reminder per user, record and due date (the notification's key names all three),
so a job that runs again, or finds the same record again, reminds nobody twice; a new due date reminds again.
Users who are deactivated or deleted are not reminded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy import select

from core import notifications
from core.hookspecs import hookimpl
from core.plugins import ScheduledJob
from core.records import Actor, TransactionRecords

NAME = "tessera.reminders"  # its name in the plugin manager
OBJECTS: tuple[str, ...] = ()  # no record hooks
KIND = "reminder"
TASK_JOB = "tessera.overdue_tasks"
EVERY = 15 * 60  # seconds between runs of the overdue-task job
LOOKBACK_DAYS = 30  # tasks overdue by more than this when first seen are left alone
CLOSED_TASK_STATUSES = ("done", "cancelled")  # activity.status values that end a task
SUBJECT_SHOWN = 120  # characters of a subject a reminder quotes


def lookup_id(value: Any) -> int | None:
    """A lookup as records show it ({"id", "label"}), as hooks' values hold it (an id), or None."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if value in (None, "") else int(value)


def recipient(record: Mapping[str, Any], *fields: str) -> int | None:
    """The first of ``fields`` (e.g. "assigned_to", "owner") the record fills: the user a reminder goes to."""
    for name in fields:
        found = lookup_id(record.get(name))
        if found is not None:
            return found
    return None


def shorten(text: Any, limit: int = SUBJECT_SHOWN) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def remind(records: Any, user_ids: Iterable[int | None], *, code: str, params: Mapping[str, Any], object: str,
           record_id: int, due: Any, topic: str | None = None, about: tuple[str, int] | None = None) -> list[int]:
    """Remind each active user of ``user_ids`` about a record, in the transaction of ``records`` (a hook's
    ``event.records``, or a job's ``TransactionRecords``); once per user, record
    and ``due`` (a date or time: a new due date reminds again). ``topic`` tells apart reminders of different
    things about one record (default: the object). ``about`` (object, id): the record the reminder is once per, when
    it is not the one it links to (a maintenance plan's, linking to the ticket it opened). The ids of the
    notifications made."""
    wanted = {int(u) for u in user_ids if u is not None}
    if not wanted:
        return []
    conn, users = records.connection, records.schema.tables.table("user")
    active = conn.execute(select(users.c.id).where(users.c.id.in_(sorted(wanted)), users.c.deleted_at.is_(None),
                                                   sa.or_(users.c.active.is_(None), users.c.active.is_(True)))).scalars().all()
    due_text = due.isoformat() if hasattr(due, "isoformat") else str(due)
    key_object, key_id = about or (object, record_id)
    key = f"reminder:{topic or key_object}:{key_object}:{key_id}:{due_text}"
    return notifications.notify(conn, active, KIND, code=code, params=params, object=object, record_id=record_id, key=key)


def run_overdue_tasks(runtime: Any, today: dt.date | None = None) -> list[int]:
    """Remind the assignee (or owner) of each open task due before ``today`` (UTC) and within ``LOOKBACK_DAYS``;
    the ids of the tasks whose reminder was given by this run."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    since = today - dt.timedelta(days=LOOKBACK_DAYS)
    reminded = []
    with runtime.writing() as (conn, schema):
        records = TransactionRecords(runtime.records, conn, schema, Actor.system())
        open_statuses = [v["value"] for v in schema.meta.object("activity").fields["status"].spec.get("values", [])
                         if v["value"] not in CLOSED_TASK_STATUSES]
        window = {"activity_type": "task", "due_date__gte": since.isoformat(), "due_date__lt": today.isoformat(), "sort": "due_date,id"}
        tasks = [*records.each("activity", {**window, "status__in": ",".join(open_statuses)}),
                 *records.each("activity", {**window, "status__isnull": "true"})]
        for task in tasks:
            who = recipient(task, "assigned_to", "owner")
            if remind(records, [who], code="notice_task_overdue", params={"subject": shorten(task.get("subject")), "due": task["due_date"]},
                      object="activity", record_id=task["id"], due=task["due_date"], topic="task"):
                reminded.append(task["id"])
    return reminded


@hookimpl
def tessera_scheduled_jobs():
    return [ScheduledJob(TASK_JOB, EVERY, run_overdue_tasks)]

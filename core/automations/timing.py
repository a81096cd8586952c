"""Rules that run at a time: relative to a record's date (time triggers) or on a cron schedule.

Time triggers: when a record is written, each time rule of its object computes the record's due
time (its field's value, before or after by the rule's interval; a date counts from 00:00 UTC)
and keeps it in ``tessera_automation_due`` (rule, record, due_at), indexed on due_at; a record
deleted, or whose field is emptied, loses its row. Each scheduler tick reads only the rows due
by now (the index, never the object's table), queues a run of each (keyed, so that two
processes ticking at once queue it once) and removes them. A due time already past when the
record is written is not kept: a rule fires when a time is reached, not for the past.

A rule created or changed (another field, another interval) has its due times computed for the
existing records by an ``automation.due`` job, in batches, found by the tick comparing the
rule's signature with the one kept in its state.

Schedule rules: each tick queues, for each rule, a run for its cron expression's latest due time
(keyed by it: once per due time across processes); after downtime the missed run is caught up
once. Due times from before the rule was first seen are not run.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from cronsim import CronSim
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core import queue
from core.automations.actions import load_state, save_state
from core.automations.rules import Rule, rules_of
from core.conditions import compile
from core.coretables import automation_due
from core.db import after_commit
from core.records.events import DELETED, RecordChanges

log = logging.getLogger("tessera.automations")

SOONER = threading.Event()  # set when this process writes a due time within the scheduler's longest sleep: it ticks again
SOON = dt.timedelta(seconds=60)
DUE_KIND = "automation.due"
SCHEDULE_KIND = "automation.schedule"
BATCH = 2000
DUE_PER_TICK = 1000
SCHEDULE_LIMIT = 1000


def follow(conn: Connection, rules: list[Rule], change: RecordChanges) -> None:
    """Keep the due times of ``change``'s records for each time rule of their object."""
    if change.event == DELETED:
        conn.execute(delete(automation_due).where(automation_due.c.rule.in_([r.name for r in rules]),
                                                  automation_due.c.record_id.in_(change.ids)))
        return
    values = None
    now = queue.now()
    for rule in rules:
        if change.changes is not None and not any(rule.field in change.changes_of(i) for i in change.ids):
            continue
        values = values if values is not None else change.values()
        dues = {record_id: rule.due(values[record_id].get(rule.field)) for record_id in change.ids if record_id in values}
        keep(conn, rule, {i: due for i, due in dues.items() if due is not None and due > now},
             [i for i, due in dues.items() if due is None or due <= now])


def keep(conn: Connection, rule: Rule, due: Mapping[int, dt.datetime], gone: Iterable[int] = ()) -> None:
    """Set the due times of records ``due`` for ``rule``; remove those of ``gone``."""
    gone = list(gone)
    if gone:
        conn.execute(delete(automation_due).where(automation_due.c.rule == rule.name, automation_due.c.record_id.in_(gone)))
    if not due:
        return
    if min(due.values()) <= queue.now() + SOON:
        after_commit(conn, SOONER.set)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(automation_due)
    statement = statement.on_conflict_do_update(index_elements=["rule", "record_id"], set_={"due_at": statement.excluded.due_at})
    conn.execute(statement, [{"rule": rule.name, "record_id": i, "due_at": at} for i, at in due.items()])


# --- the tick ----------------------------------------------------------------------------------------------


def tick(runtime: Any, moment: dt.datetime | None = None) -> int:
    """Queue the runs due by ``moment``: time rules' and schedule rules'; what was queued."""
    from core.automations.engine import enqueue_run  # noqa: PLC0415 - the engine queues through this module too

    moment = moment or queue.now()
    queued = 0
    with runtime.writing() as (conn, schema):
        rules = rules_of(schema)
        time_rules = {rule.name: rule for rule in rules.time}
        if time_rules:
            _check_signatures(conn, time_rules.values())
            rows = conn.execute(select(automation_due.c.rule, automation_due.c.record_id, automation_due.c.due_at)
                                .where(automation_due.c.due_at <= moment).order_by(automation_due.c.due_at).limit(DUE_PER_TICK)).all()
            for name, record_id, due_at in rows:
                rule = time_rules.get(name)
                if rule is not None:
                    stamp = _stamp(due_at)
                    enqueue_run(conn, rule, record_id, "time", 1, key=f"time:{name}:{record_id}:{stamp}")
                    queued += 1
            for name, record_id, _due in rows:
                conn.execute(delete(automation_due).where(automation_due.c.rule == name, automation_due.c.record_id == record_id))
        for rule in rules.schedule:
            queued += _schedule(conn, rule, moment)
    return queued


def _stamp(at: dt.datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_signatures(conn: Connection, rules: Iterable[Rule]) -> None:
    """A time rule new or changed since its due times were computed gets them computed again, by a job."""
    for rule in rules:
        state = load_state(conn, rule.name)
        signature = rule.due_signature()
        if state.get("due_signature") != signature:
            save_state(conn, rule.name, {**state, "due_signature": signature})
            queue.enqueue(conn, DUE_KIND, {"rule": rule.name, "signature": signature}, queue="automations",
                          key=f"due:{rule.name}:{signature}"[:200])


def compute_due(runtime: Any, job: queue.Job) -> None:
    """The handler of ``automation.due``: a time rule's due times for every record of its object, in batches."""
    name = job.payload["rule"]
    with runtime.reading() as (_conn, schema):
        rule = rules_of(schema).by_name.get(name)
        if rule is None or rule.due_signature() != job.payload["signature"]:
            return  # changed again since: the newer job computes them
        table = schema.tables.table(rule.object)
    with runtime.writing() as (conn, _schema):
        conn.execute(delete(automation_due).where(automation_due.c.rule == name))
    last = 0
    while True:
        with runtime.writing() as (conn, _schema):
            rows = conn.execute(select(table.c.id, table.c[rule.field]).where(table.c.id > last, table.c.deleted_at.is_(None),
                                                                           table.c[rule.field].is_not(None))
                                .order_by(table.c.id).limit(BATCH)).all()
            if not rows:
                return
            now = queue.now()
            due = {record_id: at for record_id, value in rows if (at := rule.due(value)) is not None and at > now}
            keep(conn, rule, due)
            last = rows[-1][0]


def next_due(runtime: Any, moment: dt.datetime) -> dt.datetime | None:
    """The next time a workflow rule is due after ``moment``: the earliest kept due time of a time rule, or a schedule
    rule's next cron time (one indexed read when there are time rules; none otherwise)."""
    with runtime.reading() as (conn, schema):
        rules = rules_of(schema)
        found = [next(CronSim(rule.body["trigger"]["cron"], moment.astimezone(dt.timezone.utc))) for rule in rules.schedule]
        if rules.time:
            earliest = conn.execute(select(sa.func.min(automation_due.c.due_at))).scalar()
            if earliest is not None:
                found.append(earliest if earliest.tzinfo else earliest.replace(tzinfo=dt.timezone.utc))
    return min(found) if found else None


# --- schedules ----------------------------------------------------------------------------------------------


def latest_due(cron: str, moment: dt.datetime) -> dt.datetime:
    """The last time a cron expression names at or before ``moment`` (in UTC)."""
    return next(CronSim(cron, moment.astimezone(dt.timezone.utc) + dt.timedelta(microseconds=1), reverse=True))


def _schedule(conn: Connection, rule: Rule, moment: dt.datetime) -> int:
    state = load_state(conn, rule.name)
    cron = rule.body["trigger"]["cron"]
    if state.get("cron") != cron:  # first seen, or a new schedule: runs from now on
        save_state(conn, rule.name, {**state, "cron": cron, "since": moment.isoformat()})
        return 0
    due = latest_due(cron, moment)
    if due < dt.datetime.fromisoformat(state["since"]):
        return 0
    queue.enqueue(conn, SCHEDULE_KIND, {"rule": rule.name, "due": due.isoformat()}, queue="automations",
                  key=f"schedule-rule:{rule.name}:{_stamp(due)}", run_at=due)
    return 1


def run_schedule(runtime: Any, job: queue.Job) -> None:
    """The handler of ``automation.schedule``: the rule's actions on each record its condition selects (up to its
    limit), each run logged; a run that fails does not stop the others."""
    from core.automations.engine import DEPTH, run_on  # noqa: PLC0415

    with runtime.writing() as (conn, schema):
        rule = rules_of(schema).by_name.get(job.payload["rule"])
        if rule is None:
            return
        obj = schema.meta.object(rule.object)
        table = schema.tables.table(obj.name)
        condition = compile(obj, rule.body.get("condition"), schema.meta.fields_with_system(obj.name), previous_allowed=False,
                            meta=schema.meta)
        where, values = condition.where(conn, schema, table)
        limit = rule.body["trigger"].get("limit", SCHEDULE_LIMIT)
        ids = list(conn.execute(select(table.c.id).where(table.c.deleted_at.is_(None), where).order_by(table.c.id).limit(limit),
                                values).scalars())
        conn.info[DEPTH] = 1
        for record_id in ids:
            run_on(runtime, conn, schema, rule, record_id, "schedule", 1, job_id=job.id, key=f"schedule:{job.key or job.id}:{record_id}")


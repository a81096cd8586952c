"""The workflow rule engine: which rules a change sets off, and running them.

* Rules marked ``before_save`` run inside the save, as a step of the write pipeline
  (core/automations/before_save.py): they change what is saved or refuse it.
* Every other rule on created, updated, field_changed or deleted is decided when the change is
  published (``receive``, a subscriber of core/records/events.py, inside the writing
  transaction): its trigger and condition are tested on the values just written, with no
  query, and a rule that fires enqueues an ``automation.run`` job in that transaction. The job
  runs the actions after the change committed, as the system, in a transaction of its own: an
  action that fails never undoes the change that set it off, and is logged as failed.
* The writes a rule's actions make publish changes too, and set off rules in turn, up to
  MAX_DEPTH in a row; a rule that would go deeper is logged as skipped.
* Time rules keep each record's due time in an indexed table (core/automations/timing.py);
  schedule rules run on the scheduler's tick; button rules run when someone presses them.

Every run is logged in ``tessera_automation_run`` (rule, record, trigger, status, what each
action did, the error), shown on the rule's page and on the record's.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import queue
from core.automations import timing
from core.automations.actions import ActionError, Run, run_actions
from core.automations.rules import MAX_DEPTH, Rule, rules_of
from core.coretables import automation_run
from core.records.events import DELETED, RecordChanges

log = logging.getLogger("tessera.automations")

KIND = "automation.run"
QUEUE = "automations"
ATTEMPTS = 3
DEPTH = "tessera_automation_depth"  # conn.info: how deep in a chain of rules the writes of this transaction are
ERROR_LIMIT = 2000


def depth_of(conn: Connection) -> int:
    return conn.info.get(DEPTH, 0)


# --- deciding, inside the change's transaction ----------------------------------------------------------


def receive(runtime: Any, conn: Connection, change: RecordChanges) -> None:
    """Enqueue a run of each after-save rule the change sets off; keep time rules' due times."""
    schema = change.schema or runtime.schema(conn)
    rules = rules_of(schema).of(change.object_name)
    if rules is None:
        return
    if rules.time:
        timing.follow(conn, rules.time, change)
    fired = rules.after.get(change.event)
    if not fired:
        return
    values = change.values() if not any(r.condition.fields() & _many_to_many(schema, change.object_name) for r in fired) \
        else {record["id"]: record for record in change.records()}
    depth = depth_of(conn) + 1
    fetch = fetcher(runtime, conn, schema)
    for record_id in change.ids:
        record = values.get(record_id)
        if record is None:
            continue
        changes = change.changes_of(record_id)
        previous = _previous(record, changes) if changes is not None else None
        for rule in fired:
            if change.event == "updated" and not rule.fires(changes):
                continue
            if not rule.condition.matches(record, previous, fetch):
                continue
            enqueue_run(conn, rule, record_id, rule.on if change.event != DELETED else DELETED, depth, change.actor)


def fetcher(runtime: Any, conn: Connection, schema: Any) -> Callable[[str, int], dict | None]:
    """A record by object and id as stored, in this transaction (None when there is none): what an expression condition
    following a lookup reads."""
    from core.records import NotFound  # noqa: PLC0415 - records depend on the runtime, which subscribes this module

    def fetch(object_name: str, record_id: int) -> dict | None:
        try:
            return runtime.records._fetch(conn, schema, object_name, record_id)
        except NotFound:
            return None

    return fetch


def _many_to_many(schema: Any, object_name: str) -> set[str]:
    return {f.name for f in schema.meta.object(object_name).active_fields() if f.type.name == "many_to_many"}


def _previous(record: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> dict:
    return {**record, **{name: old for name, (old, _new) in changes.items()}}


def enqueue_run(conn: Connection, rule: Rule, record_id: int | None, trigger: str, depth: int, actor: Any = None,
                key: str | None = None, run_at: dt.datetime | None = None) -> int | None:
    """Queue a run of ``rule`` on a record, in the caller's transaction; too deep a chain is logged as skipped instead."""
    actor_id = getattr(actor, "user_id", None)
    if depth > MAX_DEPTH:
        log_run(conn, rule, record_id, trigger, "skipped", depth, error=f"not run: the changes of rules had already set off "
                f"{MAX_DEPTH} rules in a row (the most Tessera runs)", actor_id=actor_id)
        return None
    payload = {"rule": rule.name, "object": rule.object, "id": record_id, "trigger": trigger, "depth": depth, "actor": actor_id}
    return queue.enqueue(conn, KIND, payload, queue=QUEUE, key=key, max_attempts=ATTEMPTS, run_at=run_at)


# --- running, in a job of its own -----------------------------------------------------------------------


def run_job(runtime: Any, job: queue.Job) -> None:
    """The handler of ``automation.run``: the rule's actions on the record, logged; a failure of the actions is logged
    as failed and rolled back alone (the job is done: running it again would fail the same way), while a failure of
    the database fails the job, which the queue tries again."""
    payload = job.payload
    with runtime.writing() as (conn, schema):
        conn.info[DEPTH] = payload["depth"]
        rule = rules_of(schema).by_name.get(payload["rule"])
        if rule is None:
            log_run(conn, _gone(payload), payload.get("id"), payload["trigger"], "skipped", payload["depth"], job_id=job.id,
                    error="the rule is gone or inactive", actor_id=payload.get("actor"))
            return
        run_on(runtime, conn, schema, rule, payload.get("id"), payload["trigger"], payload["depth"], job_id=job.id,
               actor_id=payload.get("actor"), key=f"run:{job.key or job.id}")


def run_on(runtime: Any, conn: Connection, schema: Any, rule: Rule, record_id: int, trigger: str, depth: int, *,
           job_id: int | None = None, actor_id: int | None = None, key: str, check_condition: bool = False) -> dict:
    """Run the rule's actions on one record in a savepoint of ``conn``, and log the run; the log row as a dict."""
    from core.records import NotFound  # noqa: PLC0415 - records depend on the runtime, which subscribes this module

    try:
        record = runtime.records._fetch(conn, schema, rule.object, record_id, include_deleted=trigger == DELETED)
    except NotFound:
        record = None
    if record is None:
        return log_run(conn, rule, record_id, trigger, "skipped", depth, job_id=job_id, actor_id=actor_id,
                       error="the record is gone")
    if check_condition and not rule.condition.matches(record, None, fetcher(runtime, conn, schema)):
        return log_run(conn, rule, record_id, trigger, "skipped", depth, job_id=job_id, actor_id=actor_id,
                       error="the condition no longer holds")
    run = Run(runtime, conn, schema, rule, record, key)
    try:
        with conn.begin_nested():
            done = run_actions(run)
    except ActionError as exc:
        return log_run(conn, rule, record_id, trigger, "failed", depth, detail=run.done, job_id=job_id, actor_id=actor_id, error=str(exc))
    return log_run(conn, rule, record_id, trigger, "done", depth, detail=done, job_id=job_id, actor_id=actor_id)


def _gone(payload: Mapping) -> Rule:
    return Rule(payload["rule"], payload["object"], {"trigger": {"on": payload["trigger"]}, "actions": []}, None)  # type: ignore[arg-type]


def log_run(conn: Connection, rule: Rule, record_id: int | None, trigger: str, status: str, depth: int, *, detail: Any = None,
            error: str | None = None, job_id: int | None = None, actor_id: int | None = None) -> dict:
    row = {"rule": rule.name, "object": rule.object, "record_id": record_id, "trigger": trigger, "status": status,
           "detail": detail, "error": (error or None) and error[:ERROR_LIMIT], "depth": depth, "job_id": job_id,
           "actor_id": actor_id, "created_at": queue.now()}
    row["id"] = conn.execute(sa.insert(automation_run).values(row).returning(automation_run.c.id)).scalar_one()
    return row


# --- buttons ------------------------------------------------------------------------------------------


def press(runtime: Any, actor: Any, object_name: str, record_id: int, rule_name: str) -> dict:
    """Run a button rule on a record now, for ``actor``, who must be able to change the record; its run's log row.
    LookupError for a rule or record that is not there (or not readable), PermissionError when the actor may
    read but not change it."""
    with runtime.writing() as (conn, schema):
        rule = rules_of(schema).by_name.get(rule_name)
        if rule is None or rule.object != object_name or rule.on != "button":
            raise LookupError(f"there is no button '{rule_name}' on {object_name}")
        _require_update(runtime, conn, schema, actor, object_name, record_id)
        conn.info[DEPTH] = 1
        return run_on(runtime, conn, schema, rule, record_id, "button", 1, actor_id=actor.user_id,
                      key=f"button:{rule_name}:{record_id}:{queue.now().timestamp()}", check_condition=True)


def _require_update(runtime: Any, conn: Connection, schema: Any, actor: Any, object_name: str, record_id: int) -> None:
    from core.records import NotFound  # noqa: PLC0415
    from core.records.reading import ReadRecords  # noqa: PLC0415

    reads = ReadRecords(runtime.records, conn, schema, actor)
    try:
        runtime.records._fetch(conn, schema, object_name, record_id, access=schema.access(actor), actor=actor)
    except NotFound:
        raise LookupError(f"there is no {object_name} {record_id} you may read") from None
    if record_id not in reads.updatable(object_name, [record_id]):
        raise PermissionError(f"you may not change this {object_name}")


def buttons(schema: Any, object_name: str, record: Mapping[str, Any]) -> list[Rule]:
    """The button rules of an object whose condition the record meets."""
    rules = rules_of(schema).of(object_name)
    return [rule for rule in (rules.button if rules else []) if rule.condition.matches(record)]


# --- the log ------------------------------------------------------------------------------------------------


def runs(conn: Connection, *, rule: str | None = None, object_name: str | None = None, record_id: int | None = None,
         limit: int = 50, before_id: int | None = None) -> list[dict]:
    """Runs, newest first: of a rule, or on a record."""
    query = select(automation_run).order_by(automation_run.c.id.desc()).limit(limit)
    if rule is not None:
        query = query.where(automation_run.c.rule == rule)
    if object_name is not None:
        query = query.where(automation_run.c.object == object_name, automation_run.c.record_id == record_id)
    if before_id is not None:
        query = query.where(automation_run.c.id < before_id)
    return [_shown(row) for row in conn.execute(query).mappings()]


def _shown(row: Mapping) -> dict:
    made = dict(row)
    made["created_at"] = row["created_at"].astimezone(dt.timezone.utc).isoformat() if row["created_at"] else None
    return made


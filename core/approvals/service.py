"""Approvals: a record submitted to an approval process, decided step by step, locked while pending.

An approval process (metadata kind ``approval_process``, docs/automation.md#approvals) names its object, an
``entry`` condition the record must meet to be submitted, its ``steps`` (each with a ``condition``: a step whose
condition does not hold when it would start is skipped; its ``approvers``, resolved when the step starts; and
``decide``: ``first``, the first decision settles the step, or ``all``, every approver must approve and one rejection
rejects) and the field values set on submit, approval, rejection and recall.

- **Submitting** needs read and update access to the record, its entry condition met and no submission pending.
  ``manager`` among a step's approvers is the submitter's manager; only users who may read the record are approvers,
  and the submitter never is.
- **Deciding** is for the current step's approvers and administrators (an administrator's decision settles the step
  whatever its ``decide``), never for the submitter. A rejection rejects the whole submission.
- **Recalling** is for the submitter and administrators.
- **While pending** every update of the record through the record service is refused (``refuse_locked``, a step of
  the write pipeline) with the process and the date it was submitted, except the approval's own ``on_*`` changes,
  which are made as trusted code.

Each submission, decision and recall is written to the record's field history as the entry ``_approval`` (who, what,
the step and the comment), which the record page's timeline shows. Approvers are notified in the app, and by the
process's e-mail template when it names one; the submitter is notified of the outcome. All of it happens in one
transaction with the record's changes.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core import conditions, recipients
from core.coretables import approval, approval_decision, field_history
from core.fieldtypes import iso_utc
from core.naming import record_name
from core.notifications import notify
from core.records.actor import Actor
from core.records.errors import Forbidden, NotFound, RecordError, Refused
from core.records.transaction import TransactionRecords
from core.stage_gates import said
from core.validation import FieldError
from core.words import USER_LANGUAGE, hint, sentence

PENDING, APPROVED, REJECTED, RECALLED = "pending", "approved", "rejected", "recalled"
APPROVE, REJECT = "approve", "reject"
DECISIONS = (APPROVE, REJECT)
HISTORY_ENTRY = "_approval"  # the field history entry of a submission, decision or recall; no field has this name
COMMENT_LIMIT = 2000

_unlocked: ContextVar[frozenset] = ContextVar("tessera_approval_unlocked", default=frozenset())


@contextmanager
def unlocked(object_name: str, record_id: int) -> Iterator[None]:
    """Within it, the approval's own changes to the record pass its lock."""
    token = _unlocked.set(_unlocked.get() | {(object_name, record_id)})
    try:
        yield
    finally:
        _unlocked.reset(token)


def processes_of(meta: Any, object_name: str, active_only: bool = False) -> dict[str, dict]:
    """The approval processes of an object, by name, in the order the metadata gives them."""
    return {name: body for name, body in meta.approval_processes.items()
            if body.get("object") == object_name and not (active_only and body.get("active") is False)}


def since_text(when: dt.datetime | None) -> str:
    """When a submission was made, as refusals name it: '2026-12-07 18:05 UTC'."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _label(body: Mapping | None, name: str):
    return said((body or {}).get("label"), name)


def lock_problem(meta: Any, row: Any) -> FieldError:
    body = meta.approval_processes.get(row.process)
    return FieldError.coded("", "approval_locked", process=_label(body, row.process), since=since_text(row.submitted_at))


def refuse_locked(w: Any) -> None:
    """Write pipeline step: an update of a record awaiting approval is refused (the approval's own changes pass)."""
    if w.creating or not processes_of(w.schema.meta, w.obj.name):
        return
    ids = [item.record_id for item in w.items]
    rows = {row.record_id: row for row in w.conn.execute(
        select(approval.c.record_id, approval.c.process, approval.c.submitted_at)
        .where(approval.c.object == w.obj.name, approval.c.record_id.in_(ids), approval.c.status == PENDING))}
    if not rows:
        return
    allowed = _unlocked.get()
    w.refuse({i: [lock_problem(w.schema.meta, rows[item.record_id])] for i, item in enumerate(w.items)
              if item.record_id in rows and (w.obj.name, item.record_id) not in allowed})


def delete_refusal(conn: Connection, meta: Any, object_name: str, record_id: int) -> Any:
    """Why a record may not be deleted now (it awaits approval), or None."""
    if not processes_of(meta, object_name):
        return None
    row = pending(conn, object_name, record_id)
    return None if row is None else lock_problem(meta, row).said


def pending(conn: Connection, object_name: str, record_id: int, lock: bool = False) -> sa.Row | None:
    statement = select(approval).where(approval.c.object == object_name, approval.c.record_id == record_id, approval.c.status == PENDING)
    return conn.execute(statement.with_for_update() if lock else statement).first()


def latest(conn: Connection, object_name: str, record_id: int, process: str | None = None) -> sa.Row | None:
    """The record's last submission (to ``process``, when given), whatever its status; None when it has none."""
    statement = select(approval).where(approval.c.object == object_name, approval.c.record_id == record_id)
    if process is not None:
        statement = statement.where(approval.c.process == process)
    return conn.execute(statement.order_by(approval.c.id.desc()).limit(1)).first()


def status(conn: Connection, object_name: str, record_id: int, process: str | None = None) -> str | None:
    """The status of the record's last submission (to ``process``): pending, approved, rejected, recalled or None.
    For plugins' checks, on the connection of the transaction they run in (``event.records.connection``)."""
    row = latest(conn, object_name, record_id, process)
    return None if row is None else row.status


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def label_in(labels: Mapping, lang: str, fallback: str) -> str:
    """A metadata label in ``lang`` ("en" or "zh-CN"), else English, else ``fallback``."""
    return labels.get(lang) or labels.get("en") or fallback


def _comment(comment: Any) -> str | None:
    if comment is None:
        return None
    text = str(comment).strip()
    return text[:COMMENT_LIMIT] or None


class Approvals:
    """The approval service over a runtime: submit, decide, recall and read the state, each as an actor."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    # --- reading ------------------------------------------------------------------------------------------

    def state(self, actor: Actor, object_name: str, record_id: Any) -> dict:
        """The record's approval as the actor may see it: the last submission, its decisions, and what the actor may do."""
        with self.runtime.records.reading(actor) as reads:
            records = TransactionRecords(self.runtime.records, reads.connection, reads.schema, actor)
            record, _trusted, rid = self._read(records, actor, object_name, record_id)
            return self._state(records, actor, object_name, rid, record, rid in reads.updatable(object_name, [rid]))

    def _may_update(self, records: TransactionRecords, actor: Actor, object_name: str, record_id: int) -> bool:
        """Whether the actor may change the record (inside a write transaction: its row is locked)."""
        schema = records.schema
        return record_id in self.runtime.records._current_rows(records.connection, schema, schema.access(actor), actor,
                                                               schema.tables.table(object_name), object_name, [record_id])[1]

    def _state(self, records: TransactionRecords, actor: Actor, object_name: str, record_id: int, record: dict,
               may_update: bool | None = None) -> dict:
        conn, meta = records.connection, records.schema.meta
        row = latest(conn, object_name, record_id)
        access = records.schema.access(actor)
        admin = access.admin or access.trusted
        if may_update is None:
            may_update = self._may_update(records, actor, object_name, record_id)
        state: dict[str, Any] = {"object": object_name, "record_id": record_id, "id": None, "process": None, "process_label": None,
                                 "status": None, "locked": False, "step": None, "approvers": [], "submitted_by": None,
                                 "submitted_at": None, "comment": None, "finished_at": None, "decisions": [], "steps": []}
        submittable = []
        if row is None or row.status != PENDING:
            trusted = records.get(object_name, record_id) if may_update else None
            if trusted is not None:
                submittable = [name for name, body in processes_of(meta, object_name, active_only=True).items()
                               if self._entry(meta, object_name, body).matches(trusted, None, _fetcher(records))]
        state["may"] = {"submit": submittable, "decide": False, "recall": False}
        if row is None:
            return state
        body = meta.approval_processes.get(row.process) or {}
        names = self._names(records, [row.submitted_by, *row.approvers])
        decisions = conn.execute(select(approval_decision).where(approval_decision.c.approval_id == row.id)
                                 .order_by(approval_decision.c.id)).all()
        names.update(self._names(records, [d.user_id for d in decisions]))
        steps = body.get("steps") or []
        step = steps[row.step] if row.step is not None and row.step < len(steps) else None
        decided_here = {d.user_id for d in decisions if d.step == row.step}
        state.update({
            "id": row.id, "process": row.process, "process_label": body.get("label") or {"en": row.process}, "status": row.status,
            "locked": row.status == PENDING,
            "step": None if row.status != PENDING else {"index": row.step, "name": row.step_name,
                                                        "label": (step or {}).get("label") or {"en": row.step_name},
                                                        "decide": (step or {}).get("decide", "first")},
            "approvers": [{"id": u, "name": names.get(u, f"#{u}"), "decided": u in decided_here} for u in row.approvers],
            "submitted_by": {"id": row.submitted_by, "name": names.get(row.submitted_by) or row.submitted_by_name},
            "submitted_at": iso_utc(row.submitted_at), "comment": row.comment,
            "finished_at": iso_utc(row.finished_at) if row.finished_at else None,
            "decisions": [{"step": d.step_name, "user": {"id": d.user_id, "name": names.get(d.user_id) or d.user_name},
                           "decision": d.decision, "comment": d.comment, "decided_at": iso_utc(d.decided_at)} for d in decisions],
            "steps": [{"name": s["name"], "label": s.get("label") or {"en": s["name"]}} for s in steps],
        })
        if row.status == PENDING:
            mine = actor.user_id is not None and actor.user_id == row.submitted_by
            state["may"]["decide"] = not mine and (admin or actor.user_id in row.approvers) and actor.user_id not in decided_here
            state["may"]["recall"] = mine or admin
        return state

    def _by_language(self, records: TransactionRecords, people: list[int]) -> dict[str, list[int]]:
        """People by the language they read (a notification's params are said in it: the process's label)."""
        if not people:
            return {}
        user = records.schema.tables.table("user")
        chosen = dict(records.connection.execute(select(user.c.id, user.c.language).where(user.c.id.in_(people))).all())
        grouped: dict[str, list[int]] = {}
        for person in people:
            grouped.setdefault(USER_LANGUAGE.get(chosen.get(person) or "", "en"), []).append(person)
        return grouped

    def _names(self, records: TransactionRecords, ids: list) -> dict[int, str]:
        wanted = sorted({i for i in ids if isinstance(i, int)})
        if not wanted:
            return {}
        user = records.schema.tables.table("user")
        rows = records.connection.execute(select(user.c.id, user.c.full_name, user.c.username).where(user.c.id.in_(wanted)))
        return {r.id: r.full_name or r.username for r in rows}

    # --- submitting ------------------------------------------------------------------------------------------

    def submit(self, actor: Actor, object_name: str, record_id: Any, process: str | None = None, comment: Any = None) -> dict:
        """Submit the record to ``process`` (else to the first active process of its object whose entry holds)."""
        with self.runtime.records.transaction(actor) as records:
            return self.submit_in(records, actor, object_name, record_id, process, comment)

    def submit_in(self, records: TransactionRecords, actor: Actor, object_name: str, record_id: Any, process: str | None = None,
                  comment: Any = None) -> dict:
        """``submit`` inside the transaction of ``records`` (a workflow rule's, submitting as the system)."""
        record, trusted, rid = self._read(records, actor, object_name, record_id)
        conn, meta = records.connection, records.schema.meta
        if not self._may_update(records, actor, object_name, rid):  # locks the record's row: one submission at a time
            raise Forbidden(sentence("approval_may_not_submit"), object_name, "update", rid)
        waiting = pending(conn, object_name, rid)
        if waiting is not None:
            raise Refused(sentence("approval_pending_already", process=_label(meta.approval_processes.get(waiting.process), waiting.process),
                                   since=since_text(waiting.submitted_at)))
        name, body = self._choose(meta, object_name, trusted, process, _fetcher(records))
        now = _now()
        approval_id = conn.execute(sa.insert(approval).values(
            object=object_name, record_id=rid, process=name, status=PENDING, step=None, step_name=None, approvers=[],
            submitted_by=actor.user_id, submitted_by_name=actor.name[:200], submitted_at=now, comment=_comment(comment),
            finished_at=None).returning(approval.c.id)).scalar_one()
        self._history(records, actor, object_name, rid, {"action": "submit", "process": name, "comment": _comment(comment)}, now)
        trusted = self._set(records, actor, object_name, rid, body.get("on_submit"), trusted)
        row = conn.execute(select(approval).where(approval.c.id == approval_id)).one()
        self._start(records, actor, row, body, trusted, 0, first=True)
        return self._state(records, actor, object_name, rid, records.get(object_name, rid))

    def _choose(self, meta: Any, object_name: str, record: dict, process: str | None, fetch: Any = None) -> tuple[str, dict]:
        active = processes_of(meta, object_name, active_only=True)
        if process is not None:
            body = active.get(process)
            if body is None:
                raise NotFound(sentence("approval_unknown_process", name=process, object=object_name, hint=hint(process, active)))
            if not self._entry(meta, object_name, body).matches(record, None, fetch):
                raise Refused(sentence("approval_entry_not_met", process=_label(body, process)))
            return process, body
        for name, body in active.items():
            if self._entry(meta, object_name, body).matches(record, None, fetch):
                return name, body
        obj = meta.object(object_name)
        raise Refused(sentence("approval_no_process", object=said(obj.spec.get("label"), object_name)))

    def _entry(self, meta: Any, object_name: str, body: Mapping) -> conditions.Condition:
        return self._condition(meta, object_name, body.get("entry"))

    def _condition(self, meta: Any, object_name: str, condition: Any) -> conditions.Condition:
        return conditions.compile(meta.object(object_name), condition, meta.fields_with_system(object_name), previous_allowed=False,
                                  meta=meta)

    def _start(self, records: TransactionRecords, actor: Actor, row: sa.Row, body: Mapping, record: dict, start: int,
               first: bool = False) -> None:
        """Start the first step from ``start`` whose condition holds, or approve the submission when none is left."""
        meta, conn = records.schema.meta, records.connection
        steps = body.get("steps") or []
        for index in range(start, len(steps)):
            step = steps[index]
            if step.get("condition") and not self._condition(meta, row.object, step["condition"]).matches(record, None, _fetcher(records)):
                continue
            people = self._approvers(records, row.object, step.get("approvers") or [], record, row.submitted_by)
            if not people and first:
                raise Refused(sentence("approval_no_approvers", step=_label(step, step["name"]), process=_label(body, row.process)))
            conn.execute(sa.update(approval).where(approval.c.id == row.id).values(step=index, step_name=step["name"], approvers=people))
            self._ask(records, row, body, record, people, index)
            return
        self._finish(records, actor, row, body, APPROVED)

    def _approvers(self, records: TransactionRecords, object_name: str, named: list[str], record: dict, submitter: int | None) -> list[int]:
        """The active users a step's approvers name who may read the record; ``manager`` is the submitter's; never the
        submitter."""
        conn, tables = records.connection, records.schema.tables
        found = recipients.resolve(conn, tables, [n for n in named if n != "manager"], record).users
        if "manager" in named:  # a rule submits as the system: then the record owner's manager
            found += recipients.resolve(conn, tables, ["manager"], {"owner": submitter} if submitter is not None else record).users
        people = [u for u in dict.fromkeys(found) if u != submitter]
        return self._readers(records, object_name, record["id"], people)

    def _readers(self, records: TransactionRecords, object_name: str, record_id: int, people: list[int]) -> list[int]:
        """Those of ``people`` whose role lets them read the record: an approver must be able to open it."""
        if not people:
            return []
        schema, conn = records.schema, records.connection
        user, role = schema.tables.table("user"), schema.tables.table("role")
        sets = dict(conn.execute(select(user.c.id, role.c.permission_set).select_from(user.outerjoin(role, role.c.id == user.c.role))
                                 .where(user.c.id.in_(people))).all())
        table = schema.tables.table(object_name)
        readers = []
        for person in people:
            actor = Actor(person, f"#{person}", sets.get(person) or "")
            access = schema.access(actor)
            if access.can(object_name, "read") and record_id in self.runtime.records._current_rows(
                    conn, schema, access, actor, table, object_name, [record_id])[0]:
                readers.append(person)
        return readers

    def _ask(self, records: TransactionRecords, row: sa.Row, body: Mapping, record: dict, people: list[int], index: int) -> None:
        if not people:
            return
        obj = records.schema.meta.object(row.object)
        label = body.get("label") or {}
        submitter = self._names(records, [row.submitted_by]).get(row.submitted_by) or row.submitted_by_name
        params = {"submitter": submitter, "title": str(record_name(obj, record) or f"#{row.record_id}")}
        key = f"approval:{row.id}:{index}"
        for lang, readers in self._by_language(records, people).items():
            notify(records.connection, readers, "approval", code="notice_approval_asked", params={**params, "process": label_in(label, lang, row.process)},
                   object=row.object, record_id=row.record_id, actor_id=row.submitted_by, actor_name=row.submitted_by_name, key=key)
        template = body.get("email_template")
        if template and template in records.schema.meta.email_templates:
            from core.mail import send_template  # noqa: PLC0415 - mail renders records through the runtime

            send_template(records.connection, self.runtime, template, record, people, key=key, sender=row.submitted_by)

    # --- deciding --------------------------------------------------------------------------------------------

    def decide(self, actor: Actor, object_name: str, record_id: Any, decision: str, comment: Any = None) -> dict:
        """Approve or reject the current step as one of its approvers (or an administrator)."""
        if decision not in DECISIONS:
            raise ValueError(f"a decision is 'approve' or 'reject', not {decision!r}")
        with self.runtime.records.transaction(actor) as records:
            record, trusted, rid = self._read(records, actor, object_name, record_id)
            conn, meta = records.connection, records.schema.meta
            row = pending(conn, object_name, rid, lock=True)
            if row is None:
                raise Refused(sentence("approval_none_pending"))
            body = meta.approval_processes.get(row.process) or {"name": row.process, "steps": []}
            steps = body.get("steps") or []
            step = steps[row.step] if row.step is not None and row.step < len(steps) else {"name": row.step_name or "", "decide": "first"}
            access = records.schema.access(actor)
            admin = access.admin or access.trusted
            if actor.user_id is not None and actor.user_id == row.submitted_by:
                raise Forbidden(sentence("approval_own_request"), object_name, "update", rid)
            if actor.user_id not in row.approvers and not admin:
                raise Forbidden(sentence("approval_not_approver", step=_label(step, row.step_name or ""), process=_label(body, row.process)),
                                object_name, "update", rid)
            done = {d.user_id: d.decision for d in conn.execute(select(approval_decision.c.user_id, approval_decision.c.decision)
                                                                 .where(approval_decision.c.approval_id == row.id, approval_decision.c.step == row.step))}
            if actor.user_id in done:
                raise Refused(sentence("approval_decided_already"))
            now, said_comment = _now(), _comment(comment)
            conn.execute(sa.insert(approval_decision).values(approval_id=row.id, step=row.step, step_name=row.step_name or "",
                                                             user_id=actor.user_id, user_name=actor.name[:200], decision=decision,
                                                             comment=said_comment, decided_at=now))
            done[actor.user_id] = decision
            if decision == REJECT:
                outcome = REJECTED
            elif step.get("decide") == "all" and actor.user_id in row.approvers and not all(done.get(u) == APPROVE for u in row.approvers):
                outcome = PENDING
            else:
                outcome = "next"
            self._history(records, actor, object_name, rid, {"action": decision, "process": row.process, "step": row.step_name,
                                                             "comment": said_comment}, now)
            if outcome == REJECTED:
                self._finish(records, actor, row, body, REJECTED, said_comment)
            elif outcome == "next":
                self._start(records, actor, row, body, trusted, (row.step or 0) + 1)
            return self._state(records, actor, object_name, rid, records.get(object_name, rid))

    def recall(self, actor: Actor, object_name: str, record_id: Any, comment: Any = None) -> dict:
        """Take the record back from approval: its submitter or an administrator."""
        with self.runtime.records.transaction(actor) as records:
            _record, _trusted, rid = self._read(records, actor, object_name, record_id)
            conn, meta = records.connection, records.schema.meta
            row = pending(conn, object_name, rid, lock=True)
            if row is None:
                raise Refused(sentence("approval_none_pending"))
            access = records.schema.access(actor)
            if not (access.admin or access.trusted) and (actor.user_id is None or actor.user_id != row.submitted_by):
                raise Forbidden(sentence("approval_recall_submitter", submitter=row.submitted_by_name), object_name, "update", rid)
            body = meta.approval_processes.get(row.process) or {"name": row.process, "steps": []}
            self._history(records, actor, object_name, rid, {"action": "recall", "process": row.process, "comment": _comment(comment)}, _now())
            self._finish(records, actor, row, body, RECALLED, _comment(comment))
            return self._state(records, actor, object_name, rid, records.get(object_name, rid))

    # --- settling --------------------------------------------------------------------------------------------

    def _finish(self, records: TransactionRecords, actor: Actor, row: sa.Row, body: Mapping, outcome: str, comment: str | None = None) -> None:
        conn = records.connection
        conn.execute(sa.update(approval).where(approval.c.id == row.id).values(status=outcome, finished_at=_now()))
        key = {APPROVED: "on_approve", REJECTED: "on_reject", RECALLED: "on_recall"}[outcome]
        record = self._set(records, actor, row.object, row.record_id, body.get(key), None)
        obj = records.schema.meta.object(row.object)
        label = body.get("label") or {}
        params = {"actor": self._names(records, [actor.user_id]).get(actor.user_id) or actor.name,
                  "title": str(record_name(obj, record) or f"#{row.record_id}"), "comment": comment or "—"}
        if outcome == RECALLED:
            people = [u for u in conn.execute(select(approval.c.approvers).where(approval.c.id == row.id)).scalar() or [] if u != actor.user_id]
            code = "notice_approval_recalled"
        else:
            people = [row.submitted_by] if row.submitted_by is not None and row.submitted_by != actor.user_id else []
            code = "notice_approval_approved" if outcome == APPROVED else "notice_approval_rejected"
        for lang, readers in self._by_language(records, people).items():
            notify(conn, readers, "approval", code=code, params={**params, "process": label_in(label, lang, row.process)}, object=row.object,
                   record_id=row.record_id, actor_id=actor.user_id, actor_name=actor.name, key=f"approval:{row.id}:{outcome}")

    def _set(self, records: TransactionRecords, actor: Actor, object_name: str, record_id: int, values: Mapping | None,
             record: dict | None) -> dict:
        """The process's field values written as trusted code, past the record's lock; the record as it is then."""
        if values:
            current = record if record is not None else records.get(object_name, record_id)
            with unlocked(object_name, record_id):
                return records.trusted().update(object_name, record_id, self._values(records, values, current))
        return record if record is not None else records.get(object_name, record_id)

    def _values(self, records: TransactionRecords, values: Mapping, record: dict) -> dict:
        from core.automations.documents import computed  # noqa: PLC0415 - the values rules and processes share

        user = records.schema.tables.table("user")
        result = {}
        for name, value in values.items():
            if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)).startswith("$"):
                value = computed(*next(iter(value.items())), record,
                                 lambda login: records.connection.execute(select(user.c.id).where(user.c.username == login)).scalar())
            result[name] = value
        return result

    # --- helpers ---------------------------------------------------------------------------------------------

    def _read(self, records: TransactionRecords, actor: Actor, object_name: str, record_id: Any) -> tuple[dict, dict, int]:
        """The record as the actor may read it (NotFound otherwise), the record as stored (trusted), and its id."""
        checked = TransactionRecords(self.runtime.records, records.connection, records.schema, actor, checked=True)
        record = checked.get(object_name, record_id)
        return record, records.get(object_name, record["id"]), record["id"]

    def _history(self, records: TransactionRecords, actor: Actor, object_name: str, record_id: int, entry: dict, now: dt.datetime) -> None:
        table = records.schema.tables.table(object_name)
        version = records.connection.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
        records.connection.execute(field_history.insert().values(
            object=object_name, record_id=record_id, field=HISTORY_ENTRY, old_value=None,
            new_value={k: v for k, v in entry.items() if v is not None}, record_version=version or 0, changed_at=now,
            changed_by=actor.user_id, changed_by_name=actor.name[:200]))


def _fetcher(records: TransactionRecords):
    """A record by object and id, as the transaction's records read it (None when gone): what an expression condition
    following a lookup reads."""
    def fetch(object_name: str, record_id: int) -> dict | None:
        try:
            return records.trusted().get(object_name, record_id)
        except RecordError:
            return None

    return fetch

"""Import jobs in the database: one row per import with its progress.

A real run saves its progress in the transaction of each batch, so the row always says
which rows are done: a resumed run starts at ``next_row`` and never writes a row twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select

from core.coretables import import_job
from core.db import read_transaction, write_transaction
from core.records import Refused
from core.words import Sentence, sentence

RESUMABLE = ("running", "interrupted", "failed")
STALLED = dt.timedelta(minutes=2)  # a running job no process has moved on for this long has stopped with its process


class ImportBusy(Refused):
    """Another process is importing the same file into the same object right now."""


class JobTaken(RuntimeError):
    """Another process advanced the same job."""


@dataclass
class Job:
    id: int
    object: str
    source: str
    fingerprint: str
    dry_run: bool
    status: str = "running"
    next_row: int = 2
    rows_total: int | None = None
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    rejected_path: str | None = None
    rejected_bytes: int = 0
    pending: list[dict] = field(default_factory=list)
    message: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped, "rejected": self.rejected}


def digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def start(engine: Engine, object_name: str, source: str, fingerprint: str, settings: dict, dry_run: bool,
          rows_total: int | None, rejected_path: str | None, actor, then: Callable[[Connection, Job], None] | None = None) -> Job:
    """A new job, status running; ``then`` is called in the transaction that makes it (to enqueue its run, say)."""
    now = _now()
    with write_transaction(engine) as conn:
        if not dry_run:
            _refuse_a_second_run(conn, object_name, fingerprint, now)
        job_id = conn.execute(import_job.insert().values(
            object=object_name, source=source, fingerprint=fingerprint, settings=settings, settings_digest=digest(settings),
            dry_run=dry_run, status="running", next_row=2, rows_total=rows_total, created=0, updated=0, skipped=0, rejected=0,
            rejected_path=rejected_path, rejected_bytes=0, pending=[], created_by=actor.user_id, created_by_name=actor.name,
            started_at=now, updated_at=now,
        ).returning(import_job.c.id)).scalar_one()
        job = Job(job_id, object_name, source, fingerprint, dry_run, rows_total=rows_total, rejected_path=rejected_path)
        if then is not None:
            then(conn, job)
    return job


def resumable(engine: Engine, object_name: str, fingerprint: str, settings: dict) -> Job | None:
    """The latest unfinished real run of the same file with the same settings, if any."""
    with read_transaction(engine) as conn:
        row = conn.execute(
            select(import_job).where(import_job.c.object == object_name, import_job.c.fingerprint == fingerprint,
                                     import_job.c.settings_digest == digest(settings), import_job.c.dry_run.is_(False),
                                     import_job.c.status.in_(RESUMABLE))
            .order_by(import_job.c.id.desc()).limit(1)
        ).first()
    return _job(row) if row is not None else None


def claim(engine: Engine, job: Job, then: Callable[[Connection, Job], None] | None = None) -> None:
    """Take over a resumable job; ImportBusy while another process or worker still moves it on. ``then`` is called in
    the transaction that takes it."""
    now = _now()
    with write_transaction(engine) as conn:
        taken = conn.execute(sa.update(import_job)
                             .where(import_job.c.id == job.id,
                                    sa.or_(import_job.c.status != "running", import_job.c.updated_at < now - STALLED))
                             .values(status="running", message=None, updated_at=now)).rowcount
        if taken == 1 and then is not None:
            then(conn, job)
    if taken != 1:
        raise ImportBusy(_busy(job.id))


def _refuse_a_second_run(conn: Connection, object_name: str, fingerprint: str, now: dt.datetime) -> None:
    """Within the transaction that starts a real run: none of the same file may be going on (two would import it twice)."""
    if conn.dialect.name == "postgresql":  # SQLite's writing transaction already holds the database's write lock
        key = int.from_bytes(hashlib.sha256(f"import {object_name} {fingerprint}".encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    going = conn.execute(select(import_job.c.id).where(
        import_job.c.object == object_name, import_job.c.fingerprint == fingerprint, import_job.c.dry_run.is_(False),
        import_job.c.status == "running", import_job.c.updated_at >= now - STALLED).limit(1)).scalar()
    if going is not None:
        raise ImportBusy(_busy(going))


def _busy(job_id: int) -> Sentence:
    return sentence("import_busy", job=job_id, minutes=int(STALLED.total_seconds() // 60))


def load(engine: Engine, job_id: int) -> Job | None:
    with read_transaction(engine) as conn:
        row = conn.execute(select(import_job).where(import_job.c.id == job_id)).first()
    return _job(row) if row is not None else None


def describe(engine: Engine, job_id: int) -> dict | None:
    """A job as the API and the UI show it: its counts, status and where it is."""
    with read_transaction(engine) as conn:
        row = conn.execute(select(import_job).where(import_job.c.id == job_id)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    for key in ("started_at", "updated_at", "finished_at"):
        data[key] = data[key].isoformat() if data[key] is not None else None
    return data


def _job(row: sa.Row) -> Job:
    m = row._mapping
    return Job(m["id"], m["object"], m["source"], m["fingerprint"], m["dry_run"], m["status"], m["next_row"], m["rows_total"],
               m["created"], m["updated"], m["skipped"], m["rejected"], m["rejected_path"], m["rejected_bytes"],
               list(m["pending"] or []), m["message"])


def save_progress(conn: Connection, job: Job, next_row: int) -> None:
    """Record a completed batch inside its transaction; refuse if another process moved the job on."""
    result = conn.execute(
        sa.update(import_job).where(import_job.c.id == job.id, import_job.c.next_row == job.next_row)
        .values(next_row=next_row, **job.counts, rejected_bytes=job.rejected_bytes, pending=job.pending, updated_at=_now())
    )
    if result.rowcount != 1:
        raise JobTaken(f"import job {job.id} is being run by another process; let it finish")
    job.next_row = next_row


def save_dry_progress(engine: Engine, job: Job, next_row: int) -> None:
    with write_transaction(engine) as conn:
        save_progress(conn, job, next_row)


def finish(engine: Engine, job: Job, status: str, message: str | None = None) -> None:
    job.status, job.message = status, message
    with write_transaction(engine) as conn:
        conn.execute(sa.update(import_job).where(import_job.c.id == job.id).values(
            status=status, message=message, pending=job.pending, updated_at=_now(),
            finished_at=_now() if status == "done" else None))


def as_dict(job: Job) -> dict[str, Any]:
    return {"id": job.id, "object": job.object, "status": job.status, "next_row": job.next_row, **job.counts}

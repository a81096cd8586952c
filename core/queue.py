"""One durable job queue in the application database, for everything that runs later.

A job is enqueued inside the transaction that causes it (``enqueue``), so it exists exactly
when that transaction commits. Workers ``claim`` due jobs under a lease: on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so that any number of workers in any number of processes share
the queue and none takes a job another holds; on SQLite the claim is one write transaction,
which SQLite runs one at a time. A job whose worker stopped keeps its lease until it expires;
then another worker takes it again. A job that raises is retried after a backoff that doubles
with each attempt, with jitter, until its attempts run out: then it is dead, with its error,
until an administrator retries it. An idempotency key keeps one job per key however often it
is enqueued. This is the shape of Solid Queue, Oban and GoodJob: no broker to install.

A job's effect must be safe to repeat: a worker can stop after the effect and before it marks
the job done, and the job then runs again. Handlers use the job's id or key to keep their
effects single.

Times are the workers' clocks (UTC), compared with what they wrote: machines sharing a
PostgreSQL queue keep their clocks in step (NTP), as leases are measured in minutes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.coretables import job as job_table
from core.db import AFTER_COMMIT, after_commit, write_transaction

log = logging.getLogger("tessera.queue")

STATES = ("queued", "running", "done", "dead")
DEFAULT_QUEUE = "default"
DEFAULT_ATTEMPTS = 5
LEASE = dt.timedelta(minutes=5)
BACKOFF_FIRST = dt.timedelta(seconds=10)
BACKOFF_MOST = dt.timedelta(hours=1)
ERROR_LIMIT = 4000  # characters of a job's last error that are kept
REST_MOST = 60.0  # seconds an idle worker rests at most before it reads the queue again, woken or not


@dataclass(frozen=True)
class Job:
    """A claimed job, as its handler sees it."""

    id: int
    queue: str
    kind: str
    payload: Any
    attempts: int  # this one included
    max_attempts: int
    key: str | None
    locked_until: dt.datetime
    worker: str = ""  # the worker holding it: what ``extend`` needs to renew the lease of a long job


Handler = Callable[[Any, Job], None]  # (runtime, job); raising fails the attempt


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_wake = threading.Event()  # set when this process commits a job: its idle workers look at once


def wake() -> None:
    """Have this process's idle workers look for due jobs now."""
    _wake.set()


CHANNEL = "tessera_jobs"  # PostgreSQL's notification channel: workers of other processes LISTEN on it


def _announce(conn: Connection) -> None:
    """Once per write transaction: wake this process's idle workers when it commits, and on PostgreSQL tell other
    processes' (NOTIFY is delivered at commit, and never for a transaction rolled back)."""
    if wake in conn.info.get(AFTER_COMMIT, ()):
        return
    after_commit(conn, wake)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"NOTIFY {CHANNEL}"))


def listen(engine: Engine, stop: threading.Event, timeout: float = 1.0) -> None:
    """Until ``stop``: wake this process's idle workers whenever another process commits a job (PostgreSQL's LISTEN,
    on a connection of its own). Reconnects after a lost connection."""
    import psycopg  # noqa: PLC0415 - PostgreSQL only

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                while not stop.is_set():
                    if any(True for _ in conn.notifies(timeout=timeout, stop_after=1)):
                        wake()
        except Exception:  # noqa: BLE001 - the server restarting, say: workers still look every few seconds meanwhile
            log.exception("listening for new jobs failed; trying again in 5 s")
            stop.wait(5)


def enqueue(conn: Connection, kind: str, payload: Any = None, *, queue: str = DEFAULT_QUEUE, run_at: dt.datetime | None = None,
            key: str | None = None, max_attempts: int = DEFAULT_ATTEMPTS, priority: int = 0) -> int:
    """Add a job in the caller's transaction (it exists if and only if that commits); its id. With ``key``, a job
    already enqueued under the key is kept and its id returned: one job per key, however often it is asked for.
    When the transaction commits, this process's idle workers are woken."""
    _check(kind, queue, key, max_attempts, run_at)
    values = {"queue": queue, "kind": kind, "payload": {} if payload is None else payload, "state": "queued", "priority": priority,
              "run_at": run_at or now(), "attempts": 0, "max_attempts": max_attempts, "key": key, "created_at": now()}
    if key is None:
        _announce(conn)
        return conn.execute(sa.insert(job_table).values(**values).returning(job_table.c.id)).scalar_one()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    made = conn.execute(insert(job_table).values(**values).on_conflict_do_nothing(index_elements=["key"])
                        .returning(job_table.c.id)).scalar()
    if made is not None:
        _announce(conn)  # a key already taken made no job: nobody is woken for nothing (the scheduler's ticks, say)
        return made
    return conn.execute(select(job_table.c.id).where(job_table.c.key == key)).scalar_one()


def enqueue_many(conn: Connection, kind: str, jobs_: Sequence[tuple[Any, str | None]], *, queue: str = DEFAULT_QUEUE,
                 max_attempts: int = DEFAULT_ATTEMPTS, priority: int = 0) -> None:
    """``enqueue`` for many jobs of one kind at once, each a (payload, key): one statement, whatever their number (a
    batch of records written with webhooks subscribed, say). A job whose key is taken already is left as it is."""
    if not jobs_:
        return
    for _payload, key in jobs_:
        _check(kind, queue, key, max_attempts, None)
    _announce(conn)
    moment = now()
    rows = [{"queue": queue, "kind": kind, "payload": {} if payload is None else payload, "state": "queued", "priority": priority,
             "run_at": moment, "attempts": 0, "max_attempts": max_attempts, "key": key, "created_at": moment} for payload, key in jobs_]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(job_table).on_conflict_do_nothing(index_elements=["key"]), rows)


def _check(kind: str, queue: str, key: str | None, max_attempts: int, run_at: dt.datetime | None) -> None:
    """A job is enqueued by code, not typed by a user: a mistake here is a programming error, said plainly."""
    if not kind or len(kind) > 128:
        raise ValueError(f"a job's kind is 1 to 128 characters, not {kind!r}")
    if not queue or len(queue) > 64:
        raise ValueError(f"a queue's name is 1 to 64 characters, not {queue!r}")
    if key is not None and not 1 <= len(key) <= 200:
        raise ValueError(f"an idempotency key is 1 to 200 characters, not {key!r}")
    if max_attempts < 1:
        raise ValueError(f"a job needs at least one attempt, not {max_attempts}")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must say its time zone (UTC, say)")


LEASES_LOOKED_AT: dict[int, float] = {}  # per engine: when this process last looked for jobs whose lease ran out
LEASE_LOOK_SECONDS = 5.0  # leases last minutes: looking for lapsed ones every few seconds is enough


def claim(engine: Engine, worker: str, queues: Sequence[str] | None = None, lease: dt.timedelta = LEASE, limit: int = 1,
          other_than: Sequence[str] = ()) -> list[Job]:
    """Take up to ``limit`` due jobs for ``worker`` under a lease: queued ones whose time has come, by priority and
    time, and running ones whose worker's lease ran out (looked for when no queued one is due, and every few seconds
    besides, so that a busy queue does not keep a stopped worker's job waiting). A lapsed job already on its
    last attempt is dead instead (its worker stopped on it every time), so that a job that kills its worker cannot
    run for ever.

    Each is one ``UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT … FOR UPDATE SKIP LOCKED) RETURNING``, the
    queued jobs read in the order of the index ``(state, priority DESC, run_at, id)`` so that a claim reads only the
    rows it takes: on PostgreSQL a statement of its own (atomic by itself: one round trip, no BEGIN and COMMIT); on
    SQLite, after a read that finds something due, so that an idle worker never takes the write lock.

    ``queues``: only these queues' jobs (all by default); ``other_than``: none of these queues' jobs."""
    moment, c = now(), job_table.c
    in_queues = [c.queue.in_(list(queues))] if queues else []
    if other_than:
        in_queues.append(c.queue.not_in(list(other_than)))
    lapsed = and_(c.state == "running", c.locked_until < moment, *in_queues)
    queued = and_(c.state == "queued", c.run_at <= moment, *in_queues)
    taken: list[Job] = []
    if time.monotonic() - LEASES_LOOKED_AT.get(id(engine), 0.0) > LEASE_LOOK_SECONDS:
        LEASES_LOOKED_AT[id(engine)] = time.monotonic()
        taken += _take(engine, worker, lease, limit, moment, lapsed)
    if len(taken) < limit:
        taken += _take(engine, worker, lease, limit - len(taken), moment, queued)
    if not taken:
        taken += _take(engine, worker, lease, limit, moment, lapsed)
    return taken


def _take(engine: Engine, worker: str, lease: dt.timedelta, limit: int, moment: dt.datetime, due) -> list[Job]:
    c = job_table.c
    postgres = engine.dialect.name == "postgresql"
    pick = select(c.id).where(due).order_by(c.state, c.priority.desc(), c.run_at, c.id).limit(limit)
    if postgres:
        pick = pick.with_for_update(skip_locked=True)
    spent = and_(c.state == "running", c.attempts >= c.max_attempts)
    statement = (update(job_table).where(c.id.in_(pick)).values(
        state=sa.case((spent, "dead"), else_="running"),
        attempts=sa.case((spent, c.attempts), else_=c.attempts + 1),
        locked_by=sa.case((spent, None), else_=worker),
        locked_until=sa.case((spent, None), else_=moment + lease),
        finished_at=sa.case((spent, moment), else_=c.finished_at),
        last_error=sa.case((spent, "its worker stopped while running it, on its last attempt"), else_=c.last_error),
    ).returning(c.id, c.queue, c.kind, c.payload, c.attempts, c.max_attempts, c.key, c.locked_until, c.state, c.priority, c.run_at))
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            rows = conn.execute(statement).all()
    else:
        with engine.connect() as conn:
            if conn.execute(select(c.id).where(due).limit(1)).first() is None:
                return []
        with write_transaction(engine) as conn:
            rows = conn.execute(statement).all()
    taken = sorted((row for row in rows if row.state == "running"), key=lambda row: (-row.priority, row.run_at, row.id))
    return [Job(*row[:8], worker=worker) for row in taken]


def next_due(engine: Engine, queues: Sequence[str] | None = None, other_than: Sequence[str] = ()) -> dt.datetime | None:
    """When the next job of these queues is due: the earliest queued job's time or running job's lease end; None when
    there is none. What an idle worker sleeps until."""
    c = job_table.c
    chosen = [*([c.queue.in_(list(queues))] if queues else []), *([c.queue.not_in(list(other_than))] if other_than else [])]
    with engine.connect() as conn:
        queued = conn.execute(select(sa.func.min(c.run_at)).where(c.state == "queued", *chosen)).scalar()
        running = conn.execute(select(sa.func.min(c.locked_until)).where(c.state == "running", *chosen)).scalar()
    found = [_utc(t) for t in (queued, running) if t is not None]
    return min(found) if found else None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


class _FileChanges:
    """Whether another connection committed to a SQLite database file since the last look: its write-ahead log (or the
    file) changed. A ``stat`` of two files, no SQL: what an idle worker looks at every few seconds on SQLite, where no
    NOTIFY tells it of another process's jobs. Never anything on PostgreSQL or an in-memory database."""

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self.paths = [f"{database}-wal", database] if database and database != ":memory:" and not database.startswith("file:") else []
        self.seen = self._signature()

    def _signature(self) -> tuple:
        found = []
        for path in self.paths:
            try:
                info = os.stat(path)
                found.append((info.st_mtime_ns, info.st_size))
            except OSError:
                found.append(None)
        return tuple(found)

    def changed(self) -> bool:
        if not self.paths:
            return False
        now_seen = self._signature()
        changed, self.seen = now_seen != self.seen, now_seen
        return changed


def complete(engine: Engine, job: Job, worker: str) -> bool:
    """Mark the job done; False when the worker no longer held it (its lease ran out and another took it)."""
    return _finish(engine, job, worker, state="done", finished_at=now(), last_error=None)


def fail(engine: Engine, job: Job, worker: str, error: str) -> str | None:
    """Record a failed attempt: queued again after the backoff, or dead when it was the last; the state it is in
    now, or None when the worker no longer held it."""
    moment = now()
    if job.attempts >= job.max_attempts:
        values = {"state": "dead", "finished_at": moment}
    else:
        values = {"state": "queued", "run_at": moment + backoff(job.attempts)}
    return values["state"] if _finish(engine, job, worker, last_error=error[:ERROR_LIMIT], **values) else None


def _finish(engine: Engine, job: Job, worker: str, **values: Any) -> bool:
    c = job_table.c
    statement = (update(job_table).where(c.id == job.id, c.state == "running", c.locked_by == worker)
                 .values(locked_by=None, locked_until=None, **values))
    return _write_one(engine, statement) == 1


def _write_one(engine: Engine, statement) -> int:
    """Run one writing statement; the rows it changed. On PostgreSQL without BEGIN and COMMIT (one statement is atomic
    by itself, and the round trips are most of its time); on SQLite in a write transaction, after the process's
    other writers."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(statement).rowcount
    with write_transaction(engine) as conn:
        return conn.execute(statement).rowcount


def backoff(attempt: int, rng: random.Random | None = None) -> dt.timedelta:
    """How long after its ``attempt``-th failure a job waits: 10 s, doubling, at most an hour, each between half and
    one and a half times that so that jobs failing together do not come back together."""
    base = min(BACKOFF_FIRST * 2 ** max(attempt - 1, 0), BACKOFF_MOST)
    return base * (rng or random).uniform(0.5, 1.5)


def extend(engine: Engine, job: Job, worker: str, lease: dt.timedelta = LEASE) -> bool:
    """Renew the lease of a long job its worker still holds."""
    c = job_table.c
    return _write_one(engine, update(job_table).where(c.id == job.id, c.state == "running", c.locked_by == worker)
                      .values(locked_until=now() + lease)) == 1


def retry(engine: Engine, job_id: int) -> bool:
    """Queue a dead job again, its attempts counted afresh, and wake the workers; False when there is no dead job
    with that id."""
    c = job_table.c
    with write_transaction(engine) as conn:
        _announce(conn)
        return conn.execute(update(job_table).where(c.id == job_id, c.state == "dead")
                            .values(state="queued", attempts=0, run_at=now(), finished_at=None)).rowcount == 1


def prune(engine: Engine, older_than: dt.timedelta) -> int:
    """Remove the done jobs finished longer ago than ``older_than``; how many. Dead ones stay until retried."""
    c = job_table.c
    return _write_one(engine, sa.delete(job_table).where(c.state == "done", c.finished_at < now() - older_than))


def jobs(conn: Connection, state: str | None = None, queue: str | None = None, limit: int = 100) -> list[sa.Row]:
    """The latest jobs, newest first, of a state and queue if given."""
    c = job_table.c
    conditions = [*([c.state == state] if state else []), *([c.queue == queue] if queue else [])]
    return conn.execute(select(job_table).where(*conditions).order_by(c.id.desc()).limit(limit)).all()


def job_row(conn: Connection, job_id: int) -> sa.Row | None:
    return conn.execute(select(job_table).where(job_table.c.id == job_id)).first()


def counts(conn: Connection) -> dict[tuple[str, str], int]:
    """How many jobs each queue holds in each state."""
    c = job_table.c
    return {(q, s): n for q, s, n in conn.execute(select(c.queue, c.state, sa.func.count()).group_by(c.queue, c.state))}


def worker_name() -> str:
    """This worker's name in the jobs it holds: the machine, the process and the thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:128]


class Worker:
    """Runs jobs: claims one, calls the handler its kind names, then marks it done or failed. A handler that raises
    never stops the worker; a kind no handler serves fails like a raising handler, and ends dead after its attempts."""

    def __init__(self, runtime: Any, handlers: Mapping[str, Handler], queues: Sequence[str] | None = None,
                 lease: dt.timedelta = LEASE, name: str | None = None, other_than: Sequence[str] = ()) -> None:
        self.runtime, self.handlers, self.queues, self.lease = runtime, dict(handlers), queues, lease
        self.other_than = tuple(other_than)
        self.name = name or worker_name()

    def run_once(self) -> Job | None:
        """Run one due job, if there is one; the job it ran."""
        claimed = claim(self.runtime.engine, self.name, self.queues, self.lease, other_than=self.other_than)
        if not claimed:
            return None
        job = claimed[0]
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler runs jobs of kind {job.kind!r}")
            handler(self.runtime, job)
        except Exception as exc:  # noqa: BLE001 - a job's failure is recorded on the job; the worker goes on
            state = fail(self.runtime.engine, job, self.name, f"{type(exc).__name__}: {exc}")
            log.warning("job %s (%s) failed on attempt %s of %s: %s; now %s", job.id, job.kind, job.attempts,
                        job.max_attempts, exc, state or "held by another worker")
        else:
            if not complete(self.runtime.engine, job, self.name):
                log.warning("job %s (%s) ran after its lease ran out; another worker holds it now", job.id, job.kind)
        return job

    def run(self, stop: threading.Event, idle: float = 1.0, most: float | None = None) -> None:
        """Run jobs until ``stop`` is set. With none due, rest until the next job of its queues is due (at most
        ``most`` seconds, a minute by default), or until woken: at once when this process commits a job (and, on
        PostgreSQL, another process: ``listen``); on SQLite, within ``idle`` seconds of another process's commit to
        the database file. An idle worker thus reads nothing from the database until there is something to do."""
        most = REST_MOST if most is None else most
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # noqa: BLE001 - the database away a moment, say: the worker waits and tries again
                log.exception("worker %s could not claim or finish a job; trying again in %s s", self.name, idle)
                ran = None
            if ran is None and not stop.is_set():
                self._rest(stop, idle, most)

    def _rest(self, stop: threading.Event, idle: float, most: float) -> None:
        moment = now()
        try:
            due = next_due(self.runtime.engine, self.queues, self.other_than)
        except Exception:  # noqa: BLE001 - the database away a moment: look again after the short wait
            log.exception("worker %s could not read when the next job is due", self.name)
            due = None
            most = idle
        if due is not None and due <= moment:  # due and not taken (another worker took it just now): look again soon
            due = moment + dt.timedelta(seconds=idle)
        until = moment + dt.timedelta(seconds=most)
        if due is not None and due < until:
            until = due
        files = _FileChanges(self.runtime.engine)
        while not stop.is_set():
            left = (until - now()).total_seconds()
            if left <= 0:
                return
            if _wake.wait(min(idle, left)):
                _wake.clear()
                return
            if files.changed():
                return

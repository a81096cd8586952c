"""The record service under real concurrency: several Runtimes (own engines, own caches)
writing to the same SQLite file or PostgreSQL database at once, from threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from core.db import WRITE
from core.records import Actor, Conflict
from core.runtime import Runtime
from core.settings import Settings
from helpers import changeset, label

WORKERS = 4
PER_WORKER = 25

TICKET = {
    "name": "ticket",
    "label": label("Ticket"),
    "title_field": "subject",
    "fields": [
        {"name": "subject", "type": "text", "label": label("Subject"), "required": True},
        {"name": "number", "type": "autonumber", "label": label("Number"), "prefix": "TCK-", "padding": 6},
    ],
}


@pytest.fixture
def ticket(runtime):
    runtime.import_changeset(changeset(TICKET), "test", "tester")
    return "ticket"


def run_in_own_runtimes(database_url, work):
    """Run ``work(runtime, worker_index)`` in WORKERS threads at once, each with its own Runtime.

    Returns the results in worker order; an exception in any worker is raised here.
    """
    runtimes = [Runtime(Settings(database_url=database_url, plugins=())) for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)

    def worker(index):
        start.wait()
        return work(runtimes[index], index)

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = [pool.submit(worker, i) for i in range(WORKERS)]
            return [f.result() for f in futures]
    finally:
        for rt in runtimes:
            rt.close()


def test_concurrent_inserts_get_distinct_gapless_autonumbers(runtime, database_url, ticket, actor):
    def create_tickets(rt, index):
        return [rt.records.create(actor, ticket, {"subject": f"w{index}-{n}"})["number"] for n in range(PER_WORKER)]

    per_worker = run_in_own_runtimes(database_url, create_tickets)

    numbers = [number for numbers in per_worker for number in numbers]
    assert sorted(numbers) == [f"TCK-{n:06d}" for n in range(1, WORKERS * PER_WORKER + 1)]
    for numbers in per_worker:  # each worker saw its own numbers increase
        assert numbers == sorted(numbers)
    page = runtime.records.list(actor, ticket, {"count": "true", "limit": "1"})
    assert page.count == WORKERS * PER_WORKER


def test_concurrent_batches_get_disjoint_consecutive_ranges(runtime, database_url, ticket, actor):
    def create_batch(rt, index):
        ids = rt.records.create_many(actor, ticket, [{"subject": f"w{index}-{n}"} for n in range(PER_WORKER)])
        return [rt.records.get(actor, ticket, i)["number"] for i in ids]

    per_worker = run_in_own_runtimes(database_url, create_batch)

    numbers = sorted(number for numbers in per_worker for number in numbers)
    assert numbers == [f"TCK-{n:06d}" for n in range(1, WORKERS * PER_WORKER + 1)]
    for batch in per_worker:
        first = int(batch[0].removeprefix("TCK-"))
        assert batch == [f"TCK-{n:06d}" for n in range(first, first + PER_WORKER)]


def test_concurrent_updates_of_one_version_exactly_one_wins(runtime, database_url, actor):
    created = runtime.records.create(actor, "account", {"name": "Acme", "employees": 0})

    def update(rt, index):
        try:
            rt.records.update(Actor(None, f"worker{index}"), "account", created["id"], {"employees": index + 1}, version=1)
            return ("won", index)
        except Conflict as exc:
            return ("conflict", exc)

    outcomes = run_in_own_runtimes(database_url, update)

    winners = [index for kind, index in outcomes if kind == "won"]
    assert len(winners) == 1, outcomes
    winner = winners[0]
    conflicts = [exc for kind, exc in outcomes if kind == "conflict"]
    assert len(conflicts) == WORKERS - 1
    for exc in conflicts:
        assert exc.current_version == 2
        assert [(c["field"], c["new"], c["changed_by_name"]) for c in exc.changes] == [("employees", winner + 1, f"worker{winner}")]
    final = runtime.records.get(actor, "account", created["id"])
    assert (final["employees"], final["version"]) == (winner + 1, 2)
    assert len(runtime.records.history(actor, "account", created["id"])) == 1


def test_writers_of_one_process_take_turns_without_sleeping_in_sqlite(runtime, ticket, actor):
    """Threads of one process writing at once all succeed; on SQLite each waits for the one
    before it in the process (never in SQLite's busy handler, which sleeps up to 100 ms a try)."""
    open_writers, overlaps, lock = [0], [], threading.Lock()

    def before_execute(conn, cursor, statement, *_):
        if statement == "BEGIN IMMEDIATE":
            with lock:
                if open_writers[0]:
                    overlaps.append(threading.get_ident())
                open_writers[0] += 1

    def ended(conn):
        if conn.get_execution_options().get(WRITE) and conn.dialect.name == "sqlite":
            with lock:
                open_writers[0] -= 1

    listeners = [("before_cursor_execute", before_execute), ("commit", ended), ("rollback", ended)]
    for name, listener in listeners:
        sa.event.listen(runtime.engine, name, listener)
    start = threading.Barrier(WORKERS)

    def create_tickets(index):
        start.wait()
        return [runtime.records.create(actor, ticket, {"subject": f"w{index}-{n}"})["id"] for n in range(PER_WORKER)]

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            ids = [i for created in pool.map(create_tickets, range(WORKERS)) for i in created]
    finally:
        for name, listener in listeners:
            sa.event.remove(runtime.engine, name, listener)

    assert len(set(ids)) == WORKERS * PER_WORKER
    assert runtime.records.list(actor, ticket, {"count": "true", "limit": "1"}).count == WORKERS * PER_WORKER
    assert overlaps == []

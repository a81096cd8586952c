"""The job queue (core/queue.py) on a real SQLite file and a real PostgreSQL database: jobs exist exactly when their
transaction commits, one per idempotency key; claims under leases, never one job to two workers; backoff, dead jobs
and their retry; a worker that keeps going whatever its handlers do."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
import sqlalchemy as sa

from core import queue
from core.coretables import job as job_table
from core.db import read_transaction, write_transaction


def add(runtime, kind="note", payload=None, **options) -> int:
    with write_transaction(runtime.engine) as conn:
        return queue.enqueue(conn, kind, payload, **options)


def state(runtime, job_id):
    with read_transaction(runtime.engine) as conn:
        return conn.execute(sa.select(job_table).where(job_table.c.id == job_id)).one()


def test_a_job_exists_exactly_when_the_transaction_that_enqueued_it_commits(runtime):
    with pytest.raises(RuntimeError):
        with write_transaction(runtime.engine) as conn:
            queue.enqueue(conn, "note", {"n": 1})
            raise RuntimeError("the change is refused")
    with read_transaction(runtime.engine) as conn:
        assert queue.jobs(conn) == []
    made = add(runtime, "note", {"n": 2, "text": "中文"})
    row = state(runtime, made)
    assert (row.state, row.payload, row.attempts, row.queue) == ("queued", {"n": 2, "text": "中文"}, 0, "default")


def test_an_idempotency_key_keeps_one_job_however_often_it_is_enqueued(runtime):
    first = add(runtime, key="renewal:contract:7:2027-01")
    assert add(runtime, key="renewal:contract:7:2027-01") == first
    assert add(runtime, key="renewal:contract:8:2027-01") != first
    with read_transaction(runtime.engine) as conn:
        assert len(queue.jobs(conn)) == 2


def test_a_claim_takes_due_jobs_by_priority_then_time_and_leaves_future_and_other_queues_alone(runtime):
    later = add(runtime, "note", run_at=queue.now() + dt.timedelta(hours=1))
    elsewhere = add(runtime, "note", queue="mail")
    low = add(runtime, "note")
    high = add(runtime, "note", priority=5)
    taken = queue.claim(runtime.engine, "w1", queues=["default"], limit=10)
    assert [j.id for j in taken] == [high, low] and all(j.attempts == 1 for j in taken)
    assert queue.claim(runtime.engine, "w2", queues=["default"]) == []  # held: nobody else takes them
    assert state(runtime, later).state == "queued" and state(runtime, elsewhere).state == "queued"
    assert [j.id for j in queue.claim(runtime.engine, "w2", queues=["mail"])] == [elsewhere]


def test_workers_claiming_at_once_never_take_the_same_job(runtime, make_runtime):
    with write_transaction(runtime.engine) as conn:
        made = {queue.enqueue(conn, "note", {"n": n}) for n in range(60)}
    others = [make_runtime(upgrade=False) for _ in range(2)]  # other processes' engines on the same database
    taken: list[list[int]] = [[] for _ in range(6)]

    def claimer(slot: int) -> None:
        engine = (runtime, *others)[slot % 3].engine
        while claimed := queue.claim(engine, f"w{slot}", limit=3):
            taken[slot] += [j.id for j in claimed]

    threads = [threading.Thread(target=claimer, args=(slot,)) for slot in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [job_id for ids in taken for job_id in ids]
    assert sorted(every) == sorted(made)  # each job once, none left


def test_a_lease_that_ran_out_lets_another_worker_take_the_job_and_the_first_cannot_finish_it(runtime):
    made = add(runtime)
    [first] = queue.claim(runtime.engine, "w1", lease=dt.timedelta(seconds=-1))  # a worker that stopped long ago
    [again] = queue.claim(runtime.engine, "w2")
    assert again.id == made and again.attempts == 2
    assert not queue.complete(runtime.engine, first, "w1") and queue.fail(runtime.engine, first, "w1", "late") is None
    assert queue.complete(runtime.engine, again, "w2")
    assert state(runtime, made).state == "done"


def test_a_job_that_keeps_killing_its_worker_ends_dead_instead_of_running_for_ever(runtime):
    made = add(runtime, max_attempts=2)
    for worker in ("w1", "w2"):
        assert queue.claim(runtime.engine, worker, lease=dt.timedelta(seconds=-1))
    assert queue.claim(runtime.engine, "w3") == []
    row = state(runtime, made)
    assert row.state == "dead" and "stopped" in row.last_error


def test_failures_back_off_with_jitter_until_the_job_is_dead_and_an_admin_retries_it(runtime):
    made = add(runtime, max_attempts=2)
    [job] = queue.claim(runtime.engine, "w1")
    before = queue.now()
    assert queue.fail(runtime.engine, job, "w1", "SMTP said 451") == "queued"
    row = state(runtime, made)
    wait = row.run_at.replace(tzinfo=dt.timezone.utc) - before if row.run_at.tzinfo is None else row.run_at - before
    assert dt.timedelta(seconds=4) < wait < dt.timedelta(seconds=16) and row.last_error == "SMTP said 451"
    assert queue.claim(runtime.engine, "w1") == []  # not before its time
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.update(job_table).where(job_table.c.id == made).values(run_at=queue.now()))
    [job] = queue.claim(runtime.engine, "w1")
    assert queue.fail(runtime.engine, job, "w1", "SMTP said 550") == "dead"
    assert (state(runtime, made).state, state(runtime, made).last_error) == ("dead", "SMTP said 550")
    assert queue.retry(runtime.engine, made) and not queue.retry(runtime.engine, made)  # only a dead job
    [job] = queue.claim(runtime.engine, "w1")
    assert job.id == made and job.attempts == 1


def test_the_backoff_doubles_up_to_an_hour_and_spreads_jobs_that_failed_together():
    rng = random.Random(7)
    waits = [queue.backoff(attempt, rng) for attempt in (1, 2, 3, 12)]
    assert dt.timedelta(seconds=5) <= waits[0] <= dt.timedelta(seconds=15)
    assert dt.timedelta(seconds=10) <= waits[1] <= dt.timedelta(seconds=30)
    assert dt.timedelta(seconds=20) <= waits[2] <= dt.timedelta(seconds=60)
    assert dt.timedelta(minutes=30) <= waits[3] <= dt.timedelta(minutes=90)
    assert len({queue.backoff(3, rng) for _ in range(20)}) == 20


def test_a_worker_runs_handlers_records_failures_and_keeps_going(runtime):
    seen = []
    handlers = {"note": lambda rt, job: seen.append(job.payload["n"]),
                "broken": lambda rt, job: 1 / 0}
    worker = queue.Worker(runtime, handlers, name="w1")
    fine, broken, unknown = add(runtime, "note", {"n": 1}), add(runtime, "broken", max_attempts=1), add(runtime, "nobody", max_attempts=1)
    while worker.run_once() is not None:
        pass
    assert seen == [1] and state(runtime, fine).state == "done"
    assert (state(runtime, broken).state, state(runtime, broken).last_error) == ("dead", "ZeroDivisionError: division by zero")
    assert state(runtime, unknown).state == "dead" and "no handler runs jobs of kind 'nobody'" in state(runtime, unknown).last_error


def test_a_worker_thread_stops_when_asked(runtime):
    done = threading.Event()
    worker = queue.Worker(runtime, {"note": lambda rt, job: done.set()}, name="w1")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 0.05))
    thread.start()
    add(runtime, "note")
    assert done.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("options, word", [({"kind": ""}, "kind"), ({"queue": "q" * 65}, "queue"), ({"key": ""}, "key"),
                                           ({"max_attempts": 0}, "attempt"), ({"run_at": dt.datetime(2027, 1, 1)}, "time zone")])
def test_a_job_enqueued_wrongly_is_refused_saying_what_is_wrong(runtime, options, word):
    options = dict(options)  # shared by both databases' runs
    kind = options.pop("kind", "note")
    with pytest.raises(ValueError, match=word):
        add(runtime, kind, **options)
    with read_transaction(runtime.engine) as conn:
        assert queue.jobs(conn) == []


def test_an_idle_worker_wakes_when_this_process_commits_a_job_and_not_for_one_rolled_back(runtime):
    ran = threading.Event()
    worker = queue.Worker(runtime, {"note": lambda rt, job: ran.set()}, name="w1")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 60))  # it would look again only after a minute
    thread.start()
    try:
        time.sleep(0.2)  # idle by now
        with pytest.raises(RuntimeError), write_transaction(runtime.engine) as conn:
            queue.enqueue(conn, "note")
            raise RuntimeError("refused")
        add(runtime, "note")
        assert ran.wait(5)
    finally:
        stop.set()
        queue.wake()
        thread.join(5)
    assert not thread.is_alive()


def test_an_idle_worker_wakes_when_an_admin_retries_a_dead_job(runtime):
    attempts = []

    def flaky(rt, job):
        attempts.append(job.id)
        if len(attempts) == 1:
            raise RuntimeError("the first attempt fails")

    made = add(runtime, "note", max_attempts=1)
    worker = queue.Worker(runtime, {"note": flaky}, name="w1")
    worker.run_once()
    with read_transaction(runtime.engine) as conn:
        assert queue.job_row(conn, made).state == "dead"
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 60))  # it would look again only after a minute
    thread.start()
    try:
        time.sleep(0.2)  # idle by now
        assert queue.retry(runtime.engine, made)
        deadline = time.monotonic() + 5
        while len(attempts) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert attempts == [made, made]
    finally:
        stop.set()
        queue.wake()
        thread.join(5)
    assert not thread.is_alive()


def test_an_idle_worker_rests_until_its_next_job_is_due_and_then_runs_it(runtime):
    """It rests until the earliest queued job's time (read once when it became idle), however long its looks' interval."""
    ran = threading.Event()
    add(runtime, "note", run_at=queue.now() + dt.timedelta(seconds=1))
    worker = queue.Worker(runtime, {"note": lambda rt, job: ran.set()}, name="w1")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 60, 60))  # no look of its own for a minute
    thread.start()
    try:
        assert ran.wait(30)  # woken by the job's time
    finally:
        stop.set()
        queue.wake()
        thread.join(5)
    assert not thread.is_alive()


def test_a_key_already_taken_wakes_no_worker(runtime):
    add(runtime, "note", key="once")
    queue._wake.clear()
    assert add(runtime, "note", key="once") == add(runtime, "note", key="once")
    assert not queue._wake.is_set()
    add(runtime, "note", key="twice")
    assert queue._wake.is_set()

"""The job queue's throughput (core/queue.py): jobs run per second by N workers, beside a raw SQL floor.

    python bench/automation_bench.py --database URL [--jobs 10000] [--workers 3] [--processes]

Enqueues --jobs jobs of a kind whose handler only counts (in one transaction, timed apart),
then starts --workers workers, as threads of this process (``tessera serve``'s embedded
worker on SQLite) or, with --processes, as separate processes (``tessera worker`` processes
sharing a PostgreSQL queue), and times until every job is done. Afterwards it checks that
each job ran exactly once. The floor is the same number of claims and completions written
by hand: one ``UPDATE … RETURNING`` to claim and one to complete per job, on one connection.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import platform
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import queue  # noqa: E402
from core.coretables import job as job_table  # noqa: E402
from core.db import write_transaction  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

KIND = "bench.count"


def runtime_for(url: str) -> Runtime:
    return Runtime(Settings(database_url=url, plugins=(), password_hashing="fast"))


def count(runtime: Runtime, job: queue.Job) -> None:
    """The handler: nothing but a note that it ran (the check reads the jobs' attempts)."""


def work(url: str, until: float) -> None:
    """One worker until no job is left or the time is up."""
    runtime = runtime_for(url)
    worker = queue.Worker(runtime, {KIND: count})
    idle_since = None
    while time.monotonic() < until:
        if worker.run_once() is None:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 1.0:
                break
            time.sleep(0.01)
        else:
            idle_since = None
    runtime.close()


def fill(runtime: Runtime, jobs: int) -> float:
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.delete(job_table))
    started = time.perf_counter()
    with write_transaction(runtime.engine) as conn:
        for n in range(jobs):
            queue.enqueue(conn, KIND, {"n": n})
    return jobs / (time.perf_counter() - started)


def floor(runtime: Runtime, jobs: int) -> float:
    """Claim and complete every job by hand, one statement each, on one connection."""
    started = time.perf_counter()
    c = job_table.c
    for _ in range(jobs):
        with write_transaction(runtime.engine) as conn:
            picked = conn.execute(sa.select(c.id).where(c.state == "queued").order_by(c.id).limit(1)).scalar()
            conn.execute(sa.update(job_table).where(c.id == picked).values(state="running", attempts=c.attempts + 1))
        with write_transaction(runtime.engine) as conn:
            conn.execute(sa.update(job_table).where(c.id == picked).values(state="done"))
    return jobs / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, metavar="URL")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--processes", action="store_true", help="workers as processes (default: threads of this process)")
    args = parser.parse_args(argv)
    runtime = runtime_for(args.database)
    runtime.upgrade("bench")
    enqueued = fill(runtime, args.jobs)
    until = time.monotonic() + 600
    started = time.perf_counter()
    if args.processes:
        workers = [multiprocessing.Process(target=work, args=(args.database, until)) for _ in range(args.workers)]
    else:
        workers = [threading.Thread(target=work, args=(args.database, until)) for _ in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started - 1.0  # each worker waits a second with nothing left before it stops
    with runtime.engine.connect() as conn:
        states = dict(conn.execute(sa.select(job_table.c.state, sa.func.count()).group_by(job_table.c.state)).all())
        twice = conn.execute(sa.select(sa.func.count()).where(job_table.c.attempts != 1)).scalar()
    done = states.get("done", 0)
    fill(runtime, min(args.jobs, 2000))
    bare = floor(runtime, min(args.jobs, 2000))
    print(f"{dt.date.today()}  {runtime.engine.dialect.name} {runtime.engine.dialect.server_version_info}  python {platform.python_version()}")
    print(f"enqueued {args.jobs:,} jobs in one transaction: {enqueued:,.0f} jobs/s")
    print(f"{args.workers} worker {'processes' if args.processes else 'threads'}: {done:,} done in {elapsed:.1f} s = "
          f"{done / elapsed:,.0f} jobs/s; states {states}; jobs run more than once: {twice}")
    print(f"floor (claim + complete by hand, one connection): {bare:,.0f} jobs/s")
    runtime.close()
    return 0 if done == args.jobs and twice == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

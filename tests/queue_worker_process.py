"""A worker process for tests/test_queue_faults.py: runs ``fault.effect`` jobs until every job is done.

    python tests/queue_worker_process.py DATABASE_URL LEASE_SECONDS

Each job writes its effect keyed by the job's id (an idempotent insert) and notes that it ran,
after a short pause that gives the test time to kill a worker in the middle of a job.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import sqlalchemy as sa

from core import queue
from core.coretables import job as job_table
from core.db import write_transaction
from core.runtime import Runtime
from core.settings import Settings


RAN = []


def effect(runtime, job) -> None:
    """Note the run, then (after a pause) the effect; with FAULT_HANG=N, the N-th job of this process hangs between
    the two, so that the test kills the process in the middle of a job."""
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.text("INSERT INTO fault_run (job_id, pid) VALUES (:id, :pid)"), {"id": job.id, "pid": os.getpid()})
    RAN.append(job.id)
    time.sleep(600 if len(RAN) == int(os.environ.get("FAULT_HANG", "0")) else float(os.environ.get("FAULT_PAUSE", "0.01")))
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.text("INSERT INTO fault_effect (job_id) VALUES (:id) ON CONFLICT DO NOTHING"), {"id": job.id})


def main() -> None:
    url, lease = sys.argv[1], dt.timedelta(seconds=float(sys.argv[2]))
    runtime = Runtime(Settings(database_url=url, plugins=(), password_hashing="fast"))
    worker = queue.Worker(runtime, {"fault.effect": effect}, lease=lease)
    deadline = time.monotonic() + float(os.environ.get("FAULT_DEADLINE", "60"))
    while time.monotonic() < deadline:
        if worker.run_once() is None:
            with runtime.engine.connect() as conn:
                left = conn.execute(sa.select(sa.func.count()).where(job_table.c.state != "done")).scalar()
            if not left:
                break
            time.sleep(0.05)
    runtime.close()


if __name__ == "__main__":
    main()

"""Workers killed mid-job: three worker processes share the queue (a real SQLite file or a real PostgreSQL database),
one is killed with SIGKILL while it runs a job, and still every job's effect happens exactly once and none is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from core import queue
from core.coretables import job as job_table
from core.db import write_transaction

HERE = Path(__file__).resolve().parent
JOBS = int(os.environ.get("TESSERA_FAULT_JOBS", "300"))  # docs/performance.md: the same test with 10,000


def test_a_worker_killed_mid_job_loses_nothing_and_no_effect_happens_twice(runtime):
    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.text("CREATE TABLE fault_effect (job_id BIGINT PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE fault_run (job_id BIGINT NOT NULL, pid INTEGER NOT NULL)"))
        for n in range(JOBS):
            queue.enqueue(conn, "fault.effect", {"n": n})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    command = [sys.executable, str(HERE / "queue_worker_process.py"), runtime.settings.database_url, "2"]
    victim = subprocess.Popen(command, env={**env, "FAULT_HANG": "3"})  # its third job hangs: it is killed inside it
    workers = [victim] + [subprocess.Popen(command, env=env) for _ in range(2)]
    with runtime.engine.connect() as conn:
        deadline = time.monotonic() + 30
        while conn.execute(sa.text("SELECT count(*) FROM fault_run WHERE pid = :pid"), {"pid": victim.pid}).scalar() < 3:
            assert time.monotonic() < deadline, "the first worker never reached its third job"
            time.sleep(0.01)
            conn.rollback()
        hung = conn.execute(sa.text("SELECT max(job_id) FROM fault_run WHERE pid = :pid"), {"pid": victim.pid}).scalar()
    victim.send_signal(signal.SIGKILL)
    for worker in workers[1:]:
        assert worker.wait(timeout=90 + JOBS // 100) == 0
    victim.wait(timeout=10)
    with runtime.engine.connect() as conn:
        states = dict(conn.execute(sa.select(job_table.c.state, sa.func.count()).group_by(job_table.c.state)).all())
        effects = conn.execute(sa.text("SELECT count(*), count(DISTINCT job_id) FROM fault_effect")).one()
        runs = conn.execute(sa.text("SELECT count(*) FROM fault_run")).scalar()
        by_victim = conn.execute(sa.text("SELECT count(*) FROM fault_run WHERE pid = :pid"), {"pid": victim.pid}).scalar()
        again = conn.execute(sa.select(job_table.c.attempts).where(job_table.c.id == hung)).scalar()
    assert states == {"done": JOBS}  # none lost, none dead
    assert tuple(effects) == (JOBS, JOBS)  # each effect once
    assert again == 2 and runs == JOBS + 1 and by_victim == 3  # the killed worker's job ran again, once, elsewhere

"""Plugins' scheduled jobs run by themselves through the job queue (core/scheduler.py): once per due time however
many processes tick, a missed run caught up once, the runs done by a worker and by ``tessera serve``; on a real
SQLite file and a real PostgreSQL database. ``tessera worker`` and ``tessera jobs`` are tried in test_cli.py."""

from __future__ import annotations

import datetime as dt
import time
import types

import pytest
from litestar.testing import TestClient

from core import queue, scheduler
from core.api.app import create_app
from core.db import read_transaction
from core.hookspecs import hookimpl
from core.plugins import PluginError, PluginInfo, ScheduledJob
from core.records import Actor
from fake_plugins import xi_schedules

UTC = dt.timezone.utc


@pytest.fixture
def runtime(make_runtime):
    xi_schedules.RUNS.clear()
    return make_runtime(plugins=("xi",), extra_plugins=[xi_schedules])


def queued(runtime, kind=scheduler.KIND):
    with read_transaction(runtime.engine) as conn:
        return sorted((r.key, r.state) for r in queue.jobs(conn, limit=1000) if r.kind == kind)


def every(seconds):
    return ScheduledJob("x", seconds, print)


def test_an_interval_job_is_due_at_each_multiple_of_its_interval_and_a_cron_job_at_its_times():
    moment = dt.datetime(2027, 3, 1, 10, 7, 30, tzinfo=UTC)  # a Monday
    assert scheduler.latest_due(every(300), moment) == dt.datetime(2027, 3, 1, 10, 5, tzinfo=UTC)
    assert scheduler.latest_due(every(86400), moment) == dt.datetime(2027, 3, 1, tzinfo=UTC)
    exactly = dt.datetime(2027, 3, 1, 10, 5, tzinfo=UTC)
    assert scheduler.latest_due(every(300), exactly) == exactly
    weekly = ScheduledJob("x", 0, print, cron="0 9 * * 1")
    assert scheduler.latest_due(weekly, moment) == dt.datetime(2027, 3, 1, 9, tzinfo=UTC)
    assert scheduler.latest_due(weekly, dt.datetime(2027, 3, 1, 8, 59, tzinfo=UTC)) == dt.datetime(2027, 2, 22, 9, tzinfo=UTC)
    assert scheduler.latest_due(ScheduledJob("x", 0, print, cron="*/5 * * * *"), exactly) == exactly


@pytest.mark.parametrize("job, words", [
    (ScheduledJob("x.bad_cron", 0, print, cron="61 * * * *"), "the cron expression '61 * * * *', which is not valid: Bad minute"),
    (ScheduledJob("x.short_cron", 0, print, cron="* * *"), "Wrong number of fields"),
    (ScheduledJob("x.no_interval", 0, print), "every_seconds=0: give a whole number of seconds of at least 1"),
])
def test_a_schedule_that_makes_no_sense_stops_start_up_saying_why(make_runtime, job, words):
    module = types.ModuleType("omicron")
    module.PLUGIN = PluginInfo(name="omicron", version="1.0.0", label={"en": "Omicron"}, tessera=">=0.1")
    module.tessera_scheduled_jobs = hookimpl(lambda: [job])
    runtime = make_runtime(plugins=("omicron",), extra_plugins=[module], upgrade=False)
    with pytest.raises(PluginError) as refused:
        runtime.scheduled_jobs()
    assert f"plugin 'omicron' registers the scheduled job '{job.name}' with" in str(refused.value) and words in str(refused.value)


def test_ticks_of_several_processes_enqueue_each_due_run_once(runtime, make_runtime):
    other = make_runtime(plugins=("xi",), extra_plugins=[xi_schedules], upgrade=False)
    moment = dt.datetime(2027, 3, 1, 10, 7, 30, tzinfo=UTC)
    for rt in (runtime, other, runtime):
        assert scheduler.tick(rt, moment) == 3  # xi's two and core's reminder of overdue tasks
    assert queued(runtime) == [("schedule:tessera.overdue_tasks:2027-03-01T10:00:00Z", "queued"),
                               ("schedule:xi.flaky:2027-03-01T00:00:00Z", "queued"), ("schedule:xi.tally:2027-03-01T10:05:00Z", "queued")]


def test_after_downtime_a_missed_run_is_caught_up_once_not_once_per_interval(runtime):
    scheduler.tick(runtime, dt.datetime(2027, 3, 1, 10, 7, tzinfo=UTC))
    scheduler.tick(runtime, dt.datetime(2027, 3, 1, 13, 2, tzinfo=UTC))  # three hours down: 35 five-minute runs missed
    assert [k for k, _s in queued(runtime) if "tally" in k] == ["schedule:xi.tally:2027-03-01T10:05:00Z",
                                                                 "schedule:xi.tally:2027-03-01T13:00:00Z"]


def test_a_worker_runs_the_due_runs_and_a_failing_one_waits_its_backoff(runtime):
    ran = scheduler.JobRunner(runtime).run_until_idle()
    assert ran == 3 and xi_schedules.RUNS == ["tally"]  # with core's reminder of overdue tasks
    states = dict(queued(runtime))
    assert [s for k, s in states.items() if "tally" in k or "overdue_tasks" in k] == ["done", "done"] and [s for k, s in states.items() if "flaky" in k] == ["queued"]
    with read_transaction(runtime.engine) as conn:
        flaky = next(r for r in queue.jobs(conn) if "flaky" in (r.key or ""))
    assert flaky.attempts == 1 and flaky.last_error == "ConnectionError: the mail server did not answer"
    assert scheduler.JobRunner(runtime).run_until_idle() == 0  # the tally ran for this due time; the flaky one waits
    assert xi_schedules.RUNS == ["tally"]


def test_serve_runs_the_scheduled_jobs_by_itself(runtime):
    with TestClient(create_app(runtime, run_jobs=True)):
        deadline = time.monotonic() + 10
        while "tally" not in xi_schedules.RUNS and time.monotonic() < deadline:
            time.sleep(0.05)
    assert xi_schedules.RUNS and set(xi_schedules.RUNS) == {"tally"}
    # once per due time: a start a moment before a five-minute mark may see two due times, never one twice
    done = [key for key, state in queued(runtime) if key.startswith("schedule:xi.tally:") and state == "done"]
    assert len(done) == len(set(done)) == len(xi_schedules.RUNS)


def test_serve_runs_an_import_by_itself_beside_the_other_jobs(runtime):
    from core.imports import ImportOptions, jobs  # noqa: PLC0415
    from core.imports.background import save_upload  # noqa: PLC0415

    workers = scheduler.JobRunner(runtime, concurrency=2).workers()
    assert [(w.queues, w.other_than) for w in workers] == [(None, ("imports",)), (None, ("imports",)), (["imports"], ())]
    assert [w.queues for w in scheduler.JobRunner(runtime, queues=["imports"]).workers()] == [["imports"]]
    up = save_upload(runtime, "accounts.csv", b"name,employees\nServed Ltd,3\nServed Two,4\n")
    with TestClient(create_app(runtime, run_jobs=True)):
        job_id = runtime.imports.start(Actor.system(), "account", up, ImportOptions(mapping={"columns": {"name": "name", "employees": "employees"}}))
        deadline = time.monotonic() + 60
        while jobs.load(runtime.engine, job_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert jobs.load(runtime.engine, job_id).status == "done"
    assert sorted(r["name"] for r in runtime.records.each(Actor.system(), "account", {})) == ["Served Ltd", "Served Two"]


def test_a_plugin_runs_jobs_of_its_own_kind_enqueued_with_a_change(runtime):
    with runtime.records.transaction(Actor.system()) as records:
        account = records.create("account", {"name": "Echo Ltd"})
        queue.enqueue(records.connection, "xi.echo", {"text": f"account {account['id']}"})
    queue.Worker(runtime, scheduler.handlers(runtime)).run_once()
    assert xi_schedules.RUNS == [f"echo account {account['id']}"]


def test_a_job_committed_by_another_process_wakes_an_idle_worker_at_once(runtime):
    """On PostgreSQL through NOTIFY/LISTEN; on SQLite (one process by design) the worker finds it at its next look."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    runner = scheduler.JobRunner(runtime, idle_seconds=2 if runtime.engine.dialect.name == "sqlite" else 60)
    runner.start()
    try:
        time.sleep(0.5)  # idle by now
        root = Path(__file__).resolve().parent.parent
        script = ("import sys; from core import queue; from core.db import write_transaction; from core.runtime import Runtime; "
                  "from core.settings import Settings; rt = Runtime(Settings(database_url=sys.argv[1], plugins=())); "
                  "exec('with write_transaction(rt.engine) as conn: queue.enqueue(conn, \"xi.echo\", {\"text\": \"from afar\"})')")
        subprocess.run([sys.executable, "-c", script, runtime.settings.database_url], check=True, cwd=root, timeout=60)
        deadline = time.monotonic() + 5
        while "echo from afar" not in xi_schedules.RUNS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert "echo from afar" in xi_schedules.RUNS

"""Scheduled jobs and the job kinds core runs, through the job queue (core/queue.py).

An interval job is due at every multiple of its interval since the Unix epoch (a daily job at
00:00 UTC, a five-minute one at :00, :05, ...); a cron job at the times its expression names,
in UTC (parsed by cronsim). The scheduler ticks at each scheduled job's due time (and at
least every TICK seconds); each tick enqueues, for every scheduled job, a queue job for its
latest due time under the key ``schedule:NAME:TIME``: the key makes the run single however
many processes tick, and only the latest due time is ever enqueued, so after downtime a
missed run is caught up once, not once per missed interval.

Core's own job kinds (BUILT_IN): ``scheduled_job``; ``mail.send`` and ``mail.template`` (queue
``mail``); the notification mails; ``webhook.deliver`` (queue ``webhooks``, core/webhooks.py);
``import.run`` (queue ``imports``, core/imports/background.py). Plugins add theirs.

``JobRunner`` is what a process runs: a scheduler thread ticking when a scheduled job is due,
and worker threads running due jobs, one of them for the imports alone (LONG). A worker with
nothing to do rests until the next job is due or one is enqueued, so an idle process reads
nothing from the database. ``tessera serve`` embeds a JobRunner; ``tessera worker`` is one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Mapping, Sequence

from cronsim import CronSim, CronSimError

from core import formulas, mail, notification_mail, queue, webhooks
from core.automations import actions as rule_actions
from core.automations import engine as rules
from core.automations import timing as rule_timing
from core.db import write_transaction
from core.imports import background
from core.plugins import PluginError, ScheduledJob

log = logging.getLogger("tessera.scheduler")

KIND = "scheduled_job"
TICK = 60.0  # seconds between ticks at most: the scheduler ticks at each scheduled job's due time, and at least this often
IDLE = 2.0  # seconds between an idle worker's looks at the SQLite file for another process's commit (no SQL)
KEEP_DONE = dt.timedelta(days=7)  # done jobs are removed after this


def latest_due(job: ScheduledJob, moment: dt.datetime) -> dt.datetime:
    """The last due time of a scheduled job at or before ``moment``: a multiple of its interval since the epoch, or
    the last time its cron expression names (in UTC)."""
    if job.cron:
        return rule_timing.latest_due(job.cron, moment)
    seconds = int(moment.timestamp()) // job.every_seconds * job.every_seconds
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def schedule_problem(job: ScheduledJob) -> str | None:
    """What is wrong with a job's schedule, in words, or None."""
    if job.cron:
        try:
            CronSim(job.cron, dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
        except CronSimError as exc:
            return f"the cron expression {job.cron!r}, which is not valid: {exc}"
        return None
    if not isinstance(job.every_seconds, int) or job.every_seconds < 1:
        return f"every_seconds={job.every_seconds!r}: give a whole number of seconds of at least 1, or a cron expression"
    return None


def next_due(job: ScheduledJob, moment: dt.datetime) -> dt.datetime:
    """The first due time of a scheduled job after ``moment``."""
    if job.cron:
        return next(CronSim(job.cron, moment.astimezone(dt.timezone.utc)))
    return latest_due(job, moment) + dt.timedelta(seconds=job.every_seconds)


def key(name: str, due: dt.datetime) -> str:
    return f"schedule:{name}:{due.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def tick(runtime: Any, moment: dt.datetime | None = None) -> int:
    """Enqueue each scheduled job's latest due run, unless it already was; how many scheduled jobs there are."""
    moment = moment or queue.now()
    registered: Mapping[str, ScheduledJob] = runtime.scheduled_jobs()
    with write_transaction(runtime.engine) as conn:
        for name, job in sorted(registered.items()):
            due = latest_due(job, moment)
            queue.enqueue(conn, KIND, {"name": name, "due": due.isoformat()}, key=key(name, due), run_at=due)
    rule_timing.tick(runtime, moment)  # workflow rules due by now: time triggers and schedules
    return len(registered)


def run_scheduled(runtime: Any, job: queue.Job) -> None:
    """The handler of a scheduled run: the plugin's function, with the runtime."""
    name = job.payload["name"]
    scheduled = runtime.scheduled_jobs().get(name)
    if scheduled is None:
        raise LookupError(f"no plugin registers the scheduled job {name!r} any more")
    result = scheduled.run(runtime)
    log.debug("ran the scheduled job %s (due %s): %s", name, job.payload.get("due"), result if result is not None else "done")


BUILT_IN: dict[str, queue.Handler] = {KIND: run_scheduled, mail.SEND: mail.send_job, mail.TEMPLATE: mail.template_job,
                                      notification_mail.KIND: notification_mail.mail_each,
                                      notification_mail.DIGEST: notification_mail.mail_digest,
                                      rules.KIND: rules.run_job, rule_timing.DUE_KIND: rule_timing.compute_due,
                                      rule_timing.SCHEDULE_KIND: rule_timing.run_schedule, rule_actions.WEBHOOK: rule_actions.deliver_webhook,
                                      webhooks.KIND: webhooks.deliver_job, background.KIND: background.run_job,
                                      formulas.KIND: formulas.run_job}
LONG = (background.QUEUE,)  # queues whose jobs run for minutes: a worker of their own, so that they never hold up the others


def handlers(runtime: Any) -> dict[str, queue.Handler]:
    """The job kinds this process runs: core's own and those plugins register (a plugin may not take core's)."""
    found = dict(BUILT_IN)
    for name, kind in runtime.job_kinds().items():
        if name in BUILT_IN:
            raise PluginError(f"plugin '{kind.plugin}' registers the job kind '{name}', which Tessera's core runs itself")
        found[name] = kind.run
    return found


class JobRunner:
    """A scheduler thread and ``concurrency`` worker threads, until ``stop``."""

    def __init__(self, runtime: Any, concurrency: int = 1, queues: Sequence[str] | None = None,
                 tick_seconds: float = TICK, idle_seconds: float = IDLE) -> None:
        self.runtime, self.concurrency, self.queues = runtime, concurrency, queues
        self.tick_seconds, self.idle_seconds = tick_seconds, idle_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads; a schedule or job kind a plugin got wrong stops this here (PluginError), not in a thread."""
        if self._threads:
            return
        self.runtime.scheduled_jobs()
        handlers(self.runtime)
        self._stop.clear()
        self._threads = [threading.Thread(target=self._schedule, name="tessera-scheduler", daemon=True)]
        if self.runtime.engine.dialect.name == "postgresql":  # jobs other processes commit wake these workers at once
            self._threads.append(threading.Thread(target=queue.listen, args=(self.runtime.engine, self._stop), name="tessera-listener", daemon=True))
        for n, worker in enumerate(self.workers()):
            self._threads.append(threading.Thread(target=worker.run, args=(self._stop, self.idle_seconds), name=f"tessera-worker-{n}", daemon=True))
        for thread in self._threads:
            thread.start()

    def workers(self) -> list[queue.Worker]:
        """``concurrency`` workers for the jobs of the queues chosen (all by default) but the long ones, and one for the
        long ones (imports): a long import never keeps a webhook or an e-mail waiting."""
        known = handlers(self.runtime)
        long = [q for q in LONG if self.queues is None or q in self.queues]
        rest = None if self.queues is None else [q for q in self.queues if q not in LONG]
        if rest is not None and not rest:  # only long queues chosen: every worker runs them
            return [queue.Worker(self.runtime, known, long) for _ in range(self.concurrency)]
        made = [queue.Worker(self.runtime, known, rest, other_than=LONG if rest is None else ()) for _ in range(self.concurrency)]
        return made + ([queue.Worker(self.runtime, known, long)] if long else [])

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        queue.wake()  # idle workers notice at once
        rule_timing.SOONER.set()  # and the scheduler
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def run_until_idle(self) -> int:
        """One tick, then every due job in this thread until none is left; how many jobs ran."""
        tick(self.runtime)
        worker, ran = queue.Worker(self.runtime, handlers(self.runtime), self.queues), 0
        while worker.run_once() is not None:
            ran += 1
        return ran

    def _schedule(self) -> None:
        """Tick now, then at each scheduled job's next due time, and at least every ``tick_seconds`` (the plugins
        enabled may change): in between it sleeps, reading nothing."""
        last_prune = None
        while not self._stop.is_set():
            wait = self.tick_seconds
            try:
                tick(self.runtime)
                if last_prune is None or queue.now() - last_prune > dt.timedelta(hours=1):
                    queue.prune(self.runtime.engine, KEEP_DONE)
                    last_prune = queue.now()
                wait = self._until_next_due(wait)
            except Exception:  # noqa: BLE001 - a failed tick (the database away a moment) is tried again at the next
                log.exception("the scheduler's tick failed; trying again in %s s", self.tick_seconds)
            rule_timing.SOONER.clear()
            rule_timing.SOONER.wait(wait)  # a record written with a due time sooner than that wakes it

    def _until_next_due(self, most: float) -> float:
        moment = queue.now()
        dues = [next_due(job, moment) for job in self.runtime.scheduled_jobs().values()]
        rules_due = rule_timing.next_due(self.runtime, moment)  # time triggers and schedules of workflow rules
        if rules_due is not None:
            dues.append(rules_due)
        if not dues:
            return most
        return min(most, max(0.0, (min(dues) - moment).total_seconds()) + 0.01)  # just after it, so that it is due

"""Setup: the job queue. What runs by itself (the plugins' scheduled jobs and when each is next due), how many
jobs each queue holds in each state, the latest jobs with their errors, and a retry for dead ones (administrators)."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core import queue, scheduler
from core.db import read_transaction
from ui.context import Page
from ui.fields import in_zone
from ui.record_pages import DB
from ui.setup import done, setup_page

SHOWN = 50
TONES = {"queued": "tone-gray", "running": "tone-blue", "done": "tone-green", "dead": "tone-red"}  # each state's badge


class JobsSetup(Controller):
    path = "/setup/jobs"
    include_in_schema = False

    @get("", **DB)
    def jobs(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        state = request.query_params.get("state")
        return _page(page, state if state in queue.STATES else None)

    @post("/{job_id:int}/retry", **DB)
    def retry(self, request: Request, job_id: FromPath[int]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if not page.access.admin:
            return page.render("error.html", status=403, title=page.t("Not allowed"),
                               message=page.t("Only administrators retry jobs."))
        if not queue.retry(page.runtime.engine, job_id):
            return _page(page, None, errors=[page.t("Job {id} is not a dead job: only a dead job is retried.", id=job_id)], status=422)
        return done(page, "/setup/jobs?state=queued", page.t("Job {id} is queued again.", id=job_id))


def _page(page: Page, state: str | None, errors: list[str] | None = None, status: int = 200) -> Response:
    moment = queue.now()
    with read_transaction(page.runtime.engine) as conn:
        counts, rows = queue.counts(conn), queue.jobs(conn, state=state, limit=SHOWN)
    schedules = [{"name": name, "plugin": job.plugin, "when": job.cron or _interval(page, job.every_seconds),
                  "last_due": _shown(page, scheduler.latest_due(job, moment))} for name, job in sorted(page.runtime.scheduled_jobs().items())]
    rows = [{**row._asdict(), "run_at": _shown(page, row.run_at)} for row in rows]
    queues = sorted({q for q, _s in counts})
    table = [{"queue": q, **{s: counts.get((q, s), 0) for s in queue.STATES}} for q in queues]
    return page.render("setup/jobs.html", status=status, title=page.t("Jobs"), schedules=schedules, counts=table, rows=rows,
                       state=state, states=_states(page), tones=TONES, errors=errors or [], may_retry=page.access.admin,
                       done=page.request.query_params.get("done", ""))


def _states(page: Page) -> list[tuple[str, str]]:
    words = {"queued": page.t("Queued"), "running": page.t("Running"), "done": page.t("Done"), "dead": page.t("Dead")}
    return [(s, words[s]) for s in queue.STATES]


def _shown(page: Page, moment: dt.datetime) -> str:
    """A stored UTC time in the reader's time zone, to the minute (SQLite gives it back without its zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return in_zone(moment.isoformat(), page.zone).strftime("%Y-%m-%d %H:%M")


def _interval(page: Page, seconds: int) -> str:
    """An interval in the largest whole unit: "every 1 d", "every 5 min"."""
    for size, words in ((86400, page.t("every {n} d")), (3600, page.t("every {n} h")), (60, page.t("every {n} min"))):
        if seconds % size == 0:
            return words.format(n=seconds // size)
    return page.t("every {n} s", n=seconds)

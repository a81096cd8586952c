"""Scheduled jobs that leave a trace: each run adds a note to a list the tests read, or fails on purpose."""

from core.hookspecs import hookimpl
from core.plugins import JobKind, PluginInfo, ScheduledJob

PLUGIN = PluginInfo(name="xi", version="1.0.0", label={"en": "Xi"}, tessera=">=0.1")
RUNS: list[str] = []


def tally(runtime):
    RUNS.append("tally")
    return "counted"


def flaky(runtime):
    raise ConnectionError("the mail server did not answer")


@hookimpl
def tessera_scheduled_jobs():
    return [ScheduledJob("xi.tally", 300, tally), ScheduledJob("xi.flaky", 86400, flaky)]


def echo(runtime, job):
    RUNS.append(f"echo {job.payload['text']}")


@hookimpl
def tessera_job_kinds():
    return [JobKind("xi.echo", echo)]

"""Reminders of overdue tasks (core/reminders.py): the assignee, or the owner, of an open task whose due date has
passed is reminded once per task and due date, in their language; done and cancelled tasks remind nobody. The job is
registered in every application, runs every 15 minutes, and is given its day explicitly here. Both databases."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from core import notifications, reminders, scheduler
from core.db import read_transaction

TODAY = dt.date(2027, 3, 10)
YESTERDAY = TODAY - dt.timedelta(days=1)


def user(runtime, actor, name: str, **extra) -> int:
    return runtime.records.create(actor, "user", {"username": name, **extra})["id"]


def task(runtime, actor, subject: str, due: dt.date | None, **extra) -> dict:
    values = {"subject": subject, "activity_type": "task", "due_date": due.isoformat() if due else None, **extra}
    return runtime.records.create(actor, "activity", values)


def inbox(runtime, user_id: int, lang: str = "en") -> list[notifications.Notification]:
    with read_transaction(runtime.engine) as conn:
        return notifications.items(conn, user_id, lang)[0]


def test_the_job_is_registered_in_every_application_and_runs_every_fifteen_minutes(runtime):
    job = runtime.scheduled_jobs()[reminders.TASK_JOB]
    assert job.every_seconds == 15 * 60 and job.plugin == reminders.NAME and job.run is reminders.run_overdue_tasks
    moment = dt.datetime(2027, 3, 10, 10, 7, tzinfo=dt.timezone.utc)
    assert scheduler.latest_due(job, moment) == dt.datetime(2027, 3, 10, 10, 0, tzinfo=dt.timezone.utc)
    assert ["due_date", "id"] in [ix["column_names"] for ix in sa.inspect(runtime.engine).get_indexes("activity")]  # what the job reads on


def test_an_overdue_open_task_reminds_its_assignee_once_per_due_date(runtime, actor):
    wang, li = user(runtime, actor, "wang"), user(runtime, actor, "li")
    late = task(runtime, actor, "Call back about the quote", YESTERDAY, assigned_to=wang, owner=li)
    assert reminders.run_overdue_tasks(runtime, today=TODAY) == [late["id"]]
    [notice] = inbox(runtime, wang)
    assert (notice.kind, notice.object, notice.record_id, notice.link) == ("reminder", "activity", late["id"], f"/r/activity/{late['id']}")
    assert notice.message == f"Your task “Call back about the quote” was due on {YESTERDAY.isoformat()} and is not done yet"
    assert inbox(runtime, li) == []  # the assignee is reminded, not the owner
    assert reminders.run_overdue_tasks(runtime, today=TODAY) == []  # a second run, and the next day, remind nobody twice
    assert reminders.run_overdue_tasks(runtime, today=TODAY + dt.timedelta(days=1)) == []
    assert len(inbox(runtime, wang)) == 1
    moved = runtime.records.update(actor, "activity", late["id"], {"due_date": (TODAY - dt.timedelta(days=2)).isoformat()}, version=late["version"])
    assert reminders.run_overdue_tasks(runtime, today=TODAY) == [moved["id"]]  # a new due date reminds again
    assert len(inbox(runtime, wang)) == 2


def test_the_owner_is_reminded_when_nobody_is_assigned_and_reads_it_in_chinese(runtime, actor):
    zhang = user(runtime, actor, "zhang", language="zh_cn")
    late = task(runtime, actor, "回访客户", YESTERDAY, owner=zhang)
    assert reminders.run_overdue_tasks(runtime, today=TODAY) == [late["id"]]
    [notice] = inbox(runtime, zhang, lang="zh-CN")
    assert notice.message == f"你的任务“回访客户”已于 {YESTERDAY.isoformat()} 到期，尚未完成"


def test_done_cancelled_not_yet_due_and_other_activities_remind_nobody(runtime, actor):
    wang = user(runtime, actor, "wang")
    task(runtime, actor, "Finished", YESTERDAY, assigned_to=wang, status="done")
    task(runtime, actor, "Called off", YESTERDAY, assigned_to=wang, status="cancelled")
    task(runtime, actor, "Due today", TODAY, assigned_to=wang)
    task(runtime, actor, "No due date", None, assigned_to=wang)
    task(runtime, actor, "A meeting", YESTERDAY, assigned_to=wang, activity_type="meeting")
    task(runtime, actor, "Long forgotten", TODAY - dt.timedelta(days=reminders.LOOKBACK_DAYS + 1), assigned_to=wang)
    started = task(runtime, actor, "Half done", YESTERDAY, assigned_to=wang, status="in_progress")
    assert reminders.run_overdue_tasks(runtime, today=TODAY) == [started["id"]]
    assert [n.record_id for n in inbox(runtime, wang)] == [started["id"]]


def test_a_deactivated_user_and_a_task_of_nobody_remind_nobody(runtime, actor):
    gone = user(runtime, actor, "gone", active=False)
    task(runtime, actor, "Left behind", YESTERDAY, assigned_to=gone)
    task(runtime, actor, "Nobody's", YESTERDAY)
    assert reminders.run_overdue_tasks(runtime, today=TODAY) == []
    assert inbox(runtime, gone) == []


def test_the_scheduler_runs_the_job_by_itself(runtime, actor):
    wang = user(runtime, actor, "wang")
    late = task(runtime, actor, "Send the contract", dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1), assigned_to=wang)
    assert scheduler.JobRunner(runtime).run_until_idle() >= 1
    assert [n.record_id for n in inbox(runtime, wang)] == [late["id"]]

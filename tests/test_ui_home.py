"""The home page a rep starts the day on: open tasks, the overdue ones marked, ticked done in place.

People come from access_world.py (alice: a rep who reads and changes her own activities).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from core.records import Actor
from test_ui_pages import HX, signed_in

SYSTEM = Actor.system()


@pytest.fixture
def alice(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client, signed_in(client, "alice")


def _task(world, subject: str, due: dt.date, **values) -> dict:
    return world.runtime.records.create(SYSTEM, "activity", {"subject": subject, "activity_type": "task", "due_date": due.isoformat(),
                                                             "assigned_to": world.users["alice"], "owner": world.users["alice"], **values})


def test_open_tasks_come_soonest_first_with_the_overdue_ones_marked(alice, world):
    client, _csrf = alice
    today = dt.date.today()
    _task(world, "Send the offer", today + dt.timedelta(days=2))
    _task(world, "Chase the invoice", today - dt.timedelta(days=3))
    _task(world, "Done already", today - dt.timedelta(days=9), status="done")
    home = client.get("/").text
    tasks = home.split('id="my-tasks"')[1].split("</div>")[0]
    assert re.findall(r'<a href="/r/activity/\d+">([^<]+)</a>', tasks) == ["Chase the invoice", "Send the offer"]
    overdue = tasks.split('class="overdue"')
    assert len(overdue) == 2 and "Chase the invoice" in overdue[1].split("</li>")[0] and "Overdue" in overdue[1].split("</li>")[0]
    chinese = client.get("/", headers={"Accept-Language": "zh-CN"}).text
    assert "已逾期" in chinese


def test_a_tick_finishes_the_task_in_place_and_a_stale_one_says_so(alice, world):
    client, csrf = alice
    task = _task(world, "Call the plant manager", dt.date.today())
    done = client.post(f"/tasks/{task['id']}/done", headers=HX, data={"_csrf_token": csrf, "version": str(task["version"])})
    assert done.status_code == 200 and "<html" not in done.text and "Call the plant manager" not in done.text
    assert world.runtime.records.get(SYSTEM, "activity", task["id"])["status"] == "done"
    other = _task(world, "Book the visit", dt.date.today())
    current = world.runtime.records.get(SYSTEM, "activity", other["id"])
    world.runtime.records.update(SYSTEM, "activity", other["id"], {"priority": "high"}, version=current["version"])
    stale = client.post(f"/tasks/{other['id']}/done", headers=HX, data={"_csrf_token": csrf, "version": str(other["version"])})
    assert stale.status_code == 409 and "Someone changed this activity" in stale.text and "Book the visit" in stale.text
    assert world.runtime.records.get(SYSTEM, "activity", other["id"])["status"] != "done"
    plain = client.post(f"/tasks/{other['id']}/done", data={"_csrf_token": csrf, "version": str(current["version"] + 1)}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/"


def test_nobody_finishes_a_task_they_may_not_change(world):
    bobs = world.runtime.records.create(SYSTEM, "activity", {"subject": "Bob's call", "activity_type": "call", "owner": world.users["bob"]})
    with TestClient(create_app(world.runtime)) as client:
        csrf = signed_in(client, "alice")
        refused = client.post(f"/tasks/{bobs['id']}/done", headers=HX, data={"_csrf_token": csrf, "version": "1"})
        assert refused.status_code == 409 and 'role="alert"' in refused.text
    assert world.runtime.records.get(SYSTEM, "activity", bobs["id"])["status"] != "done"

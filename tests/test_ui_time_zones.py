"""Dates and times in the reader's time zone: chosen in the profile, else the browser's, else UTC; forms take
times in it and store UTC.

People come from access_world.py (alice: a rep who reads and changes her own activities)."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from core.records import Actor
from test_ui_pages import signed_in

SYSTEM = Actor.system()


@pytest.fixture
def mike(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client, signed_in(client, "alice")


def _activity(world) -> dict:
    return world.runtime.records.create(SYSTEM, "activity", {"subject": "Plant visit", "activity_type": "meeting",
                                                             "start_at": "2026-12-07T01:30:00Z", "owner": world.users["alice"]})


def test_times_are_utc_until_the_browser_or_the_user_says_otherwise(mike, world):
    client, csrf = mike
    visit = _activity(world)
    assert "2026-12-07 01:30 UTC" in client.get(f"/r/activity/{visit['id']}").text
    client.cookies.set("tessera_tz", "America/New_York")
    assert "2026-12-06 20:30" in client.get(f"/r/activity/{visit['id']}").text
    chosen = client.post("/profile/time_zone", data={"_csrf_token": csrf, "time_zone": "Asia/Shanghai"}, follow_redirects=False)
    assert chosen.status_code == 303
    page = client.get(f"/r/activity/{visit['id']}").text
    assert "2026-12-07 09:30" in page and "01:30 UTC" not in page  # the user's choice wins over the browser's
    refused = client.post("/profile/time_zone", data={"_csrf_token": csrf, "time_zone": "Mars/Olympus"})
    assert refused.status_code == 422 and "“Mars/Olympus” is not a time zone" in refused.text
    client.post("/profile/time_zone", data={"_csrf_token": csrf, "time_zone": ""})
    assert "2026-12-06 20:30" in client.get(f"/r/activity/{visit['id']}").text  # back to the browser's


def test_a_form_shows_and_takes_times_in_the_readers_zone_and_stores_utc(mike, world):
    client, csrf = mike
    visit = _activity(world)
    client.post("/profile/time_zone", data={"_csrf_token": csrf, "time_zone": "Asia/Shanghai"})
    form = client.get(f"/r/activity/{visit['id']}/edit").text
    assert re.search(r'type="datetime-local"[^>]*name="start_at" value="2026-12-07T09:30"', form), form[:200]
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form))
    fields.update({"_csrf_token": csrf, "start_at": "2026-12-08T14:00", "subject": "Plant visit", "activity_type": "meeting"})
    saved = client.post(f"/r/activity/{visit['id']}/edit", data=fields, follow_redirects=False)
    assert saved.status_code in (200, 303), saved.text[:500]
    stored = world.runtime.records.get(SYSTEM, "activity", visit["id"])["start_at"]
    assert stored.startswith("2026-12-08T06:00:00")

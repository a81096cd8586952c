"""The board as people work with it: the list's filters and saved views apply, its cards name their
values and say how long they have been in their column, records without a value have a column, and
a move keeps the board as it was filtered.

People come from access_world.py (alice: a rep who reads her own activities).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from core.api.app import create_app
from core.coretables import field_history
from core.records import Actor
from test_ui_pages import HX, signed_in

SYSTEM = Actor.system()


@pytest.fixture
def alice(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client, signed_in(client, "alice")


def _activity(world, subject: str, **values) -> dict:
    return world.runtime.records.create(SYSTEM, "activity", {"subject": subject, "activity_type": "task", "owner": world.users["alice"],
                                                             **values})


def _column_cards(html: str, value: str) -> list[str]:
    column = html.split(f'data-value="{value}"')[1].split("</section>")[0]
    return re.findall(r'<a href="/r/activity/\d+">([^<]+)</a>', column)


def test_the_board_shows_what_the_filters_match_and_keeps_them_after_a_move(alice, world):
    client, csrf = alice
    proposal, call = _activity(world, "Send proposal", priority="high"), _activity(world, "Call back", priority="low")
    board = client.get("/r/activity/kanban?priority__in=high").text
    assert _column_cards(board, "planned") == ["Send proposal"]
    assert "Priority is High" in board and 'name="query" value="priority__in=high"' in board
    counted = re.search(r'data-value="planned" aria-label="[^"]+">\s*<h2>[^<]+<small class="muted">(\d+)</small>', board)
    assert counted and counted.group(1) == "1"  # the column's count follows the filter too
    moved = client.post(f"/r/activity/{proposal['id']}/move", headers=HX,
                        data={"_csrf_token": csrf, "value": "in_progress", "version": str(proposal["version"]), "query": "priority__in=high"})
    assert moved.status_code == 200
    assert _column_cards(moved.text, "in_progress") == ["Send proposal"] and "Call back" not in moved.text
    plain = client.post(f"/r/activity/{call['id']}/move", follow_redirects=False,
                        data={"_csrf_token": csrf, "value": "done", "version": str(call["version"]), "query": "priority__in=low"})
    assert plain.status_code == 303 and plain.headers["location"] == "/r/activity/kanban?priority__in=low"


def test_saved_views_and_the_search_box_lead_to_the_board_filtered_alike(alice, world):
    client, csrf = alice
    _activity(world, "Quarterly review", priority="high")
    _activity(world, "Lunch")
    saved = client.post("/r/activity/views", data={"_csrf_token": csrf, "name": "Urgent", "query": "priority__in=high"}, follow_redirects=False)
    assert saved.status_code == 303
    board = client.get("/r/activity/kanban").text
    assert re.search(r'<a href="/r/activity/kanban\?priority__in=high"\s*>Urgent</a>', board)
    searched = client.get("/r/activity/kanban?q=Lunch").text
    assert _column_cards(searched, "planned") == ["Lunch"] and 'value="Lunch"' in searched
    listed = client.get("/r/activity?q=Lunch", headers={"HX-Request": "true", "HX-Target": "records"}).text
    assert 'href="/r/activity/kanban?q=Lunch"' in listed  # the list leads to the board with its filters


def test_cards_name_their_values_and_their_days_in_the_column(alice, world):
    client, _csrf = alice
    task = _activity(world, "Renew contract", priority="high", due_date="2026-01-15")
    board = client.get("/r/activity/kanban").text
    card = board.split(f'id="card-{task["id"]}"')[1].split('<form')[0]
    assert "<dt>Priority</dt><dd>High</dd>" in card and "<dt>Due Date</dt><dd>2026-01-15</dd>" in card
    assert "0 days in this column" in card
    current = world.runtime.records.get(SYSTEM, "activity", task["id"])
    world.runtime.records.update(SYSTEM, "activity", task["id"], {"status": "in_progress"}, version=current["version"])
    five_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=5, hours=1)
    with world.runtime.engine.begin() as conn:
        conn.execute(update(field_history).where(field_history.c.record_id == task["id"], field_history.c.object == "activity",
                                                 field_history.c.field == "status").values(changed_at=five_days_ago))
    moved = client.get("/r/activity/kanban").text.split(f'id="card-{task["id"]}"')[1].split('<form')[0]
    assert "5 days in this column" in moved
    chinese = client.get("/r/activity/kanban", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 200


def test_records_without_a_value_have_a_column_of_their_own(alice, world):
    client, csrf = alice
    task = _activity(world, "Unsorted", status=None)
    assert world.runtime.records.get(SYSTEM, "activity", task["id"])["status"] is None
    board = client.get("/r/activity/kanban").text
    assert _column_cards(board, "") == ["Unsorted"] and ">No value <small" in board
    moved = client.post(f"/r/activity/{task['id']}/move", headers=HX,
                        data={"_csrf_token": csrf, "value": "planned", "version": str(task["version"]), "query": ""})
    assert moved.status_code == 200 and 'data-value=""' not in moved.text  # the column goes when nothing is left in it
    assert world.runtime.records.get(SYSTEM, "activity", task["id"])["status"] == "planned"

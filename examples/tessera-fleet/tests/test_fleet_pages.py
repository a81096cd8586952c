"""Fleet's web routes: the page of inspections due and its JSON twin, as each signed-in user may see them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from core.auth import Accounts

PASSWORD = "correct horse battery"


@pytest.fixture
def client(runtime):
    accounts = Accounts(runtime)
    accounts.add_user("ana", PASSWORD, "admin", full_name="Ana Admin")
    wang, _teams = accounts.add_user("wang", PASSWORD, "admin", full_name="Wang Wei")
    accounts.set_language(wang["id"], "zh_cn")  # the user object's picklist value for Simplified Chinese
    accounts.add_user("nobody", PASSWORD)  # no role: may read no vehicle
    with TestClient(create_app(runtime)) as client:
        yield client


def sign_in(client: TestClient, username: str) -> str:
    """Sign in through the form, as a browser does; returns the CSRF token the page's forms carry."""
    form = client.get("/login").text
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "_csrf_token": csrf})
    return csrf


def vehicle(runtime, actor, plate: str, days: int) -> dict:
    account = runtime.records.create(actor, "account", {"name": f"Owner of {plate}"})
    inspection = (dt.date.today() + dt.timedelta(days=days)).isoformat()
    return runtime.records.create(actor, "vehicle", {"plate_number": plate, "customer": account["id"], "next_inspection": inspection})


def test_the_page_lists_the_inspections_due_in_the_apps_frame(runtime, actor, client):
    vehicle(runtime, actor, "LATE1", -3)
    vehicle(runtime, actor, "SOON1", 10)
    vehicle(runtime, actor, "LATER1", 90)
    assert client.get("/fleet/due", follow_redirects=False).headers["location"] == "/login?next=/fleet/due"

    sign_in(client, "ana")
    page = client.get("/fleet/due")

    assert page.status_code == 200
    assert re.findall(r'<a href="/r/vehicle/\d+">(\w+)</a>', page.text) == ["LATE1", "SOON1"]
    assert '<tr class="overdue">' in page.text.split("SOON1")[0]
    assert 'href="/r/vehicle"' in page.text and "Ana Admin" in page.text  # the side bar and the user menu of base.html
    assert '<link rel="stylesheet" href="/static/fleet/fleet.css">' in page.text
    assert client.get("/static/fleet/fleet.css").status_code == 200


def test_inspected_moves_the_next_inspection_a_year_on(runtime, actor, client):
    due = vehicle(runtime, actor, "LATE1", -3)
    csrf = sign_in(client, "ana")
    form = {"_csrf_token": csrf, "version": str(due["version"])}

    assert client.post(f"/fleet/vehicles/{due['id']}/inspected", data={"version": form["version"]}).status_code == 403  # no CSRF token
    done = client.post(f"/fleet/vehicles/{due['id']}/inspected", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/fleet/due"
    saved = runtime.records.get(actor, "vehicle", due["id"])
    assert saved["next_inspection"] == (dt.date.today() + dt.timedelta(days=365)).isoformat()
    stale = client.post(f"/fleet/vehicles/{due['id']}/inspected", data=form)
    assert stale.status_code == 409 and 'role="alert"' in stale.text


def test_a_chinese_user_reads_the_page_in_chinese(runtime, actor, client):
    vehicle(runtime, actor, "LATE1", -3)
    sign_in(client, "wang")
    page = client.get("/fleet/due").text
    assert '<html lang="zh-CN">' in page and "<h1>待年检车辆</h1>" in page and "车牌号" in page and "已年检" in page


def test_a_role_that_may_not_read_vehicles_sees_why_and_the_api_refuses(runtime, actor, client):
    vehicle(runtime, actor, "LATE1", -3)
    sign_in(client, "nobody")
    assert "Your role may not see the inspections of vehicles." in client.get("/fleet/due").text
    assert client.get("/api/fleet/due").status_code == 403


def test_the_json_list_needs_a_signed_in_caller(runtime, actor, client):
    vehicle(runtime, actor, "LATE1", -3)
    assert client.get("/api/fleet/due").status_code == 401
    token = client.post("/api/auth/token", json={"username": "ana", "password": PASSWORD}).json()["token"]
    found = client.get("/api/fleet/due", headers={"Authorization": f"Bearer {token}"}).json()
    assert [v["plate_number"] for v in found["items"]] == ["LATE1"]

"""The web UI through real HTTP: pages, htmx partials, forms, the board, permissions, languages.

People come from access_world.py (alice: a rep who may not see account_number; mike: her
manager). Browser-level behaviour (drag and drop, JavaScript) is in test_ui_browser.py.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core.records import Actor

HTMX = {"HX-Request": "true", "HX-Target": "records"}


def signed_in(client: TestClient, username: str) -> str:
    """Sign in through the form, as a browser does; returns the CSRF token for later forms."""
    page = client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "_csrf_token": csrf})
    assert response.status_code == 200 and str(response.url).endswith("/"), response.text[:500]
    return csrf


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime, deliver_webhooks=False)) as client:
        yield client


@pytest.fixture
def alice(ui):
    return ui, signed_in(ui, "alice")


@pytest.fixture
def mike(ui):
    return ui, signed_in(ui, "mike")


def test_pages_need_a_signed_in_user(ui):
    response = ui.get("/r/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/r/account"
    partial = ui.get("/r/account", headers=HTMX, follow_redirects=False)
    assert partial.status_code == 401 and partial.headers["hx-redirect"].startswith("/login")
    assert ui.get("/", follow_redirects=False).headers["location"] == "/login"


def test_signing_in_returns_to_the_page_asked_for_and_never_to_another_site(ui):
    page = ui.get("/login?next=/r/contact")
    assert 'name="next" value="/r/contact"' in page.text
    assert 'value="/"' in ui.get("/login?next=https://evil.example/").text.split('name="next"')[1][:20]


def test_the_list_page_and_its_partial(mike):
    client, _csrf = mike
    full = client.get("/r/account")
    assert full.status_code == 200 and full.headers["vary"].startswith("HX-Request")
    assert "<html" in full.text and "Alice Industries" in full.text and "Carol Industries" not in full.text
    partial = client.get("/r/account?q=bob", headers=HTMX)
    assert partial.status_code == 200 and "<html" not in partial.text and partial.headers["vary"].startswith("HX-Request")
    assert "Bob Industries" in partial.text and "Alice Industries" not in partial.text


def test_sorting_filtering_and_paging_without_a_count(ui, world):
    world.runtime.records.create_many(Actor.system(), "account", [{"name": f"Bulk {i:03d}", "employees": i, "industry": "retail" if i % 2 else "finance",
                                                                    "owner": world.users["mike"]} for i in range(120)])
    client, _ = ui, signed_in(ui, "mike")
    first = client.get("/r/account?industry__in=retail&industry__in=finance&sort=-employees")
    names = re.findall(r'<a href="/r/account/\d+">([^<]+)</a>', first.text)
    assert names[:2] == ["Bulk 119", "Bulk 118"] and len(names) == 50
    assert "offset=50" in first.text and "Previous" not in first.text
    third = client.get("/r/account?sort=-employees&industry__in=retail&offset=50")
    assert re.findall(r'<a href="/r/account/\d+">([^<]+)</a>', third.text)[0] == "Bulk 019"
    ranged = client.get("/r/account?employees__gte=10&employees__lte=12&employees__gte=&sort=name")
    assert re.findall(r'<a href="/r/account/\d+">([^<]+)</a>', ranged.text) == ["Bulk 010", "Bulk 011", "Bulk 012"]
    bad = client.get("/r/account?employees__gte=many")
    assert bad.status_code == 200 and "employees__gte" in bad.text and 'role="alert"' in bad.text


def test_a_hidden_field_appears_nowhere_in_the_ui(alice, world):
    client, _ = alice
    account = world.accounts["alice"]
    for path in ("/r/account", f"/r/account/{account}", f"/r/account/{account}/edit", "/r/account/new", "/r/account/kanban"):
        text = client.get(path).text
        assert "account_number" not in text and "SECRET" not in text and "Account Number" not in text, path
    searched = client.get("/r/account?q=SECRET-alice", headers=HTMX).text
    assert "Alice Industries" not in searched
    assert "account_number" in client.get("/r/account?account_number=SECRET-alice", headers=HTMX).text  # refused, naming it back


def test_another_users_records_are_not_found_in_the_ui(alice, world):
    client, _ = alice
    bob = world.accounts["bob"]
    assert client.get(f"/r/account/{bob}").status_code == 404
    assert client.get(f"/r/account/{bob}/edit").status_code == 404
    picker = client.get("/r/account/options?field=account&_account=Industries")
    assert "Alice Industries" in picker.text and "Bob Industries" not in picker.text
    contact = client.get("/r/contact?q=bob")
    assert "Contact of bob" in contact.text and "Bob Industries" not in contact.text  # team contact, its account's name hidden
    assert client.get("/r/product").status_code == 403


def test_create_with_an_error_keeps_what_was_typed_then_succeeds(alice):
    client, csrf = alice
    refused = client.post("/r/account/new", data={"_csrf_token": csrf, "name": "", "employees": "many", "billing_city": "Lyon"})
    assert refused.status_code == 422
    assert 'id="field-name-error"' in refused.text and 'id="field-employees-error"' in refused.text
    assert 'value="many"' in refused.text and 'value="Lyon"' in refused.text
    made = client.post("/r/account/new", data={"_csrf_token": csrf, "name": "Alice Two", "employees": "7", "billing_city": "Lyon"},
                       follow_redirects=False)
    assert made.status_code == 303
    detail = client.get(made.headers["location"])
    assert "Alice Two" in detail.text and "Lyon" in detail.text
    assert "Alice Two" in client.get("/r/account").text


def test_a_form_without_the_csrf_token_is_refused(alice):
    client, _ = alice
    assert client.post("/r/account/new", data={"name": "Forged"}).status_code == 403


def test_editing_a_record_someone_changed_shows_their_change_and_keeps_mine(mike, world):
    client, csrf = mike
    account = world.accounts["alice"]
    form = client.get(f"/r/account/{account}/edit")
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    world.runtime.records.update(Actor.system(), "account", account, {"billing_city": "Shanghai"}, version=int(version))
    stale = client.post(f"/r/account/{account}/edit", data={"_csrf_token": csrf, "version": version, "name": "Alice Group", "billing_city": "Berlin"})
    assert stale.status_code == 409
    assert "Shanghai" in stale.text and 'value="Berlin"' in stale.text and 'value="Alice Group"' in stale.text
    newer = re.search(r'name="version" value="(\d+)"', stale.text).group(1)
    saved = client.post(f"/r/account/{account}/edit", data={"_csrf_token": csrf, "version": newer, "name": "Alice Group", "billing_city": "Berlin"},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert world.runtime.records.get(Actor.system(), "account", account)["billing_city"] == "Berlin"


def test_the_detail_page_has_related_lists_history_and_the_timeline(ui, world):
    client, _ = ui, signed_in(ui, "root")
    account = world.accounts["alice"]
    system = Actor.system()
    world.runtime.records.create(system, "activity", {"subject": "Kick-off call", "activity_type": "call", "related_object": "account",
                                                      "related_id": account, "owner": world.users["mike"]})
    world.runtime.records.update(system, "account", account, {"phone": "+86 21 5555"}, version=1)
    page = client.get(f"/r/account/{account}")
    assert "Contact of alice" in page.text  # related list of contacts
    assert "Kick-off call" in page.text  # timeline
    assert "+86 21 5555" in page.text and "History" in page.text


def test_the_board_moves_a_card_with_the_same_rules_as_the_form(alice, world):
    client, csrf = alice
    system = Actor.system()
    task = world.runtime.records.create(system, "activity", {"subject": "Send proposal", "activity_type": "task", "owner": world.users["alice"]})
    others = world.runtime.records.create(system, "activity", {"subject": "Bob's call", "activity_type": "call", "owner": world.users["bob"]})
    board = client.get("/r/activity/kanban")
    assert board.status_code == 200 and "Send proposal" in board.text and 'draggable="true"' in board.text
    assert "Bob's call" not in board.text  # alice reads her own activities only
    refused = client.post(f"/r/activity/{others['id']}/move", data={"_csrf_token": csrf, "value": "done", "version": "1"},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 403
    moved = client.post(f"/r/activity/{task['id']}/move", data={"_csrf_token": csrf, "value": "done", "version": "1"},
                        headers={"HX-Request": "true"})
    assert moved.status_code == 200 and "<html" not in moved.text
    assert world.runtime.records.get(system, "activity", task["id"])["status"] == "done"
    stale = client.post(f"/r/activity/{task['id']}/move", data={"_csrf_token": csrf, "value": "planned", "version": "1"},
                        headers={"HX-Request": "true"})
    assert stale.status_code == 409 and 'role="alert"' in stale.text
    wrong = client.post(f"/r/activity/{task['id']}/move", data={"_csrf_token": csrf, "value": "exploded", "version": "2"},
                        headers={"HX-Request": "true"})
    assert wrong.status_code == 422 and "exploded" in wrong.text
    assert world.runtime.records.get(system, "activity", task["id"])["status"] == "done"


def test_the_board_refuses_a_user_who_may_not_change_the_record(ui, world):
    task = world.runtime.records.create(Actor.system(), "activity", {"subject": "Mike's task", "activity_type": "task", "owner": world.users["mike"]})
    csrf = signed_in(ui, "vera")  # reads accounts only, and changes nothing
    assert ui.get("/r/activity/kanban").status_code == 403
    assert ui.post(f"/r/activity/{task['id']}/move", data={"_csrf_token": csrf, "value": "done", "version": "1"}).status_code == 403


def test_the_language_follows_the_user_then_the_browser(ui, world):
    client = ui
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh-CN"' in page.text and "登录" in page.text
    csrf = signed_in(client, "alice")
    assert "Accounts" in client.get("/r/account").text
    switched = client.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/r/account"})
    assert switched.status_code == 200 and "客户" in switched.text and "搜索" in switched.text
    assert world.runtime.records.get(Actor.system(), "user", world.users["alice"])["language"] == "zh_cn"
    assert "新建" in client.get("/r/account/new").text


def test_the_home_page_shows_my_activities_and_recently_viewed(alice, world):
    client, _ = alice
    world.runtime.records.create(Actor.system(), "activity", {"subject": "Call Bob back", "activity_type": "call", "status": "planned",
                                                               "assigned_to": world.users["alice"], "owner": world.users["alice"]})
    client.get(f"/r/account/{world.accounts['alice']}")
    home = client.get("/")
    assert "Call Bob back" in home.text and "Alice Industries" in home.text


def test_unknown_pages_are_a_friendly_404(alice):
    client, _ = alice
    for path in ("/r/gadget", "/r/account/999999", "/r/account/999999/edit"):
        response = client.get(path)
        assert response.status_code == 404 and "<html" in response.text and "Traceback" not in response.text


def test_build_world_is_shared_with_the_api_tests():
    assert callable(build_world)

"""The web UI through real HTTP: pages, htmx partials, forms, the board, permissions, languages.

People come from access_world.py (alice: a rep who may not see account_number; mike: her
manager). Browser-level behaviour (drag and drop, JavaScript) is in test_ui_browser.py.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest
from access_world import PASSWORD, build_world
from fake_plugins import iota_ui_hooks
from litestar.testing import TestClient

from core.api.app import create_app
from core.records import Actor

HTMX = {"HX-Request": "true", "HX-Target": "records"}
HX = {"HX-Request": "true"}


def varies_on_htmx(response) -> bool:
    return "HX-Request" in [v.strip() for v in response.headers.get("vary", "").split(",")]


def fragment(response) -> bool:
    """An htmx answer: only the part of the page it replaces, and cached apart from the full page."""
    return "<html" not in response.text and varies_on_htmx(response)


def full_page(response) -> bool:
    return "<html" in response.text and varies_on_htmx(response)


def signed_in(client: TestClient, username: str) -> str:
    """Sign in through the form, as a browser does; returns the CSRF token for later forms."""
    page = client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "_csrf_token": csrf})
    assert response.status_code == 200 and str(response.url).endswith("/"), response.text[:500]
    return csrf


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
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
    timeline = page.text[page.text.index('id="timeline"'):]
    assert "Kick-off call" in timeline  # the activity
    assert "Field change" in timeline and "+86 21 5555" in timeline  # and the history, in one timeline


def test_the_board_moves_a_card_with_the_same_rules_as_the_form(alice, world):
    client, csrf = alice
    system = Actor.system()
    task = world.runtime.records.create(system, "activity", {"subject": "Send proposal", "activity_type": "task", "owner": world.users["alice"]})
    others = world.runtime.records.create(system, "activity", {"subject": "Bob's call", "activity_type": "call", "owner": world.users["bob"]})
    board = client.get("/r/activity/kanban")
    assert board.status_code == 200 and "Send proposal" in board.text and 'data-draggable' in board.text
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


# --- saved views ------------------------------------------------------------------------------


def _view_ids(page_text: str) -> list[str]:
    return re.findall(r'action="/r/account/views/(\d+)/delete"', page_text)


def test_a_saved_view_keeps_the_query_and_opens_it_for_its_owner_and_if_shared_for_every_reader(ui, world):
    csrf = signed_in(ui, "mike")
    saved = ui.post("/r/account/views", data={"_csrf_token": csrf, "name": "Industries, newest name first", "shared": "on",
                                              "query": "q=industries&sort=-name&offset=50"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/r/account?q=industries&sort=-name"
    ui.post("/r/account/views", data={"_csrf_token": csrf, "name": "Mine alone", "query": "billing_city__contains=Lyon"})
    opened = ui.get(saved.headers["location"])
    assert full_page(opened)
    link = re.search(r'<a href="/r/account\?q=industries&amp;sort=-name" aria-current="page">Industries, newest name first</a>', opened.text)
    assert link, opened.text
    assert len(_view_ids(opened.text)) == 2 and "Mine alone" in opened.text
    assert re.findall(r'<a href="/r/account/\d+">([^<]+)</a>', opened.text)[:3] == ["Mike Industries", "Bob Industries", "Alice Industries"]

    csrf = signed_in(ui, "vera")  # reads every account: sees the shared view, not mike's own, and may not remove it
    seen = ui.get("/r/account")
    assert "Industries, newest name first" in seen.text and "shared with you" in seen.text and "Mine alone" not in seen.text
    assert _view_ids(seen.text) == []
    mikes = _view_ids(opened.text)[0]
    refused = ui.post(f"/r/account/views/{mikes}/delete", data={"_csrf_token": csrf})
    assert refused.status_code == 403 and "only the person who saved it may remove it" in refused.text
    overwritten = ui.post("/r/account/views", data={"_csrf_token": csrf, "name": "Industries, newest name first", "query": "sort=name"})
    assert overwritten.status_code == 200  # saved as vera's own view of that name: mike's is untouched
    assert len(re.findall(r">Industries, newest name first</a>", ui.get("/r/account").text)) == 2

    signed_in(ui, "nora")  # may not read accounts: no list, no views
    assert ui.get("/r/account").status_code == 403

    csrf = signed_in(ui, "mike")
    for view_id in _view_ids(ui.get("/r/account").text):
        assert ui.post(f"/r/account/views/{view_id}/delete", data={"_csrf_token": csrf}, follow_redirects=False).status_code == 303
    left = ui.get("/r/account").text
    assert "Mine alone" not in left and "Industries, newest name first" not in left  # vera's own view of that name is hers alone
    signed_in(ui, "vera")
    assert "Industries, newest name first" in ui.get("/r/account").text


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "two\nlines"])
def test_a_view_with_a_bad_name_is_answered_on_the_form_and_not_saved(alice, name):
    client, csrf = alice
    refused = client.post("/r/account/views", data={"_csrf_token": csrf, "name": name, "query": "q=alice"})
    assert refused.status_code == 422 and full_page(refused)
    assert "View name: use 1 to 100 characters, on one line." in refused.text and 'aria-invalid="true"' in refused.text
    assert "Traceback" not in refused.text and _view_ids(client.get("/r/account").text) == []


def test_the_save_view_form_carries_the_query_the_partial_shows(alice):
    client, _ = alice
    partial = client.get("/r/account?q=alice&sort=name&offset=0", headers=HTMX)
    assert fragment(partial)
    query = re.search(r'name="query" value="([^"]*)"', partial.text).group(1).replace("&amp;", "&")
    assert sorted(parse_qsl(query)) == [("q", "alice"), ("sort", "name")]  # not the page it was on


# --- mass update and delete -------------------------------------------------------------------


def _shown(page_text: str) -> dict[int, str]:
    """The rows a list page shows, as id -> 'id:version' (what its mass-action form sends back)."""
    return {int(i): f"{i}:{v}" for i, v in re.findall(r'name="shown" value="(\d+):(\d+)"', page_text)}


def test_mass_update_sets_the_field_through_the_record_service_and_reports_every_record_not_changed(mike, world):
    client, csrf = mike
    records, system = world.runtime.records, Actor.system()
    listed = client.get("/r/account")
    assert 'id="select-page"' in listed.text and '<label for="select-page"' in listed.text
    shown = _shown(listed.text)
    alice, bob, mike_s, carol = (world.accounts[n] for n in ("alice", "bob", "mike", "carol"))
    assert set(shown) == {alice, bob, mike_s}
    records.update(system, "account", bob, {"phone": "+1 555"}, version=1)  # someone changes bob's after the list was drawn
    result = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": "billing_city", "_set": "1",
                                                  "value": "Hangzhou", "confirmed": "1", "id": [str(alice), str(bob), str(mike_s), str(carol)],
                                                  "shown": list(shown.values())})
    assert result.status_code == 200 and full_page(result)
    assert "2 changed." in result.text and "2 not done:" in result.text
    assert "Someone changed it after the list was shown" in result.text and "Bob Industries" in result.text
    assert f"#{carol}" in result.text and "Carol Industries" not in result.text  # not his to see, not even its name
    assert [records.get(system, "account", i)["billing_city"] for i in (alice, bob, mike_s, carol)] == ["Hangzhou", None, "Hangzhou", None]

    again = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": "employees", "_set": "1", "value": "many",
                                                 "confirmed": "1", "all": "page", "shown": list(_shown(client.get("/r/account").text).values())})
    assert again.status_code == 422 and "Employees: must be a whole number" in again.text  # refused before any record is touched
    assert 'value="many"' in again.text and "changed." not in again.text
    assert records.get(system, "account", alice)["employees"] is None


def test_mass_update_without_javascript_asks_for_the_value_on_its_own_step(mike, world):
    client, csrf = mike
    shown = _shown(client.get("/r/account").text)
    step = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": "industry", "all": "page",
                                                "shown": list(shown.values())})
    assert step.status_code == 200 and "Set Industry on 3 accounts" in step.text
    assert '<label for="mass-value-input">Industry' in step.text and '<select id="mass-value-input" name="value"' in step.text
    form = step.text.split('action="/r/account/mass"')[1]
    data = {"_csrf_token": csrf, "action": "update", "field": "industry", "_set": "1", "value": "retail",
            "id": re.findall(r'name="id" value="(\d+)"', form), "shown": re.findall(r'name="shown" value="([\d:]+)"', form)}
    assert sorted(map(int, data["id"])) == sorted(shown)
    asked = client.post("/r/account/mass", data=data)
    assert "Set Industry to Retail on 3 accounts" in asked.text and 'name="confirmed"' in asked.text
    assert {world.runtime.records.get(Actor.system(), "account", i)["industry"] for i in shown} == {None}
    done = client.post("/r/account/mass", data={**data, "confirmed": "1"})
    assert "3 changed." in done.text
    assert {world.runtime.records.get(Actor.system(), "account", i)["industry"] for i in shown} == {"retail"}
    unchanged = client.post("/r/account/mass", data={**data, "confirmed": "1", "shown": list(_shown(client.get("/r/account").text).values())})
    assert "0 changed." in unchanged.text and "3 already had that value." in unchanged.text


def test_mass_actions_refuse_what_the_role_may_not_do(alice, world):
    client, csrf = alice
    listed = client.get("/r/account")
    assert "Delete selected" not in listed.text  # reps may not delete accounts
    bar = listed.text.split('id="mass-field"')[1].split("</select>")[0]
    assert "billing_city" in bar and "annual_revenue" not in bar and "account_number" not in bar  # read-only and hidden fields
    for field in ("annual_revenue", "account_number", ""):
        refused = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": field, "_set": "1",
                                                       "value": "1", "all": "page", "shown": list(_shown(listed.text).values())})
        assert refused.status_code == 422 and "Field: " in refused.text and 'role="alert"' in refused.text
    assert world.runtime.records.get(Actor.system(), "account", world.accounts["alice"])["annual_revenue"] == 1000
    nothing = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": "billing_city", "_set": "1", "value": "X"})
    assert nothing.status_code == 422 and "Select at least one record first." in nothing.text
    assert client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "delete", "id": "1"}).status_code == 403

    contacts = _shown(client.get("/r/contact").text)  # her own contact, and her teammates' (readable, not hers to change)
    assert set(contacts) == {_contact(world, n) for n in ("alice", "bob", "mike")}
    changed = client.post("/r/contact/mass", data={"_csrf_token": csrf, "action": "update", "field": "title", "_set": "1",
                                                   "value": "Buyer", "confirmed": "1", "all": "page", "shown": list(contacts.values())})
    assert "1 changed." in changed.text and changed.text.count("Your role may not change this record.") == 2
    assert "Contact of bob" in changed.text and "Contact of mike" in changed.text
    assert world.runtime.records.get(Actor.system(), "contact", _contact(world, "alice"))["title"] == "Buyer"


def _contact(world, owner: str) -> int:
    return world.runtime.records.list(Actor.system(), "contact", {"last_name": f"Contact of {owner}"}).items[0]["id"]


def test_mass_delete_asks_first_then_deletes_what_it_may_and_says_why_not_the_rest(alice, world):
    client, csrf = alice
    contacts = _shown(client.get("/r/contact").text)
    asked = client.post("/r/contact/mass", data={"_csrf_token": csrf, "action": "delete", "all": "page", "shown": list(contacts.values())})
    assert asked.status_code == 200 and "Delete 3 contacts" in asked.text and 'name="confirmed"' in asked.text
    assert "Contact of alice" in asked.text and "Contact of bob" in asked.text
    assert len(world.runtime.records.list(Actor.system(), "contact").items) == 4  # nothing deleted yet
    form = asked.text.split('action="/r/contact/mass"')[1]
    done = client.post("/r/contact/mass", data={"_csrf_token": csrf, "action": "delete", "confirmed": "1",
                                                "id": re.findall(r'name="id" value="(\d+)"', form),
                                                "shown": re.findall(r'name="shown" value="([\d:]+)"', form)})
    assert "1 deleted." in done.text and done.text.count("Your role may not delete this record.") == 2
    left = [c["last_name"] for c in world.runtime.records.list(Actor.system(), "contact").items]
    assert "Contact of alice" not in left and "Contact of bob" in left and "Contact of mike" in left


def _versions(world) -> dict[int, tuple]:
    system = Actor.system()
    return {i: (a["version"], a["billing_city"], a["phone"]) for i in world.accounts.values()
            if (a := world.runtime.records.get(system, "account", i))}


def _confirmation(page_text: str, object_name: str) -> dict[str, list[str]]:
    """What the confirmation step's form sends back (its hidden inputs)."""
    form = page_text.split(f'action="/r/{object_name}/mass"')[1].split("</form>")[0]
    sent: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        sent.setdefault(name, []).append(value)
    return sent


def test_every_mass_change_states_itself_and_writes_nothing_until_confirmed(mike, world):
    client, csrf = mike
    system = Actor.system()
    for account in world.accounts.values():
        world.runtime.records.update(system, "account", account, {"billing_city": "Lyon", "phone": "+33 1 5555"}, version=1)
    before = _versions(world)
    shown = list(_shown(client.get("/r/account").text).values())
    bar = {"_csrf_token": csrf, "action": "update", "_set": "1", "all": "page", "shown": shown}

    setting = client.post("/r/account/mass", data={**bar, "field": "billing_city", "value": "Hangzhou"})
    assert setting.status_code == 200 and "<h1>Set Billing City to Hangzhou on 3 accounts</h1>" in setting.text
    assert "Nothing has been changed yet." in setting.text and 'name="confirmed" value="1"' in setting.text
    clearing = client.post("/r/account/mass", data={**bar, "field": "phone", "value": "", "clear": "1"})
    assert clearing.status_code == 200 and "<h1>Clear Phone on 3 accounts</h1>" in clearing.text
    deleting = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "delete", "all": "page", "shown": shown})
    assert deleting.status_code == 200 and "<h1>Delete 3 accounts</h1>" in deleting.text
    one = client.post("/r/account/mass", data={**bar, "all": [], "id": shown[0].split(":")[0], "field": "industry", "value": "retail"})
    assert "<h1>Set Industry to Retail on 1 account</h1>" in one.text
    assert _versions(world) == before  # nothing written by any of these steps

    forged = client.post("/r/account/mass", data={k: v for k, v in _confirmation(clearing.text, "account").items() if k != "_csrf_token"})
    assert forged.status_code == 403 and _versions(world) == before
    done = client.post("/r/account/mass", data=_confirmation(clearing.text, "account"))
    assert done.status_code == 200 and "<h1>Phone cleared</h1>" in done.text and "3 changed." in done.text
    assert [_versions(world)[world.accounts[n]][2] for n in ("alice", "bob", "mike", "carol")] == [None, None, None, "+33 1 5555"]
    client.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/r/account"})
    chinese = client.post("/r/account/mass", data={**bar, "shown": list(_shown(client.get("/r/account").text).values()),
                                                   "field": "billing_city", "value": "", "clear": "1"})
    assert "<h1>清空 3 个客户的账单城市</h1>" in chinese.text and "尚未做任何更改" in chinese.text


@pytest.mark.parametrize("field, value", [("billing_city", ""), ("billing_city", "   "), ("industry", ""), ("parent_account", ""),
                                          ("employees", "")])
def test_an_empty_value_never_clears_a_field_on_many_records(mike, world, field, value):
    client, csrf = mike
    system = Actor.system()
    parent = world.runtime.records.create(system, "account", {"name": "Parent", "owner": world.users["mike"]})["id"]
    for account in (world.accounts[n] for n in ("alice", "bob", "mike")):
        world.runtime.records.update(system, "account", account, {"billing_city": "Lyon", "industry": "retail", "parent_account": parent,
                                                                  "employees": 5}, version=1)
    before = _versions(world)
    shown = list(_shown(client.get("/r/account").text).values())

    refused = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": field, "_set": "1", "value": value,
                                                   "confirmed": "1", "all": "page", "shown": shown})

    assert refused.status_code == 422 and "no value given. To empty it on every selected record, tick “Clear this field”." in refused.text
    assert 'name="clear"' in refused.text and _versions(world) == before
    assert {world.runtime.records.get(system, "account", world.accounts[n])[field] is not None for n in ("alice", "bob", "mike")} == {True}


def test_clearing_takes_no_value_beside_it_and_a_required_field_is_never_offered_to_clear(mike, world):
    client, csrf = mike
    shown = list(_shown(client.get("/r/account").text).values())
    bar = {"_csrf_token": csrf, "action": "update", "_set": "1", "all": "page", "shown": shown}
    both = client.post("/r/account/mass", data={**bar, "field": "billing_city", "value": "Lyon", "clear": "1"})
    assert both.status_code == 422 and "Billing City: give a value or tick “Clear this field”, not both." in both.text
    assert 'name="clear"' not in client.get("/r/account/mass/value?field=name", headers=HX).text  # the account's name is required
    assert 'name="clear"' in client.get("/r/account/mass/value?field=billing_city", headers=HX).text
    required = client.post("/r/account/mass", data={**bar, "field": "name", "value": "", "clear": "1", "confirmed": "1"})
    assert required.status_code == 422 and "Account Name: is required" in required.text
    assert world.runtime.records.get(Actor.system(), "account", world.accounts["alice"])["name"] == "Alice Industries"


# --- sharing ----------------------------------------------------------------------------------


def test_sharing_a_record_from_its_detail_page_lets_the_other_user_read_it_until_removed(ui, world):
    account = world.accounts["alice"]
    csrf = signed_in(ui, "mike")
    detail = ui.get(f"/r/account/{account}")
    assert f'action="/r/account/{account}/shares"' in detail.text and '<label for="share-user">' in detail.text
    shared = ui.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "user": str(world.users["carol"]), "access": "read"},
                     follow_redirects=False)
    assert shared.status_code == 303 and shared.headers["location"] == f"/r/account/{account}#sharing"
    by_name = ui.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "_team": "West", "access": "edit"}, follow_redirects=False)
    assert by_name.status_code == 303  # typed without choosing from the picker (no JavaScript): found by its name
    page = ui.get(f"/r/account/{account}").text.split('id="sharing"')[1]
    assert "Carol — can read" in page and "West" in page and "can edit" in page  # people by their full names
    share_ids = re.findall(rf'action="/r/account/{account}/shares/(\d+)/delete"', page)
    assert len(share_ids) == 2

    signed_in(ui, "carol")
    assert ui.get(f"/r/account/{account}").status_code == 200
    csrf = signed_in(ui, "mike")
    for share_id in share_ids:
        assert ui.post(f"/r/account/{account}/shares/{share_id}/delete", data={"_csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert world.runtime.records.shares(Actor.system(), "account", account) == []
    signed_in(ui, "carol")
    assert ui.get(f"/r/account/{account}").status_code == 404


def test_people_are_named_by_their_full_names_on_the_sharing_list_and_in_the_history(ui, world):
    system, account = Actor.system(), world.accounts["alice"]
    for name, full_name in (("carol", "Carol Chen"), ("bob", "")):  # bob has none: his username
        user = world.runtime.records.get(system, "user", world.users[name])
        world.runtime.records.update(system, "user", user["id"], {"full_name": full_name}, version=user["version"])
    for name in ("carol", "bob"):
        world.runtime.records.share(system, "account", account, user=world.users[name], level="edit")
    world.runtime.records.update(world.actor("carol"), "account", account, {"phone": "+86 21 5555"}, version=1)
    signed_in(ui, "mike")
    page = ui.get(f"/r/account/{account}").text
    sharing = page.split('id="sharing"')[1].split("</section>")[0]
    assert "Carol Chen — can edit" in sharing and "bob — can edit" in sharing and "carol —" not in sharing
    assert 'aria-label="Stop sharing with Carol Chen"' in sharing
    change = page.split('id="timeline"')[1].split("+86 21 5555")[1].split("</time>")[0]
    assert "Carol Chen" in change and "carol" not in change


@pytest.mark.parametrize("form, message", [
    ({}, "Share with: choose a user or a team."),
    ({"user": "3", "team": "1"}, "Share with: choose a user or a team, not both."),
    ({"_user": "nobody-of-that-name"}, "User: no user called &#39;nobody-of-that-name&#39;"),
    ({"user": "999999"}, "user 999999 does not exist"),
    ({"_user": "carol", "access": "own"}, "Access: choose “can read” or “can edit”."),
])
def test_a_share_that_cannot_be_made_is_answered_beside_the_form(mike, world, form, message):
    client, csrf = mike
    account = world.accounts["alice"]
    answer = client.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "access": "read", **form})
    assert answer.status_code == 422 and full_page(answer)
    section = answer.text.split('id="sharing"')[1]
    assert message in section and 'role="alert"' in section
    assert world.runtime.records.shares(Actor.system(), "account", account) == []


def test_only_those_who_may_change_a_record_may_share_it(ui, world):
    account = world.accounts["alice"]
    csrf = signed_in(ui, "vera")  # reads every account, changes none
    assert "share-form" not in ui.get(f"/r/account/{account}").text
    assert ui.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "_user": "carol"}).status_code == 403
    csrf = signed_in(ui, "alice")  # bob's contact: her team's, readable, not hers to change
    bobs = world.runtime.records.list(Actor.system(), "contact", {"last_name": "Contact of bob"}).items[0]["id"]
    refused = ui.post(f"/r/contact/{bobs}/shares", data={"_csrf_token": csrf, "_user": "carol"})
    assert refused.status_code == 403 and "Your role may not share this record" in refused.text.split('id="sharing"')[1]
    assert world.runtime.records.shares(Actor.system(), "contact", bobs) == []


def test_sharing_with_htmx_answers_the_sharing_section_alone(mike, world):
    client, csrf = mike
    account = world.accounts["alice"]
    made = client.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "_user": "carol", "access": "edit"}, headers=HX)
    assert made.status_code == 200 and fragment(made) and made.text.startswith('<section class="sharing" id="sharing">')
    assert "Carol — can edit" in made.text
    wrong = client.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf}, headers=HX)
    assert wrong.status_code == 422 and fragment(wrong) and "Share with: choose a user or a team." in wrong.text
    share_id = re.search(rf'/r/account/{account}/shares/(\d+)/delete', made.text).group(1)
    removed = client.post(f"/r/account/{account}/shares/{share_id}/delete", data={"_csrf_token": csrf}, headers=HX)
    assert removed.status_code == 200 and fragment(removed) and "Nobody else." in removed.text
    again = client.post(f"/r/account/{account}/shares/{share_id}/delete", data={"_csrf_token": csrf}, headers=HX)
    assert again.status_code == 404 and fragment(again) and "already removed" in again.text


# --- error pages ------------------------------------------------------------------------------


@pytest.fixture
def hooked(make_runtime):
    """The people of access_world.py on a runtime with a plugin whose account hooks refuse, validate and fail."""
    world = build_world(make_runtime(plugins=("iota",), extra_plugins=[iota_ui_hooks]))
    with TestClient(create_app(world.runtime)) as client:
        yield client, world


def test_an_unexpected_failure_on_a_page_is_an_html_page_with_an_incident_and_no_stack_trace(hooked):
    client, _world = hooked
    csrf = signed_in(client, "mike")
    failed = client.post("/r/account/new", data={"_csrf_token": csrf, "name": "Explode"})
    assert failed.status_code == 500 and failed.headers["content-type"].startswith("text/html") and full_page(failed)
    assert re.search(r'<code class="incident">[0-9a-f]{12}</code>', failed.text)
    assert "Traceback" not in failed.text and iota_ui_hooks.SECRET not in failed.text and "RuntimeError" not in failed.text
    assert "Mike" in failed.text  # the usual page frame, with its navigation
    api = client.post("/api/records/account", json={"name": "Explode"}, headers={"X-CSRFToken": csrf})
    assert api.status_code == 500 and api.json()["error"] == "server_error" and iota_ui_hooks.SECRET not in api.text


def test_plugin_hooks_apply_to_every_record_of_a_mass_action(hooked):
    client, world = hooked
    csrf = signed_in(client, "mike")
    shown = list(_shown(client.get("/r/account").text).values())
    moved = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "update", "field": "billing_city", "_set": "1",
                                                 "value": "Atlantis", "confirmed": "1", "all": "page", "shown": shown})
    assert "0 changed." in moved.text and moved.text.count("Billing City: nobody delivers to Atlantis") == 3
    deleted = client.post("/r/account/mass", data={"_csrf_token": csrf, "action": "delete", "confirmed": "1", "all": "page",
                                                   "shown": list(_shown(client.get("/r/account").text).values())})
    assert "2 deleted." in deleted.text and "Bob Industries is kept for the auditors" in deleted.text
    assert [a["name"] for a in world.runtime.records.list(Actor.system(), "account", {"sort": "name"}).items] == ["Bob Industries", "Carol Industries"]


def test_unknown_addresses_are_an_html_not_found_on_pages_and_json_under_the_api(alice):
    client, _ = alice
    for path in ("/nowhere", "/r/account/abc/def", "/static/tessera/missing.css"):
        page = client.get(path)
        assert page.status_code == 404 and full_page(page) and "There is no page at this address." in page.text, path
    assert fragment(client.get("/nowhere", headers=HX))  # swapped into a page by htmx: the message alone
    api = client.get("/api/nowhere")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json") and api.json()["error"] == "not_found"


def test_a_form_without_its_csrf_token_is_an_html_page_asking_to_reload(alice):
    client, _ = alice
    refused = client.post("/r/account/new", data={"name": "Forged"})
    assert refused.status_code == 403 and full_page(refused) and "reload the page" in refused.text


# --- htmx partials ----------------------------------------------------------------------------


def test_lookup_options_are_a_fragment_for_htmx_and_a_page_of_links_without(alice):
    client, _ = alice
    picker = client.get("/r/account/options?field=account&_account=Alice", headers=HX)
    assert picker.status_code == 200 and fragment(picker) and '<li role="option">' in picker.text and "Alice Industries" in picker.text
    page = client.get("/r/account/options?q=Alice")
    assert page.status_code == 200 and full_page(page) and re.search(r'<a href="/r/account/\d+">Alice Industries</a>', page.text)


def test_the_list_partial_needs_its_target_and_both_answers_vary(alice):
    client, _ = alice
    assert full_page(client.get("/r/account?q=alice", headers=HX))  # htmx aiming elsewhere (a boosted link) gets the page
    assert fragment(client.get("/r/account?q=alice", headers=HTMX))
    assert full_page(client.get("/r/account?q=alice"))


def test_the_board_and_its_moves_answer_htmx_with_the_board_alone(alice, world):
    client, csrf = alice
    task = world.runtime.records.create(Actor.system(), "activity", {"subject": "Plan", "activity_type": "task", "owner": world.users["alice"]})
    assert full_page(client.get("/r/activity/kanban"))
    board = client.get("/r/activity/kanban", headers=HX)
    assert fragment(board) and board.text.startswith('<div id="board"')
    moved = client.post(f"/r/activity/{task['id']}/move", data={"_csrf_token": csrf, "value": "done", "version": "1"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/r/activity/kanban" and varies_on_htmx(moved)
    stale = client.post(f"/r/activity/{task['id']}/move", data={"_csrf_token": csrf, "value": "planned", "version": "1"}, follow_redirects=False)
    assert stale.status_code == 303 and "_problem=" in stale.headers["location"]
    shown = client.get(stale.headers["location"])
    assert 'role="alert"' in shown.text and "changed by someone else" in shown.text


def test_the_mass_action_input_is_a_fragment_for_htmx_and_a_way_back_without(mike):
    client, _ = mike
    widget = client.get("/r/account/mass/value?field=industry", headers=HX)
    assert widget.status_code == 200 and fragment(widget)
    assert 'name="_set"' in widget.text and '<select id="mass-value-input" name="value"' in widget.text and "Retail" in widget.text
    assert '<label for="mass-value-input">' in widget.text
    none = client.get("/r/account/mass/value?field=account_number_typo", headers=HX)
    assert fragment(none) and 'name="_set"' not in none.text
    plain = client.get("/r/account/mass/value?field=industry", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/r/account" and varies_on_htmx(plain)


def test_forms_posted_by_htmx_are_told_where_to_go_instead_of_redirected(alice, world):
    client, csrf = alice
    made = client.post("/r/account/new", data={"_csrf_token": csrf, "name": "Alice Three"}, headers=HX, follow_redirects=False)
    assert made.status_code == 200 and made.text == "" and made.headers["hx-redirect"].startswith("/r/account/") and varies_on_htmx(made)
    record_id = int(made.headers["hx-redirect"].rsplit("/", 1)[1])
    plain = client.post(f"/r/account/{record_id}/edit", data={"_csrf_token": csrf, "version": "1", "name": "Alice 3"}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/r/account/{record_id}" and varies_on_htmx(plain)
    signed_out = TestClient(client.app)
    partial = signed_out.get("/r/account/options?field=account", headers=HX, follow_redirects=False)
    assert partial.status_code == 401 and partial.headers["hx-redirect"].startswith("/login") and varies_on_htmx(partial)

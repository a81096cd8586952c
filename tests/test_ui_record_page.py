"""The record page a rep works on: the activity composer, one timeline, the path, fields changed in place,
the highlights and the related lists, through real HTTP on SQLite and PostgreSQL.

People come from access_world.py (alice: a rep who may not see account_number and may only read
annual_revenue; root: an administrator), here with the four industry plugins installed.
"""

from __future__ import annotations

import re

import pytest
from access_world import build_world
from fake_plugins import nu_path_refusal
from litestar.testing import TestClient

from core.api.app import create_app
from core.records import Actor
from test_ui_pages import HX, signed_in

PLUGINS = ("sales", "marketing", "service", "manufacturing_bom")
SYSTEM = Actor.system()


@pytest.fixture
def crm(make_runtime):
    world = build_world(make_runtime(plugins=PLUGINS))
    with TestClient(create_app(world.runtime)) as client:
        yield client, world


def _deal(world, account: int, **extra) -> dict:
    return world.runtime.records.create(SYSTEM, "opportunity", {"name": "Tower B fit-out", "account": account, "stage": "prospecting",
                                                                "close_date": "2027-03-31", **extra})


def _activities(world, account: int) -> list[dict]:
    return world.runtime.records.list(SYSTEM, "activity", {"related_object": "account", "related_id": account, "sort": "id"}).items


# --- the composer and the timeline ----------------------------------------------------------------


def test_a_rep_logs_a_call_from_an_account_and_sees_it_on_the_timeline(crm):
    client, world = crm
    csrf = signed_in(client, "alice")
    account = world.accounts["alice"]
    page = client.get(f"/r/account/{account}")
    assert page.status_code == 200 and "Log a call" in page.text and "New task" in page.text and 'id="timeline"' in page.text
    form = client.get(f"/r/account/{account}/compose/call", headers=HX)
    assert form.status_code == 200 and "<html" not in form.text and 'name="subject"' in form.text and 'name="kind" value="call"' in form.text
    logged = client.post(f"/r/account/{account}/activities", headers=HX,
                         data={"_csrf_token": csrf, "kind": "call", "subject": "Asked about the spring order", "due_date": "2026-12-01",
                               "description": "Wants 40 units", "status": "done"})
    assert logged.status_code == 200 and "<html" not in logged.text
    assert 'id="timeline"' in logged.text and 'hx-swap-oob="true"' in logged.text and "Asked about the spring order" in logged.text
    [call] = _activities(world, account)
    assert (call["activity_type"], call["status"], call["subject"], call["description"]) == ("call", "done", "Asked about the spring order", "Wants 40 units")
    assert call["owner"]["id"] == world.users["alice"]
    assert "Asked about the spring order" in client.get(f"/r/account/{account}").text


def test_the_composer_works_without_javascript_and_keeps_what_was_typed_when_refused(crm):
    client, world = crm
    csrf = signed_in(client, "alice")
    account = world.accounts["alice"]
    opened = client.get(f"/r/account/{account}?compose=task")
    assert opened.status_code == 200 and 'name="kind" value="task"' in opened.text
    refused = client.post(f"/r/account/{account}/activities", data={"_csrf_token": csrf, "kind": "task", "subject": "", "description": "Bring the samples"})
    assert refused.status_code == 422 and "<html" in refused.text
    assert 'id="compose-subject-error"' in refused.text and "Bring the samples" in refused.text
    assert _activities(world, account) == []
    made = client.post(f"/r/account/{account}/activities", follow_redirects=False,
                       data={"_csrf_token": csrf, "kind": "task", "subject": "Send the samples", "due_date": "2026-12-20"})
    assert made.status_code == 303 and made.headers["location"] == f"/r/account/{account}#timeline"
    [task] = _activities(world, account)
    assert (task["activity_type"], task["status"], task["due_date"]) == ("task", "planned", "2026-12-20")
    assert client.post(f"/r/account/{account}/activities", data={"kind": "task", "subject": "No token"}).status_code == 403


def test_the_timeline_merges_field_changes_with_activities_newest_first(crm):
    client, world = crm
    csrf = signed_in(client, "root")
    account = world.accounts["alice"]
    world.runtime.records.update(world.actor("mike"), "account", account, {"phone": "+86 21 5555", "billing_city": "Suzhou"}, version=1)
    client.post(f"/r/account/{account}/activities", data={"_csrf_token": csrf, "kind": "note", "subject": "Met at the fair"})
    page = client.get(f"/r/account/{account}").text
    timeline = page[page.index('id="timeline"'):]
    assert "Field change" in timeline and "+86 21 5555" in timeline and "Suzhou" in timeline and "Mike" in timeline
    assert timeline.index("Met at the fair") < timeline.index("+86 21 5555")  # newest first
    assert "<h2>History</h2>" not in page and "<h2>Activities</h2>" not in page  # one timeline instead of both


def test_an_open_task_is_ticked_done_from_the_timeline_with_its_version(crm):
    client, world = crm
    csrf = signed_in(client, "alice")
    account = world.accounts["alice"]
    task = world.runtime.records.create(SYSTEM, "activity", {"subject": "Call back about pricing", "activity_type": "task", "related_object": "account",
                                                             "related_id": account, "owner": world.users["alice"]})
    page = client.get(f"/r/account/{account}").text
    assert "Mark “Call back about pricing” done" in page
    task = world.runtime.records.update(SYSTEM, "activity", task["id"], {"priority": "high"}, version=1)  # meanwhile
    stale = client.post(f"/r/account/{account}/activities/{task['id']}/done", headers=HX, data={"_csrf_token": csrf, "version": "1"})
    assert stale.status_code == 409 and 'id="timeline-problem"' in stale.text
    assert world.runtime.records.get(SYSTEM, "activity", task["id"])["status"] == "planned"
    ticked = client.post(f"/r/account/{account}/activities/{task['id']}/done", headers=HX, data={"_csrf_token": csrf, "version": str(task["version"])})
    assert ticked.status_code == 200 and 'id="timeline"' in ticked.text and "Mark “Call back about pricing” done" not in ticked.text
    assert world.runtime.records.get(SYSTEM, "activity", task["id"])["status"] == "done"
    other = world.runtime.records.create(SYSTEM, "activity", {"subject": "Elsewhere", "activity_type": "task", "owner": world.users["alice"]})
    assert client.post(f"/r/account/{account}/activities/{other['id']}/done", headers=HX, data={"_csrf_token": csrf, "version": "1"}).status_code == 404


# --- the path -------------------------------------------------------------------------------------


def test_a_deal_moves_along_its_path_and_a_stale_version_is_refused(crm):
    client, world = crm
    csrf = signed_in(client, "root")
    deal = _deal(world, world.accounts["alice"])
    page = client.get(f"/r/opportunity/{deal['id']}").text
    assert 'class="path"' in page and re.search(r'<li class="step current" aria-current="step">\s*<span>Prospecting</span>', page)
    moved = client.post(f"/r/opportunity/{deal['id']}/path", headers=HX, data={"_csrf_token": csrf, "value": "qualification", "version": "1"})
    assert moved.status_code == 200 and moved.headers["hx-retarget"] == "#record-head"
    assert re.search(r'aria-current="step">\s*<span>Qualification</span>', moved.text) and 'id="record-fields" hx-swap-oob="true"' in moved.text
    assert world.runtime.records.get(SYSTEM, "opportunity", deal["id"])["stage"] == "qualification"
    stale = client.post(f"/r/opportunity/{deal['id']}/path", headers=HX, data={"_csrf_token": csrf, "value": "proposal", "version": "1"})
    assert stale.status_code == 409 and "someone changed this record meanwhile" in stale.text
    assert re.search(r'aria-current="step">\s*<span>Qualification</span>', stale.text)  # the page shows the record as it is now
    assert world.runtime.records.get(SYSTEM, "opportunity", deal["id"])["stage"] == "qualification"
    plain = client.post(f"/r/opportunity/{deal['id']}/path", follow_redirects=False, data={"_csrf_token": csrf, "value": "proposal", "version": "2"})
    assert plain.status_code == 303 and world.runtime.records.get(SYSTEM, "opportunity", deal["id"])["stage"] == "proposal"


def test_a_move_a_plugin_refuses_shows_its_reason_and_changes_nothing(make_runtime):
    world = build_world(make_runtime(plugins=("sales", "nu"), extra_plugins=[nu_path_refusal]))
    deal = _deal(world, world.accounts["alice"])
    with TestClient(create_app(world.runtime)) as client:
        csrf = signed_in(client, "root")
        refused = client.post(f"/r/opportunity/{deal['id']}/path", headers=HX, data={"_csrf_token": csrf, "value": "closed_won", "version": "1"})
        assert refused.status_code == 422 and "a deal is won with its amount; give the amount first" in refused.text
        assert 'id="record-message"' in refused.text
        plain = client.post(f"/r/opportunity/{deal['id']}/path", data={"_csrf_token": csrf, "value": "closed_won", "version": "1"})
        assert plain.status_code == 422 and "<html" in plain.text and "a deal is won with its amount" in plain.text
    assert world.runtime.records.get(SYSTEM, "opportunity", deal["id"])["stage"] == "prospecting"


# --- one field at a time --------------------------------------------------------------------------


def test_a_field_is_changed_in_place_with_the_records_version(crm):
    client, world = crm
    csrf = signed_in(client, "alice")
    account = world.accounts["alice"]
    page = client.get(f"/r/account/{account}").text
    assert 'aria-label="Change Phone"' in page
    assert 'aria-label="Change Annual Revenue"' not in page and "account_number" not in page  # read-only and hidden fields
    assert client.get(f"/r/account/{account}/field/annual_revenue", headers=HX).status_code == 403
    opened = client.get(f"/r/account/{account}/field/phone?version=1", headers=HX)
    assert opened.status_code == 200 and 'id="inline-phone"' in opened.text and 'name="version" value="1"' in opened.text
    saved = client.post(f"/r/account/{account}/field/phone", headers=HX, data={"_csrf_token": csrf, "version": "1", "phone": "+86 571 8888"})
    assert saved.status_code == 200 and saved.headers["hx-retarget"] == "#record-head"
    assert "+86 571 8888" in saved.text and 'id="record-version" name="version" value="2"' in saved.text
    assert world.runtime.records.get(SYSTEM, "account", account)["phone"] == "+86 571 8888"
    refused = client.post(f"/r/account/{account}/field/employees", headers=HX, data={"_csrf_token": csrf, "version": "2", "employees": "-3"})
    assert refused.status_code == 422 and 'id="inline-employees-error"' in refused.text and 'value="-3"' in refused.text


def test_a_field_changed_on_a_stale_version_shows_the_conflict_and_the_current_value(crm):
    client, world = crm
    csrf = signed_in(client, "alice")
    account = world.accounts["alice"]
    world.runtime.records.update(world.actor("mike"), "account", account, {"phone": "+86 10 1234"}, version=1)
    stale = client.post(f"/r/account/{account}/field/phone", headers=HX, data={"_csrf_token": csrf, "version": "1", "phone": "+86 571 8888"})
    assert stale.status_code == 409 and 'id="inline-phone-conflict"' in stale.text
    assert "+86 10 1234" in stale.text and 'value="+86 571 8888"' in stale.text and 'name="version" value="2"' in stale.text
    assert world.runtime.records.get(SYSTEM, "account", account)["phone"] == "+86 10 1234"
    cancelled = client.get(f"/r/account/{account}/field/phone/show", headers=HX)  # the page is brought up to date
    assert cancelled.headers["hx-retarget"] == "#record-head" and 'id="record-version" name="version" value="2"' in cancelled.text
    assert "+86 10 1234" in cancelled.text and "inline-phone" not in cancelled.text
    again = client.post(f"/r/account/{account}/field/phone", headers=HX, data={"_csrf_token": csrf, "version": "2", "phone": "+86 571 8888"})
    assert again.status_code == 200 and world.runtime.records.get(SYSTEM, "account", account)["phone"] == "+86 571 8888"
    plain = client.post(f"/r/account/{account}/field/phone", data={"_csrf_token": csrf, "version": "2", "phone": "+1"})
    assert plain.status_code == 409 and "<html" in plain.text and 'id="inline-phone-conflict"' in plain.text


def _field_value(page: str, name: str) -> str:
    return re.search(rf'<dd id="value-{name}".*?</dd>', page, re.S).group(0)


@pytest.mark.parametrize("lang, no_value", [("en", "No value"), ("zh_cn", "无值")])
def test_an_empty_field_shows_a_muted_dash_beside_its_pencil_and_a_filled_one_its_value(crm, lang, no_value):
    client, world = crm
    account = world.accounts["alice"]
    world.runtime.records.update(SYSTEM, "user", world.users["alice"], {"language": lang}, version=1)
    csrf = signed_in(client, "alice")
    empty = f'<span class="muted" aria-hidden="true">—</span><span class="visually-hidden">{no_value}</span>'
    page = client.get(f"/r/account/{account}").text
    phone, name = _field_value(page, "phone"), _field_value(page, "name")
    assert empty in phone and 'data-inline-pencil' in phone
    assert "Alice Industries" in name and "—" not in name
    head = page[page.index('id="record-head"'):page.index('id="record-fields"')]
    assert empty in head  # an empty highlight reads the same
    saved = client.post(f"/r/account/{account}/field/phone", headers=HX, data={"_csrf_token": csrf, "version": "1", "phone": "+86 571 8888"})
    filled = _field_value(saved.text, "phone")
    assert saved.status_code == 200 and "+86 571 8888" in filled and "—" not in filled
    cleared = client.post(f"/r/account/{account}/field/phone", headers=HX, data={"_csrf_token": csrf, "version": "2", "phone": ""})
    assert cleared.status_code == 200 and empty in _field_value(cleared.text, "phone")


# --- the head and the related lists ---------------------------------------------------------------


def test_the_head_shows_the_highlights_the_layout_names(crm):
    client, world = crm
    signed_in(client, "root")
    world.runtime.records.update(SYSTEM, "account", world.accounts["alice"], {"industry": "manufacturing", "phone": "+86 21 1"}, version=1)
    page = client.get(f"/r/account/{world.accounts['alice']}").text
    head = page[page.index('id="record-head"'):page.index('id="record-fields"')]
    assert 'class="highlights"' in head and "Industry" in head and "+86 21 1" in head and "Alice" in head


def test_an_account_shows_its_deals_quotes_tickets_and_orders_with_counts(crm):
    client, world = crm
    signed_in(client, "root")
    account = world.accounts["alice"]
    deals = [_deal(world, account, name=f"Deal {n}") for n in range(7)]
    world.runtime.records.create(SYSTEM, "quote", {"name": "Q-Tower", "account": account, "opportunity": deals[0]["id"]})
    world.runtime.records.create(SYSTEM, "ticket", {"subject": "Pump leaks", "customer": account})
    page = client.get(f"/r/account/{account}").text
    for list_id in ("contact-account", "opportunity-account", "quote-account", "contract-account", "ticket-customer",
                    "equipment-customer", "sales_order-customer", "purchase-account"):
        assert f'id="related-{list_id}"' in page, list_id
    deals = page[page.index('id="related-opportunity-account"'):page.index('id="related-quote-account"')]
    assert '<span class="count">7</span>' in deals and len(re.findall(r'href="/r/opportunity/\d+"', deals)) == 5
    assert f'href="/r/opportunity?account={account}"' in deals and f'href="/r/opportunity/new?account={account}"' in deals
    assert "Q-Tower" in page and "Pump leaks" in page


def test_a_related_list_shows_the_columns_and_rows_its_layout_names(crm):
    client, world = crm
    signed_in(client, "root")
    account = world.accounts["alice"]
    layout = {k: v for k, v in world.runtime.current_metadata().layouts["account:detail:default"].items()}
    layout["related_lists"] = [{"list": "contact.account", "columns": ["last_name", "email"], "rows": 1}, "opportunity.account"]
    world.runtime.import_changeset({"format": "tessera-changeset/1", "layouts": [layout]}, "test", "test")
    world.runtime.records.create(SYSTEM, "contact", {"last_name": "Second", "email": "second@example.com", "account": account})
    page = client.get(f"/r/account/{account}").text
    contacts = page[page.index('id="related-contact-account"'):page.index('id="related-opportunity-account"')]
    assert '<span class="count">2</span>' in contacts and len(re.findall(r'href="/r/contact/\d+"', contacts)) == 1
    assert '<th scope="col">Email</th>' in contacts and "<th scope=\"col\">Account</th>" not in contacts
    assert 'id="related-account-parent_account"' not in page  # the customized layout names its lists (plugins add theirs)


@pytest.mark.parametrize("change, message", [
    ({"layouts": [{"object": "account", "kind": "detail", "highlights": ["nickname"], "sections": [{"label": {"en": "A"}, "fields": ["name"]}]}]},
     "'nickname' is not a field of 'account'"),
    ({"layouts": [{"object": "account", "kind": "detail", "highlights": ["a"] * 9, "sections": [{"label": {"en": "A"}, "fields": ["name"]}]}]},
     "highlights"),
    ({"objects": [{"name": "gadget", "label": {"en": "Gadget"}, "process_field": "name", "fields": [{"name": "name", "type": "text", "label": {"en": "Name"}}]}]},
     "the process field 'name' is not a picklist field of 'gadget'"),
])
def test_highlights_and_a_process_field_are_checked(make_runtime, change, message):
    from core.metadata.problems import MetadataError  # noqa: PLC0415

    runtime = make_runtime()
    with pytest.raises(MetadataError) as refused:
        runtime.import_changeset({"format": "tessera-changeset/1", **change}, "test", "test")
    assert message in str(refused.value)

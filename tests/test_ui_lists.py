"""The list page as people work with it: how many records match, the filters in use as chips, short
addresses, every matching record selected at once, and cells that read like values (links, badges, money).

People come from access_world.py (alice: a rep; mike: her manager, who reads the East team's accounts).
"""

from __future__ import annotations

import re

import pytest
from access_world import build_world
from litestar.testing import TestClient

from core.api.app import create_app
from core.query import COUNT_CAP
from core.records import Actor
from ui.fields import money, tone
from ui.mass_actions import MASS_LIMIT
from test_ui_pages import HX, HTMX, signed_in

SYSTEM = Actor(user_id=None, name="system", permission_set=None)


def _set(runtime, object_name: str, record_id: int, values: dict) -> None:
    current = runtime.records.get(SYSTEM, object_name, record_id)
    runtime.records.update(SYSTEM, object_name, record_id, values, version=current["version"])


@pytest.fixture
def mike(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client, signed_in(client, "mike")


def _count(client, query: str = "") -> str:
    answer = client.get(f"/r/account/count{query}", headers=HX)
    assert answer.status_code == 200 and "<html" not in answer.text
    return re.sub(r"<[^>]+>", "", answer.text).strip()


def test_the_list_asks_for_its_count_after_it_is_drawn_and_the_count_follows_the_scope_and_the_filters(mike, world):
    client, _csrf = mike
    page = client.get("/r/account?industry__in=retail")
    assert 'hx-get="/r/account/count?industry__in=retail"' in page.text and 'hx-trigger="load"' in page.text
    east = len(world.runtime.records.list(world.actor("mike"), "account", {"limit": "500"}).items)
    assert _count(client) == f"{east} accounts match"
    _set(world.runtime, "account", world.accounts["alice"], {"industry": "retail"})
    assert _count(client, "?industry__in=retail") == "1 account match"
    _set(world.runtime, "user", world.users["mike"], {"language": "zh_cn"})
    assert _count(client, "?industry__in=retail") == "共 1 条客户"
    assert _count(client, "?no_such_field=1") == ""  # the list itself says what is wrong with the filter


def test_past_the_bound_the_count_says_so_instead_of_counting_on(runtime):
    system_rows = [{"name": f"Bulk {i}"} for i in range(COUNT_CAP + 5)]
    runtime.records.create_many(SYSTEM, "account", system_rows)
    world = build_world(runtime)
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "root")
        assert _count(client) == f"{COUNT_CAP:,}+ accounts match"
        assert _count(client, "?name__startswith=Bulk%201000") == "6 accounts match"  # Bulk 1000 and Bulk 10000 to 10004


def test_filters_in_use_are_chips_each_leading_to_the_list_without_it(mike, world):
    client, _csrf = mike
    page = client.get("/r/account?account_type__in=customer,partner&q=Ind&annual_revenue__gte=10", headers=HTMX).text
    chips = re.findall(r"<li><span>([^<]+)</span>\s*<a href=\"([^\"]+)\"", page)
    removing = {text: sorted(href.split("?")[1].split("&amp;")) for text, href in chips}
    assert removing == {"Type is Customer or Partner": ["annual_revenue__gte=10", "q=Ind"],
                        "Search: “Ind”": ["account_type__in=customer%2Cpartner", "annual_revenue__gte=10"],
                        "Annual Revenue from 10": ["account_type__in=customer%2Cpartner", "q=Ind"]}
    assert "Clear all" in page
    _set(world.runtime, "user", world.users["mike"], {"language": "zh_cn"})
    chinese = client.get("/r/account?account_type__in=customer&owner=" + str(world.users["alice"]), headers=HTMX).text
    assert sorted(re.findall(r"<li><span>([^<]+)</span>", chinese)) == ["客户类型为正式客户", "负责人为Alice"]  # a user by their full name
    assert '<ul class="chips"' not in client.get("/r/account", headers=HTMX).text


def test_the_address_of_a_list_keeps_only_the_filters_in_use(mike):
    client, _csrf = mike
    sent = client.get("/r/account?q=&industry__in=retail&industry__in=energy&phone__contains=&sort=", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/r/account?industry__in=retail%2Cenergy"
    swapped = client.get("/r/account?q=&industry__in=retail", headers=HTMX)
    assert swapped.status_code == 200 and swapped.headers["hx-push-url"] == "/r/account?industry__in=retail"
    assert "hx-push-url" not in client.get("/r/account?industry__in=retail", headers=HTMX).headers
    assert client.get("/r/account?industry__in=retail", follow_redirects=False).status_code == 200


def test_every_matching_record_can_be_changed_at_once_after_the_confirmation(mike, world):
    client, csrf = mike
    runtime = world.runtime
    for i in range(3):
        runtime.records.create(SYSTEM, "account", {"name": f"Match {i}", "owner": world.users["mike"]})
    runtime.records.create(SYSTEM, "account", {"name": "Other", "owner": world.users["mike"]})
    form = {"_csrf_token": csrf, "action": "update", "field": "billing_city", "_set": "1", "value": "Ningbo",
            "all": ["page", "matching"], "back": "name__startswith=Match"}
    asked = client.post("/r/account/mass", data=form)
    assert asked.status_code == 200 and "Set Billing City to Ningbo on 3 accounts" in asked.text
    assert all(runtime.records.get(SYSTEM, "account", r["id"])["billing_city"] != "Ningbo"
               for r in runtime.records.list(SYSTEM, "account", {"name__startswith": "Match"}).items)
    confirmed = {**form, "confirmed": "1", "all": [], "id": re.findall(r'name="id" value="(\d+)"', asked.text),
                 "shown": re.findall(r'name="shown" value="([\d:]+)"', asked.text)}
    done = client.post("/r/account/mass", data=confirmed)
    assert "3 changed." in done.text
    cities = {r["name"]: r["billing_city"] for r in runtime.records.list(SYSTEM, "account", {"name__startswith": "Match"}).items}
    assert cities == {"Match 0": "Ningbo", "Match 1": "Ningbo", "Match 2": "Ningbo"}
    assert runtime.records.list(SYSTEM, "account", {"name": "Other"}).items[0]["billing_city"] != "Ningbo"


def test_selecting_every_match_stays_within_the_scope_and_the_limit(mike, world):
    client, csrf = mike
    runtime = world.runtime
    form = {"_csrf_token": csrf, "action": "delete", "all": "matching", "back": "name__contains=Industries"}
    asked = client.post("/r/account/mass", data=form)
    readable = {r["name"] for r in runtime.records.list(world.actor("mike"), "account", {"name__contains": "Industries"}).items}
    assert asked.status_code == 200 and f"Delete {len(readable)} accounts" in asked.text and "Carol Industries" not in asked.text
    runtime.records.create_many(SYSTEM, "account", [{"name": f"Many {i}", "owner": world.users["mike"]} for i in range(MASS_LIMIT + 1)])
    refused = client.post("/r/account/mass", data={**form, "back": "name__startswith=Many"})
    assert refused.status_code == 422 and f"{MASS_LIMIT + 1} records match: change at most {MASS_LIMIT} at a time" in refused.text
    assert len(runtime.records.list(SYSTEM, "account", {"name__startswith": "Many", "limit": "500"}).items) == MASS_LIMIT


def test_cells_read_like_values_lookups_link_to_their_records_picklists_are_badges_amounts_carry_the_symbol(mike, world):
    client, _csrf = mike
    contacts = client.get("/r/contact", headers=HTMX).text
    alice = world.accounts["alice"]
    assert f'<a href="/r/account/{alice}">Alice Industries</a>' in contacts
    _set(world.runtime, "account", alice, {"account_type": "customer"})
    accounts = client.get("/r/account", headers=HTMX).text
    assert re.search(r'<td [^>]*data-label="Type"><span class="value" data-cell-value><span class="badge tone-green">Customer</span></span>',
                     accounts), accounts[:3000]  # a cell mike may change, with its pencil
    assert '<td data-label="Owner"><a href="/r/user/' in accounts
    assert money("USD", "en", 2)(-1250.5) == "-$1,250.50" and money("CNY", "zh-CN", 2)(3000) == "¥3,000.00"
    assert money("USD", "zh-CN", 0)(12) == "US$12"
    assert tone("#2e7d32") == "green" and tone("#9e9e9e") == "gray" and tone("#c62828") == "red" and tone("not a colour") == "gray"


def test_an_amount_shows_the_installations_currency_unless_its_field_names_one(runtime, tmp_path):
    from core.metadata.model import FieldDef
    from ui.fields import display
    amount = FieldDef("amount", runtime.registry["currency"], {"type": "currency"}, "deal", False, "test")
    priced = FieldDef("price", runtime.registry["currency"], {"type": "currency", "currency": "EUR"}, "deal", False, "test")
    assert display(amount, 1500, "en", "USD") == "$1,500.00" and display(amount, 1500, "zh-CN", "CNY") == "¥1,500.00"
    assert display(priced, 1500, "en", "USD") == "€1,500.00"
    assert display(amount, 1500, "en") == "1,500.00"


def test_the_currency_setting_is_an_iso_code():
    from core.settings import Settings, SettingsError
    assert Settings.from_env({"TESSERA_CURRENCY": "cny"}).currency == "CNY"
    with pytest.raises(SettingsError, match="TESSERA_CURRENCY: 'dollars' is not an ISO 4217 currency code"):
        Settings.from_env({"TESSERA_CURRENCY": "dollars"})


def test_a_lookups_suggestions_have_a_second_line_that_tells_records_apart(mike, world):
    client, _csrf = mike
    suggestions = client.get("/r/contact/options?field=contact&_contact=Contact", headers=HX).text
    alice = re.search(r'data-label="Contact of alice">Contact of alice<small class="option-detail">([^<]+)</small>', suggestions)
    assert alice and "Alice Industries" in alice.group(1), suggestions

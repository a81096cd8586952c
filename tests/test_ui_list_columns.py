"""A list's columns as each person chooses them (kept in its address and in saved views), a cell changed in
place with the record's version, and people named by their full names wherever a record points at them.

People come from access_world.py (alice: a rep, who may not see account_number; mike: her manager).
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qsl, urlencode

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from core.records import Actor
from test_ui_pages import HTMX, HX, signed_in

SYSTEM = Actor.system()


@pytest.fixture
def client(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def _set(runtime, object_name: str, record_id: int, values: dict) -> dict:
    current = runtime.records.get(SYSTEM, object_name, record_id)
    return runtime.records.update(SYSTEM, object_name, record_id, values, version=current["version"])


def _headers(page: str) -> list[str]:
    head = page.split("<thead>")[1].split("</thead>")[0]
    return [re.sub(r"<[^>]+>|[▲▼]", "", th).strip() for th in re.findall(r'<th scope="col">(.*?)</th>', head, re.S) if "checkbox" not in th]


def _export_link(page: str) -> str:
    return re.search(r'href="(/api/export/account\?[^"]+)"', page).group(1).replace("&amp;", "&")


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _chinese(world, name: str) -> None:
    _set(world.runtime, "user", world.users[name], {"language": "zh_cn"})


# --- columns ---------------------------------------------------------------------------------


def test_chosen_columns_are_shown_in_their_order_and_kept_by_sorting_paging_and_the_filters(client, world):
    signed_in(client, "mike")
    page = client.get("/r/account?columns=industry,name,owner&sort=name")
    assert page.status_code == 200
    assert _headers(page.text) == ["Industry", "Account Name", "Owner"]
    sort_links = re.findall(r'<th scope="col">\s*<a href="/r/account\?([^"]+)"', page.text)
    assert sort_links and all(dict(parse_qsl(link.replace("&amp;", "&")))["columns"] == "industry,name,owner" for link in sort_links)
    assert '<input type="hidden" name="columns" value="industry,name,owner" form="filters">' in page.text  # the filters keep them
    chooser = page.text.split('class="choose-columns"')[1].split("</details>")[0]
    offered = re.findall(r'name="columns" value="([a-z_]+)"( checked)?', chooser)
    assert offered[:3] == [("industry", " checked"), ("name", " checked"), ("owner", " checked")]
    assert ("phone", "") in offered and ("created_at", "") in offered
    several = client.get("/r/account?columns=phone&columns=name", follow_redirects=False)  # what the chooser's form sends
    assert several.status_code == 303 and several.headers["location"] == "/r/account?" + urlencode({"columns": "phone,name"})
    filtered = client.get("/r/account?" + urlencode({"columns": "phone,name", "q": "Alice"}), headers=HTMX)
    assert _headers(filtered.text) == ["Phone", "Account Name"] and "Alice Industries" in filtered.text
    count = client.get("/r/account/count?" + urlencode({"columns": "phone,name"}), headers=HX)
    assert count.status_code == 200 and "match" in count.text  # the columns are no filter
    export = dict(parse_qsl(_export_link(page.text).split("?")[1]))
    assert export["columns"] == "industry,name,owner" and export["sort"] == "name"  # the export writes what the list shows


def test_a_saved_view_keeps_its_columns_and_opening_it_shows_them(client, world):
    csrf = signed_in(client, "mike")
    query = urlencode({"q": "Industries", "columns": "billing_city,name"})
    saved = client.post("/r/account/views", data={"_csrf_token": csrf, "query": query, "name": "Cities"}, follow_redirects=False)
    assert saved.status_code == 303
    listing = client.get("/r/account").text
    link = re.search(r'<a href="/r/account\?([^"]+)"[^>]*>Cities</a>', listing).group(1).replace("&amp;", "&")
    assert dict(parse_qsl(link))["columns"] == "billing_city,name"
    opened = client.get(f"/r/account?{link}")
    assert _headers(opened.text) == ["Billing City", "Account Name"] and 'aria-current="page">Cities</a>' in opened.text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_column_naming_no_field_is_refused_naming_it(client, world, lang):
    if lang == "zh":
        _chinese(world, "mike")
    csrf = signed_in(client, "mike")
    page = client.get("/r/account?columns=name,no_such_field")
    said = {"en": "Columns: there is no field “no_such_field” you may show in this list.",
            "zh": "显示列：此列表中没有您可显示的字段“no_such_field”。"}[lang]
    assert page.status_code == 400 and said in page.text
    assert "Alice Industries" in page.text and "no_such_field" not in page.text.split("<thead>")[1]  # the list, with its usual columns
    saving = client.post("/r/account/views", data={"_csrf_token": csrf, "query": "columns=name,no_such_field", "name": "Broken"})
    assert saving.status_code == 422 and said in saving.text
    assert "Broken" not in client.get("/r/account").text


def test_a_hidden_field_is_never_offered_nor_shown_as_a_column(client, world):
    csrf = signed_in(client, "alice")  # her role hides account_number
    page = client.get("/r/account")
    chooser = page.text.split('class="choose-columns"')[1].split("</details>")[0]
    assert 'value="account_number"' not in chooser and 'value="industry"' in chooser
    asked = client.get("/r/account?columns=name,account_number")
    assert asked.status_code == 400 and "“account_number”" in asked.text
    assert "Account Number" not in asked.text.split("<thead>")[1].split("</thead>")[0]
    saving = client.post("/r/account/views", data={"_csrf_token": csrf, "query": "columns=account_number", "name": "Numbers"})
    assert saving.status_code == 422 and "“account_number”" in saving.text


# --- exports ---------------------------------------------------------------------------------


def test_the_export_link_writes_the_chosen_columns_in_their_order(client, world):
    signed_in(client, "mike")
    _set(world.runtime, "account", world.accounts["alice"], {"industry": "technology", "phone": "+1 555 0100"})
    page = client.get("/r/account?" + urlencode({"columns": "phone,name,industry", "q": "Alice"}))
    assert _headers(page.text) == ["Phone", "Account Name", "Industry"]
    exported = client.get(_export_link(page.text))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert _csv(exported.text) == [["Phone", "Account Name", "Industry"], ["'+1 555 0100", "Alice Industries", "Technology"]]


def test_a_saved_views_columns_are_exported(client, world):
    csrf = signed_in(client, "mike")
    query = urlencode({"q": "Bob", "columns": "owner,name"})
    client.post("/r/account/views", data={"_csrf_token": csrf, "query": query, "name": "Owners"}, follow_redirects=False)
    listing = client.get("/r/account").text
    link = re.search(r'<a href="/r/account\?([^"]+)"[^>]*>Owners</a>', listing).group(1).replace("&amp;", "&")
    exported = client.get(_export_link(client.get(f"/r/account?{link}").text))
    assert _csv(exported.text) == [["owner", "Account Name"], ["Bob", "Bob Industries"]]


def test_without_chosen_columns_the_export_writes_every_column(client, world):
    signed_in(client, "mike")
    page = client.get("/r/account?q=Alice")
    assert "columns" not in _export_link(page.text)
    header = _csv(client.get(_export_link(page.text)).text)[0]
    assert header[:2] == ["id", "Account Name"] and "Annual Revenue" in header and "owner" in header


def test_a_hidden_field_is_never_exported_even_when_named(client, world):
    signed_in(client, "alice")  # her role hides account_number
    page = client.get("/r/account?columns=name,account_number")
    assert page.status_code == 400 and "columns" not in _export_link(page.text)  # the list shows its usual columns
    asked = client.get("/api/export/account?" + urlencode({"columns": "name,account_number", "labels": "en"}))
    assert asked.status_code == 400 and asked.json()["errors"][0]["parameter"] == "columns"
    assert "account_number" in asked.json()["message"] and "SECRET" not in asked.text
    workbook = client.get("/api/export/account?" + urlencode({"columns": "account_number", "format": "xlsx"}))
    assert workbook.status_code == 400 and "SECRET" not in workbook.text


# --- a cell changed in place -----------------------------------------------------------------


def _cell_form(client, record_id: int, field: str) -> str:
    answer = client.get(f"/r/account/{record_id}/field/{field}?in=cell", headers=HX)
    assert answer.status_code == 200 and answer.text.startswith(f'<td id="cell-{record_id}-{field}"'), answer.text[:300]
    return answer.text


def test_a_cell_opens_its_input_saves_in_place_and_draws_back_the_cell(client, world):
    csrf = signed_in(client, "mike")
    alice = world.accounts["alice"]
    listing = client.get("/r/account?columns=name,phone", headers=HTMX).text
    assert (f'<a class="pencil" href="/r/account/{alice}/field/phone" data-cell-pencil aria-label="Change Phone of Alice Industries">'
            in listing), listing  # the page's script opens it in place, with the row's version
    assert f'id="version-{alice}"' in listing
    assert f'href="/r/account/{alice}/field/name" data-cell-pencil data-link ' in listing  # the first cell, which links to the record
    form = _cell_form(client, alice, "phone")
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    assert 'name="in" value="cell"' in form and f'hx-target="#cell-{alice}-phone"' in form
    saved = client.post(f"/r/account/{alice}/field/phone", headers=HX,
                        data={"_csrf_token": csrf, "version": version, "in": "cell", "phone": "+1 555 0100"})
    assert saved.status_code == 200 and saved.text.startswith(f'<td id="cell-{alice}-phone"') and "+1 555 0100" in saved.text
    new_version = str(int(version) + 1)
    assert f'id="version-{alice}" name="version" value="{new_version}" form="row-versions" hx-swap-oob="true"' in saved.text
    assert f'id="shown-{alice}" name="shown" value="{alice}:{new_version}" hx-swap-oob="true"' in saved.text
    assert world.runtime.records.get(SYSTEM, "account", alice)["phone"] == "+1 555 0100"
    first = client.get(f"/r/account/{alice}/field/name?in=cell&link=1", headers=HX).text  # the row's first cell links to the record
    assert '<input type="hidden" name="link" value="1">' in first and f"/field/name/show?in=cell&amp;link=1" in first
    cancelled = client.get(f"/r/account/{alice}/field/name/show?in=cell&link=1", headers=HX)
    assert cancelled.text.startswith(f'<td id="cell-{alice}-name"') and f'<a href="/r/account/{alice}">Alice Industries</a>' in cancelled.text


def test_a_stale_cell_edit_shows_the_conflict_in_the_cell_and_keeps_what_was_typed(client, world):
    _chinese(world, "mike")
    csrf = signed_in(client, "mike")
    alice = world.accounts["alice"]
    version = re.search(r'name="version" value="(\d+)"', _cell_form(client, alice, "phone")).group(1)
    _set(world.runtime, "account", alice, {"phone": "+1 555 0199"})  # someone else, meanwhile
    stale = client.post(f"/r/account/{alice}/field/phone", headers=HX,
                        data={"_csrf_token": csrf, "version": version, "in": "cell", "phone": "+1 555 0123"})
    assert stale.status_code == 409 and stale.text.startswith(f'<td id="cell-{alice}-phone"')
    assert "其间有人修改了此记录。当前保存的值为：+1 555 0199" in stale.text
    assert 'value="+1 555 0123"' in stale.text and 'class="conflict"' in stale.text
    assert world.runtime.records.get(SYSTEM, "account", alice)["phone"] == "+1 555 0199"


def test_no_pencil_where_the_user_may_not_change_the_field_or_the_record(client, world):
    csrf = signed_in(client, "alice")  # a rep: annual_revenue is read-only to her, and she changes only her own accounts
    _set(world.runtime, "account", world.accounts["bob"], {"owner": world.users["alice"]})  # now hers too
    listing = client.get("/r/account?columns=name,annual_revenue,phone", headers=HTMX).text
    assert "/field/annual_revenue" not in listing and "/field/phone" in listing
    refused = client.post(f"/r/account/{world.accounts['alice']}/field/annual_revenue", headers=HX,
                          data={"_csrf_token": csrf, "version": "1", "in": "cell", "annual_revenue": "5"})
    assert refused.status_code == 403 and "You may not change this field." in refused.text


def test_only_records_the_user_may_change_have_pencils(client, world):
    vera_csrf = signed_in(client, "vera")  # a viewer: reads every account, changes none
    listing = client.get("/r/account?columns=name,phone", headers=HTMX).text
    assert "data-cell-pencil" not in listing and "/field/" not in listing and "Alice Industries" in listing
    assert vera_csrf


# --- people by their full names -------------------------------------------------------------


def test_owners_appear_by_their_full_name_in_lists_record_pages_pickers_and_exports(client, world):
    _set(world.runtime, "user", world.users["alice"], {"full_name": "Alice Archer"})
    _set(world.runtime, "user", world.users["bob"], {"full_name": ""})  # no full name: the username
    signed_in(client, "mike")
    alice, bob = world.accounts["alice"], world.accounts["bob"]
    listing = client.get("/r/account?columns=name,owner", headers=HTMX).text
    assert f'<a href="/r/user/{world.users["alice"]}">Alice Archer</a>' in listing
    assert f'<a href="/r/user/{world.users["bob"]}">bob</a>' in listing
    record = client.get(f"/r/account/{alice}").text
    assert "Alice Archer" in record
    assert client.get(f"/r/account/{bob}").status_code == 200
    picker = client.get("/r/user/options?field=owner&_owner=Archer", headers=HX).text
    assert "Alice Archer" in picker
    export = client.get("/api/export/account?sort=name&labels=en").text
    assert "Alice Archer" in export
    contacts = client.get("/r/contact", headers=HTMX).text
    assert "Alice Archer" in contacts
    user_page = client.get(f"/r/user/{world.users['alice']}").text
    assert "<h1>Alice Archer</h1>" in user_page


def test_a_user_is_found_by_their_full_name_when_typed_in_a_lookup(world):
    from core.titles import find_by_title

    _set(world.runtime, "user", world.users["carol"], {"full_name": "Carol Chen"})
    found = find_by_title(world.runtime.records, SYSTEM, world.runtime.current_metadata().object("user"), "carol chen")
    assert found.single == world.users["carol"]

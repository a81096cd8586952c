"""Setup of a record page through real HTTP: highlights, the process field and related lists, saved as metadata
(exported with the configuration) and seen on the record's page; bad input refused naming what is wrong, with
nothing saved. On SQLite and PostgreSQL, with the sales plugin (deals point to accounts)."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.records import Actor
from test_ui_pages import signed_in

SYSTEM = Actor.system()


@pytest.fixture
def crm(make_runtime):
    return build_world(make_runtime(plugins=("sales",)))


@pytest.fixture
def root(crm):
    with TestClient(create_app(crm.runtime)) as client:
        yield client, signed_in(client, "root")


def arrange(client: TestClient, csrf: str, object_name: str, **fields):
    return client.post(f"/setup/objects/{object_name}/record-page", data={"_csrf_token": csrf, **fields}, follow_redirects=False)


GOOD = {
    "highlight": ["phone", "industry"], "highlight_order_phone": "2", "highlight_order_industry": "1",
    "process_field": "account_type",
    "related": ["opportunity.account", "contact.account"],
    "related_order_opportunity.account": "1", "related_rows_opportunity.account": "3", "related_columns_opportunity.account": "name, amount",
    "related_order_contact.account": "2", "related_rows_contact.account": "", "related_columns_contact.account": "",
}


def test_the_record_page_is_arranged_and_shown_and_exported(root, crm):
    client, csrf = root
    form = client.get("/setup/objects/account/record-page")
    assert form.status_code == 200
    assert 'name="related" value="opportunity.account"' in form.text and 'value="account_type"' in form.text
    assert 'href="/setup/objects/account/record-page"' in client.get("/setup/objects/account").text
    saved = arrange(client, csrf, "account", **GOOD)
    assert saved.status_code == 303, saved.text[:3000]
    layout = crm.runtime.current_metadata().layout("account", "detail")
    assert layout.highlights == ["industry", "phone"]
    assert [r.as_entry() for r in layout.shown_related_lists] == [
        {"list": "opportunity.account", "columns": ["name", "amount"], "rows": 3}, "contact.account"]
    hidden = {r.name for r in layout.related_lists if r.hidden}
    assert {"quote.account", "contract.account", "account.parent_account"} <= hidden  # unticked, the plugin's lists included
    assert crm.runtime.current_metadata().object("account").process_field == "account_type"
    account = crm.runtime.records.create(SYSTEM, "account", {"name": "Shown Works", "account_type": "customer"
                                                             if "customer" in _values(crm, "account_type") else None})
    page = client.get(f"/r/account/{account['id']}").text
    assert 'class="path"' in page
    assert page.index('id="related-opportunity-account"') < page.index('id="related-contact-account"')
    assert 'id="related-activity' not in page and 'id="related-quote-account"' not in page
    form = client.get("/setup/objects/account/record-page").text
    assert 'value="quote.account" checked' not in form and 'value="opportunity.account" checked' in form
    exported = client.get("/setup/config/export").json()
    detail = next(l for l in exported["layouts"] if l["object"] == "account" and l["kind"] == "detail")
    assert detail["highlights"] == ["industry", "phone"]
    assert {"object": "account", "process_field": "account_type"}.items() <= next(
        e for e in exported["extensions"] if e["object"] == "account").items()


def _values(crm, name: str) -> list[str]:
    return [v["value"] for v in crm.runtime.current_metadata().object("account").fields[name].spec["values"]]


@pytest.mark.parametrize("change, message", [
    ({"highlight": ["phone", "nickname"]}, "Highlights: Accounts have no field “nickname”."),
    ({"process_field": "name"}, "Process field: “Account Name” is not a picklist field"),
    ({"process_field": "stagee"}, "Process field: Accounts have no field “stagee”."),
    ({"related_rows_opportunity.account": "0"}, "Opportunities (Account): the number of rows is a whole number from 1 to 50, not “0”."),
    ({"related_rows_opportunity.account": "-3"}, "not “-3”"),
    ({"related_columns_opportunity.account": "name, amout"}, "Opportunities (Account): Opportunities have no field “amout”."),
    ({"related": ["invoice.account"]}, "Related lists: there is no list “invoice.account”"),
])
def test_bad_input_is_refused_naming_it_and_nothing_is_saved(root, crm, change, message):
    client, csrf = root
    before = crm.runtime.current_metadata()
    refused = arrange(client, csrf, "account", **{**GOOD, **change})
    assert refused.status_code == 422
    errors = re.search(r'id="setup-errors">(.*?)</div>', refused.text, re.S).group(1)
    assert message in errors.replace("&#34;", '"'), errors
    after = crm.runtime.current_metadata()
    assert after.layouts.get("account:detail:default") == before.layouts.get("account:detail:default")
    assert after.object("account").process_field is None


def test_a_plugins_process_field_is_taken_away_and_given_back(root, crm):
    client, csrf = root
    assert crm.runtime.current_metadata().object("opportunity").process_field == "stage"
    assert arrange(client, csrf, "opportunity", process_field="").status_code == 303
    assert crm.runtime.current_metadata().object("opportunity").process_field is None
    assert arrange(client, csrf, "opportunity", process_field="stage").status_code == 303
    assert crm.runtime.current_metadata().object("opportunity").process_field == "stage"


def test_the_record_page_setup_answers_in_chinese(root, crm):
    client, csrf = root
    client.cookies.set("tessera_lang", "zh-CN")
    page = client.get("/setup/objects/account/record-page", headers={"Accept-Language": "zh-CN"})
    assert "要点字段" in page.text and "流程字段" in page.text and "相关列表" in page.text

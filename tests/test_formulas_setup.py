"""The formula editor in Setup, through real HTTP: check as you type, preview on a record, add and change a formula field,
and the field then shown read-only on lists, record pages and forms, in English and Chinese."""

from __future__ import annotations

import html
import re

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.records import Actor
from helpers import CHINESE
from test_ui_pages import signed_in

SYSTEM = Actor.system()
NEW = "/setup/objects/opportunity/formulas"


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    runtime = world.runtime
    world.deal = runtime.records.create(SYSTEM, "opportunity", {
        "name": "Press line", "account": world.accounts["alice"], "amount": 5000, "probability": 40, "stage": "prospecting",
        "close_date": "2027-01-10", "owner": world.users["alice"]})
    return world


@pytest.fixture
def client(world):
    with TestClient(create_app(world.runtime)) as browser:
        yield browser


def check(client, csrf, **form):
    answer = client.post(f"{NEW}/check", data={"_csrf_token": csrf, **form}, headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text[:300]
    return html.unescape(re.sub(r"<[^>]+>", " ", answer.text))


def test_the_editor_checks_as_you_type_and_previews_on_a_record(world, client):
    csrf = signed_in(client, "root")
    page = client.get(f"{NEW}/new")
    assert page.status_code == 200
    assert "DAYS_BETWEEN(start, end)" in page.text and "Whole days from start to end" in page.text  # function help
    assert 'value="account."' not in page.text and 'value="amount"' in page.text  # the picker's fields
    assert "Press line" in page.text  # a record to preview on
    typo = check(client, csrf, expression="amount * probabilty / 100", result_type="currency")
    assert "Column 10" in typo and "'probabilty' is not a field of opportunity" in typo and "probability" in typo
    wrong_type = check(client, csrf, expression="amount > 10", result_type="currency")
    assert "a number is needed" in wrong_type
    good = check(client, csrf, expression="amount * probability / 100", result_type="currency", record=str(world.deal["id"]))
    assert "valid and gives a number" in good and "2,000.00" in good
    followed = check(client, csrf, expression="account.name & ' (' & account.owner.full_name & ')'", result_type="text",
                     record=str(world.deal["id"]))
    assert "Alice Industries (Alice)" in followed
    chinese = client.post(f"{NEW}/check", data={"_csrf_token": csrf, "expression": "amount *", "result_type": "decimal"},
                          headers={**CHINESE, "HX-Request": "true"}).text
    assert "第 9 列" in chinese
    lookups = client.get(f"{NEW}/fields", params={"path": "account"}).text
    assert 'value="account.industry"' in lookups and 'path=account.owner' in lookups


def test_a_formula_field_added_in_setup_is_shown_read_only_everywhere(world, client):
    csrf = signed_in(client, "root")
    added = client.post(NEW, data={"_csrf_token": csrf, "label_en": "Expected value", "label_zh": "预期金额",
                                   "expression": "amount * probability / 100", "result_type": "currency", "in_form": "on",
                                   "in_list": "on"})
    assert added.status_code == 200 and "/setup/objects/opportunity/fields/expected_value" in str(added.url), added.text[:500]
    assert "amount * probability / 100" in added.text and "Edit formula" in added.text
    listed = client.get("/r/opportunity").text
    assert "Expected value" in listed and "2,000.00" in listed
    record = client.get(f"/r/opportunity/{world.deal['id']}").text
    assert "Expected value" in record and "2,000.00" in record
    form = client.get(f"/r/opportunity/{world.deal['id']}/edit").text
    assert 'name="expected_value"' not in form
    assert "预期金额" in client.get("/r/opportunity", headers=CHINESE).text
    changed = client.post(f"{NEW}/expected_value", data={"_csrf_token": csrf, "label_en": "Expected value", "label_zh": "预期金额",
                                                          "expression": "amount * probability / 100 * 2", "result_type": "currency"})
    assert changed.status_code == 200 and "Saved" in changed.text
    assert "4,000.00" in client.get(f"/r/opportunity/{world.deal['id']}").text
    refused = client.post(f"{NEW}/expected_value", data={"_csrf_token": csrf, "label_en": "Expected value",
                                                          "expression": "amount * nothing", "result_type": "currency"})
    assert refused.status_code == 422 and "nothing" in html.unescape(refused.text)
    assert "4,000.00" in client.get(f"/r/opportunity/{world.deal['id']}").text  # the refused change kept nothing
    exported = client.get("/api/export/opportunity").text
    assert "expected_value" in exported.splitlines()[0] and "4000" in exported


def test_the_editor_keeps_a_formula_in_a_column_when_asked_and_stops_when_unticked(world, client):
    csrf = signed_in(client, "root")
    added = client.post(NEW, data={"_csrf_token": csrf, "label_en": "Weighted", "expression": "amount * probability / 100",
                                   "result_type": "currency", "stored": "on", "in_list": "on"})
    assert added.status_code == 200, added.text[:300]
    assert world.runtime.current_metadata().object("opportunity").fields["weighted"].stored
    assert "2,000.00" in client.get("/r/opportunity", params={"weighted__gte": "1000"}).text
    editor = client.get(f"{NEW}/weighted").text
    assert 'id="formula-stored" name="stored" checked' in editor
    unticked = client.post(f"{NEW}/weighted", data={"_csrf_token": csrf, "label_en": "Weighted", "expression": "amount * probability / 100",
                                                    "result_type": "currency"})
    assert unticked.status_code == 200, unticked.text[:300]
    fdef = world.runtime.current_metadata().object("opportunity").fields["weighted"]
    assert fdef.formula and not fdef.stored
    assert "2,000.00" in client.get("/r/opportunity", params={"weighted__gte": "1000"}).text  # computed in the SELECT again

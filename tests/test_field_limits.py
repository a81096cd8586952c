"""The built-in number fields carry sensible limits, the demo data keeps to them, and a value outside them is a field error.

Every number field of the base objects and of the four plugins has a smallest value (and a
largest one where a natural one exists: percentages, years, days and hours), unless it is a
computed, read-only field such as a total, which may rightly be negative or unbounded. A value
outside the limits is refused, naming the field, through the API (in English and Chinese) and
on the form (in the page's language).
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD
from core.api.app import create_app
from core.auth import Accounts
from core.demo import load_demo
from core.metadata.problems import MetadataError
from core.records import Actor, RecordValidationError
from helpers import changeset, label

PLUGINS = ("sales", "marketing", "service", "manufacturing_bom")
NUMBERS = ("integer", "decimal", "currency", "percent")
COMPUTED = {  # read-only fields the plugins compute: totals, counts and ratios they keep up to date
    "account.purchase_count", "account.total_spent", "account.average_repurchase_interval_days",
    "contact.purchase_count", "contact.total_spent", "contact.average_repurchase_interval_days",
    "campaign.responses", "campaign.won_revenue", "campaign.roi", "segment.member_count", "lead.score",
    "quote.subtotal", "quote.total_amount", "quote_line.line_total", "sales_order.total_amount", "sales_order_line.line_total",
}
NATURAL_MAX = re.compile(r"year|days|hours|_day_")  # besides percentages
POSITIVE = {"quote_line.quantity", "bom_line.quantity", "sales_order_line.quantity", "purchase.quantity"}  # zero means nothing


@pytest.fixture
def everything(make_runtime):
    runtime = make_runtime(plugins=PLUGINS)
    Accounts(runtime).add_user("root", PASSWORD, "admin", [], full_name="Root")
    return runtime


def number_fields(runtime) -> dict[str, dict]:
    meta = runtime.current_metadata()
    return {f"{obj.name}.{fdef.name}": fdef.spec for obj in meta.objects.values() for fdef in obj.active_fields()
            if fdef.type.name in NUMBERS and not fdef.computed}  # formulas and roll-ups are never written: no limits to keep


def test_every_number_field_has_a_minimum_and_a_natural_maximum_unless_computed(everything):
    fields = number_fields(everything)
    assert len(fields) > 40 and COMPUTED <= set(fields)

    assert sorted(name for name in COMPUTED if not fields[name].get("read_only")) == []
    assert sorted(name for name, spec in fields.items() if name not in COMPUTED and "min" not in spec) == []
    natural = {name for name, spec in fields.items() if name not in COMPUTED and (spec["type"] == "percent" or NATURAL_MAX.search(name))}
    assert sorted(name for name in natural if "max" not in fields[name]) == []
    assert sorted(name for name in COMPUTED | natural if fields[name]["type"] == "percent" and name not in COMPUTED
                  and (fields[name]["min"], fields[name]["max"]) != (0, 100)) == []
    assert sorted(name for name in POSITIVE if not (fields[name]["min"] > 0 or fields[name].get("min_exclusive"))) == []
    assert (fields["account.year_established"]["min"], fields["account.year_established"]["max"]) == (1000, 2100)


def test_the_demo_data_keeps_to_the_limits(everything):
    counts = load_demo(everything)  # every record goes through the record service, which refuses a value out of bounds

    assert counts["account"] == 60 and all(n > 0 for n in counts.values())


def _token(client: TestClient) -> dict:
    response = client.post("/api/auth/token", json={"username": "root", "password": PASSWORD, "name": "tests"})
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def deal(everything):
    system = Actor.system()
    account = everything.records.create(system, "account", {"name": "Buyer Co"})
    opportunity = everything.records.create(system, "opportunity", {"name": "Line 4", "account": account["id"], "close_date": "2026-09-30"})
    quote = everything.records.create(system, "quote", {"name": "Q1", "opportunity": opportunity["id"]})
    product = everything.records.create(system, "product", {"name": "Pump", "unit_price": 100})
    return everything, account["id"], quote["id"], product["id"]


@pytest.mark.parametrize("object_name, values, field, english, chinese", [
    ("opportunity", {"name": "Too sure", "close_date": "2026-09-30", "probability": 120}, "probability",
     "must be at most 100", "不能大于 100"),
    ("opportunity", {"name": "Owed", "close_date": "2026-09-30", "amount": -5}, "amount", "must be at least 0", "不能小于 0"),
    ("quote_line", {"quantity": 0}, "quantity", "must be more than 0", "必须大于 0"),
    ("account", {"name": "Future Ltd", "year_established": 2500}, "year_established", "must be at most 2100", "不能大于 2100"),
    ("account", {"name": "Shrinking Ltd", "employees": "-3"}, "employees", "must be at least 0", "不能小于 0"),  # a number as text
    ("quote_line", {"quantity": "0.0000"}, "quantity", "must be more than 0", "必须大于 0"),
])
def test_a_value_outside_the_limits_is_a_field_error_in_both_languages_through_the_api(deal, object_name, values, field, english, chinese):
    runtime, account, quote, product = deal
    body = {**values, **({"account": account} if object_name == "opportunity" else {}),
            **({"quote": quote, "product": product} if object_name == "quote_line" else {})}
    with TestClient(create_app(runtime)) as client:
        refused = client.post(f"/api/records/{object_name}", json=body, headers=_token(client))

    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert (error["field"], error["message"], error["messages"]) == (field, english, {"en": english, "zh-CN": chinese})
    assert error["code"] in ("minimum", "exclusive_minimum", "maximum") and isinstance(error["limit"], int)


def test_a_value_outside_the_limits_is_shown_beside_the_field_on_the_form_in_the_page_language(deal):
    runtime, account, _quote, _product = deal
    with TestClient(create_app(runtime)) as client:
        page = client.get("/login")
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"username": "root", "password": PASSWORD, "_csrf_token": csrf})
        form = {"_csrf_token": csrf, "name": "Too sure", "account": str(account), "close_date": "2026-09-30", "probability": "120",
                "amount": "-5"}

        english = client.post("/r/opportunity/new", data=form)
        client.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/"})
        chinese = client.post("/r/opportunity/new", data=form)

    assert english.status_code == 422 and chinese.status_code == 422, english.text[-3000:]
    assert '<small class="field-error" id="field-probability-error">must be at most 100</small>' in english.text
    assert '<small class="field-error" id="field-amount-error">must be at least 0</small>' in english.text
    assert '<small class="field-error" id="field-probability-error">不能大于 100</small>' in chinese.text
    assert '<small class="field-error" id="field-amount-error">不能小于 0</small>' in chinese.text
    assert runtime.records.list(Actor.system(), "opportunity", {"name": "Too sure"}).items == []


def test_numbers_sent_as_text_keep_to_the_limits_in_a_batch_as_one_by_one(everything):
    rows = [{"name": "Ok", "employees": "12"}, {"name": "Negative", "employees": "-1"}, {"name": "Old", "year_established": "999"},
            {"name": "Future", "year_established": 2101}]

    with everything.records.bulk(Actor.system(), "account") as writer:
        ids, refused = writer.create(rows)

    assert ids[0] is not None and ids[1:] == [None, None, None]
    assert {i: [(e.field, e.code, e.params) for e in errors] for i, errors in refused.items()} == {
        1: [("employees", "minimum", {"limit": 0})], 2: [("year_established", "minimum", {"limit": 1000})],
        3: [("year_established", "maximum", {"limit": 2100})]}


def test_a_minimum_the_value_must_exceed_needs_a_minimum(runtime):
    thing = {"name": "thing", "label": label("Thing"), "title_field": "title", "fields": [
        {"name": "title", "type": "text", "label": label("Title")},
        {"name": "weight", "type": "decimal", "label": label("Weight"), "min_exclusive": True}]}
    with pytest.raises(MetadataError, match="min_exclusive needs a min"):
        runtime.import_changeset(changeset(thing), "test", "tester")
    thing["fields"][1]["min"] = 0
    runtime.import_changeset(changeset(thing), "test", "tester")

    with pytest.raises(RecordValidationError) as refused:
        runtime.records.create(Actor.system(), "thing", {"weight": 0})

    assert [(e.field, e.message) for e in refused.value.errors] == [("weight", "must be more than 0")]
    assert runtime.records.create(Actor.system(), "thing", {"weight": "0.0001"})["weight"] == 0.0001

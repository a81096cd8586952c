"""Dependent picklists, conditional fields and defaults by expression, declared in metadata.

Real SQLite files and a real PostgreSQL server; the API, imports and the record form through real HTTP
(litestar's TestClient on the ASGI app). A pair of values the controlling field does not allow is refused
on every write path, in the reader's language; a field required by its condition is required there too;
the record form narrows the dependent select and shows or hides conditional fields as values change.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from litestar.testing import TestClient

from access_world import build_world
from conftest import Api
from core.api.app import create_app
from core.metadata.problems import MetadataError
from core.records import Actor, RecordValidationError
from helpers import CHINESE, label
from test_api_imports import finished, upload
from test_ui_pages import signed_in

SYSTEM = Actor.system()
HAN = re.compile(r"[\u4e00-\u9fff]")

COUNTRY = {"name": "country", "type": "picklist", "label": label("Country", "国家"), "values": [
    {"value": "cn", "label": label("China", "中国")}, {"value": "us", "label": label("United States", "美国")},
    {"value": "fr", "label": label("France", "法国")}]}
CITY = {"name": "city", "type": "picklist", "label": label("City", "城市"), "values": [
    {"value": "beijing", "label": label("Beijing", "北京")}, {"value": "shanghai", "label": label("Shanghai", "上海")},
    {"value": "new_york", "label": label("New York", "纽约")}],
    "depends_on": {"field": "country", "values": {"cn": ["beijing", "shanghai"], "us": ["new_york"]}}}
VAT = {"name": "vat_number", "type": "text", "label": label("VAT number", "增值税号"),
       "visible_if": "ISPICKVAL(country, 'fr')", "required_if": "ISPICKVAL(country, 'fr') AND annual_revenue > 1000"}
REVIEW = {"name": "review_on", "type": "date", "label": label("Review on", "复核日期"), "default_expression": "ADD_DAYS(TODAY(), 30)"}
FIELDS = [COUNTRY, CITY, VAT, REVIEW]


def with_fields(runtime, fields=FIELDS, obj="account", section=None):
    extension = {"object": obj, "fields": fields}
    if section:
        extension["layout_sections"] = [{"kind": "form", "section": {"label": label("Place", "地点"), "fields": section}}]
    runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [extension]}, "test", "test")


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    with_fields(world.runtime, section=["country", "city", "vat_number", "review_on"])
    return world


@pytest.fixture
def api(world):
    with TestClient(create_app(world.runtime)) as client:
        yield Api(client, world)


@pytest.fixture
def client(world):
    with TestClient(create_app(world.runtime)) as client:
        signed_in(client, "root")
        yield client


def problems(response) -> dict:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


# --- the record service -----------------------------------------------------------------------


def test_a_dependent_value_needs_a_controlling_value_that_allows_it(world):
    records = world.runtime.records
    made = records.create(SYSTEM, "account", {"name": "Acme", "country": "cn", "city": "shanghai"})
    assert made["city"] == "shanghai"
    with pytest.raises(RecordValidationError) as refused:
        records.create(SYSTEM, "account", {"name": "Bad", "country": "us", "city": "beijing"})
    error = refused.value.errors[0]
    assert error.field == "city" and "beijing" in error.message and "us" in error.message
    with pytest.raises(RecordValidationError) as refused:  # a controlling value not listed allows none
        records.create(SYSTEM, "account", {"name": "Bad", "country": "fr", "city": "beijing"})
    assert refused.value.errors[0].field == "city"
    with pytest.raises(RecordValidationError) as refused:  # nor does a blank one
        records.create(SYSTEM, "account", {"name": "Bad", "city": "beijing"})
    assert refused.value.errors[0].code == "dependent_needs_controlling"
    assert records.create(SYSTEM, "account", {"name": "Blank city", "country": "fr"})["city"] is None
    # an update is checked on the record as it will be stored: the stored city against the new country
    with pytest.raises(RecordValidationError) as refused:
        records.update(SYSTEM, "account", made["id"], {"country": "us"}, version=1)
    assert refused.value.errors[0].field == "city" and "shanghai" in refused.value.errors[0].message
    assert records.update(SYSTEM, "account", made["id"], {"country": "us", "city": "new_york"}, version=1)["city"] == "new_york"
    with pytest.raises(RecordValidationError):
        records.update(SYSTEM, "account", made["id"], {"city": "beijing"}, version=2)


def test_the_api_refuses_an_illegal_pair_in_the_readers_language(api):
    answer = api.post("root", "/api/records/account", json={"name": "Bad", "country": "us", "city": "beijing"})
    assert answer.status_code == 422
    said = problems(answer)["city"]
    assert "beijing" in said and "us" in said
    chinese = api.post("root", "/api/records/account", json={"name": "Bad", "country": "us", "city": "beijing"},
                       headers=CHINESE)
    assert chinese.status_code == 422
    said = problems(chinese)["city"]
    assert HAN.search(said) and "beijing" in said and "us" in said
    assert api.post("root", "/api/records/account", json={"name": "Good", "country": "us", "city": "new_york"}).status_code == 201


def test_an_import_row_with_an_illegal_pair_is_refused_by_its_row(api):
    content = b"Company,Country,City\nGood,cn,beijing\nBad,us,shanghai\n"
    mapping = {"columns": {"Company": "name", "Country": "country", "City": "city"}}
    checked = finished(api, "root", upload(api, "root", content=content, mapping=mapping))
    [rejection] = checked["rejections"]
    assert rejection["row"] == 3 and "shanghai" in rejection["reason"] and "us" in rejection["reason"], rejection
    imported = finished(api, "root", api.post("root", checked["links"]["run"]))
    assert (imported["created"], imported["rejected"]) == (1, 1)
    names = {r["name"]: r for r in api.world.runtime.records.each(SYSTEM, "account", {})}
    assert names["Good"]["city"] == "beijing" and "Bad" not in names


def test_required_if_is_enforced_on_every_write_when_its_condition_holds(api, world):
    records = world.runtime.records
    with pytest.raises(RecordValidationError) as refused:
        records.create(SYSTEM, "account", {"name": "Paris", "country": "fr", "annual_revenue": 5000})
    assert refused.value.errors[0].field == "vat_number" and refused.value.errors[0].code == "required"
    small = records.create(SYSTEM, "account", {"name": "Lyon", "country": "fr", "annual_revenue": 10})
    answer = api.patch("root", f"/api/records/account/{small['id']}", json={"annual_revenue": 2000, "version": 1})
    assert answer.status_code == 422 and problems(answer) == {"vat_number": "is required"}
    chinese = api.patch("root", f"/api/records/account/{small['id']}", json={"annual_revenue": 2000, "version": 1},
                        headers=CHINESE)
    assert problems(chinese) == {"vat_number": "为必填项"}
    assert api.patch("root", f"/api/records/account/{small['id']}", json={"annual_revenue": 2000, "vat_number": "FR1", "version": 1}).status_code == 200


def test_a_default_expression_is_applied_on_create_when_the_field_is_not_given(api):
    made = api.post("root", "/api/records/account", json={"name": "Later"}).json()
    assert made["review_on"] == (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    given = api.post("root", "/api/records/account", json={"name": "Given", "review_on": "2030-01-01"}).json()
    assert given["review_on"] == "2030-01-01"
    blank = api.post("root", "/api/records/account", json={"name": "Blank", "review_on": None}).json()
    assert blank["review_on"] is None  # given, even as blank: the caller chose


# --- metadata ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "pointer", "words"), [
    ([COUNTRY, {**CITY, "depends_on": {"field": "countyr", "values": {}}}], "/depends_on/field", ["countyr", "country"]),
    ([COUNTRY, {**CITY, "depends_on": {"field": "city", "values": {}}}], "/depends_on/field", ["itself"]),
    ([COUNTRY, {**CITY, "depends_on": {"field": "name", "values": {}}}], "/depends_on/field", ["name", "text"]),
    ([COUNTRY, {**CITY, "depends_on": {"field": "country", "values": {"cnn": ["beijing"]}}}], "/depends_on/values/cnn", ["cnn", "cn"]),
    ([COUNTRY, {**CITY, "depends_on": {"field": "country", "values": {"cn": ["bejing"]}}}], "/depends_on/values/cn/0", ["bejing", "beijing"]),
    ([{**COUNTRY, "depends_on": {"field": "city", "values": {}}}, CITY], "/depends_on/field", ["circle", "city", "country"]),
    ([{**VAT, "visible_if": "country = 1"}, COUNTRY], "/visible_if", ["column"]),
    ([{**VAT, "required_if": "LEN(vat_number)"}, COUNTRY], "/required_if", ["column 1"]),
    ([{**REVIEW, "default_expression": "'soon'"}], "/default_expression", ["text", "date"]),
    ([{"name": "t", "type": "text", "label": label("T"), "depends_on": {"field": "country", "values": {}}}, COUNTRY], "/depends_on", ["depends_on"]),
])
def test_metadata_problems_name_their_pointer(make_runtime, fields, pointer, words):
    runtime = build_world(make_runtime(plugins=("sales",))).runtime
    with pytest.raises(MetadataError) as refused:
        with_fields(runtime, fields)
    found = [p for p in refused.value.problems if p.pointer.endswith(pointer)]
    assert found, [(p.pointer, p.in_("en")) for p in refused.value.problems]
    said = found[0].in_("en")
    for word in words:
        assert word in said, (word, said)
    assert HAN.search(found[0].in_("zh-CN")), found[0].in_("zh-CN")


def test_a_customization_may_set_conditions_on_a_plugin_field(world, api):
    answer = api.patch("root", "/api/meta/objects/opportunity/fields/next_step",
                       json={"visible_if": "NOT(ISPICKVAL(stage, 'closed_won'))", "required_if": "amount > 1000000"})
    assert answer.status_code == 200, answer.text
    fdef = world.runtime.current_metadata().object("opportunity").fields["next_step"]
    assert set(fdef.conditions) == {"visible_if", "required_if"}


# --- the record form -----------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)


def options_of(html: str, name: str) -> list[str]:
    select = re.search(rf'<select id="field-{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, html
    return [v for v in re.findall(r'<option value="([^"]*)"', select.group(1)) if v]


def field_hidden(html: str, name: str) -> bool:
    block = re.search(rf'<div class="field[^"]*"[^>]*data-field="{name}"[^>]*>', html)
    assert block, name
    return " hidden" in block.group(0)


def test_the_form_narrows_the_dependent_select_as_the_controlling_field_changes(client):
    page = client.get("/r/account/new")
    assert page.status_code == 200
    assert options_of(page.text, "city") == []  # no country yet: no city
    assert 'hx-post="/r/account/form"' in page.text
    redraw = client.post("/r/account/form", data={"_csrf_token": csrf_of(page.text), "name": "Acme", "country": "cn"},
                         headers={"HX-Request": "true"})
    assert redraw.status_code == 200
    assert options_of(redraw.text, "city") == ["beijing", "shanghai"]
    redraw = client.post("/r/account/form", data={"_csrf_token": csrf_of(page.text), "country": "us", "city": "beijing"},
                         headers={"HX-Request": "true"})
    assert options_of(redraw.text, "city") == ["new_york"]
    assert 'selected' not in re.search(r'<select id="field-city".*?</select>', redraw.text, re.S).group(0)


def test_the_form_shows_a_conditional_field_only_while_its_condition_holds(client):
    page = client.get("/r/account/new")
    assert field_hidden(page.text, "vat_number")
    shown = client.post("/r/account/form", data={"_csrf_token": csrf_of(page.text), "country": "fr"}, headers={"HX-Request": "true"})
    assert not field_hidden(shown.text, "vat_number")
    required = client.post("/r/account/form", data={"_csrf_token": csrf_of(page.text), "country": "fr", "annual_revenue": "5000"},
                           headers={"HX-Request": "true"})
    assert re.search(r'<div class="field required"[^>]*data-field="vat_number"', required.text)
    saved = client.post("/r/account/new", data={"_csrf_token": csrf_of(page.text), "name": "Paris", "country": "fr", "annual_revenue": "5000"},
                        follow_redirects=False)
    assert saved.status_code == 422 and 'id="field-vat_number-error"' in saved.text


def test_the_new_record_form_prefills_a_default_by_expression(client):
    page = client.get("/r/account/new")
    expected = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    assert re.search(rf'id="field-review_on" name="review_on" value="{expected}"', page.text), page.text


def test_a_hidden_field_keeps_its_stored_value_when_the_form_is_saved(client, world):
    made = world.runtime.records.create(SYSTEM, "account", {"name": "Nice", "country": "fr", "vat_number": "FR9"})
    page = client.get(f"/r/account/{made['id']}/edit")
    assert not field_hidden(page.text, "vat_number")
    data = {"_csrf_token": csrf_of(page.text), "version": str(made["version"]), "name": "Nice", "country": "cn", "city": "beijing"}
    saved = client.post(f"/r/account/{made['id']}/edit", data=data, follow_redirects=False)
    assert saved.status_code in (200, 303), saved.text[:2000]
    stored = world.runtime.records.get(SYSTEM, "account", made["id"])
    assert stored["vat_number"] == "FR9" and stored["city"] == "beijing"


def test_the_documented_example_applies_to_the_sales_accounts(make_runtime):
    import json
    from pathlib import Path

    runtime = build_world(make_runtime(plugins=("sales",))).runtime
    runtime.import_changeset(json.loads((Path(__file__).parent.parent / "docs/examples/dependent-picklists-changeset.json").read_text()),
                             "test", "test")
    made = runtime.records.create(SYSTEM, "account", {"name": "Paris SA", "country": "fr", "city": "paris", "vat_number": "FR1"})
    assert made["review_on"] and made["city"] == "paris"


def test_a_deal_shows_its_loss_reason_only_once_lost(client):
    page = client.get("/r/opportunity/new")
    assert field_hidden(page.text, "loss_reason")
    lost = client.post("/r/opportunity/form", data={"_csrf_token": csrf_of(page.text), "stage": "closed_lost"}, headers={"HX-Request": "true"})
    assert not field_hidden(lost.text, "loss_reason")
    assert re.search(r'data-field="stage"[^>]*hx-post="/r/opportunity/form"', page.text)


# --- Setup ---------------------------------------------------------------------------------------


def test_setup_edits_a_fields_conditions_with_the_live_check(client, world):
    page = client.get("/setup/objects/account/fields/vat_number")
    assert page.status_code == 200
    assert 'name="visible_if"' in page.text and "ISPICKVAL(country, &#39;fr&#39;)" in page.text
    assert '"expression_in": "required_if"' in page.text.replace("&#34;", '"')
    csrf = csrf_of(page.text)
    checked = client.post("/setup/objects/account/formulas/check", headers={"HX-Request": "true"},
                          data={"_csrf_token": csrf, "expression_in": "visible_if", "visible_if": "ISPICKVAL(country, 'fx')", "result_type": "boolean"})
    assert "Column" in checked.text and "fx" in checked.text
    good = client.post("/setup/objects/account/formulas/check", headers={"HX-Request": "true"},
                       data={"_csrf_token": csrf, "expression_in": "visible_if", "visible_if": "NOT(ISPICKVAL(country, 'cn'))", "result_type": "boolean"})
    assert "valid" in good.text
    saved = client.post("/setup/objects/account/fields/vat_number", follow_redirects=False, data={
        "_csrf_token": csrf, "label_en": "VAT number", "label_zh": "增值税号", "visible_if": "NOT(ISPICKVAL(country, 'cn'))", "required_if": ""})
    assert saved.status_code in (200, 303), saved.text[:1000]
    spec = world.runtime.current_metadata().object("account").fields["vat_number"].spec
    assert spec["visible_if"] == "NOT(ISPICKVAL(country, 'cn'))" and "required_if" not in spec
    refused = client.post("/setup/objects/account/fields/vat_number", data={
        "_csrf_token": csrf, "label_en": "VAT number", "visible_if": "countyr = 'fr'"})
    assert refused.status_code == 422 and "countyr" in refused.text and "/visible_if" in refused.text
    chinese = client.get("/setup/objects/account/fields/vat_number", headers=CHINESE)
    assert "在表单上显示的条件" in chinese.text


def test_setup_edits_a_picklists_dependency_as_a_table(client, world):
    page = client.get("/setup/objects/account/fields/city")
    assert page.status_code == 200 and 'name="allow_cn__beijing" checked' in page.text and 'name="allow_us__beijing" ' in page.text
    table = client.get("/setup/objects/account/fields/city/dependency?controlling=country", headers={"HX-Request": "true"})
    assert 'name="allow_fr__new_york"' in table.text
    csrf = csrf_of(page.text)
    saved = client.post("/setup/objects/account/fields/city/dependency", follow_redirects=False, data={
        "_csrf_token": csrf, "controlling": "country", "allow_cn__beijing": "on", "allow_us__new_york": "on", "allow_fr__new_york": "on"})
    assert saved.status_code in (200, 303), saved.text[:1000]
    spec = world.runtime.current_metadata().object("account").fields["city"].spec
    assert spec["depends_on"] == {"field": "country", "values": {"cn": ["beijing"], "us": ["new_york"], "fr": ["new_york"]}}
    world.runtime.records.create(SYSTEM, "account", {"name": "NY branch in France", "country": "fr", "city": "new_york"})
    with pytest.raises(RecordValidationError):
        world.runtime.records.create(SYSTEM, "account", {"name": "Shanghai", "country": "cn", "city": "shanghai"})
    client.post("/setup/objects/account/fields/city/dependency", data={"_csrf_token": csrf, "controlling": ""})
    assert "depends_on" not in world.runtime.current_metadata().object("account").fields["city"].spec
    chinese = client.get("/setup/objects/account/fields/city", headers=CHINESE)
    assert "控制字段" in chinese.text


def test_a_boolean_may_control_a_picklist_and_blank_reads_as_false(make_runtime):
    runtime = build_world(make_runtime(plugins=("sales",))).runtime
    with_fields(runtime, [{"name": "exporter", "type": "boolean", "label": label("Exporter", "出口商")},
                          {"name": "incoterm", "type": "picklist", "label": label("Incoterm", "贸易术语"),
                           "values": [{"value": "fob", "label": label("FOB")}, {"value": "exw", "label": label("EXW")}],
                           "depends_on": {"field": "exporter", "values": {"true": ["fob"], "false": ["exw"]}}}])
    records = runtime.records
    assert records.create(SYSTEM, "account", {"name": "Ships", "exporter": True, "incoterm": "fob"})["incoterm"] == "fob"
    assert records.create(SYSTEM, "account", {"name": "Stays", "incoterm": "exw"})["incoterm"] == "exw"
    with pytest.raises(RecordValidationError) as refused:
        records.create(SYSTEM, "account", {"name": "Bad", "exporter": False, "incoterm": "fob"})
    assert refused.value.errors[0].field == "incoterm" and "false" in refused.value.errors[0].message

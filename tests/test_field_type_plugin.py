"""A field type a plugin registers works end to end like the built-in types of its family.

tests/fake_plugins/omicron_rating.py registers ``rating`` (a number from 1 to 5) and a ``review`` object whose
board sums it. Real HTTP through the ASGI app, both databases: Setup offers the type for a new field, the record
form draws its widget and saves it, the list filters it with its operators, the board sums it, an import parses
its cells, and the API and OpenAPI describe it.
"""

from __future__ import annotations

import json
import re

import pytest
from litestar.testing import TestClient

from access_world import build_world
from conftest import Api
from core.api.app import create_app
from core.records import Actor
from fake_plugins import omicron_rating
from test_ui_pages import signed_in

SYSTEM = Actor.system()


@pytest.fixture
def world(make_runtime):
    return build_world(make_runtime(plugins=("omicron",), extra_plugins=[omicron_rating]))


@pytest.fixture
def client(world):
    with TestClient(create_app(world.runtime)) as browser:
        yield browser


@pytest.fixture
def api(world):
    with TestClient(create_app(world.runtime)) as plain:
        yield Api(plain, world)


@pytest.fixture
def rated(client):
    """root adds a rating field to accounts through Setup's add-field form, shown on the form and in the list."""
    csrf = signed_in(client, "root")
    added = client.post("/setup/objects/account/fields", data={"_csrf_token": csrf, "label_en": "Satisfaction", "label_zh": "满意度",
                                                                "type": "rating", "in_form": "on", "in_list": "on"})
    assert added.status_code == 200 and "/setup/objects/account/fields/satisfaction?done=" in str(added.url), added.text[:400]
    return csrf


def test_setup_offers_the_plugins_type_in_each_language_and_adds_a_field_of_it(world, client, rated):
    page = client.get("/setup/objects/account").text
    assert re.search(r'<option value="rating"\s*>Rating \(1 to 5\)</option>', page)
    assert re.search(r'<option value="integer"\s*>Whole number</option>', page)  # the built-in types are still there
    assert "dynamic_lookup" not in re.search(r'<select[^>]*name="type".*?</select>', page, re.S).group(0)
    chinese = client.get("/setup/objects/account", headers={"Accept-Language": "zh-CN"}).text
    assert "评分（1 到 5）" in chinese
    fdef = world.runtime.current_metadata().object("account").fields["satisfaction"]
    assert fdef.type.name == "rating" and fdef.type.family == "number"
    settings = client.get("/setup/objects/account/fields/satisfaction").text
    assert 'name="min"' in settings and 'name="max_length"' not in settings  # a number's settings, not a text's


def test_the_form_draws_its_widget_and_saves_it_and_the_list_filters_it_with_its_operators(world, client, rated):
    form = client.get("/r/account/new").text
    assert re.search(r'<input type="number"[^>]*name="satisfaction"[^>]*step="1"', form), form[form.find("satisfaction") - 300:][:600]
    for name, stars in (("Happy Co", "5"), ("Fine Co", "3"), ("Unknown Co", "")):
        made = client.post("/r/account/new", data={"_csrf_token": rated, "name": name, "satisfaction": stars})
        assert made.status_code == 200, made.text[:400]
    kept = {r["name"]: r.get("satisfaction") for r in world.runtime.records.each(SYSTEM, "account", {})}
    assert kept["Happy Co"] == 5 and kept["Fine Co"] == 3 and kept["Unknown Co"] is None
    refused = client.post("/r/account/new", data={"_csrf_token": rated, "name": "Too Good", "satisfaction": "9"})
    assert refused.status_code == 422 and "Too Good" not in {r["name"] for r in world.runtime.records.each(SYSTEM, "account", {})}

    listed = client.get("/r/account?satisfaction__gte=4").text
    assert "Happy Co" in listed and "Fine Co" not in listed
    assert 'name="satisfaction__gte"' in listed and 'name="satisfaction__lte"' in listed  # a number's range filter
    ranged = client.get("/r/account?satisfaction__lte=3&satisfaction__gte=2").text
    assert "Fine Co" in ranged and "Happy Co" not in ranged


def test_the_board_sums_it_and_setup_offers_it_as_the_boards_sum(world, client, rated):
    for title, stage, stars in (("Great", "new", 5), ("Good", "new", 4), ("Meh", "read", 2)):
        world.runtime.records.create(SYSTEM, "review", {"title": title, "stage": stage, "stars": stars})
    board = client.get("/r/review/kanban").text
    assert "Stars: 9" in board and "Stars: 2" in board
    layouts = client.get("/setup/objects/review/layouts?kind=kanban").text
    sums = re.search(r'<select[^>]*name="sum_field".*?</select>', layouts, re.S).group(0)
    assert 'value="stars"' in sums and 'value="title"' not in sums
    totals = world.runtime.records.summarize(SYSTEM, "review", "stage", "stars", [])
    assert {row["value"]: row["sum"] for row in totals} == {"new": 9, "read": 2}


def test_the_api_filters_it_refuses_operators_it_lacks_and_openapi_describes_it(world, api, rated):
    for name, stars in (("Happy Co", 5), ("Fine Co", 3)):
        assert api.post("root", "/api/records/account", json={"name": name, "satisfaction": stars}).status_code == 201
    found = api.get("root", "/api/records/account", params={"satisfaction__gt": "3"}).json()
    assert [r["name"] for r in found["items"]] == ["Happy Co"] and found["items"][0]["satisfaction"] == 5
    wrong = api.get("root", "/api/records/account", params={"satisfaction__contains": "5"})
    assert wrong.status_code == 400 and "contains" in wrong.text
    too_many = api.post("root", "/api/records/account", json={"name": "Six", "satisfaction": 6})
    assert too_many.status_code == 422 and "satisfaction" in too_many.text
    document = api.get("root", "/schema/openapi.json").json()
    shapes = json.dumps(document["components"]["schemas"])
    assert '"satisfaction"' in shapes
    read = document["components"]["schemas"]["AccountRecord"]["properties"]["satisfaction"]
    assert {"type": "integer"} in read["anyOf"], read
    written = document["components"]["schemas"]["AccountInput"]["properties"]["satisfaction"]
    assert "maximum" in json.dumps(written) and "integer" in json.dumps(written), written


def test_an_import_parses_its_cells_and_reports_those_it_cannot_take(world, api, rated):
    content = b"Company,Satisfaction\nHappy Co,5\nSad Co,lots\nFine Co, 3 \n"
    mapping = {"columns": {"Company": "name", "Satisfaction": "satisfaction"}}
    started = api.post("root", "/api/imports/account", files={"file": ("rated.csv", content, "text/csv"),
                                                              "mapping": (None, json.dumps(mapping))})
    assert started.status_code == 202, started.text
    assert world.runtime.imports.wait(started.json()["id"], 120)
    checked = api.get("root", f"/api/imports/jobs/{started.json()['id']}").json()
    ran = api.post("root", checked["links"]["run"])
    assert world.runtime.imports.wait(ran.json()["id"], 120)
    imported = api.get("root", f"/api/imports/jobs/{ran.json()['id']}").json()
    assert (imported["created"], imported["rejected"]) == (2, 1)
    [rejection] = imported["rejections"]
    assert rejection["row"] == 3 and "satisfaction" in rejection["reason"]
    kept = {r["name"]: r.get("satisfaction") for r in world.runtime.records.each(SYSTEM, "account", {})}
    assert kept["Happy Co"] == 5 and kept["Fine Co"] == 3 and "Sad Co" not in kept


def test_a_formula_reads_it_like_a_number_in_sql_and_in_python(world):
    """A formula over the plugin's type: computed in the SELECT, filtered on, and the same in Python."""
    from core.expressions import evaluate
    from helpers import label

    runtime = world.runtime
    runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "review", "fields": [
        {"name": "score", "type": "formula", "label": label("Score", "得分"), "expression": "stars * 20", "result_type": "percent"}]}]},
        "test", "test")
    made = runtime.records.create(SYSTEM, "review", {"title": "Good", "stars": 4})
    assert made["score"] == 80.0
    assert [r["title"] for r in runtime.records.list(SYSTEM, "review", [("score__gte", "70")]).items] == ["Good"]
    fdef = runtime.current_metadata().object("review").fields["score"]
    assert float(evaluate(fdef.typed, made)) == 80.0

"""The REST API through real HTTP requests to the ASGI app: records, errors, lists, export, metadata.

Runs on SQLite and PostgreSQL. Sign-in, tokens and CSRF are in test_api_auth.py; the
permission matrix in test_api_permissions.py.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.api.app import MAX_BODY_BYTES
from core.exports import cell
from core.records import Actor
from access_world import PASSWORD
from helpers import label


def count(api, object_name="account") -> int:
    return api.world.runtime.records.list(Actor.system(), object_name, {"count": "exact", "limit": 1}).count


# --- records: create, read, update, delete ----------------------------------------------------


def test_create_read_update_delete_a_record(api):
    created = api.post("root", "/api/records/account", json={"name": "Acme", "employees": 12, "industry": "technology"})
    assert created.status_code == 201
    record = created.json()
    assert created.headers["location"] == f"/api/records/account/{record['id']}"
    assert created.headers["etag"] == '"1"' and record["version"] == 1 and record["owner"]["label"] == "Root"

    read = api.get("root", f"/api/records/account/{record['id']}")
    assert read.status_code == 200 and read.json()["name"] == "Acme" and read.headers["etag"] == '"1"'

    updated = api.patch("root", f"/api/records/account/{record['id']}", json={"employees": 13}, headers={"If-Match": '"1"'})
    assert updated.status_code == 200 and updated.json()["employees"] == 13 and updated.headers["etag"] == '"2"'
    by_body = api.patch("root", f"/api/records/account/{record['id']}", json={"employees": 14, "version": 2})
    assert by_body.status_code == 200 and by_body.json()["version"] == 3

    history = api.get("root", f"/api/records/account/{record['id']}/history").json()["items"]
    assert [(h["field"], h["old"], h["new"]) for h in history] == [("employees", 12, 13), ("employees", 13, 14)]

    assert api.delete("root", f"/api/records/account/{record['id']}", headers={"If-Match": '"3"'}).status_code == 204
    assert api.get("root", f"/api/records/account/{record['id']}").status_code == 404
    restored = api.post("root", f"/api/records/account/{record['id']}/restore")
    assert restored.status_code == 200 and restored.json()["name"] == "Acme"


def test_a_stale_version_is_a_conflict_that_says_what_changed(api):
    record = api.post("root", "/api/records/account", json={"name": "Acme"}).json()
    api.patch("root", f"/api/records/account/{record['id']}", json={"name": "Acme Ltd"}, headers={"If-Match": '"1"'})
    stale = api.patch("root", f"/api/records/account/{record['id']}", json={"name": "Acme Inc"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    body = stale.json()
    assert body["error"] == "version_conflict" and body["current_version"] == 2
    assert [(c["field"], c["old"], c["new"]) for c in body["changes"]] == [("name", "Acme", "Acme Ltd")]
    assert api.get("root", f"/api/records/account/{record['id']}").json()["name"] == "Acme Ltd"


def test_an_update_without_a_version_is_refused(api):
    record = api.post("root", "/api/records/account", json={"name": "Acme"}).json()
    response = api.patch("root", f"/api/records/account/{record['id']}", json={"name": "Other"})
    assert response.status_code == 428 and "If-Match" in response.json()["message"]
    assert api.get("root", f"/api/records/account/{record['id']}").json()["name"] == "Acme"


# --- bad input: a clear 4xx, nothing written ----------------------------------------------------


@pytest.mark.parametrize("body, status, words", [
    (b'{"name": "Acme",', 400, "not valid JSON"),
    (b'not json at all', 400, "not valid JSON"),
    (b'["a", "list"]', 422, "a record must be a JSON object"),
    (b'{"name": 42}', 422, "name: must be a text"),
    (b'{"name": "Acme", "employees": "many"}', 422, "employees: must be a whole number"),
    (b'{"name": "Acme", "industry": "technolgy"}', 422, "did you mean 'technology'"),
    (b'{"name": "Acme", "colour": "red"}', 422, "colour: is not a field of account"),
    (b'{"name": "Acme", "parent_account": 999999}', 422, "account 999999 does not exist"),
    (b'{"id": 5, "name": "Acme"}', 422, "id: is set by the system"),
])
def test_bad_record_bodies_are_refused_with_the_field_named_and_nothing_written(api, body, status, words):
    before = count(api)
    response = api.post("root", "/api/records/account", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) >= {"status", "error", "message"} and error["status"] == status
    assert words in error["message"] or any(words in e["message"] for e in error.get("errors", []))
    assert count(api) == before


def test_validation_errors_list_every_field(api):
    response = api.post("root", "/api/records/account", json={"employees": "x", "email": "nope", "website": "ftp://x"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"name", "employees", "email", "website"}


def test_an_oversized_body_is_refused(api):
    before = count(api)
    response = api.post("root", "/api/records/account", content=b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}',
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and f"{MAX_BODY_BYTES:,} bytes" in response.json()["message"]
    assert count(api) == before


def test_a_huge_text_value_is_refused_by_the_field_length(api):
    response = api.post("root", "/api/records/account", json={"name": "x" * 100_000})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize("query, parameter", [
    ("colour=red", "colour"), ("employees__gte=many", "employees__gte"), ("name__between=a", "name__between"),
    ("sort=-colour", "sort"), ("limit=0", "limit"), ("limit=100000", "limit"), ("offset=-1", "offset"),
    ("created_at__lt=yesterday", "created_at__lt"), ("industry__in=", "industry__in"), ("count=maybe", "count"),
])
def test_bad_filters_are_a_400_naming_the_parameter(api, query, parameter):
    response = api.get("root", f"/api/records/account?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_query"
    assert [e["parameter"] for e in response.json()["errors"]] == [parameter]


@pytest.mark.parametrize("path, status", [
    ("/api/records/gadget", 404), ("/api/records/account/abc", 404), ("/api/records/account/0", 404),
    ("/api/records/account/999999", 404), ("/api/records/account/1/related/contact/nothing", 404), ("/api/nowhere", 404),
])
def test_bad_objects_and_ids_are_a_404_with_a_message(api, path, status):
    response = api.get("root", path)
    assert response.status_code == status and response.json()["message"]


def test_a_wrong_method_is_a_405(api):
    response = api.put("root", "/api/records/account", json={})
    assert response.status_code == 405 and "PUT" in response.json()["message"]


# --- lists ------------------------------------------------------------------------------------


def test_lists_filter_sort_page_and_count_only_on_request(api):
    rows = [{"name": f"Company {i:02d}", "employees": i, "industry": "retail" if i % 2 else "finance"} for i in range(30)]
    api.world.runtime.records.create_many(Actor.system(), "account", rows)
    page = api.get("root", "/api/records/account?industry=retail&employees__gte=10&sort=-employees&limit=5").json()
    assert set(page) == {"items", "limit", "offset", "has_more"}
    assert [r["employees"] for r in page["items"]] == [29, 27, 25, 23, 21] and page["has_more"] is True
    last = api.get("root", "/api/records/account?industry=retail&employees__gte=10&sort=-employees&limit=5&offset=5").json()
    assert [r["employees"] for r in last["items"]] == [19, 17, 15, 13, 11] and last["has_more"] is False
    counted = api.get("root", "/api/records/account?industry__in=retail,finance&count=true&limit=1").json()
    assert counted["count"] == 30 and counted["count_capped"] is False
    assert [r["name"] for r in api.get("root", "/api/records/account?q=company 0&sort=name").json()["items"]][:2] == ["Company 00", "Company 01"]
    assert api.get("root", "/api/records/account?parent_account__isnull=true&limit=1").status_code == 200


def test_related_lists_of_a_record(api):
    world = api.world
    relations = api.get("root", f"/api/records/account/{world.accounts['alice']}/related").json()["items"]
    assert {"object": "contact", "field": "account"} in [{k: r[k] for k in ("object", "field")} for r in relations]
    contacts = api.get("root", f"/api/records/account/{world.accounts['alice']}/related/contact/account").json()
    assert [c["last_name"] for c in contacts["items"]] == ["Contact of alice"]


# --- export -------------------------------------------------------------------------------------


def test_export_is_csv_with_formulas_made_inert(api):
    system = Actor.system()
    api.world.runtime.records.create(system, "account", {"name": "=HYPERLINK(\"http://evil\")", "billing_city": "@SUM(A1)", "billing_state": "+1"})
    response = api.get("root", "/api/export/account?sort=name")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 5
    evil = next(r for r in rows if "HYPERLINK" in r["name"])
    assert evil["name"].startswith("'=") and evil["billing_city"] == "'@SUM(A1)" and evil["billing_state"] == "'+1"
    assert "account_number" in rows[0] and "annual_revenue" in rows[0]
    assert [cell(-5), cell(2.5), cell(True), cell({"id": 3, "label": "-Acme"})] == [-5, 2.5, "true", "'-Acme"]
    assert api.get("root", "/api/export/account?colour=red").status_code == 400


# --- metadata ----------------------------------------------------------------------------------


def test_a_field_added_through_the_metadata_api_is_served_at_once(api):
    field = {"name": "tier", "type": "picklist", "label": label("Tier", "等级"),
             "values": [{"value": "gold", "label": label("Gold", "金牌")}, {"value": "silver", "label": label("Silver", "银牌")}]}
    added = api.post("root", "/api/meta/objects/account/fields", json=field)
    assert added.status_code == 201, added.text
    assert any("tier" in a["detail"] for a in added.json()["applied"])
    record = api.post("root", "/api/records/account", json={"name": "Goldline", "tier": "gold"})
    assert record.status_code == 201 and record.json()["tier"] == "gold"
    assert api.get("root", "/api/records/account?tier=gold").json()["items"][0]["name"] == "Goldline"
    assert api.post("root", "/api/records/account", json={"name": "X", "tier": "bronze"}).status_code == 422
    schema = api.get("root", "/schema/openapi.json").json()
    assert "tier" in schema["components"]["schemas"]["AccountRecord"]["properties"]

    value = api.post("root", "/api/meta/objects/account/fields/tier/values", json={"value": "bronze", "label": label("Bronze", "铜牌"), "position": 0})
    assert value.status_code == 200 and [v["value"] for v in value.json()["field"]["values"]] == ["bronze", "gold", "silver"]
    assert api.post("root", "/api/records/account", json={"name": "Bronzeline", "tier": "bronze"}).status_code == 201

    renamed = api.patch("root", "/api/meta/objects/account/fields/tier", json={"name": "level"})
    assert renamed.status_code == 200, renamed.text
    assert api.get("root", "/api/records/account?level=gold").json()["items"][0]["name"] == "Goldline"

    removed = api.delete("root", "/api/meta/objects/account/fields/level")
    assert removed.status_code == 200
    assert "level" not in api.get("root", "/api/records/account?limit=1").json()["items"][0]
    assert api.post("root", "/api/meta/objects/account/fields/level/restore").status_code == 200
    assert api.get("root", "/api/records/account?level=gold").json()["items"][0]["name"] == "Goldline"


def test_objects_layouts_and_roles_through_the_metadata_api(api):
    gadget = {"name": "gadget", "label": label("Gadget", "小工具"),
              "fields": [{"name": "title", "type": "text", "label": label("Title", "标题"), "required": True}]}
    assert api.post("root", "/api/meta/objects", json=gadget).status_code == 201
    assert api.post("root", "/api/records/gadget", json={"title": "Sprocket"}).status_code == 201
    assert api.patch("root", "/api/meta/objects/gadget", json={"label": label("Widget", "部件")}).json()["object"]["label"]["en"] == "Widget"
    layout = {"object": "gadget", "kind": "list", "columns": ["title"]}
    assert api.put("root", "/api/meta/layouts", json=layout).status_code == 200
    assert api.get("root", "/api/meta/layouts?object=gadget").json()["items"] == [layout]
    role = {"label": label("Gadgeteer", "工具员"), "objects": {"gadget": {"read": "all", "create": "own", "update": "own", "delete": "none"}}}
    assert api.put("root", "/api/meta/roles/gadgeteer", json=role).status_code == 200
    assert any(r["name"] == "gadgeteer" and r["custom"] for r in api.get("root", "/api/meta/roles").json()["items"])
    exported = api.get("root", "/api/meta/changeset").json()
    assert [o["name"] for o in exported["objects"]] == ["gadget"] and {p["name"] for p in exported["permission_sets"]} >= {"gadgeteer"}
    assert api.delete("root", "/api/meta/roles/gadgeteer").status_code == 200
    assert api.delete("root", "/api/meta/objects/gadget").status_code == 200
    assert api.get("root", "/api/records/gadget").status_code == 404


def test_bad_metadata_is_refused_with_the_pointer_and_nothing_changes(api):
    before = api.get("root", "/api/meta/objects/account").json()
    bad_field = api.post("root", "/api/meta/objects/account/fields", json={"name": "size", "type": "hugeint", "label": label("Size")})
    assert bad_field.status_code == 422
    assert any(e["pointer"].endswith("/type") for e in bad_field.json()["errors"]), bad_field.json()
    base_field = api.patch("root", "/api/meta/objects/account/fields/name", json={"type": "integer"})
    assert base_field.status_code == 422 and "may not change its type" in base_field.json()["message"] or "type" in base_field.json()["message"]
    bad_set = api.put("root", "/api/meta/roles/broken", json={"label": label("Broken"), "objects": {"acount": {"read": "all"}}})
    assert bad_set.status_code == 422 and "did you mean 'account'" in bad_set.json()["message"]
    dry = api.post("root", "/api/meta/changeset?dry_run=true", json={"format": "tessera-changeset/1", "extensions": [
        {"object": "account", "fields": [{"name": "vip", "type": "boolean", "label": label("VIP")}]}]})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["applied"]
    assert api.get("root", "/api/meta/objects/account").json()["fields"] == before["fields"]
    nested = '{"name": "deep", "type": "json", "label": {"en": "Deep"}, "default": ' + "[" * 800 + "]" * 800 + "}"
    for path in ("/api/meta/objects/account/fields", "/api/meta/changeset"):
        deep = api.post("root", path, content=nested.encode(), headers={"Content-Type": "application/json"})
        assert deep.status_code == 400 and "nests more than 64 levels deep" in deep.json()["message"], deep.text
    assert api.get("root", "/api/meta/objects/account").json()["fields"] == before["fields"]


def test_only_admins_and_customizers_change_metadata(api):
    field = {"name": "vip", "type": "boolean", "label": label("VIP", "贵宾")}
    refused = api.post("alice", "/api/meta/objects/account/fields", json=field)
    assert refused.status_code == 403 and "customizer" in refused.json()["message"]
    assert api.post("cora", "/api/meta/objects/account/fields", json=field).status_code == 201
    assert [o["name"] for o in api.get("alice", "/api/meta/objects").json()["items"]] == ["account", "activity", "contact", "role", "team", "user"]
    alice_view = api.get("alice", "/api/meta/objects/account").json()
    assert "account_number" not in {f["name"] for f in alice_view["fields"]}
    assert alice_view["permissions"] == {"read": "own", "create": "own", "update": "own", "delete": "none"}


# --- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_describes_every_object_and_follows_metadata_changes(api):
    document = api.get("root", "/schema/openapi.json").json()
    for name in ("account", "contact", "activity", "product", "user", "team", "role"):
        assert f"/api/records/{name}" in document["paths"] and f"/api/records/{name}/{{record_id}}" in document["paths"]
    assert "/api/records/{object_name}" not in document["paths"]
    account = document["components"]["schemas"]["AccountInput"]
    assert account["required"] == ["name"] and "industry" in account["properties"]
    api.post("root", "/api/meta/objects", json={"name": "gadget", "label": label("Gadget", "小工具"), "fields": [
        {"name": "title", "type": "text", "label": label("Title", "标题")}]})
    assert "/api/records/gadget" in api.get("root", "/schema/openapi.json").json()["paths"]
    page = api.get("root", "/schema")
    assert page.status_code == 200 and "swagger-ui-bundle-5.35.0.js" in page.text and 'data-document="/schema/openapi.json"' in page.text
    assert api.client.get("/static/tessera/vendor/swagger-ui-bundle-5.35.0.js").status_code == 200
    json.dumps(document)


def test_openapi_leaves_out_what_the_callers_role_may_not_see(api):
    admin = api.get("root", "/schema/openapi.json")
    assert admin.status_code == 200 and "account_number" in admin.text
    assert "account_number" in admin.json()["components"]["schemas"]["AccountRecord"]["properties"]
    assert {"/api/records/product", "/api/records/account/merge"} <= set(admin.json()["paths"])

    rep = api.get("alice", "/schema/openapi.json")  # the rep role hides account.account_number
    assert rep.status_code == 200 and "account_number" not in rep.text
    schemas, paths = rep.json()["components"]["schemas"], rep.json()["paths"]
    assert {"name", "annual_revenue"} <= set(schemas["AccountRecord"]["properties"])
    assert "annual_revenue" not in schemas["AccountInput"]["properties"]  # readable, not changeable
    assert "annual_revenue" not in schemas["AccountChanges"]["properties"]
    assert "/api/records/product" not in paths and "ProductRecord" not in schemas  # the rep role may not use products
    assert set(paths["/api/records/account/{record_id}"]) == {"get", "patch"}  # no delete for reps
    assert "/api/records/account/merge" not in paths  # merging deletes
    assert "account_number" in api.get("root", "/schema/openapi.json").text  # each caller their own document

    viewer = api.get("vera", "/schema/openapi.json").json()["paths"]
    assert set(viewer["/api/records/account"]) == {"get"} and "/api/records/contact" not in viewer

    csrf = api.client.get("/api/auth/csrf").json()["csrf_token"]
    signed_in = api.client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}, headers={"X-CSRFToken": csrf})
    assert signed_in.status_code == 200
    page = api.client.get("/schema/openapi.json")  # the session cookie counts like a token
    assert "/api/records/account" in page.json()["paths"] and "account_number" not in page.text
    assert "account_number" not in api.client.get("/schema").text
    api.client.cookies.clear()


def test_openapi_without_signing_in_names_no_object(api):
    response = api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert "/api/records/{object_name}" in document["paths"] and "/api/auth/token" in document["paths"]
    assert not any(p.startswith("/api/records/account") for p in document["paths"])
    assert "AccountRecord" not in document["components"]["schemas"] and "account_number" not in response.text
    assert "private" in response.headers["cache-control"] and "authorization" in response.headers["vary"].lower()
    refused = api.client.get("/schema/openapi.json", headers={"Authorization": "Bearer tsk_not-a-token"})
    assert refused.status_code == 401

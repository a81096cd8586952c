"""Inputs an attacker or a careless client sends get a 4xx that names the place, never a 500, and change nothing.

Each test covers a class of input, on SQLite and PostgreSQL: text the databases cannot
hold (NUL, half a surrogate pair) in every filter operator and body; non-standard JSON
numbers (NaN, Infinity, 1e400) in every body and metadata file; numbers beyond what a
column holds in metadata; wrongly typed body keys; other spellings of record ids; OPTIONS
and HEAD without signing in.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from core.query import OPERATORS

TESSERA = str(Path(sys.executable).with_name("tessera"))
UNSTORABLE = ["\x00", "a\x00b", "\ud800"]


def quoted(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


@pytest.mark.parametrize("operator", OPERATORS)
def test_unstorable_text_in_any_filter_is_refused_naming_the_parameter(api, operator):
    field = {"isnull": "billing_city", "gt": "employees", "gte": "employees", "lt": "employees", "lte": "employees"}.get(operator, "name")
    key = field if operator == "eq" else f"{field}__{operator}"
    for text in ["\x00", "a\x00"]:
        for path in ["/api/records/account", "/api/export/account"]:
            response = api.client.get(path, params={key: text}, headers=api.headers("root"))
            assert response.status_code == 400, (path, key, response.text)
            assert response.json()["errors"][0]["parameter"] == key and "NUL" in response.json()["message"]
        page = api.client.get("/r/account", params={key: text}, headers=api.headers("root"))  # the list shows what is wrong
        assert page.status_code == 200 and "NUL character" in page.text and "Alice Industries" not in page.text


def test_unstorable_text_anywhere_in_a_body_is_refused_with_its_pointer(api, world):
    account = world.accounts["alice"]
    bodies = [
        ("post", "/api/records/account", {"name": "Acme", "billing_city": "x\x00y"}, "/billing_city"),
        ("patch", f"/api/records/account/{account}", {"version": 1, "phone": "\x00"}, "/phone"),
        ("post", "/api/auth/token", {"username": "ro\x00ot", "password": "x"}, "/username"),
        ("post", "/api/auth/login", {"username": "root", "password": "p\x00"}, "/password"),
        ("post", "/api/auth/tokens", {"name": "sync\x00"}, "/name"),
        ("patch", "/api/meta/objects/account", {"label": {"en": "Accounts", "zh-CN": "客\x00户"}}, "/label/zh-CN"),
        ("post", "/api/meta/objects/account/fields", {"name": "f", "type": "text", "label": {"en": "\ud800"}}, "/label/en"),
        ("post", "/api/meta/changeset", {"format": "tessera-changeset/1", "objects": [], "a\x00": 1}, "/a\x00"),
    ]
    before = api.get("root", f"/api/records/account/{account}").json()
    for method, path, body, where in bodies:
        raw = json.dumps(body).encode()
        response = getattr(api.client, method)(path, content=raw, headers=api.headers("root", **{"content-type": "application/json"}))
        assert response.status_code == 400, (path, response.text)
        assert response.json()["errors"][0]["pointer"] == where, response.text
    assert api.get("root", f"/api/records/account/{account}").json() == before


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_standard_json_numbers_are_refused_by_every_body(api, constant):
    bodies = [
        ("post", "/api/records/account", '{"name": "Acme", "employees": %s}'),
        ("post", "/api/meta/objects/account/fields", '{"name": "size", "type": "integer", "label": {"en": "Size"}, "max": %s}'),
        ("post", "/api/auth/tokens", '{"name": "sync", "expires_in_days": %s}'),
        ("post", "/api/meta/changeset", '{"format": "tessera-changeset/1", "extensions": [{"object": "account", "fields": '
                                      '[{"name": "size", "type": "decimal", "label": {"en": "Size"}, "min": %s}]}]}'),
    ]
    for method, path, template in bodies:
        response = getattr(api.client, method)(path, content=(template % constant).encode(),
                                               headers=api.headers("root", **{"content-type": "application/json"}))
        assert response.status_code == 400, (path, response.text)
        assert "not valid JSON" in response.json()["message"]
    document = api.client.get("/schema/openapi.json", headers=api.headers("root"))
    assert "size" not in document.json()["components"]["schemas"]["AccountRecord"]["properties"]
    json.loads(document.text, parse_constant=lambda name: pytest.fail(f"{name} in the OpenAPI document"))


@pytest.mark.parametrize(("kind", "bound", "value"), [
    ("integer", "max", 1e300), ("integer", "min", -2**70), ("decimal", "max", 1e20), ("currency", "min", -1e17),
    ("percent", "max", 1e12),
])
def test_a_bound_no_column_could_hold_is_refused_and_creates_keep_working(api, kind, bound, value):
    field = {"name": "size", "type": kind, "label": {"en": "Size"}, bound: value}
    response = api.post("root", "/api/meta/objects/account/fields", json=field)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"].endswith(f"/{bound}")
    assert api.post("root", "/api/records/account", json={"name": "Acme"}).status_code == 201


def test_metadata_files_with_non_standard_numbers_are_refused_by_the_cli(tmp_path, database_url):
    document = ('{"format": "tessera-changeset/1", "extensions": [{"object": "account", "fields": '
                '[{"name": "size", "type": "integer", "label": {"en": "Size"}, "max": NaN}]}]}')
    path = tmp_path / "change.json"
    path.write_text(document, encoding="utf-8")
    for args in (["metadata", "validate", str(path)], ["--database", database_url, "metadata", "import", str(path)]):
        result = subprocess.run([TESSERA, *args], capture_output=True, text=True, timeout=300)
        assert result.returncode != 0 and "NaN is not standard JSON" in result.stderr + result.stdout, result
        assert "Traceback" not in result.stderr


def test_wrongly_typed_or_oversized_body_keys_are_a_400_naming_the_key(api, world):
    account = world.accounts["alice"]
    cases = [
        ("post", "/api/auth/tokens", {"name": 5}, "/name"),
        ("post", "/api/auth/tokens", {"name": ["a"]}, "/name"),
        ("post", "/api/auth/tokens", {"name": "x" * 101}, "/name"),
        ("post", "/api/auth/tokens", {"name": "sync", "expires_in_days": 10**40}, "/expires_in_days"),
        ("post", "/api/auth/tokens", {"name": "sync", "expires_in_days": True}, "/expires_in_days"),
        ("post", "/api/auth/token", {"username": {"a": 1}, "password": "x"}, "/username"),
        ("post", "/api/webhooks", {"object": "account", "url": "https://example.com/h", "events": "created"}, "/events"),
        ("post", "/api/webhooks", {"object": ["account"], "url": "https://example.com/h"}, "/object"),
        ("post", f"/api/records/account/{account}/shares", {"user": "1", "access": ["edit"]}, "/access"),
        ("post", f"/api/records/account/{account}/shares", {"user": 10**40}, "/user"),
    ]
    for method, path, body, where in cases:
        response = getattr(api, method)("root", path, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert where in [e["pointer"] for e in response.json()["errors"]], response.text
    for query in ("offset=" + "9" * 40, "limit=" + "9" * 40, "limit=1.5", "offset=-1"):
        response = api.get("root", f"/api/records/account?{query}")
        assert response.status_code == 400 and response.json()["errors"][0]["parameter"] in query, response.text
    for query in ("before_id=" + "9" * 40, "limit=" + "9" * 40):
        assert api.get("root", f"/api/audit?{query}").status_code == 400
    for query in ("offset=" + "9" * 25, "offset=-1", "limit=" + "9" * 25, "limit=0"):
        response = api.get("root", f"/api/imports/jobs?{query}")
        assert response.status_code == 400 and response.json()["errors"][0]["parameter"] in query, response.text


@pytest.mark.parametrize("spelling", [" {id}", "{id} ", "+{id}", "0{id}", "{fullwidth}", "{arabic}", "{id}.0", "{id}e0"])
def test_a_record_id_has_one_spelling(api, world, spelling):
    account = world.accounts["alice"]
    text = spelling.format(id=account, fullwidth=str(account).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
                           arabic=str(account).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")))
    assert api.get("root", f"/api/records/account/{account}").status_code == 200
    assert api.get("root", f"/api/records/account/{text}").status_code == 404
    contact = api.post("root", "/api/records/contact", json={"last_name": "Xu", "account": text})
    assert contact.status_code == 422 and contact.json()["errors"][0]["field"] == "account"
    assert api.get("root", "/api/records/contact", params={"account": text}).status_code == 400


def test_a_merge_names_a_version_key_that_is_not_one_of_its_records(api, world):
    system = world.runtime.records
    from core.records import Actor  # noqa: PLC0415

    first = system.create(Actor.system(), "account", {"name": "Dup One"})
    second = system.create(Actor.system(), "account", {"name": "Dup Two"})
    body = {"survivor": first["id"], "merged": [second["id"]], "versions": {str(first["id"]): 1, "999999": 1}}
    response = api.post("root", "/api/records/account/merge", json=body)
    assert response.status_code == 422 and "999999" in response.json()["message"], response.text
    assert api.get("root", f"/api/records/account/{second['id']}").status_code == 200  # nothing was merged


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
def test_anonymous_options_and_head_never_answer_500(api, method):
    paths = ["/api/audit", "/api/webhooks", "/api/webhooks/1", "/api/webhooks/1/deliveries", "/api/meta/changeset", "/api/auth/tokens",
             "/api/records/account", "/api/records/account/1", "/api/meta/roles/admin", "/setup", "/setup/users", "/r/account", "/schema"]
    for path in paths:
        response = api.client.request(method, path)
        assert response.status_code < 500, (method, path, response.text)
        assert "AuthMiddleware" not in response.text and "scope" not in response.text


def test_numbers_that_are_not_finite_never_reach_the_openapi_document(api):
    document = api.client.get("/schema/openapi.json", headers=api.headers("root")).json()
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            assert math.isfinite(item)


def test_the_sign_in_form_answers_a_name_with_a_nul_as_a_wrong_one(api):
    from test_ui_pages import signed_in  # noqa: PLC0415

    import re  # noqa: PLC0415

    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', api.client.get("/login").text).group(1)
    for username, password in (("ro\x00ot", "correct horse battery"), ("root", "p\x00")):
        response = api.client.post("/login", data={"username": username, "password": password, "_csrf_token": csrf})
        assert response.status_code == 401 and "wrong username or password" in response.text.lower(), response.text[:300]
    signed_in(api.client, "root")  # nothing was locked or counted


def test_import_job_listings_match_the_schema_the_document_gives_them(api):
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    from test_api_imports import MAPPING, finished, upload  # noqa: PLC0415

    finished(api, "root", upload(api, "root", mapping=MAPPING, dry_run="false"))
    finished(api, "root", upload(api, "root", mapping=MAPPING, dry_run="true"))
    document = api.get("root", "/schema/openapi.json").json()
    page = document["paths"]["/api/imports/jobs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**page, "components": document["components"]})
    listing = api.get("root", "/api/imports/jobs").json()
    assert [job["dry_run"] for job in listing["items"]] == [True, False]
    assert list(validator.iter_errors(listing)) == []


def test_pages_answer_ids_beyond_a_bigint_with_a_4xx(api):
    huge = "9" * 20
    paths = [f"/import/jobs/{huge}", f"/import/jobs/{huge}/rejected.csv", f"/import/jobs/{huge}/mapping.json", "/import/jobs/0",
             f"/r/account/{huge}", f"/r/account/{huge}/edit", f"/r/account/{huge}/merge"]
    for path in paths:
        response = api.client.get(path, headers=api.headers("root"))
        assert 400 <= response.status_code < 500, (path, response.status_code)
    assert api.client.post(f"/import/jobs/{huge}/run", headers=api.headers("root")).status_code == 400


@pytest.mark.parametrize("body", ["[]", "[{}]", '[{"object": "account", "kind": "list", "columns": ["name"]}]', "{}"])
def test_a_changeset_of_any_json_shape_is_applied_or_refused_never_a_500(api, body):
    response = api.client.post("/api/meta/changeset", content=body.encode(),
                               headers=api.headers("root", **{"content-type": "application/json"}))
    assert response.status_code in (200, 400, 422), response.text


def test_a_refusal_from_an_after_hook_is_a_4xx_and_writes_nothing(make_runtime):
    from access_world import PASSWORD, build_world  # noqa: PLC0415
    from fake_plugins import mu_after_refusals  # noqa: PLC0415
    from litestar.testing import TestClient  # noqa: PLC0415

    from core.api.app import create_app  # noqa: PLC0415

    world = build_world(make_runtime(plugins=("mu",), extra_plugins=[mu_after_refusals]))
    with TestClient(create_app(world.runtime)) as client:
        token = client.post("/api/auth/token", json={"username": "root", "password": PASSWORD, "name": "t"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post("/api/records/account", json={"name": "Refuse after"}, headers=headers)
        assert created.status_code == 422 and created.json()["errors"] == [
            {"field": "name", "message": "the ledger refused this account", "code": "invalid", "params": {}}]
        assert client.get("/api/records/account?name=Refuse after", headers=headers).json()["items"] == []
        account = world.accounts["alice"]
        moved = client.patch(f"/api/records/account/{account}", json={"billing_city": "Limbo", "version": 1}, headers=headers)
        assert moved.status_code == 422 and "Limbo" in moved.json()["message"], moved.text
        kept = client.patch(f"/api/records/account/{account}", json={"billing_city": "Keep", "version": 1}, headers=headers)
        assert kept.status_code == 200, kept.text  # the refused move changed nothing: version 1 was still current
        deleted = client.delete(f"/api/records/account/{account}", headers={**headers, "If-Match": '"2"'})
        assert deleted.status_code == 409 and "kept" in deleted.json()["message"], deleted.text
        assert client.get(f"/api/records/account/{account}", headers=headers).status_code == 200

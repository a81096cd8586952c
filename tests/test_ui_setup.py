"""Setup through real HTTP: objects, fields, picklist values, layouts, roles, users, plugins, configuration.

Each change is made with the forms a browser posts and checked where people meet it: the
record pages, the records API, another user's permissions. People come from access_world.py
(root: admin; cora: a customizer; alice: a rep).
"""

from __future__ import annotations

import json
import re

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD
from core.api.app import create_app
from test_ui_pages import signed_in


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


@pytest.fixture
def root(ui):
    return ui, signed_in(ui, "root")


def post(client: TestClient, csrf: str, path: str, **fields) -> object:
    return client.post(path, data={"_csrf_token": csrf, **fields})


@pytest.fixture
def api(world):
    """A client without the browser's cookies, as an integrator's script is."""
    with TestClient(create_app(world.runtime)) as client:
        yield client


def token(client: TestClient, username: str) -> dict:
    answer = client.post("/api/auth/token", json={"username": username, "password": PASSWORD, "name": "setup test"})
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_setup_is_for_admins_and_customizers_only(ui):
    signed_in(ui, "alice")
    refused = ui.get("/setup/objects")
    assert refused.status_code == 403 and "Setup is for administrators and customizers." in refused.text
    assert 'href="/setup"' not in ui.get("/").text


def test_a_customizer_may_open_setup(ui):
    signed_in(ui, "cora")
    for path in ("/setup", "/setup/objects", "/setup/objects/account", "/setup/roles", "/setup/plugins", "/setup/config"):
        assert ui.get(path).status_code == 200, path


def test_a_picklist_field_added_in_setup_is_on_the_form_list_filters_and_api(root, api, world):
    client, csrf = root
    added = post(client, csrf, "/setup/objects/account/fields", label_en="Customer Tier", label_zh="客户等级", type="picklist",
                 values="Gold | 金牌\nSilver | 银牌\nBronze", in_form="on", in_list="on")
    assert added.status_code == 200 and str(added.url).endswith("/setup/objects/account/fields/customer_tier?done=Field%20added.")
    assert "Gold" in added.text and "金牌" in added.text
    form = client.get("/r/account/new").text
    assert 'name="customer_tier"' in form and ">Silver<" in form
    listing = client.get("/r/account").text
    assert "Customer Tier" in listing.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert 'name="customer_tier__in" value="bronze"' in listing
    headers = token(api, "root")
    field = api.get("/api/meta/objects/account/fields/customer_tier", headers=headers).json()
    assert [v["value"] for v in field["values"]] == ["gold", "silver", "bronze"]
    created = api.post("/api/records/account", json={"name": "Tiered", "customer_tier": "gold"}, headers=headers)
    assert created.status_code == 201 and created.json()["customer_tier"] == "gold"


def test_picklist_values_get_order_colour_default_and_can_be_removed(root, api):
    client, csrf = root
    post(client, csrf, "/setup/objects/account/fields", label_en="Tier", type="picklist", values="Gold\nSilver\nBronze", in_form="on")
    saved = post(client, csrf, "/setup/objects/account/fields/tier/values",
                 label_gold_en="Gold", label_gold_zh="金牌", color_gold="#d4af37", position_gold="3",
                 label_silver_en="Silver", position_silver="1", color_silver="#000000",
                 label_bronze_en="Bronze", position_bronze="2", remove_bronze="on",
                 new_label_en="Platinum", new_label_zh="白金", new_position="0", default="silver")
    assert saved.status_code == 200, saved.text
    field = api.get("/api/meta/objects/account/fields/tier", headers=token(api, "root")).json()
    assert [v["value"] for v in field["values"]] == ["platinum", "silver", "gold"]
    assert field["values"][2]["color"] == "#d4af37" and field["default"] == "silver"
    assert 'value="silver" selected' in client.get("/r/account/new").text.split('name="tier"', 1)[1].split("</select>", 1)[0]


def test_a_refused_field_shows_why_and_keeps_what_was_typed(root, world):
    client, csrf = root
    before = client.get("/healthz").json()["metadata_version"]
    refused = post(client, csrf, "/setup/objects/account/fields", label_en="Kind", type="picklist", values="")
    assert refused.status_code == 422 and "Nothing was changed" in refused.text and 'value="Kind"' in refused.text
    clash = post(client, csrf, "/setup/objects/account/fields", label_en="Phone", type="text")
    assert clash.status_code == 422 and "already has a field" in clash.text
    assert client.get("/healthz").json()["metadata_version"] == before


def test_a_custom_object_is_created_and_usable_at_once(root):
    client, csrf = root
    created = post(client, csrf, "/setup/objects", label_en="Vehicle", label_zh="车辆", plural_en="Vehicles", plural_zh="车辆")
    assert created.status_code == 200 and str(created.url).split("?")[0].endswith("/setup/objects/vehicle")
    assert re.search(r'<a href="/r/vehicle"[^>]*>.*?<span class="label">Vehicles</span></a>', client.get("/").text)  # in the side bar for the admin
    record = post(client, csrf, "/r/vehicle/new", name="Truck 7")
    assert record.status_code == 200 and "Truck 7" in record.text
    labels = post(client, csrf, "/setup/objects/vehicle", label_en="Car", label_zh="汽车", plural_en="Cars", plural_zh="汽车")
    assert labels.status_code == 200 and "<h1>Cars" in labels.text


def test_a_custom_field_is_removed_and_restored_with_its_data(root, api, world):
    client, csrf = root
    post(client, csrf, "/setup/objects/account/fields", label_en="Segment", type="text", in_form="on")
    headers = token(api, "root")
    account = api.post("/api/records/account", json={"name": "Seg", "segment": "SMB"}, headers=headers).json()
    post(client, csrf, "/setup/objects/account/fields/segment/remove")
    assert "segment" not in client.get(f"/api/records/account/{account['id']}", headers=headers).json()
    post(client, csrf, "/setup/objects/account/fields/segment/remove", action="restore")
    assert client.get(f"/api/records/account/{account['id']}", headers=headers).json()["segment"] == "SMB"


def test_list_columns_form_sections_and_the_board_are_arranged_in_setup(root):
    client, csrf = root
    fields = ["name", "phone", "industry", "account_type"]
    columns = post(client, csrf, "/setup/objects/account/layouts/list", _fields=fields, show_phone="on", order_phone="1",
                   show_name="on", order_name="2", sort="-name")
    assert columns.status_code == 200
    head = client.get("/r/account").text.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert head.index("Phone") < head.index("Account Name") and "Industry" not in head
    sections = post(client, csrf, "/setup/objects/account/layouts/form", _fields=fields, section_count="2",
                    section_1_en="Basics", section_1_zh="基本", section_1_columns="1", section_of_name="1", order_name="1",
                    section_2_en="Call", section_2_columns="2", section_of_phone="2", order_phone="1")
    assert sections.status_code == 200, sections.text
    form = client.get("/r/account/new").text
    assert "<legend>Basics</legend>" in form and "<legend>Call</legend>" in form and 'name="industry"' not in form
    board = post(client, csrf, "/setup/objects/account/layouts/kanban", group_by="industry", sum_field="annual_revenue")
    assert board.status_code == 200
    assert client.get("/r/account/kanban").status_code == 200 and 'data-value="technology"' in client.get("/r/account/kanban").text


def test_a_layout_naming_an_unknown_field_is_refused(root, world):
    client, csrf = root
    refused = post(client, csrf, "/setup/objects/account/layouts/list", _fields=["name", "nonsense"], show_nonsense="on", show_name="on")
    assert refused.status_code == 422 and "nonsense" in refused.text
    assert "nonsense" not in world.runtime.current_metadata().layouts["account:list:default"]["columns"]


def test_the_permission_matrix_changes_what_a_role_may_do_at_once(root, api, ui):
    client, csrf = root
    matrix = post(client, csrf, "/setup/roles/rep", label_en="Rep", **{"account.read": "all", "account.create": "own",
                                                                       "account.update": "own", "contact.read": "team"},
                  _object="account", **{"field.account_number": "hidden", "field.phone": "read"})
    assert matrix.status_code == 200, matrix.text
    rep = api.get("/api/meta/roles", headers=token(api, "root")).json()["items"]
    body = next(r for r in rep if r["name"] == "rep")
    assert body["objects"]["account"] == {"read": "all", "create": "own", "update": "own", "delete": "none"}
    assert body["fields"]["account"] == {"account_number": "hidden", "phone": "read"}
    assert "activity" not in body["objects"]
    alice = token(api, "alice")
    seen = api.get("/api/records/account?limit=50", headers=alice).json()["items"]
    assert {a["name"] for a in seen} >= {"Alice Industries", "Bob Industries"}
    assert all("account_number" not in a for a in seen)


def test_a_new_role_can_be_given_to_a_new_user_who_signs_in(root, api, ui):
    client, csrf = root
    role = post(client, csrf, "/setup/roles", label_en="Field Engineer", label_zh="现场工程师")
    assert role.status_code == 200 and "/setup/roles/field_engineer" in str(role.url)
    post(client, csrf, "/setup/roles/field_engineer", label_en="Field Engineer", **{"contact.read": "all"})
    post(client, csrf, "/setup/teams", team_name="North")
    added = post(client, csrf, "/setup/users", username="erin", full_name="Erin Wu", role="Field Engineer", teams="North",
                 password="a long enough password", password_again="a long enough password")
    assert added.status_code == 200 and "erin" in added.text and "North" in added.text, added.text[-3000:]
    refused = post(client, csrf, "/setup/users", username="erin2", password="one long password", password_again="another long one")
    assert refused.status_code == 422 and "not the same" in refused.text and 'value="erin2"' in refused.text
    answer = api.post("/api/auth/token", json={"username": "erin", "password": "a long enough password", "name": "t"})
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    assert api.get("/api/records/contact", headers=headers).status_code == 200
    assert api.get("/api/records/account", headers=headers).status_code == 403


def test_plugins_are_listed_with_their_versions(root, world):
    client, _ = root
    page = client.get("/setup/plugins").text
    for plugin in world.runtime.plugins.plugins:
        assert f"<code>{plugin.info.name}</code>" in page and plugin.info.version in page


def test_the_configuration_is_exported_previewed_and_imported(root, world):
    client, csrf = root
    post(client, csrf, "/setup/objects/account/fields", label_en="Region", type="text")
    exported = client.get("/setup/config/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    changeset = exported.json()
    changeset["extensions"] = [e for e in changeset.get("extensions", [])] + [
        {"object": "contact", "fields": [{"name": "nickname", "type": "text", "label": {"en": "Nickname", "zh-CN": "昵称"}}]}]
    text = json.dumps(changeset)
    preview = client.post("/setup/config", data={"_csrf_token": csrf, "action": "preview"},
                          files={"file": ("changeset.json", text.encode(), "application/json")})
    assert preview.status_code == 200 and "contact.nickname" in preview.text
    assert "nickname" not in world.runtime.current_metadata().objects["contact"].fields
    applied = client.post("/setup/config", data={"_csrf_token": csrf, "action": "apply", "changeset": text})
    assert applied.status_code == 200 and "Configuration imported" in applied.text
    assert "nickname" in world.runtime.current_metadata().objects["contact"].fields


@pytest.mark.parametrize("content, message", [(b"{not json", "not valid JSON"), (b"[1, 2]", "not a configuration changeset"),
                                               (b"\xff\xfe\x00", "not UTF-8"), (b"[" * 500 + b"]" * 500, "nests deeper than"),
                                               (b'{"format": "tessera-changeset/1", "layouts": [{"object": "account"}]}', "/layouts/0")])
def test_a_bad_configuration_file_is_refused_with_a_reason(root, world, content, message):
    client, csrf = root
    before = client.get("/healthz").json()["metadata_version"]
    answer = client.post("/setup/config", data={"_csrf_token": csrf, "action": "apply"},
                         files={"file": ("changeset.json", content, "application/json")})
    assert answer.status_code == 422 and message in answer.text, answer.text[-2000:]
    assert client.get("/healthz").json()["metadata_version"] == before


def test_setup_pages_answer_in_chinese(ui):
    signed_in(ui, "root")
    ui.post("/language", data={"language": "zh-CN", "_csrf_token": re.search(r'name="_csrf_token" value="([^"]+)"', ui.get("/").text).group(1)})
    page = ui.get("/setup/objects/account").text
    assert "添加字段" in page and "客户" in page


def test_a_field_gets_its_type_options_when_added(root, api):
    client, csrf = root
    added = post(client, csrf, "/setup/objects/account/fields", label_en="Credit Limit", type="currency", currency="cny", scale="0",
                 min="0", max="1000000", in_form="on")
    assert added.status_code == 200, added.text[-2000:]
    field = api.get("/api/meta/objects/account/fields/credit_limit", headers=token(api, "root")).json()
    assert (field["currency"], field["scale"], field["min"], field["max"]) == ("CNY", 0, 0, 1000000)
    post(client, csrf, "/setup/objects/account/fields", label_en="Account Code", type="autonumber", prefix="AC-")
    assert api.get("/api/meta/objects/account/fields/account_code", headers=token(api, "root")).json()["prefix"] == "AC-"
    refused = post(client, csrf, "/setup/objects/account/fields", label_en="Short", type="text", max_length="lots")
    assert refused.status_code == 422 and "max_length" in refused.text and 'value="lots"' in refused.text

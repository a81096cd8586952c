"""Global search (core/search.py) and GET /api/search: real HTTP through the ASGI app, a real SQLite file and a real
PostgreSQL database. People come from access_world.py: alice and bob are reps of the East team (contacts: their
team's; accounts: their own; account_number hidden), carol a rep of the West team, root an admin."""

from __future__ import annotations

import pytest

from core import search
from alembic import command

from core.db import read_transaction
from core.migrate import alembic_config
from core.coretables import search_entry
from core.imports import ImportOptions, run_import
from core.records import Actor
from helpers import changeset, label

import sqlalchemy as sa

SYSTEM = Actor.system()


def new(runtime, object_name, **values):
    return runtime.records.create(SYSTEM, object_name, values)


def found(api, who, q, **params):
    response = api.get(who, "/api/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [(item["object"], item["id"]) for item in response.json()["items"]]


def entries(runtime, object_name, record_id):
    with read_transaction(runtime.engine) as conn:
        return sorted(conn.execute(sa.select(search_entry.c.field).where(
            search_entry.c.object == object_name, search_entry.c.record_id == record_id)).scalars())


# --- words ---------------------------------------------------------------------------------------------


def test_words_split_latin_by_word_and_chinese_into_pairs():
    assert search.terms("Zhuge Liang 诸葛亮, ACME中国 Müller") == ["zhuge", "liang", "诸葛", "葛亮", "acme", "中国", "muller"]
    assert search.query_parts("葛亮 acm") == [search.Part(("葛亮",), False), search.Part(("acm",), True)]
    assert search.query_parts("诸葛亮") == [search.Part(("诸葛", "葛亮"), False)]
    assert search.query_parts("!!") == []


# --- matching --------------------------------------------------------------------------------------------


def test_a_contact_is_found_by_any_two_or_more_chinese_characters_of_its_name(api):
    runtime = api.world.runtime
    zhuge = new(runtime, "contact", last_name="诸葛亮", first_name="孔明")
    other = new(runtime, "contact", last_name="葛优")
    assert found(api, "root", "诸葛") == [("contact", zhuge["id"])]
    assert found(api, "root", "葛亮") == [("contact", zhuge["id"])]
    assert found(api, "root", "诸葛亮") == [("contact", zhuge["id"])]
    assert found(api, "root", "孔明") == [("contact", zhuge["id"])]
    assert found(api, "root", "葛优") == [("contact", other["id"])]
    assert found(api, "root", "亮诸") == []  # the characters, not in that order
    assert sorted(found(api, "root", "葛")) == sorted([("contact", zhuge["id"]), ("contact", other["id"])])


def test_latin_text_is_found_by_word_prefix_on_every_object(api):
    runtime = api.world.runtime
    account = new(runtime, "account", name="Wonderwidget Holdings")
    contact = new(runtime, "contact", last_name="Smith", first_name="Wonderful", email="w.smith@example.com")
    assert found(api, "root", "wonder") == [("account", account["id"]), ("contact", contact["id"])]
    assert found(api, "root", "WONDERW") == [("account", account["id"])]
    assert found(api, "root", "holdings wonder") == [("account", account["id"])]
    assert found(api, "root", "derwidget") == []  # the middle of a word is not a prefix
    assert found(api, "root", "w.smith") == [("contact", contact["id"])]
    assert found(api, "root", "wonder", objects="contact") == [("contact", contact["id"])]


def test_the_best_matches_come_first_within_an_object_and_limit_counts_per_object(api):
    runtime = api.world.runtime
    later = new(runtime, "account", name="Zeta Orbital")
    starts = new(runtime, "account", name="Orbital Works")
    exact = new(runtime, "account", name="Orbital")
    contact = new(runtime, "contact", last_name="Orbital")
    assert found(api, "root", "orbital") == [("account", exact["id"]), ("account", starts["id"]), ("account", later["id"]),
                                             ("contact", contact["id"])]
    assert found(api, "root", "orbital", limit="1") == [("account", exact["id"]), ("contact", contact["id"])]


def test_the_answer_gives_object_id_title_and_a_subtitle_that_tells_records_apart(api):
    runtime = api.world.runtime
    account = new(runtime, "account", name="Quillon Trading")
    contact = new(runtime, "contact", last_name="Quillfeather", first_name="Ada", account=account["id"], email="ada@quillon.example")
    response = api.get("root", "/api/search", params={"q": "quill"})
    assert response.status_code == 200
    assert response.json() == {"items": [
        {"object": "account", "id": account["id"], "title": "Quillon Trading", "subtitle": ""},
        {"object": "contact", "id": contact["id"], "title": "Ada Quillfeather", "subtitle": "Quillon Trading · ada@quillon.example"},
    ]}


# --- permissions -------------------------------------------------------------------------------------------


def test_a_rep_finds_only_records_in_their_scope(api):
    world = api.world
    # accounts: a rep reads their own; contacts: their team's
    assert found(api, "alice", "industries", objects="account") == [("account", world.accounts["alice"])]
    assert sorted(i for _o, i in found(api, "root", "industries", objects="account")) == sorted(world.accounts.values())
    east = sorted(found(api, "alice", "contact"))
    assert len(east) == 3  # alice's, bob's and mike's: not carol's (West)
    assert ("contact", _contact_of(api, "carol")) not in east
    assert found(api, "nora", "industries") == []  # no role: no object to search


def test_a_share_lets_a_rep_find_the_record(api):
    world, runtime = api.world, api.world.runtime
    assert found(api, "carol", "alice industries", objects="account") == []
    runtime.records.share(SYSTEM, "account", world.accounts["alice"], user=world.users["carol"])
    assert found(api, "carol", "alice industries", objects="account") == [("account", world.accounts["alice"])]


def test_a_rep_does_not_find_a_record_through_a_field_they_may_not_see(api):
    world = api.world
    # account_number is searchable and hidden from reps: alice's own account is not found by it
    assert found(api, "root", "secret-alice") == [("account", world.accounts["alice"])]
    assert found(api, "alice", "secret") == []
    assert found(api, "alice", "alice") == [("account", world.accounts["alice"])] + [("contact", _contact_of(api, "alice"))]


def _contact_of(api, name):
    [record] = api.world.runtime.records.list(SYSTEM, "contact", {"last_name": f"Contact of {name}"}).items
    return record["id"]


# --- the index follows every write ------------------------------------------------------------------------


def test_the_index_follows_create_update_delete_and_restore(api):
    runtime = api.world.runtime
    record = new(runtime, "contact", last_name="欧阳锋", email="feng@example.com")
    assert found(api, "root", "欧阳") == [("contact", record["id"])]
    assert entries(runtime, "contact", record["id"]) == ["email", "full_name", "last_name"]
    updated = runtime.records.update(SYSTEM, "contact", record["id"], {"last_name": "黄药师"}, version=record["version"])
    assert found(api, "root", "欧阳") == []
    assert found(api, "root", "药师") == [("contact", record["id"])]
    runtime.records.update(SYSTEM, "contact", record["id"], {"title": "Island master"}, version=updated["version"])
    assert found(api, "root", "药师") == [("contact", record["id"])]
    runtime.records.delete(SYSTEM, "contact", record["id"])
    assert found(api, "root", "药师") == [] and entries(runtime, "contact", record["id"]) == []
    runtime.records.restore(SYSTEM, "contact", record["id"])
    assert found(api, "root", "药师") == [("contact", record["id"])]


def test_a_write_refused_leaves_the_index_as_it_was(api):
    runtime = api.world.runtime
    record = new(runtime, "contact", last_name="Kept Name")
    response = api.patch("root", f"/api/records/contact/{record['id']}", json={"last_name": "Lost Name", "version": 99})
    assert response.status_code == 409
    assert found(api, "root", "kept") == [("contact", record["id"])] and found(api, "root", "lost") == []


def test_the_index_follows_a_merge(api):
    runtime = api.world.runtime
    survivor = new(runtime, "account", name="Mergeton Ltd")
    duplicate = new(runtime, "account", name="Mergeton Limited", phone="123")
    response = api.post("root", "/api/records/account/merge", json={
        "survivor": survivor["id"], "merged": [duplicate["id"]], "values": {"name": duplicate["id"]},
        "versions": {str(survivor["id"]): survivor["version"], str(duplicate["id"]): duplicate["version"]}})
    assert response.status_code == 200, response.text
    assert found(api, "root", "mergeton") == [("account", survivor["id"])]
    assert found(api, "root", "limited") == [("account", survivor["id"])]
    assert entries(runtime, "account", duplicate["id"]) == []


def test_the_index_follows_an_import(api, tmp_path):
    runtime = api.world.runtime
    path = tmp_path / "contacts.csv"
    path.write_text("last_name,email\n司马懿,yi@example.com\n,no-name@example.com\n", encoding="utf-8")
    checked = run_import(runtime, SYSTEM, "contact", path, ImportOptions(dry_run=True, rejected_path=tmp_path / "r1.csv"))
    assert checked.created == 1 and found(api, "root", "司马") == []  # a dry run indexes nothing
    report = run_import(runtime, SYSTEM, "contact", path, ImportOptions(rejected_path=tmp_path / "r2.csv"))
    assert report.created == 1
    [(object_name, record_id)] = found(api, "root", "司马")
    assert object_name == "contact" and found(api, "root", "yi@example") == [("contact", record_id)]
    assert found(api, "root", "no-name") == []


def test_a_new_object_is_searchable_at_once_and_a_searchable_flag_change_reindexes(api):
    runtime = api.world.runtime
    def vessel(port_searchable):
        port = {"name": "port", "type": "text", "label": label("Port", "港口"), "searchable": port_searchable}
        return changeset({"name": "vessel", "label": label("Vessel", "船舶"), "title_field": "name",
                          "fields": [{"name": "name", "type": "text", "label": label("Name", "名称")}, port]})

    runtime.import_changeset(vessel(False), "test", "test")
    ship = new(runtime, "vessel", name="郑和宝船", port="Nanjing")
    assert found(api, "root", "宝船") == [("vessel", ship["id"])]
    assert found(api, "root", "nanjing") == []
    runtime.import_changeset(vessel(True), "test", "test")
    assert found(api, "root", "nanjing") == [("vessel", ship["id"])]
    runtime.import_changeset(vessel(False), "test", "test")
    assert found(api, "root", "nanjing") == [] and entries(runtime, "vessel", ship["id"]) == ["name"]


def test_reindex_rebuilds_the_entries(api):
    runtime = api.world.runtime
    record = new(runtime, "contact", last_name="Rebuilt")
    with runtime.writing() as (conn, schema):
        conn.execute(sa.delete(search_entry))
    assert found(api, "root", "rebuilt") == []
    with runtime.writing() as (conn, schema):
        assert search.reindex(conn, schema.meta, schema.tables, "contact") >= 1
    assert found(api, "root", "rebuilt") == [("contact", record["id"])]


def test_a_broad_word_is_read_apart_per_object_so_no_object_crowds_out_another(api, monkeypatch):
    """Each object's statement stops at CANDIDATES matches: the first records of a crowded object do not use up the
    places of the objects written after it, and every match ranked is one the reader may read."""
    runtime = api.world.runtime
    monkeypatch.setattr(search, "CANDIDATES", 3)
    crowd = [new(runtime, "contact", last_name=f"Harborough {n}") for n in range(6)]  # two entries each: name, full name
    account = new(runtime, "account", name="Harbor Freight")
    results = found(api, "root", "harb", limit=10)
    assert ("account", account["id"]) in results
    contacts = {r[1] for r in results if r[0] == "contact"}
    assert 1 <= len(contacts) <= 3 and contacts <= {c["id"] for c in crowd}  # ranked among 3 entries, not all 12


def test_entry_ids_keep_each_object_in_a_range_of_its_own_and_codes_are_never_reused(api):
    runtime = api.world.runtime
    record = new(runtime, "contact", last_name="Keyed", first_name="Kim")
    with read_transaction(runtime.engine) as conn:
        codes = search.object_codes(conn)
        ids = conn.execute(sa.select(search_entry.c.id).where(search_entry.c.object == "contact",
                                                              search_entry.c.record_id == record["id"])).scalars().all()
    low, high = search.entry_key(codes["contact"], 0, 0), search.entry_key(codes["contact"] + 1, 0, 0)
    assert ids and all(low <= i < high and i & ((1 << search.RECORD_BITS) - 1) == record["id"] for i in ids)
    boat = {"name": "boat", "label": label("Boat", "小船"), "title_field": "name",
            "fields": [{"name": "name", "type": "text", "label": label("Name", "名称")}]}
    runtime.import_changeset(changeset(boat), "test", "test")
    with runtime.writing() as (conn, schema):
        given = search.object_codes(conn)  # a new object has its code from the change that made it
        assert given["boat"] not in codes.values() and {n: given[n] for n in codes} == codes
        later = search.object_codes(conn, ["raft"], assign=True)
    assert later["raft"] > max(given.values())


def test_an_index_made_before_keyed_entries_is_built_again_on_upgrade(api):
    runtime = api.world.runtime
    record = new(runtime, "contact", last_name="Migrated")
    with runtime.writing() as (conn, schema):
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        assert conn.execute(sa.select(sa.func.count()).select_from(search_entry)).scalar() == 0
    runtime.upgrade("test")
    assert found(api, "root", "migrated") == [("contact", record["id"])]


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params, parameter", [
    ({}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 201}, "q"),
    ({"q": "a\x00b"}, "q"),
    ({"q": "acme", "objects": "account,nonsense"}, "objects"),
    ({"q": "acme", "limit": "0"}, "limit"),
    ({"q": "acme", "limit": "51"}, "limit"),
    ({"q": "acme", "limit": "many"}, "limit"),
])
def test_bad_parameters_are_a_400_naming_the_parameter(api, params, parameter):
    response = api.get("root", "/api/search", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_query" and [p["parameter"] for p in body["errors"]] == [parameter]


def test_search_text_made_of_punctuation_finds_nothing_and_anonymous_callers_are_refused(api):
    assert found(api, "root", '"*^(') == []
    assert api.client.get("/api/search", params={"q": "acme"}).status_code == 401


# --- the web UI ------------------------------------------------------------------------------------------------


@pytest.fixture
def ui(world):
    from litestar.testing import TestClient  # noqa: PLC0415
    from core.api.app import create_app  # noqa: PLC0415

    with TestClient(create_app(world.runtime)) as client:
        yield client


def sign_in(client, username, language=None):
    import re  # noqa: PLC0415
    from access_world import PASSWORD  # noqa: PLC0415

    page = client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "_csrf_token": csrf}).status_code == 200
    if language:
        client.post("/language", data={"_csrf_token": csrf, "language": language, "next": "/"})
    return csrf


def test_every_page_has_the_search_box_and_the_results_page_groups_by_object(ui, world):
    runtime = world.runtime
    account = new(runtime, "account", name="Lanternfish Logistics")
    contact = new(runtime, "contact", last_name="Lanterne", first_name="Paul", account=account["id"], email="paul@lantern.example")
    sign_in(ui, "root")
    home = ui.get("/")
    assert 'role="combobox"' in home.text and 'hx-get="/search/suggest"' in home.text and 'action="/search"' in home.text
    empty = ui.get("/search")
    assert empty.status_code == 200 and "Type a name, a word or a part of a Chinese name" in empty.text
    page = ui.get("/search", params={"q": "lantern"})
    assert page.status_code == 200
    text = page.text
    assert text.index("<h2") < text.index(f'href="/r/account/{account["id"]}"') < text.index(f'href="/r/contact/{contact["id"]}"')
    assert ">Accounts</h2>" in text and ">Contacts</h2>" in text
    assert "Lanternfish Logistics · paul@lantern.example" in text  # the contact's subtitle: its account, then its e-mail
    nothing = ui.get("/search", params={"q": "zzzzqqq"})
    assert "No record matches “zzzzqqq”." in nothing.text
    too_long = ui.get("/search", params={"q": "x" * 300})
    assert too_long.status_code == 400 and "Search for at most 200 characters." in too_long.text


def test_the_results_page_and_suggestions_speak_chinese(ui, world):
    runtime = world.runtime
    contact = new(runtime, "contact", last_name="上官婉儿")
    sign_in(ui, "root", "zh-CN")
    page = ui.get("/search", params={"q": "婉儿"})
    assert 'lang="zh-CN"' in page.text and ">联系人</h2>" in page.text and f'href="/r/contact/{contact["id"]}"' in page.text
    assert "搜索全部对象" in page.text
    suggested = ui.get("/search/suggest", params={"q": "上官"}, headers={"HX-Request": "true"})
    assert "<html" not in suggested.text and 'role="listbox"' in suggested.text and "上官婉儿" in suggested.text
    assert "“上官”的全部结果" in suggested.text
    assert "没有与“无此人”匹配的记录。" in ui.get("/search/suggest", params={"q": "无此人"}).text


def test_suggestions_are_a_listbox_grouped_by_object_and_respect_the_reps_scope(ui, world):
    sign_in(ui, "alice")
    suggested = ui.get("/search/suggest", params={"q": "industries"}, headers={"HX-Request": "true"})
    assert suggested.status_code == 200
    text = suggested.text
    assert 'role="listbox"' in text and 'role="option"' in text and "Accounts" in text
    assert f'data-href="/r/account/{world.accounts["alice"]}"' in text
    assert f'/r/account/{world.accounts["bob"]}"' not in text  # bob's account is outside alice's scope
    assert ui.get("/search/suggest", params={"q": "secret"}).text.count('role="option"') == 0  # a hidden field
    assert ui.get("/search/suggest", params={"q": " "}).text == ""


def test_the_search_pages_need_a_signed_in_user(ui):
    response = ui.get("/search", params={"q": "x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/search")
    assert ui.get("/search/suggest", params={"q": "x"}, headers={"HX-Request": "true"}, follow_redirects=False).status_code == 401

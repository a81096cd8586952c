"""A contact's title is the full name, kept by the record service on every write and filled in by schema sync for
the rows a table already holds; shown in the record's head, lookups and search. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.metadata.problems import MetadataError
from core.person_names import full_name
from core.records import Actor
from core.schema_sync import history
from core.search import search
from core.tables import index_name
from test_ui_pages import signed_in

SYSTEM = Actor.system()


@pytest.mark.parametrize("first, last, written", [
    ("Wei", "Zhang", "Wei Zhang"),
    ("  Anna ", "de Vries", "Anna de Vries"),
    ("伟", "张", "张伟"),
    ("小明", "欧阳", "欧阳小明"),
    (None, "Zhang", "Zhang"),
    ("", "", None),
])
def test_a_full_name_is_written_as_the_name_is(first, last, written):
    assert full_name(first, last) == written


@pytest.fixture
def crm(make_runtime):
    return build_world(make_runtime())


def test_the_record_service_keeps_the_full_name_on_every_write(crm):
    records = crm.runtime.records
    made = records.create(SYSTEM, "contact", {"first_name": "Wei", "last_name": "Zhang"})
    assert made["full_name"] == "Wei Zhang"
    renamed = records.update(SYSTEM, "contact", made["id"], {"first_name": "Min"}, version=made["version"])
    assert renamed["full_name"] == "Min Zhang"
    other = records.update(SYSTEM, "contact", made["id"], {"title": "Buyer"}, version=renamed["version"])
    assert other["full_name"] == "Min Zhang" and other["version"] == renamed["version"] + 1
    chinese = records.update(SYSTEM, "contact", made["id"], {"first_name": "敏", "last_name": "张"}, version=other["version"])
    assert chinese["full_name"] == "张敏"
    ids = records.create_many(SYSTEM, "contact", [{"first_name": "Li", "last_name": "Na"}, {"last_name": "Solo"}])
    assert [records.get(SYSTEM, "contact", i)["full_name"] for i in ids] == ["Li Na", "Solo"]


def test_the_full_name_is_not_written_by_hand(crm):
    from core.records import RecordValidationError  # noqa: PLC0415

    with pytest.raises(RecordValidationError):
        crm.runtime.records.create(crm.actors["alice"], "contact", {"last_name": "Zhang", "full_name": "Someone Else"})


def test_the_full_name_is_the_title_in_the_head_lookups_and_search(crm):
    records = crm.runtime.records
    made = records.create(SYSTEM, "contact", {"first_name": "Wei", "last_name": "Zhang"})
    with TestClient(create_app(crm.runtime)) as client:
        signed_in(client, "root")
        page = client.get(f"/r/contact/{made['id']}").text
        assert re.search(r"<h1[^>]*>\s*Wei Zhang\s*</h1>", page)
        options = client.get("/r/contact/options", params={"field": "contact", "_contact": "Wei Zh"}, headers={"HX-Request": "true"}).text
        assert f'data-id="{made["id"]}" data-label="Wei Zhang"' in options
        listed = client.get("/r/contact", params={"q": "Wei Zhang"}).text
        assert "Wei Zhang" in listed
    call = records.create(SYSTEM, "activity", {"subject": "Call", "activity_type": "call", "contact": made["id"]})
    assert records.get(SYSTEM, "activity", call["id"])["contact"]["label"] == "Wei Zhang"  # as the API and exports name it
    exported = client_export(crm, "activity")
    assert "Wei Zhang" in exported
    found = [hit for group in search(records, SYSTEM, "Wei Zhang") for hit in group.items()]
    assert {"object": "contact", "id": made["id"], "title": "Wei Zhang"}.items() <= found[0].items()


def client_export(crm, object_name: str) -> str:
    with TestClient(create_app(crm.runtime)) as client:
        signed_in(client, "root")
        answer = client.get(f"/api/export/{object_name}", params={"labels": "en"})
        assert answer.status_code == 200, answer.text[:500]
        return answer.text


def test_a_full_name_field_added_later_is_filled_for_the_rows_there_are(crm):
    """As when an installation made before contacts had full names is upgraded: the column is added and filled."""
    records, engine = crm.runtime.records, crm.runtime.engine
    kept = [records.create(SYSTEM, "contact", {"first_name": f, "last_name": l})["id"] for f, l in (("Wei", "Zhang"), ("伟", "张"))]
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {index_name('ix', 'contact', ['full_name', 'id'])}"))
        conn.execute(sa.text("ALTER TABLE contact DROP COLUMN full_name"))
    crm.runtime.upgrade("upgrade test")
    assert [records.get(SYSTEM, "contact", i)["full_name"] for i in kept] == ["Wei Zhang", "张伟"]
    with engine.connect() as conn:
        applied = history(conn)
    assert any(h["operation"] == "fill_column" and "contact.full_name" in h["detail"] for h in applied)
    found = [hit for group in search(records, SYSTEM, "张伟") for hit in group.items()]
    assert any(hit["id"] == kept[1] and hit["title"] == "张伟" for hit in found)


def test_a_full_name_of_fields_that_are_not_text_is_refused(crm):
    field = {"name": "whole", "type": "text", "label": {"en": "Whole"}, "full_name_of": {"first": "first_name", "last": "birthday"}}
    with pytest.raises(MetadataError) as refused:
        crm.runtime.import_changeset({"format": "tessera-changeset/1", "extensions": [{"object": "contact", "fields": [field]}]}, "t", "t")
    assert any(p.pointer.endswith("/full_name_of/last") and "'birthday' is not a text field of 'contact'" in p.message
               for p in refused.value.problems), refused.value.problems


def test_an_object_names_its_records_by_its_display_field_and_it_must_be_text(crm):
    gadget = {"name": "gadget", "label": {"en": "Gadget"}, "title_field": "code", "display_field": "nickname", "fields": [
        {"name": "code", "type": "text", "label": {"en": "Code"}}, {"name": "nickname", "type": "text", "label": {"en": "Nickname"}},
        {"name": "weight", "type": "integer", "label": {"en": "Weight"}}]}
    holder = {"name": "holder", "label": {"en": "Holder"}, "fields": [
        {"name": "title", "type": "text", "label": {"en": "Title"}},
        {"name": "gadget", "type": "lookup", "target": "gadget", "label": {"en": "Gadget"}}]}
    with pytest.raises(MetadataError) as refused:
        crm.runtime.import_changeset({"format": "tessera-changeset/1", "objects": [{**gadget, "display_field": "weight"}]}, "t", "t")
    assert any(p.pointer.endswith("/display_field") and "'weight' is not a text field of 'gadget'" in p.message
               for p in refused.value.problems), refused.value.problems
    crm.runtime.import_changeset({"format": "tessera-changeset/1", "objects": [gadget, holder]}, "t", "t")
    named = crm.runtime.records.create(SYSTEM, "gadget", {"code": "G-1", "nickname": "Blue box"})
    unnamed = crm.runtime.records.create(SYSTEM, "gadget", {"code": "G-2"})
    labels = [crm.runtime.records.create(SYSTEM, "holder", {"title": t, "gadget": g["id"]})["gadget"]["label"] for t, g in (("a", named), ("b", unnamed))]
    assert labels == ["Blue box", "G-2"]

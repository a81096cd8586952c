"""Metadata documents: meta-schema validation, layer rules, and refusals that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect

from core.fieldtypes import FieldTypeRegistry
from core.metadata.files import BASE_DIR, documents_from, read_json, untranslated
from core.metadata.problems import MetadataError
from core.metadata.schemas import check_document
from core.metadata.store import current_version
from helpers import changeset, label

TYPES = FieldTypeRegistry().names()


def obj(name="gadget", fields=None, **extra):
    return {"name": name, "label": label(name.title()), "fields": fields if fields is not None else [text("title")], **extra}


def text(name, **extra):
    return {"name": name, "type": "text", "label": label(name.title()), **extra}


def messages(exc: MetadataError) -> list[str]:
    return [str(p) for p in exc.problems]


def refused(runtime, data) -> list[str]:
    """Import a changeset that must be refused; check nothing changed; return the messages."""
    with runtime.engine.connect() as conn:
        version_before = current_version(conn)
        tables_before = set(inspect(conn).get_table_names())
    with pytest.raises(MetadataError) as info:
        runtime.import_changeset(data, "change.json", "tester")
    with runtime.engine.connect() as conn:
        assert current_version(conn) == version_before
        assert set(inspect(conn).get_table_names()) == tables_before
    return messages(info.value)


def test_every_shipped_document_validates():
    for path in sorted(BASE_DIR.glob("*/*.json")):
        if path.parent.name == "schema":
            continue
        documents_from(read_json(path), str(path), "base", TYPES)


def test_every_shipped_text_is_in_english_and_simplified_chinese():
    paths = [p for p in sorted(BASE_DIR.glob("*/*.json")) if p.parent.name != "schema"]
    paths += sorted((BASE_DIR.parent / "docs" / "examples").glob("*.json"))
    assert {path: untranslated(read_json(path)) for path in paths} == {path: [] for path in paths}


def test_untranslated_texts_are_found():
    doc = {"label": {"en": "Gadget", "zh-CN": "小工具"}, "fields": [
        {"name": "a", "label": {"en": "A"}}, {"name": "b", "label": {"en": "B", "zh-CN": "B"}}]}
    assert untranslated(doc) == ["/fields/0/label", "/fields/1/label"]


def test_meta_schemas_are_valid_json_schema_2020_12():
    from jsonschema import Draft202012Validator

    for path in sorted((BASE_DIR / "schema").glob("*.json")):
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_misspelt_type_names_pointer_and_suggestion():
    doc = obj(fields=[text("a"), text("b"), text("c"), {"name": "price", "type": "curency", "label": label("Price")}])
    problems = check_document("object", doc, "gadget.json", TYPES)
    assert [str(p) for p in problems] == [
        "gadget.json: /fields/3/type: 'curency' is not a field type (did you mean 'currency'?)"
    ]


def test_unknown_key_is_named_with_suggestion():
    doc = obj(fields=[{"name": "size", "type": "text", "label": label("Size"), "max_lenght": 20}])
    problems = check_document("object", doc, "gadget.json", TYPES)
    assert str(problems[0]) == "gadget.json: /fields/0: 'max_lenght' is not a known key (did you mean 'max_length'?)"


def test_malformed_json_file_names_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "tessera-changeset/1",\n "objects": [}\n')
    with pytest.raises(MetadataError) as info:
        read_json(bad)
    assert "malformed JSON at line 2, column 14" in messages(info.value)[0]


def test_names_that_are_not_identifiers(runtime):
    found = refused(runtime, changeset(obj("Bad Name")))
    assert found == [
        "change.json: /objects/0/name: 'Bad Name' is not allowed here: use lower-case letters, digits and underscores, starting with a letter"
    ]


@pytest.mark.parametrize(
    "field_name, expected",
    [
        ("select", "'select' is a reserved word and cannot name a field"),
        ("created_at", "'created_at' is a system field every object has; choose another name"),
        ("sort", "'sort' is a reserved word and cannot name a field"),
        ("a__b", "'a__b' may not contain '__'"),
    ],
)
def test_reserved_field_names(runtime, field_name, expected):
    found = refused(runtime, changeset(obj(fields=[text(field_name)])))
    assert len(found) == 1 and expected in found[0] and "/objects/0/fields/0/name" in found[0]


def test_reserved_object_name(runtime):
    found = refused(runtime, changeset(obj("order")))
    assert found == ["change.json: /objects/0/name: 'order' is a reserved word and cannot name an object"]


def test_duplicate_field_names(runtime):
    found = refused(runtime, changeset(obj(fields=[text("title"), text("title")])))
    assert found == ["change.json: /objects/0/fields/1/name: field 'title' is defined twice in 'gadget'"]


def test_duplicate_objects_in_one_changeset(runtime):
    found = refused(runtime, changeset(obj(), obj()))
    assert found == ["change.json: /objects/1: object 'gadget' appears twice (first at /objects/0)"]


def test_redefining_a_base_object_points_to_extensions(runtime):
    found = refused(runtime, changeset(obj("account")))
    assert "object 'account' is defined by metadata/objects/account.json; add fields to it under 'extensions' instead" in found[0]


def test_lookup_to_missing_object(runtime):
    field = {"name": "maker", "type": "lookup", "target": "acount", "label": label("Maker")}
    found = refused(runtime, changeset(obj(fields=[text("title"), field])))
    assert found == ["change.json: /objects/0/fields/1/target: 'acount' is not an object (did you mean 'account'?)"]


def test_picklist_default_outside_values(runtime):
    field = {
        "name": "size", "type": "picklist", "label": label("Size"), "default": "huge",
        "values": [{"value": "small", "label": label("Small")}, {"value": "large", "label": label("Large")}],
    }
    found = refused(runtime, changeset(obj(fields=[field])))
    assert found == ["change.json: /objects/0/fields/0/default: default 'huge' is not one of the values: small, large"]


def test_option_of_another_type_is_refused(runtime):
    found = refused(runtime, changeset(obj(fields=[text("title", prefix="X-")])))
    assert found == ["change.json: /objects/0/fields/0/prefix: 'prefix' does not apply to a text field"]


def test_customization_may_not_change_a_base_field_type(runtime):
    extension = {"object": "account", "fields": [{"name": "name", "type": "integer", "label": label("Name")}]}
    found = refused(runtime, changeset(extensions=[extension]))
    assert "a customization may not change its type" in found[0]


def test_customization_may_relabel_a_base_field(runtime, actor):
    extension = {"object": "account", "fields": [{"name": "name", "type": "text", "label": label("Company", "公司名称"), "required": True, "max_length": 200, "searchable": True, "indexed": True}]}
    runtime.import_changeset(changeset(extensions=[extension]), "change.json", "tester")
    assert runtime.current_metadata().object("account").fields["name"].label("zh-CN") == "公司名称"


def test_every_problem_is_reported_at_once(runtime):
    fields = [{"name": "price", "type": "curency", "label": label("Price")}, {"name": "Qty", "type": "integer", "label": label("Qty")}]
    found = refused(runtime, changeset(obj(fields=fields)))
    assert len(found) == 2


def test_layout_and_permission_set_are_checked(runtime):
    layout = {"object": "account", "kind": "list", "columns": ["name", "industy"]}
    perms = {"name": "sales_rep", "label": label("Sales rep"), "objects": {"acount": {"read": "own"}}}
    found = refused(runtime, changeset(layouts=[layout], permission_sets=[perms]))
    assert "change.json: /layouts/0/columns/1: 'industy' is not a field of 'account' (did you mean 'industry'?)" in found
    assert "change.json: /permission_sets/0/objects/acount: there is no object 'acount' (did you mean 'account'?)" in found


def test_a_permission_set_with_field_access_imports_and_exports(runtime):
    perms = {"name": "sales_rep", "label": label("Sales rep", "销售代表"),
             "objects": {"account": {"read": "own", "update": "own"}},
             "fields": {"account": {"annual_revenue": "hidden", "name": "read"}}}
    runtime.import_changeset(changeset(permission_sets=[perms]), "change.json", "tester")
    assert runtime.export_config()["permission_sets"] == [perms]

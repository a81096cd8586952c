"""Schema sync on real databases: tables and columns follow the metadata, safely and repeatably."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from core.metadata.customize import forget_field, rename_field, set_removed
from core.metadata.problems import MetadataError
from core.metadata.store import current_version
from core.query import QueryError
from core.records import RecordValidationError
from core.schema_sync import SchemaChangeRefused, drop_column, history
from helpers import changeset, label

TEN_FIELDS = [
    {"name": "title", "type": "text", "label": label("Title", "标题"), "required": True, "searchable": True},
    {"name": "notes", "type": "long_text", "label": label("Notes", "备注")},
    {"name": "units", "type": "integer", "label": label("Units", "数量"), "min": 0},
    {"name": "weight", "type": "decimal", "label": label("Weight", "重量"), "scale": 3},
    {"name": "price", "type": "currency", "label": label("Price", "价格"), "currency": "CNY"},
    {"name": "margin", "type": "percent", "label": label("Margin", "利润率")},
    {"name": "active", "type": "boolean", "label": label("Active", "启用"), "default": True},
    {"name": "launch", "type": "date", "label": label("Launch", "上市日期")},
    {"name": "checked_at", "type": "datetime", "label": label("Checked at", "检查时间")},
    {"name": "tier", "type": "picklist", "label": label("Tier", "等级"), "indexed": True,
     "values": [{"value": "gold", "label": label("Gold", "金")}, {"value": "silver", "label": label("Silver", "银")}]},
    {"name": "maker", "type": "lookup", "target": "account", "on_delete": "set_null", "label": label("Maker", "厂商")},
    {"name": "tags", "type": "multi_picklist", "label": label("Tags", "标签"),
     "values": [{"value": "new", "label": label("New", "新")}, {"value": "eco", "label": label("Eco", "环保")}]},
    {"name": "code", "type": "autonumber", "prefix": "GAD-", "padding": 5, "label": label("Code", "编号")},
]


def gadget(fields=None, **extra):
    return {"name": "gadget", "label": label("Gadget", "小工具"), "fields": fields or TEN_FIELDS, **extra}


def apply(runtime, *objects, extensions=()):
    return runtime.import_changeset(changeset(*objects, extensions=extensions), "change.json", "implementer")


def columns(runtime, table):
    with runtime.engine.connect() as conn:
        return {c["name"]: c for c in inspect(conn).get_columns(table)}


def indexes(runtime, table):
    with runtime.engine.connect() as conn:
        return {i["name"] for i in inspect(conn).get_indexes(table)}


def version(runtime):
    with runtime.engine.connect() as conn:
        return current_version(conn)


def storage_id(runtime, table):
    """Changes when a table is rewritten (SQLite root page, PostgreSQL relfilenode)."""
    with runtime.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return conn.execute(text("SELECT rootpage FROM sqlite_master WHERE type='table' AND name=:t"), {"t": table}).scalar()
        return conn.execute(text("SELECT relfilenode FROM pg_class WHERE relname=:t"), {"t": table}).scalar()


def test_changeset_creates_a_real_table_with_typed_columns(runtime, actor):
    changes = apply(runtime, gadget())
    assert "create_table" in [c.operation for c in changes]
    cols = columns(runtime, "gadget")
    for name in ("id", "title", "notes", "units", "weight", "price", "margin", "active", "launch", "checked_at",
                 "tier", "maker", "tags", "code", "version", "created_at", "created_by", "updated_at", "updated_by", "owner", "deleted_at"):
        assert name in cols, name
    type_names = {name: str(col["type"]).upper() for name, col in cols.items()}
    assert type_names["units"] == "BIGINT"
    assert type_names["price"].startswith("NUMERIC")
    assert type_names["launch"] == "DATE"
    assert "VARCHAR" in type_names["title"]
    with runtime.engine.connect() as conn:
        fks = inspect(conn).get_foreign_keys("gadget")
    assert [(fk["constrained_columns"], fk["referred_table"]) for fk in fks] == [(["maker"], "account")]
    assert "ix_gadget__tier_id" in indexes(runtime, "gadget")
    record = runtime.records.create(actor, "gadget", {"title": "Drill", "units": 3, "price": "19.99", "tier": "gold", "tags": ["eco"], "launch": "2026-05-01"})
    assert record["code"] == "GAD-00001" and record["active"] is True and record["price"] == 19.99


def test_sync_twice_changes_nothing(runtime):
    apply(runtime, gadget())
    before = version(runtime)
    assert apply(runtime, gadget()) == []
    assert runtime.upgrade("tester") == []
    assert version(runtime) == before


def test_every_operation_is_in_the_schema_history(runtime):
    apply(runtime, gadget())
    with runtime.engine.connect() as conn:
        rows = history(conn)
    gadget_rows = [r for r in rows if r["object"] == "gadget"]
    assert {r["operation"] for r in gadget_rows} >= {"create_table", "create_index"}
    assert all(r["applied_by"] == "implementer" and r["applied_at"] is not None for r in gadget_rows)


def test_adding_a_field_does_not_rewrite_the_table(runtime, actor):
    runtime.records.create(actor, "account", {"name": "Acme"})
    before = storage_id(runtime, "account")
    field = {"name": "segment", "type": "text", "label": label("Segment", "细分")}
    lookup = {"name": "sister", "type": "lookup", "target": "account", "label": label("Sister", "姊妹公司")}
    changes = apply(runtime, extensions=[{"object": "account", "fields": [field, lookup]}])
    assert [c.operation for c in changes if c.operation == "add_column"] == ["add_column", "add_column"]
    assert storage_id(runtime, "account") == before
    record = runtime.records.list(actor, "account", {"name": "Acme"}).items[0]
    assert record["segment"] is None
    other = runtime.records.create(actor, "account", {"name": "Beta", "sister": record["id"]})
    assert other["sister"] == {"id": record["id"], "label": "Acme"}
    with pytest.raises(RecordValidationError, match="sister: account 424242 does not exist"):
        runtime.records.create(actor, "account", {"name": "Gamma", "sister": 424242})


def test_add_and_drop_an_index(runtime):
    field = {"name": "region", "type": "text", "label": label("Region", "区域")}
    apply(runtime, extensions=[{"object": "account", "fields": [{**field, "indexed": True}]}])
    assert "ix_account__region_id" in indexes(runtime, "account")
    changes = apply(runtime, extensions=[{"object": "account", "fields": [field]}])
    assert [c.operation for c in changes] == ["drop_index"]
    assert "ix_account__region_id" not in indexes(runtime, "account")


def test_rename_keeps_data_and_labels_follow(runtime, actor):
    apply(runtime, gadget())
    created = runtime.records.create(actor, "gadget", {"title": "Drill", "units": 4})
    runtime.change_metadata(rename_field(runtime.current_metadata(), "gadget", "units", "quantity"), "implementer")
    assert "quantity" in columns(runtime, "gadget") and "units" not in columns(runtime, "gadget")
    record = runtime.records.get(actor, "gadget", created["id"])
    assert record["quantity"] == 4 and "units" not in record
    spec = runtime.current_metadata().object("gadget").fields["quantity"].spec
    assert spec["former_names"] == ["units"] and spec["label"]["en"] == "Units"
    exported = runtime.export_config()
    assert [f["name"] for f in exported["objects"][0]["fields"]].count("quantity") == 1


def test_rename_by_former_names_in_a_changeset(runtime, actor):
    apply(runtime, gadget())
    runtime.records.create(actor, "gadget", {"title": "Drill", "units": 7})
    renamed = [dict(f, name="quantity", former_names=["units"]) if f["name"] == "units" else f for f in TEN_FIELDS]
    changes = apply(runtime, gadget(renamed))
    assert [c.detail for c in changes if c.operation == "rename_column"] == ["gadget.units -> quantity"]
    assert runtime.records.list(actor, "gadget").items[0]["quantity"] == 7


def test_type_change_converts_when_every_value_converts(runtime, actor):
    fields = [{"name": "title", "type": "text", "label": label("Title")}, {"name": "size", "type": "text", "label": label("Size")},
              {"name": "since", "type": "text", "label": label("Since")}]
    apply(runtime, gadget(fields))
    created = runtime.records.create(actor, "gadget", {"title": "A", "size": "42", "since": "2024-02-29"})
    runtime.records.create(actor, "gadget", {"title": "B"})
    changes = apply(runtime, gadget([fields[0], {**fields[1], "type": "integer"}, {**fields[2], "type": "date"}]))
    assert [c.operation for c in changes].count("alter_type") == 2
    record = runtime.records.get(actor, "gadget", created["id"])
    assert record["size"] == 42 and record["since"] == "2024-02-29"
    assert runtime.records.list(actor, "gadget", {"size__gte": "40"}).items[0]["title"] == "A"
    assert runtime.records.list(actor, "gadget", {"since__lt": "2024-03-01"}).items[0]["title"] == "A"


def test_type_change_is_refused_when_a_value_would_not_convert(runtime, actor):
    fields = [{"name": "title", "type": "text", "label": label("Title")}, {"name": "size", "type": "text", "label": label("Size")}]
    apply(runtime, gadget(fields))
    for size in ("42", "about 50", "7"):
        runtime.records.create(actor, "gadget", {"title": size, "size": size})
    before = version(runtime)
    with pytest.raises(SchemaChangeRefused) as info:
        apply(runtime, gadget([fields[0], {**fields[1], "type": "integer"}]))
    message = str(info.value)
    assert "gadget.size: 1 of 3 stored values cannot become integer" in message
    assert "'about 50'" in message
    assert version(runtime) == before
    assert runtime.current_metadata().object("gadget").fields["size"].type.name == "text"
    assert sorted(r["size"] for r in runtime.records.list(actor, "gadget").items) == ["42", "7", "about 50"]


def test_type_change_between_unrelated_kinds_is_refused(runtime):
    fields = [{"name": "title", "type": "text", "label": label("Title")}, {"name": "flag", "type": "boolean", "label": label("Flag")}]
    apply(runtime, gadget(fields))
    with pytest.raises(SchemaChangeRefused, match="a boolean field cannot become a date field"):
        apply(runtime, gadget([fields[0], {**fields[1], "type": "date"}]))


def test_removed_field_is_hidden_kept_and_restorable(runtime, actor):
    apply(runtime, gadget())
    created = runtime.records.create(actor, "gadget", {"title": "Drill", "units": 4})
    meta = runtime.current_metadata()
    runtime.change_metadata(set_removed(meta, "gadget", "units", True), "implementer")
    assert "units" in columns(runtime, "gadget")
    assert "units" not in runtime.records.get(actor, "gadget", created["id"])
    with pytest.raises(RecordValidationError, match="units: is not a field of gadget"):
        runtime.records.create(actor, "gadget", {"title": "Saw", "units": 1})
    with pytest.raises(QueryError, match="'units' is not a field of gadget"):
        runtime.records.list(actor, "gadget", {"units__gte": 1})
    runtime.change_metadata(set_removed(runtime.current_metadata(), "gadget", "units", False), "implementer")
    assert runtime.records.get(actor, "gadget", created["id"])["units"] == 4


def test_purge_drops_only_a_removed_field(runtime, actor):
    apply(runtime, gadget())
    meta = runtime.current_metadata()
    with pytest.raises(MetadataError, match="remove it first"):
        runtime.change_metadata(forget_field(meta, "gadget", "units"), "implementer")
    runtime.change_metadata(set_removed(meta, "gadget", "units", True), "implementer")
    runtime.change_metadata(
        forget_field(runtime.current_metadata(), "gadget", "units"), "implementer",
        before_sync=lambda conn, _old: [drop_column(conn, "gadget", "units")],
    )
    assert "units" not in columns(runtime, "gadget")
    assert "units" not in runtime.current_metadata().object("gadget").fields


def test_base_fields_cannot_be_renamed_or_removed(runtime):
    meta = runtime.current_metadata()
    with pytest.raises(MetadataError, match="only custom fields can be renamed or removed"):
        runtime.change_metadata(set_removed(meta, "account", "name", True), "implementer")


def test_another_process_sees_a_new_field_at_once(runtime, second_runtime, actor):
    second_runtime.records.list(actor, "account")  # warm its caches
    field = {"name": "segment", "type": "text", "label": label("Segment", "细分")}
    apply(runtime, extensions=[{"object": "account", "fields": [field]}])
    created = second_runtime.records.create(actor, "account", {"name": "Acme", "segment": "SMB"})
    assert created["segment"] == "SMB"
    assert second_runtime.records.list(actor, "account", {"segment": "SMB"}).items[0]["name"] == "Acme"


def test_dry_run_reports_and_changes_nothing(runtime):
    before = version(runtime)
    changes = runtime.import_changeset(changeset(gadget()), "change.json", "implementer", dry_run=True)
    assert "create_table" in [c.operation for c in changes]
    assert version(runtime) == before
    with runtime.engine.connect() as conn:
        assert "gadget" not in inspect(conn).get_table_names()


def test_export_then_import_into_a_fresh_database_recreates_it(runtime, tmp_path, actor):
    from core.runtime import Runtime
    from core.settings import Settings

    apply(runtime, gadget(), extensions=[{"object": "account", "fields": [{"name": "segment", "type": "text", "label": label("Segment")}]}])
    exported = runtime.export_config()
    other = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}"))
    other.upgrade("tester")
    other.import_changeset(exported, "export.json", "tester")
    assert set(columns(other, "gadget")) == set(columns(runtime, "gadget"))
    assert "segment" in columns(other, "account")
    assert other.export_config() == exported
    other.close()


def test_the_documented_example_changeset_imports(runtime, actor):
    from pathlib import Path

    from core.metadata.files import read_json

    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "equipment-changeset.json"
    runtime.import_changeset(read_json(example), str(example), "implementer")
    assert {"serial_number", "asset_tag", "customer", "status", "purchase_price"} <= set(columns(runtime, "machine"))
    assert {"source_id", "target_id", "role"} <= set(columns(runtime, "machine__contacts"))
    account = runtime.records.create(actor, "account", {"name": "Acme", "service_region": "east"})
    contact = runtime.records.create(actor, "contact", {"last_name": "Wang", "account": account["id"]})
    machine = runtime.records.create(actor, "machine", {"serial_number": "SN-1", "customer": account["id"],
                                                        "contacts": [{"id": contact["id"], "role": "operator"}]})
    assert machine["asset_tag"] == "MCH-000001" and machine["status"] == "running"
    assert machine["contacts"] == [{"id": contact["id"], "label": "Wang", "role": "operator"}]

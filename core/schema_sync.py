"""Schema sync: make the live database match the effective metadata, through alembic.

The desired SQLAlchemy MetaData (core/tables.py) is compared with the live database by
alembic's autogenerate comparison, and the operations are applied with alembic's
Operations inside the caller's transaction. Renames and type changes cannot be seen by
a comparison (they look like a drop and an add), so they are derived from the metadata:
a field whose ``former_names`` hold a live column's name is a rename; a field whose
type differs from the previous metadata is a type change, allowed only when every
stored value converts.

Nothing is ever dropped by a sync: a removed field keeps its column (hidden by the
record service) until an explicit purge; a table whose object disappeared (say, a
disabled plugin) is left alone with its data.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.operations.ops import CreateIndexOp, CreateTableOp, DropIndexOp
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

from core.coretables import schema_history
from core.db import is_sqlite
from core.fieldtypes import FieldType
from core.metadata.model import FieldDef, MetadataSet
from core.person_names import full_name, name_fields
from core.tables import SchemaTables, build_tables

CONVERSION_SAMPLE_LIMIT = 3
FILL_BATCH = 1000  # rows read and written at a time when a full-name field is filled in


class SchemaChangeRefused(Exception):
    """A change that would lose or corrupt data; nothing was applied."""

    def __init__(self, object_name: str, field_name: str, message: str) -> None:
        self.object = object_name
        self.field = field_name
        super().__init__(f"{object_name}.{field_name}: {message}")


@dataclass
class Change:
    operation: str
    object: str | None
    detail: str
    column: str | None = None  # the column an add_column change added


def sync(conn: Connection, old: MetadataSet | None, new: MetadataSet, full: bool = True) -> list[Change]:
    """Bring the live schema in line with ``new``; return what was applied, in order.

    With ``full=False`` only objects whose definition differs from ``old`` are compared
    with the live database, so a metadata change costs the same on a big schema.
    """
    tables = build_tables(new)
    scope = set(new.objects) if full or old is None else changed_objects(old, new)
    if not scope:
        return []
    context = MigrationContext.configure(conn)
    ops = Operations(context)
    changes: list[Change] = []
    changes += _apply_renames(conn, ops, new, scope)
    changes += _apply_type_changes(conn, ops, old, new, tables, scope)
    changes += _apply_comparison(conn, ops, tables, scope)
    changes += _fill_full_names(conn, new, tables, changes)
    changes += _fill_rollups(conn, old, new, tables, changes)
    return changes


def changed_objects(old: MetadataSet, new: MetadataSet) -> set[str]:
    return {name for name, obj in new.objects.items() if name not in old.objects or _signature(old.objects[name]) != _signature(obj)}


def _signature(obj) -> str:
    return json.dumps([obj.spec, {n: f.spec for n, f in obj.fields.items()}], sort_keys=True, default=str)


def record(conn: Connection, changes: list[Change], who: str, version: int) -> None:
    if not changes:
        return
    now = dt.datetime.now(dt.timezone.utc)
    conn.execute(
        schema_history.insert(),
        [
            dict(applied_at=now, applied_by=who, metadata_version=version, operation=c.operation, object=c.object, detail=c.detail)
            for c in changes
        ],
    )


def history(conn: Connection, limit: int = 100) -> list[dict]:
    rows = conn.execute(select(schema_history).order_by(schema_history.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


# --- renames --------------------------------------------------------------------------


def _apply_renames(conn: Connection, ops: Operations, meta: MetadataSet, scope: set[str]) -> list[Change]:
    changes = []
    inspector = inspect(conn)
    live_tables = set(inspector.get_table_names())
    for obj in meta.objects.values():
        if obj.name not in scope or obj.name not in live_tables:
            continue
        live = {c["name"] for c in inspector.get_columns(obj.name)}
        for fdef in obj.fields.values():
            if not fdef.has_column or fdef.name in live:
                continue
            previous = [n for n in reversed(fdef.spec.get("former_names", [])) if n in live]
            if previous:
                ops.alter_column(obj.name, previous[0], new_column_name=fdef.name)
                changes.append(Change("rename_column", obj.name, f"{obj.name}.{previous[0]} -> {fdef.name}"))
    return changes


# --- type changes -----------------------------------------------------------------------


def _previous_field(old: MetadataSet | None, fdef: FieldDef) -> FieldDef | None:
    if old is None or fdef.object not in old.objects:
        return None
    fields = old.objects[fdef.object].fields
    for name in [fdef.name, *reversed(fdef.spec.get("former_names", []))]:
        if name in fields:
            return fields[name]
    return None


def _apply_type_changes(conn, ops, old, new, tables: SchemaTables, scope: set[str]) -> list[Change]:
    changes = []
    for obj in new.objects.values():
        if obj.name not in scope:
            continue
        for fdef in obj.fields.values():
            before = _previous_field(old, fdef)
            if before is None or not _type_differs(conn, before, fdef):
                continue
            _check_convertible(before, fdef)
            converted = _convert_values(conn, tables.table(obj.name), before, fdef)
            if _sql_type_text(conn, before) != _sql_type_text(conn, fdef):
                _alter_column_type(conn, ops, before, fdef)
                if is_sqlite(conn):
                    _rewrite_values(conn, tables.table(obj.name), fdef, converted)
            changes.append(
                Change("alter_type", obj.name, f"{obj.name}.{fdef.name}: {before.type.name} -> {fdef.type.name}")
            )
    return changes


def _sql_type_text(conn: Connection, fdef: FieldDef) -> str:
    sql_type = fdef.type.sql_type(fdef.spec)
    return "" if sql_type is None else sql_type.compile(dialect=conn.dialect)


def _type_differs(conn, before: FieldDef, after: FieldDef) -> bool:
    if before.type.name != after.type.name:
        return True
    if "values" in after.type.options:
        removed = {v["value"] for v in before.spec.get("values", [])} - {v["value"] for v in after.spec.get("values", [])}
        if removed:
            return True
    return _sql_type_text(conn, before) != _sql_type_text(conn, after)


def _family(ftype: FieldType) -> str:
    """What a column of the type holds, for the changes of type allowed: text (a single choice is stored as its text),
    number, date (with or without time), boolean, relation, or a document (several choices, JSON)."""
    if ftype.family == "text" or ftype.single_choice:
        return "text"
    if ftype.family in ("number", "date", "boolean", "relation"):
        return ftype.family
    return "document"


def _check_convertible(before: FieldDef, after: FieldDef) -> None:
    old, new = before.type, after.type
    if old.family == "relation" or new.family == "relation":
        if old.name != new.name:
            raise SchemaChangeRefused(after.object, after.name, f"a {old.name} field cannot become a {new.name} field; add a new field and move the data")
        return
    old_family, new_family = _family(old), _family(new)
    allowed = old_family == new_family or old_family == "text" or (new_family == "text" and old_family != "document")
    if not allowed:
        raise SchemaChangeRefused(after.object, after.name, f"a {old.name} field cannot become a {new.name} field")


def _convert_values(conn: Connection, table: sa.Table, before: FieldDef, after: FieldDef) -> list[tuple[int, object]]:
    """Convert every stored value to the new type, or refuse naming how many fail and an example."""
    from core.validation import field_validator  # the same checks a record write uses

    check = field_validator(after)
    live_name = _live_column_name(conn, table.name, before, after)
    query = select(table.c.id, sa.column(live_name)).select_from(table).where(sa.column(live_name).isnot(None))
    converted, failures, total = [], [], 0
    for record_id, stored in conn.execute(query):
        total += 1
        text_value = _as_json_value(before, stored)
        try:
            converted.append((record_id, check(text_value)))
        except ValueError as exc:
            if len(failures) < CONVERSION_SAMPLE_LIMIT:
                failures.append(f"record {record_id}: {exc}")
            else:
                failures.append(None)
    if failures:
        examples = "; ".join(f for f in failures if f)
        raise SchemaChangeRefused(
            after.object,
            after.name,
            f"{len(failures)} of {total} stored values cannot become {after.type.name}, e.g. {examples}. "
            "Fix those records first, or add a new field instead.",
        )
    return converted


def _live_column_name(conn: Connection, table_name: str, before: FieldDef, after: FieldDef) -> str:
    live = {c["name"] for c in inspect(conn).get_columns(table_name)}
    return after.name if after.name in live else before.name


def _as_json_value(fdef: FieldDef, stored: object) -> object:
    value = fdef.type.format(stored, fdef.spec)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _alter_column_type(conn: Connection, ops: Operations, before: FieldDef, after: FieldDef) -> None:
    new_type = after.type.sql_type(after.spec)
    old_type = before.type.sql_type(before.spec)
    if is_sqlite(conn):
        with ops.batch_alter_table(after.object, recreate="always") as batch:
            batch.alter_column(after.name, type_=new_type, existing_type=old_type, existing_nullable=True)
        return
    quoted = conn.dialect.identifier_preparer.quote(after.name)
    using = f"{quoted}::{new_type.compile(dialect=conn.dialect)}"
    if _family(after.type) == "document" and _family(before.type) == "text":
        using = f"to_jsonb(ARRAY[{quoted}])"
    elif _family(after.type) == "text" and _family(before.type) == "document":
        using = f"{quoted}::text"
    ops.alter_column(after.object, after.name, type_=new_type, existing_type=old_type, postgresql_using=using)


def _rewrite_values(conn: Connection, table: sa.Table, fdef: FieldDef, converted: list[tuple[int, object]]) -> None:
    # SQLite's batch copy CASTs by type affinity, which mangles dates; write the
    # values converted in Python back through the new column type.
    target = sa.table(table.name, sa.column("id"), sa.column(fdef.name, fdef.type.sql_type(fdef.spec)))
    statement = target.update().where(target.c.id == sa.bindparam("_id")).values({fdef.name: sa.bindparam("_value")})
    for start in range(0, len(converted), 5000):
        chunk = converted[start : start + 5000]
        conn.execute(statement, [{"_id": rid, "_value": value} for rid, value in chunk])


# --- additions: autogenerate comparison -----------------------------------------------


def _apply_comparison(conn: Connection, ops: Operations, tables: SchemaTables, scope: set[str]) -> list[Change]:
    wanted = tables.names(scope)

    def include_name(name, type_, parent_names):
        if type_ == "table":
            return name in wanted
        return True

    def include_object(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in wanted

    context = MigrationContext.configure(
        conn, opts={"compare_type": False, "include_name": include_name, "include_object": include_object}
    )
    diffs = _flatten(compare_metadata(context, tables.metadata))
    changes: list[Change] = []
    new_fk_columns = set()
    for diff in sorted(diffs, key=_diff_order):
        kind = diff[0]
        if kind == "add_table":
            table = diff[1]
            ops.invoke(CreateTableOp.from_table(table))
            changes.append(Change("create_table", table.name, f"create table {table.name} ({', '.join(c.name for c in table.columns)})"))
        elif kind == "add_column":
            _, _, table_name, column = diff
            _add_column(conn, ops, table_name, column)
            new_fk_columns.add((table_name, column.name))
            changes.append(Change("add_column", table_name, f"add column {table_name}.{column.name} {column.type.compile(dialect=conn.dialect)}",
                                  column.name))
        elif kind == "add_fk":
            # Only for a lookup column added just now (SQLite took it inline). A changed
            # on_delete of an existing lookup is enforced by the record service, whose
            # deletes are soft; the database constraint keeps its first rule.
            fk = diff[1]
            column = (fk.table.name, [c.name for c in fk.columns][0])
            if column in new_fk_columns and not is_sqlite(conn):
                _add_foreign_key(ops, fk)
                changes.append(Change("add_foreign_key", fk.table.name, f"add foreign key {fk.name}"))
        elif kind == "add_index":
            index = diff[1]
            ops.invoke(CreateIndexOp.from_index(index))
            changes.append(Change("create_index", index.table.name, f"create index {index.name}"))
        elif kind == "remove_index":
            index = diff[1]
            if index.name and index.name.startswith(("ix_", "uq_")):
                ops.invoke(DropIndexOp.from_index(index))
                changes.append(Change("drop_index", index.table.name, f"drop index {index.name}"))
        # remove_table, remove_column and type or nullability differences are never
        # acted on here: data is not dropped by a sync.
    return changes


def _fill_full_names(conn: Connection, meta: MetadataSet, tables: SchemaTables, changes: list[Change]) -> list[Change]:
    """A full-name field (``full_name_of``) just added gets its value in the rows the table already holds."""
    added = {f"{c.object}.{c.column}" for c in changes if c.operation == "add_column"}
    filled = []
    for obj in meta.objects.values():
        for fdef in name_fields(obj.fields.values()):
            table = tables.table(obj.name)
            if f"{table.name}.{fdef.name}" in added:
                count = _fill_full_name(conn, table, fdef)
                parts = fdef.spec["full_name_of"]
                filled.append(Change("fill_column", table.name, f"fill {table.name}.{fdef.name} from {parts['first']} and "
                                                                f"{parts['last']} in {count} rows"))
    return filled


def _fill_full_name(conn: Connection, table: sa.Table, fdef: FieldDef) -> int:
    """Write the full name of every row, a batch at a time in the order of ids; how many rows got one."""
    first, last, count, after = table.c[fdef.spec["full_name_of"]["first"]], table.c[fdef.spec["full_name_of"]["last"]], 0, None
    statement = sa.update(table).where(table.c.id == sa.bindparam("tessera_row_id")).values({fdef.name: sa.bindparam("tessera_name")})
    while True:
        query = select(table.c.id, first, last).order_by(table.c.id).limit(FILL_BATCH)
        rows = conn.execute(query if after is None else query.where(table.c.id > after)).all()
        if not rows:
            return count
        named = [{"tessera_row_id": row[0], "tessera_name": full_name(row[1], row[2])} for row in rows]
        named = [row for row in named if row["tessera_name"] is not None]
        if named:
            conn.execute(statement, named)
        count, after = count + len(named), rows[-1][0]


def _fill_rollups(conn: Connection, old: MetadataSet | None, new: MetadataSet, tables: SchemaTables,
                  changes: list[Change]) -> list[Change]:
    """A roll-up field just added, or whose definition changed, is computed for the records the parent already has."""
    from core import rollups  # noqa: PLC0415 - roll-ups read records through the record service's events

    wanted = {f"{c.object}.{c.column}" for c in changes if c.operation == "add_column"}
    for fdef in rollups.rollup_fields(new):
        before = _previous_field(old, fdef)
        if before is not None and before.spec.get("rollup") != fdef.spec.get("rollup"):
            wanted.add(f"{fdef.object}.{fdef.name}")
    filled = rollups.fill_added(conn, SimpleNamespace(meta=new, tables=tables), wanted) if wanted else []
    return [Change("fill_column", parent, f"compute {parent}.{name} for {count} records") for parent, name, count in filled]


def _flatten(diffs: list) -> list:
    flat = []
    for diff in diffs:
        if isinstance(diff, list):
            flat.extend(diff)
        else:
            flat.append(diff)
    return flat


_ORDER = {"add_table": 0, "add_column": 1, "remove_index": 2, "add_fk": 3, "add_index": 4}


def _diff_order(diff) -> int:
    return _ORDER.get(diff[0], 9)


def _add_column(conn: Connection, ops: Operations, table_name: str, column: sa.Column) -> None:
    """ADD COLUMN, never a table rewrite. SQLite takes the foreign key inline."""
    fks = list(column.foreign_keys)
    if not (is_sqlite(conn) and fks):
        plain = sa.Column(column.name, column.type, nullable=True)
        ops.add_column(table_name, plain)
        return
    fk = fks[0]
    preparer = conn.dialect.identifier_preparer
    ondelete = fk.ondelete or "RESTRICT"
    ops.execute(
        f"ALTER TABLE {preparer.quote(table_name)} ADD COLUMN {preparer.quote(column.name)} "
        f"{column.type.compile(dialect=conn.dialect)} REFERENCES {preparer.quote(fk.column.table.name)}(id) "
        f"ON DELETE {ondelete}"
    )


def _add_foreign_key(ops: Operations, fk: sa.ForeignKeyConstraint) -> None:
    # NOT VALID: the column was just added (all nulls), so no scan of a big table is needed.
    ops.create_foreign_key(
        fk.name,
        fk.table.name,
        fk.elements[0].column.table.name,
        [c.name for c in fk.columns],
        ["id"],
        ondelete=fk.ondelete,
        postgresql_not_valid=True,
    )


# --- purge --------------------------------------------------------------------------------


def drop_column(conn: Connection, object_name: str, column_name: str) -> Change:
    """Drop a purged field's column. Indexes on it go first, so SQLite can drop it in place."""
    ops = Operations(MigrationContext.configure(conn))
    for index in inspect(conn).get_indexes(object_name):
        if column_name in index["column_names"]:
            ops.drop_index(index["name"], table_name=object_name)
    if is_sqlite(conn) and any(column_name in fk["constrained_columns"] for fk in inspect(conn).get_foreign_keys(object_name)):
        with ops.batch_alter_table(object_name, recreate="always") as batch:  # SQLite cannot drop a foreign key column in place
            batch.drop_column(column_name)
    else:
        ops.drop_column(object_name, column_name)
    return Change("drop_column", object_name, f"drop column {object_name}.{column_name} (purged)")

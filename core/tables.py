"""SQLAlchemy Tables built from the effective metadata: one table per object, one column per field.

System columns come first: id, then the fields, then version, created/updated stamps,
owner and deleted_at. A lookup is a foreign key; a many-to-many field is a junction
table ``<object>__<field>`` holding ``source_id``, ``target_id`` and the relation's own
fields. Indexes always end with ``id`` so that a sort on the indexed field with its id
tie-breaker is served by the index on both databases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, MetaData, Table, text

from core.fieldtypes import ID_TYPE
from core.metadata.layouts import LayoutView
from core.metadata.model import FieldDef, MetadataSet, ObjectDef, junction_name

ON_DELETE_SQL = {"restrict": "RESTRICT", "set_null": "SET NULL", "cascade": "CASCADE"}
TIMESTAMP = DateTime(timezone=True)


@dataclass
class ObjectTables:
    table: Table
    junctions: dict[str, Table] = field(default_factory=dict)  # field name -> junction table


@dataclass
class SchemaTables:
    metadata: MetaData
    objects: dict[str, ObjectTables]

    def table(self, object_name: str) -> Table:
        return self.objects[object_name].table

    def names(self, objects: set[str] | None = None) -> set[str]:
        """Table names (with junction tables) of the given objects, or of all."""
        names = set()
        for name, tables in self.objects.items():
            if objects is not None and name not in objects:
                continue
            names.add(tables.table.name)
            names.update(t.name for t in tables.junctions.values())
        return names


def index_name(prefix: str, table: str, columns: list[str]) -> str:
    """A stable index (or constraint) name under PostgreSQL's 63-character limit."""
    name = f"{prefix}_{table}__{'_'.join(columns)}"
    if len(name) <= 60:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:51]}_{digest}"


def build_tables(meta: MetadataSet) -> SchemaTables:
    metadata = MetaData()
    objects = {name: ObjectTables(_object_table(metadata, obj)) for name, obj in meta.objects.items()}
    _board_indexes(meta, objects)
    for name, obj in meta.objects.items():
        for fdef in obj.fields.values():
            if fdef.type.name == "many_to_many":
                objects[name].junctions[fdef.name] = _junction_table(metadata, obj, fdef)
    return SchemaTables(metadata, objects)


def _board_indexes(meta: MetadataSet, objects: dict[str, "ObjectTables"]) -> None:
    """An index on (column field, updated_at) for each board, which draws each column's latest cards: without it a
    column of 200,000 deals is sorted whole for the 50 it shows."""
    for layout in map(LayoutView, meta.layouts.values()):
        group = layout.group_by
        if layout.kind != "kanban" or layout.object not in objects or not group:
            continue
        table = objects[layout.object].table
        name = index_name("ix", table.name, [group, "updated_at"])
        if group in table.c and name not in {index.name for index in table.indexes}:
            Index(name, table.c[group], table.c.updated_at, table.c.id)


def field_column(fdef: FieldDef) -> Column:
    spec = fdef.spec
    sql_type = fdef.type.sql_type(spec)
    args = []
    if fdef.type.name == "lookup":
        ondelete = ON_DELETE_SQL[spec.get("on_delete", "restrict")]
        args.append(ForeignKey(f"{spec['target']}.id", ondelete=ondelete, name=index_name("fk", fdef.object, [fdef.name])))
    if fdef.rollup and fdef.spec["rollup"]["aggregate"] in ("count", "sum"):  # no children yet: none counted, nothing summed
        return Column(fdef.name, sql_type, *args, nullable=True, server_default=text("0"))
    return Column(fdef.name, sql_type, *args, nullable=True)


def _object_table(metadata: MetaData, obj: ObjectDef) -> Table:
    columns = [Column("id", ID_TYPE, primary_key=True, autoincrement=True)]
    columns += [field_column(f) for f in obj.fields.values() if f.has_column]
    columns += [
        Column("version", Integer, nullable=False, default=1),
        Column("created_at", TIMESTAMP, nullable=False),
        Column("created_by", BigInteger, nullable=True),
        Column("updated_at", TIMESTAMP, nullable=False),
        Column("updated_by", BigInteger, nullable=True),
        Column("owner", BigInteger, nullable=True),
        Column("deleted_at", TIMESTAMP, nullable=True),
    ]
    table = Table(obj.name, metadata, *columns)
    for columns_, unique in _index_specs(obj):
        prefix = "uq" if unique else "ix"
        Index(index_name(prefix, obj.name, columns_), *[table.c[c] for c in columns_], unique=unique)
    return table


def _index_specs(obj: ObjectDef) -> list[tuple[list[str], bool]]:
    """Which indexes an object needs: declared ones, indexed and unique fields, lookups, owner."""
    specs: list[tuple[list[str], bool]] = [(["owner", "id"], False)]
    for fdef in obj.fields.values():
        if not fdef.has_column:
            continue
        kind = fdef.type.name
        if fdef.spec.get("unique") or kind == "autonumber":
            specs.append(([fdef.name], True))
        elif fdef.spec.get("indexed") or kind == "lookup":
            specs.append(([fdef.name, "id"], False))
        elif kind == "dynamic_lookup":
            specs.append(([fdef.spec["object_field"], fdef.name], False))
    for index in obj.indexes:
        columns = list(index["fields"])
        if index.get("unique"):
            specs.append((columns, True))
        else:
            specs.append((columns if columns[-1] == "id" else columns + ["id"], False))
    unique_specs: list[tuple[list[str], bool]] = []
    for spec in specs:
        if spec not in unique_specs:
            unique_specs.append(spec)
    return unique_specs


def _junction_table(metadata: MetaData, obj: ObjectDef, fdef: FieldDef) -> Table:
    name = junction_name(obj.name, fdef.name)
    target = fdef.spec["target"]
    table = Table(
        name,
        metadata,
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("source_id", ID_TYPE, ForeignKey(f"{obj.name}.id", ondelete="CASCADE", name=index_name("fk", name, ["source"])), nullable=False),
        Column("target_id", ID_TYPE, ForeignKey(f"{target}.id", ondelete="CASCADE", name=index_name("fk", name, ["target"])), nullable=False),
        *[field_column(t) for t in fdef.through],
    )
    Index(index_name("uq", name, ["source_id", "target_id"]), table.c.source_id, table.c.target_id, unique=True)
    Index(index_name("ix", name, ["target_id", "source_id"]), table.c.target_id, table.c.source_id)
    return table


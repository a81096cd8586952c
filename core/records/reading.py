"""Reading records: one statement per page with the permission conditions inside it, formatting, labels of lookups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import Connection, and_, func, select

from core import group_totals
from core.coretables import field_history
from core.db import PreparedRead
from core.fieldtypes import iso_utc
from core.formulas import Formulas
from core.formulas import formatter as formula_format
from core.metadata.model import FieldDef, ObjectDef
from core.naming import title_column
from core.permissions import TRUSTED, Access, row_condition
from core.query import COUNT_CAP, MAX_LIMIT, ListQuery, QueryError, parse
from core.row_format import RowFormatter, row_formatter
from core.runtime import Runtime, Schema
from core.sameness import same
from core.words import sentence
from core.records.actor import Actor
from core.records.errors import NotFound
from core.records.values import _aware, _field_def, _iso, _label, _params, _record_id, json_value, SYSTEM_TAIL

if TYPE_CHECKING:
    from core.records.service import RecordService


@dataclass
class Page:
    items: list[dict]
    limit: int
    offset: int
    has_more: bool
    count: int | None = None
    count_capped: bool = False  # the count stopped at COUNT_CAP: there are more
    updatable: frozenset[int] | None = None  # which items the reader may change, when the list was asked for it

    def as_dict(self) -> dict:
        data = {"items": self.items, "limit": self.limit, "offset": self.offset, "has_more": self.has_more}
        if self.count is not None:
            data["count"] = self.count
            data["count_capped"] = self.count_capped
        return data


@dataclass
class Reader:
    """A prepared SELECT for one object as one permission set sees it, and how to format its rows."""

    access: Access
    base: sa.Select
    table: sa.Table
    fields: list[FieldDef]
    lookups: list[FieldDef]
    dynamic: list[FieldDef]
    m2m: list[FieldDef]
    format_row: RowFormatter  # a row (the record's columns, then the lookup labels) as the record shown
    formatted: frozenset[int]  # positions formatted from the driver's own values (FieldType.formats_driver_values)
    formulas: Formulas  # the column of each field, formulas compiled on the table (core/formulas.py)
    filtered_from: sa.FromClause  # the table with the joins its formulas need: what filters and counts read

    def column(self, fdef: FieldDef) -> sa.ColumnElement:
        return self.formulas.column(fdef)


class ReadRecords:
    """Reads as a user inside one read transaction, with the same permission checks as RecordService's."""

    def __init__(self, service: RecordService, conn: Connection, schema: Schema, actor: Actor) -> None:
        self._service, self.connection, self.schema, self.actor = service, conn, schema, actor

    def list(self, object_name: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), updatable: bool = False) -> Page:
        """A page of records; ``updatable``: with which of them the actor may change (RecordService._list)."""
        service, schema = self._service, self.schema
        access = service._allowed(schema, self.actor, object_name, "read")
        obj = schema.meta.object(object_name)
        query = parse(obj, params, schema.queryable(object_name, access))
        return service._list(self.connection, schema, obj, query, access, self.actor, updatable)

    def updatable(self, object_name: str, ids: list[int]) -> set[int]:
        """RecordService.updatable, in this read transaction."""
        schema = self.schema
        access = schema.access(self.actor)
        if not ids or not access.can(object_name, "update"):
            return set()

        allowed = schema.row_condition(access, object_name, "update")
        if allowed is None:  # every live record may be changed, and these were just read live: no need to ask the database
            return {_record_id(i) for i in ids}

        def build() -> sa.Select:
            table = schema.tables.table(object_name)
            return select(table.c.id).where(table.c.id.in_(sa.bindparam("tessera_ids", expanding=True)), table.c.deleted_at.is_(None),
                                            *([] if allowed is None else [allowed]))

        statement = schema.memo(("updatable", object_name, access.name), build)
        return set(self.connection.execute(statement, {**_params(self.actor), "tessera_ids": [_record_id(i) for i in ids]}).scalars())

    def aggregate(self, object_name: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]],
                  select_for: Callable[[Reader, sa.ColumnElement], tuple[sa.Select, dict]]) -> list[sa.Row]:
        """The rows of an aggregate query over the records a list query (``params``: its filters) matches for the
        actor: ``select_for(reader, where)`` builds it from the reader (its table and the joins its formulas need)
        and ``where``, the list's own condition with the read scope inside, and gives the values it binds."""
        service, schema = self._service, self.schema
        access = service._allowed(schema, self.actor, object_name, "read")
        obj = schema.meta.object(object_name)
        query = parse(obj, params, schema.queryable(object_name, access))
        reader = service._reader(schema, object_name, access)
        statement, values = service._statements.build(self.connection, schema, obj, query, access, reader)
        built, bound = select_for(reader, statement.where)
        return list(self.connection.execute(built, {**_params(self.actor), **values, **bound}))

    def matching(self, object_name: str, shape: tuple, where: Callable[[sa.Table], list], order: Callable[[sa.Table], list],
                 params: Mapping[str, Any], limit: int) -> list[dict]:
        """Up to ``limit`` records meeting ``where(table)``, in ``order(table)``, as a list shows them to the actor: the
        same read scope inside the statement, the same hidden fields left out. ``shape`` names the statement for reuse."""
        service, schema = self._service, self.schema
        access = service._allowed(schema, self.actor, object_name, "read")
        reader = service._reader(schema, object_name, access)

        def build() -> sa.Select:
            table = reader.table
            visible = schema.row_condition(access, object_name, "read")
            conditions = [table.c.deleted_at.is_(None), *where(table), *([] if visible is None else [visible])]
            # the page's ids first, then their columns and lookups: the joins are made for the page, not every match
            page = select(table.c.id).where(*conditions).order_by(*order(table)).limit(sa.bindparam("tessera_limit", type_=sa.Integer))
            return reader.base.where(table.c.id.in_(page)).order_by(*order(table))

        statement = schema.memo(("matching", object_name, access.name, self.connection.dialect.name, *shape), build)
        rows = self.connection.execute(statement, {**_params(self.actor), **params, "tessera_limit": limit})
        records = [service._format(reader, row) for row in rows]
        service._attach_dynamic_labels(self.connection, schema, reader, records, _params(self.actor))
        return records


def _every(list_page, params: Mapping[str, Any]) -> Iterator[dict]:
    offset = 0
    while True:
        page = list_page({**params, "limit": MAX_LIMIT, "offset": offset})
        yield from page.items
        if not page.has_more:
            return
        offset += len(page.items)


def _name_of(schema: Schema, access: Access, object_name: str) -> sa.ColumnElement:
    """How the reader names a record of the object whose table the statement joins, as lookups name it:
    NULL where they may not read it."""
    obj = schema.meta.object(object_name)
    if not (access.can(object_name, "read") and access.visible(object_name, obj.title_field)):
        return sa.null()
    title = title_column(obj, schema.tables.table(object_name), access.visible)
    visible = schema.row_condition(access, object_name, "read")
    return title if visible is None else sa.case((visible, title), else_=sa.null())


def _changes(conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str, record_id: int,
             *since: sa.ColumnElement) -> list[dict]:
    """The record's real changes the reader may see, oldest first, each naming who made it as lookups name people."""
    users = schema.tables.table("user")
    rows = conn.execute(
        select(field_history, _name_of(schema, access, "user").label("changed_by_label"))
        .outerjoin(users, users.c.id == field_history.c.changed_by)
        .where(field_history.c.object == object_name, field_history.c.record_id == record_id, *since)
        .order_by(field_history.c.id),
        _params(actor),
    )
    return _real_changes(schema, object_name, rows, access)


def _real_changes(schema: Schema, object_name: str, rows: Iterable[sa.Row], access: Access) -> list[dict]:
    """History rows as entries: the fields the actor may see, and only real changes (an entry whose old and new
    value are the same, written before updates compared values as core/sameness.py does, is left out)."""
    obj = schema.meta.objects.get(object_name)
    return [_history_entry(r) for r in rows
            if access.visible(object_name, r.field) and not same(_field_def(schema, obj, r.field), r.old_value, r.new_value)]


def _history_entry(row: sa.Row) -> dict:
    m = row._mapping
    return {"field": m["field"], "old": m["old_value"], "new": m["new_value"], "version": m["record_version"],
            "changed_at": _iso(m["changed_at"]), "changed_by": m["changed_by"], "changed_by_name": m["changed_by_name"],
            "changed_by_label": m["changed_by_label"] or m["changed_by_name"]}


class Reads:
    """The record service's part for reading records (see core/records/service.py)."""

    runtime: Runtime

    def summarize(self, actor: Actor, object_name: str, group_by: str, sum_field: str | None = None,
                  params: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> list[dict]:
        """Count (and sum ``sum_field``) the records a list query matches, per value of ``group_by``.

        The same permission condition as a list applies; both fields must be visible to the
        actor, ``group_by`` a picklist, boolean or lookup and ``sum_field`` a number. A board's
        totals, unfiltered and for a reader without a record scope, are read from those the
        database keeps (core/group_totals.py) instead of counted.
        """
        with self.runtime.reading() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "read")
            obj = schema.meta.object(object_name)
            fields = schema.queryable(object_name, access)
            problems = []
            if group_by not in fields or not fields[group_by].type.groups:
                problems.append(("group_by", sentence("not_a_group_field", field=group_by, object=object_name)))
            if sum_field and (sum_field not in fields or fields[sum_field].type.family != "number"):
                problems.append(("sum", sentence("not_a_number_field", field=sum_field, object=object_name)))
            if problems:
                raise QueryError.of(problems)
            pairs = [(k, v) for k, v in (params.items() if isinstance(params, Mapping) else params) if k not in ("sort", "limit", "offset", "count")]
            kept = schema.memo(("group totals", object_name, group_by, sum_field),
                               lambda: group_totals.find(schema.meta, object_name, group_by, sum_field))
            if kept is not None and not pairs and schema.row_condition(access, object_name, "read") is None:
                found, crowded = group_totals.read(conn, kept)
            else:
                found, crowded = self._count_groups(conn, schema, actor, obj, access, group_by, sum_field, parse(obj, pairs, fields)), False
        if crowded:
            with self.runtime.writing() as (conn, _schema):
                group_totals.fold(conn, kept)
        return [{"value": row["value"], "count": row["count"], **({"sum": json_value(row["sum"])} if sum_field else {})} for row in found]

    def _count_groups(self, conn: Connection, schema: Schema, actor: Actor, obj, access: Access, group_by: str,
                      sum_field: str | None, query) -> list[dict]:
        reader = self._reader(schema, obj.name, access)
        statement, values = self._statements.build(conn, schema, obj, query, access, reader)
        group = reader.column(obj.fields.get(group_by) or schema.system_fields(obj.name)[group_by])
        columns = [group, func.count().label("count")]
        if sum_field:
            columns.append(func.coalesce(func.sum(reader.column(obj.fields[sum_field])), 0).label("sum"))
        rows = conn.execute(select(*columns).select_from(reader.filtered_from).where(statement.where).group_by(group),
                            {**_params(actor), **values})
        return [{"value": row[0], "count": row[1], "sum": row[2] if sum_field else None} for row in rows]

    def history(self, actor: Actor, object_name: str, record_id: Any) -> list[dict]:
        """A record's field changes, oldest first; fields the actor may not see are left out."""
        record_id = _record_id(record_id)
        with self.runtime.reading() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "read")
            self._fetch(conn, schema, object_name, record_id, True, access, actor)  # NotFound unless readable
            return _changes(conn, schema, access, actor, object_name, record_id)

    def last_changed(self, actor: Actor, object_name: str, field: str, ids: list[int]) -> dict[int, dt.datetime]:
        """When ``field`` last changed on each of the records ``ids`` (those of a list the actor just read),
        from the field history; records whose field never changed since their creation are left out.
        Empty when the actor may not see the field."""
        if not ids:
            return {}
        with self.runtime.reading() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "read")
            if field not in schema.queryable(object_name, access):
                return {}
            rows = conn.execute(
                select(field_history.c.record_id, func.max(field_history.c.changed_at))
                .where(field_history.c.object == object_name, field_history.c.field == field,
                       field_history.c.record_id.in_([_record_id(i) for i in ids]))
                .group_by(field_history.c.record_id)
            )
            return {record_id: _aware(when) for record_id, when in rows}

    def updatable(self, actor: Actor, object_name: str, ids: list[int]) -> set[int]:
        """Which of the records ``ids`` (those of a list the actor just read) the actor may change, by the same
        condition an update checks; empty when they may change none of the object's records."""
        if not ids:
            return set()
        with self.reading(actor) as reads:
            return reads.updatable(object_name, ids)

    def _fetch(self, conn: Connection, schema: Schema, object_name: str, record_id: int, include_deleted: bool = False,
               access: Access = TRUSTED, actor: Actor | None = None, row_scope: bool = True) -> dict:
        """One record as ``access`` sees it; ``row_scope=False`` skips the read-scope check (the actor just wrote it)."""
        reader = self._reader(schema, object_name, access)
        statement = schema.memo(("by id", object_name, access.name, include_deleted, row_scope),
                                lambda: PreparedRead(self._by_id(schema, reader, object_name, include_deleted, row_scope)))
        params = _params(actor)
        rows = statement.tuples(conn, {**params, "tessera_id": record_id}, unprocessed=reader.formatted)
        if not rows:
            raise NotFound(sentence("record_missing", object=object_name, id=record_id))
        record = self._format(reader, rows[0])
        self._attach_dynamic_labels(conn, schema, reader, [record], params)
        for fdef in reader.m2m:
            record[fdef.name] = self._links(conn, schema, fdef, [record_id], access, params)[record_id]
        return record

    def _by_id(self, schema: Schema, reader: Reader, object_name: str, include_deleted: bool, row_scope: bool) -> sa.Select:
        statement = reader.base.where(reader.table.c.id == sa.bindparam("tessera_id", type_=sa.BigInteger))
        if not include_deleted:
            statement = statement.where(reader.table.c.deleted_at.is_(None))
        visible = schema.row_condition(reader.access, object_name, "read") if row_scope else None
        return statement if visible is None else statement.where(visible)

    def _list(self, conn: Connection, schema: Schema, obj: ObjectDef, query: ListQuery, access: Access = TRUSTED,
              actor: Actor | None = None, updatable: bool = False) -> Page:
        """A page of records; with ``updatable``, also which of them the actor may change (Page.updatable), by the
        condition an update checks, asked in the list's own statement."""
        reader = self._reader(schema, obj.name, access)
        may_update = updatable and access.can(obj.name, "update")
        flag = schema.row_condition(access, obj.name, "update") if may_update else None
        statement, values = self._statements.build(conn, schema, obj, query, access, reader, flag)
        params = {**_params(actor), **values}
        # the formatted columns are formatted from the driver's values, not parsed first (Reader.formatted)
        rows = statement.prepared.tuples(conn, params, unprocessed=reader.formatted)
        records = [self._format(reader, row) for row in rows[: query.limit]]
        self._attach_dynamic_labels(conn, schema, reader, records, params)
        for fdef in reader.m2m:
            links = self._links(conn, schema, fdef, [r["id"] for r in records], access, params) if records else {}
            for record in records:
                record[fdef.name] = links[record["id"]]
        page = Page(records, query.limit, query.offset, len(rows) > query.limit)
        if updatable:  # no update right: none; no condition on the records: all of them; else the flag the statement added
            page.updatable = frozenset(r["id"] for r, row in zip(records, rows) if may_update and (flag is None or row[-1]))
        table = reader.table
        if query.count == "exact":
            page.count = conn.execute(select(func.count()).select_from(reader.filtered_from).where(statement.where), params).scalar_one()
        elif query.count == "capped":
            matching = select(table.c.id).select_from(reader.filtered_from).where(statement.where).limit(COUNT_CAP + 1).subquery()
            counted = conn.execute(select(func.count()).select_from(matching), params).scalar_one()
            page.count, page.count_capped = min(counted, COUNT_CAP), counted > COUNT_CAP
        return page

    def _reader(self, schema: Schema, object_name: str, access: Access = TRUSTED) -> Reader:
        key = (schema.version, object_name, access.name)
        reader = self._readers.get(key)
        if reader is None:
            reader = self._build_reader(schema, object_name, access)
            if len(self._readers) > 1000:
                self._readers.clear()
            self._readers[key] = reader
        return reader

    def _build_reader(self, schema: Schema, object_name: str, access: Access) -> Reader:
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        fields = [f for f in obj.active_fields() if (f.has_column or f.formula) and access.visible(object_name, f.name)]
        lookups = [f for f in fields if f.type.name == "lookup" and not f.formula] + [schema.system_fields(object_name)["owner"]]
        formulas = Formulas(schema.tables.table, table)
        columns = ([table.c.id] + [formulas.column(f).label(f.name) if f.formula else table.c[f.name] for f in fields]
                   + [table.c[n] for n in SYSTEM_TAIL])
        source = table
        for fdef in lookups:
            target_obj = schema.meta.object(fdef.spec["target"])
            label = f"{fdef.name}__label"
            if not (access.can(target_obj.name, "read") and access.visible(target_obj.name, target_obj.title_field)):
                columns.append(sa.null().label(label))  # the id is this record's value; the name is not the actor's to see
                continue
            target = schema.tables.table(target_obj.name).alias(f"l_{fdef.name}")
            joined = target.c.id == table.c[fdef.name]
            visible = row_condition(access, schema.memberships, target_obj.name, target, "read")
            columns.append(title_column(target_obj, target, access.visible).label(label))
            source = source.outerjoin(target, joined if visible is None else and_(joined, visible))
        source = formulas.select_from(source)
        index = {name: i for i, name in enumerate(["id"] + [f.name for f in fields] + list(SYSTEM_TAIL))}
        formatted = [(f.name, f.type.format, f.spec, f.type.formats_driver_values) for f in fields
                     if not f.type.formats_as_stored and f.type.name != "lookup" and not f.formula]
        formatted += [(f.name, formula_format(f), f.spec, False) for f in fields if f.formula]
        formatted += [(name, iso_utc, {}, True) for name in SYSTEM_TAIL if name.endswith("_at")]
        label_start = len(index)
        label_positions = {f.name: label_start + i for i, f in enumerate(lookups)}
        return Reader(
            access,
            select(*columns).select_from(source),
            table,
            fields,
            lookups,
            [f for f in fields if f.type.name == "dynamic_lookup"],
            [f for f in obj.active_fields() if f.type.name == "many_to_many" and access.visible(object_name, f.name)],
            row_formatter(list(index), {name: (format_value, spec) for name, format_value, spec, _raw in formatted},
                          label_positions, _label, optional_last="deleted_at"),
            frozenset(index[name] for name, *_rest, raw in formatted if raw),
            formulas,
            formulas.select_from(table),
        )

    def _format(self, reader: Reader, row: Sequence[Any]) -> dict:
        return reader.format_row(row)

    def _attach_dynamic_labels(self, conn: Connection, schema: Schema, reader: Reader, records: list[dict], params: dict) -> None:
        """One query per referenced object for a page, never one per row."""
        access = reader.access
        for fdef in reader.dynamic:
            object_field = fdef.spec["object_field"]
            wanted: dict[str, set[int]] = {}
            for record in records:
                if record.get(fdef.name) is not None and record.get(object_field) in schema.meta.objects:
                    wanted.setdefault(record[object_field], set()).add(record[fdef.name])
            labels: dict[tuple[str, int], Any] = {}
            for target_name, ids in wanted.items():
                target_obj = schema.meta.objects[target_name]
                if not (access.can(target_name, "read") and access.visible(target_name, target_obj.title_field)):
                    continue
                target = schema.tables.table(target_name)
                statement = select(target.c.id, title_column(target_obj, target, access.visible)).where(target.c.id.in_(ids))
                visible = schema.row_condition(access, target_name, "read")
                if visible is not None:
                    statement = statement.where(visible)
                labels.update({(target_name, rid): _label(title) for rid, title in conn.execute(statement, params)})
            for record in records:
                value = record.get(fdef.name)
                if value is not None:
                    record[fdef.name] = {"id": value, "object": record.get(object_field), "label": labels.get((record.get(object_field), value))}

    def _links(self, conn: Connection, schema: Schema, fdef: FieldDef, record_ids: list[int], access: Access = TRUSTED,
               params: dict | None = None) -> dict[int, list[dict]]:
        """Each record's links; the label of a target the actor may not read is None (the link itself is theirs)."""
        junction = schema.tables.objects[fdef.object].junctions[fdef.name]
        target_obj = schema.meta.object(fdef.spec["target"])
        target = schema.tables.table(target_obj.name)
        through = [junction.c[t.name] for t in fdef.through]
        title = _name_of(schema, access, target_obj.name)
        rows = conn.execute(
            select(junction.c.source_id, junction.c.target_id, title, *through)
            .join(target, target.c.id == junction.c.target_id)
            .where(junction.c.source_id.in_(record_ids), target.c.deleted_at.is_(None))
            .order_by(junction.c.id),
            params or {},
        )
        result: dict[int, list[dict]] = {rid: [] for rid in record_ids}
        for row in rows:
            link = {"id": row[1], "label": _label(row[2])}
            for i, t in enumerate(fdef.through):
                value = row[3 + i]
                link[t.name] = None if value is None else t.type.format(value, t.spec)
            result[row[0]].append(link)
        return result

    # --- writes -------------------------------------------------------------------------------

    def _fetch_many(self, conn: Connection, schema: Schema, object_name: str, ids: list[int]) -> list[dict]:
        reader = self._reader(schema, object_name)
        by_id: dict[int, dict] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for row in conn.execute(reader.base.where(reader.table.c.id.in_(chunk))):
                record = self._format(reader, row)
                by_id[record["id"]] = record
        records = [by_id[i] for i in ids if i in by_id]
        self._attach_dynamic_labels(conn, schema, reader, records, _params(None))
        for fdef in reader.m2m:
            for start in range(0, len(records), 1000):
                chunk = records[start : start + 1000]
                links = self._links(conn, schema, fdef, [record["id"] for record in chunk])
                for record in chunk:
                    record[fdef.name] = links[record["id"]]
        return records

"""The record service: the only way to data, for the API, the UI, imports and plugins.

Every call takes the acting user. Writes validate (core/validation.py), check that
related records exist, stamp the system fields, keep field history and use the
record's version for optimistic concurrency: an update carrying a stale version
changes nothing and raises Conflict.
"""

from __future__ import annotations

import datetime as dt
import decimal
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, and_, exists, func, literal, or_, select

from core.coretables import field_history, sequence
from core.fieldtypes import format_autonumber, iso_utc
from core.metadata.model import FieldDef, ObjectDef
from core.plugins import RecordEvent, Refusal
from core.query import MAX_LIMIT, ListQuery, QueryError, parse
from core.runtime import Runtime, Schema
from core.tables import junction_name
from core.validation import FieldError, RecordValidationError

__all__ = ["Actor", "RecordService", "RecordError", "NotFound", "Conflict", "Refused", "QueryError", "RecordValidationError"]


@dataclass(frozen=True)
class Actor:
    """Who is acting. Permissions arrive with roles; until then every actor may do everything."""

    user_id: int | None
    name: str

    @classmethod
    def system(cls) -> "Actor":
        return cls(None, "system")


class RecordError(Exception):
    status = 400


class NotFound(RecordError):
    status = 404


class Refused(RecordError):
    """A write the data model does not allow (e.g. deleting a record others depend on)."""

    status = 409


class Conflict(RecordError):
    """The record changed since the version the caller read."""

    status = 409

    def __init__(self, message: str, current_version: int, changes: list[dict]) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.changes = changes


class BatchValidationError(RecordValidationError):
    """Some rows of a batch are invalid; ``rows`` maps row index to its field errors."""

    def __init__(self, object_name: str, rows: dict[int, list[FieldError]]) -> None:
        self.rows = rows
        first = next(iter(rows.items()))
        super().__init__(object_name, first[1])
        self.args = (f"{len(rows)} row(s) invalid; row {first[0]}: " + "; ".join(f"{e.field}: {e.message}" for e in first[1]),)


@dataclass
class Page:
    items: list[dict]
    limit: int
    offset: int
    has_more: bool
    count: int | None = None

    def as_dict(self) -> dict:
        data = {"items": self.items, "limit": self.limit, "offset": self.offset, "has_more": self.has_more}
        if self.count is not None:
            data["count"] = self.count
        return data


@dataclass
class Reader:
    """A prepared SELECT for one object and a function turning its rows into records."""

    base: sa.Select
    table: sa.Table
    fields: list[FieldDef]
    lookups: list[FieldDef]
    dynamic: list[FieldDef]
    m2m: list[FieldDef]
    plan: list[tuple[str, int, Any]]  # (key, column index, formatter or None)
    lookup_plan: list[tuple[str, int, int]]  # (key, id index, label index)


SYSTEM_TAIL = ("version", "created_at", "created_by", "updated_at", "updated_by", "owner", "deleted_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


class RecordService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._readers: dict[tuple[int, str], Reader] = {}

    @contextmanager
    def transaction(self, actor: Actor) -> Iterator["TransactionRecords"]:
        """Several reads and writes in one transaction, as plugin code (jobs, actions) needs.

        Writes made this way are trusted like a hook's: they may set read-only fields.
        """
        with self.runtime.writing() as (conn, schema):
            yield TransactionRecords(self, conn, schema, actor)

    # --- reads ------------------------------------------------------------------------------

    def get(self, actor: Actor, object_name: str, record_id: Any, include_deleted: bool = False) -> dict:
        with self.runtime.reading() as (conn, schema):
            return self._fetch(conn, schema, object_name, _record_id(record_id), include_deleted)

    def list(self, actor: Actor, object_name: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> Page:
        with self.runtime.reading() as (conn, schema):
            obj = schema.meta.object(object_name)
            query = parse(obj, params, schema.system_fields(object_name))
            return self._list(conn, schema, obj, query)

    def each(self, actor: Actor, object_name: str, params: Mapping[str, Any] = {}) -> Iterator[dict]:
        """Every record a list query matches, page by page (each page its own read)."""
        return _every(lambda page_params: self.list(actor, object_name, page_params), params)

    def history(self, actor: Actor, object_name: str, record_id: Any) -> list[dict]:
        record_id = _record_id(record_id)
        with self.runtime.reading() as (conn, schema):
            schema.meta.object(object_name)
            rows = conn.execute(
                select(field_history)
                .where(field_history.c.object == object_name, field_history.c.record_id == record_id)
                .order_by(field_history.c.id)
            )
            return [_history_entry(r) for r in rows]

    def _fetch(self, conn: Connection, schema: Schema, object_name: str, record_id: int, include_deleted: bool = False) -> dict:
        reader = self._reader(schema, object_name)
        statement = reader.base.where(reader.table.c.id == record_id)
        if not include_deleted:
            statement = statement.where(reader.table.c.deleted_at.is_(None))
        row = conn.execute(statement).first()
        if row is None:
            raise NotFound(f"{object_name} {record_id} does not exist")
        record = self._format(reader, row)
        self._attach_dynamic_labels(conn, schema, reader, [record])
        for fdef in reader.m2m:
            record[fdef.name] = self._links(conn, schema, fdef, [record_id])[record_id]
        return record

    def _list(self, conn: Connection, schema: Schema, obj: ObjectDef, query: ListQuery) -> Page:
        reader = self._reader(schema, obj.name)
        table = reader.table
        conditions = [table.c.deleted_at.is_(None)] + [self._condition(conn, schema, table, f) for f in query.filters]
        if query.q:
            conditions.append(self._search(obj, table, query.q))
        where = and_(*conditions)
        order = [table.c[s.field.name].desc() if s.descending else table.c[s.field.name].asc() for s in query.sort]
        last_descending = query.sort[-1].descending if query.sort else True
        order.append(table.c.id.desc() if last_descending else table.c.id.asc())
        statement = reader.base.where(where).order_by(*order).limit(query.limit + 1).offset(query.offset)
        rows = conn.execute(statement).all()
        records = [self._format(reader, row) for row in rows[: query.limit]]
        self._attach_dynamic_labels(conn, schema, reader, records)
        count = None
        if query.count:
            count = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        return Page(records, query.limit, query.offset, len(rows) > query.limit, count)

    def _search(self, obj: ObjectDef, table: sa.Table, text: str):
        names = [f.name for f in obj.active_fields() if f.spec.get("searchable") and f.type.searchable]
        if not names:
            names = [obj.title_field]
        return or_(*[table.c[n].icontains(text, autoescape=True) for n in names])

    def _condition(self, conn: Connection, schema: Schema, table: sa.Table, flt) -> sa.ColumnElement:
        fdef, op, value = flt.field, flt.operator, flt.value
        kind = fdef.type.name
        if kind == "many_to_many":
            junction = schema.tables.objects[fdef.object].junctions[fdef.name]
            targets = value if isinstance(value, list) else [value]
            return exists().where(junction.c.source_id == table.c.id, junction.c.target_id.in_(targets))
        column = table.c[fdef.name]
        if kind == "multi_picklist" and op in ("eq", "in"):
            wanted = value if isinstance(value, list) else [value]
            if conn.dialect.name == "postgresql":
                return column.op("?|")(sa.cast(sa.literal(wanted), sa.ARRAY(sa.Text)))
            each = sa.func.json_each(column).table_valued("value")
            return exists(select(literal(1)).select_from(each).where(each.c.value.in_(wanted)))
        if op == "eq":
            return column == value
        if op == "ne":
            return or_(column != value, column.is_(None))
        if op == "gt":
            return column > value
        if op == "gte":
            return column >= value
        if op == "lt":
            return column < value
        if op == "lte":
            return column <= value
        if op == "in":
            return column.in_(value)
        if op == "contains":
            return column.icontains(value, autoescape=True)
        if op == "startswith":
            return column.istartswith(value, autoescape=True)
        if op == "isnull":
            return column.is_(None) if value else column.is_not(None)
        raise QueryError([{"parameter": f"{fdef.name}__{op}", "message": f"'{op}' is not supported"}])

    def _reader(self, schema: Schema, object_name: str) -> Reader:
        key = (schema.version, object_name)
        reader = self._readers.get(key)
        if reader is None:
            reader = self._build_reader(schema, object_name)
            if len(self._readers) > 1000:
                self._readers.clear()
            self._readers[key] = reader
        return reader

    def _build_reader(self, schema: Schema, object_name: str) -> Reader:
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        fields = [f for f in obj.active_fields() if f.has_column]
        lookups = [f for f in fields if f.type.name == "lookup"] + [schema.system_fields(object_name)["owner"]]
        columns = [table.c.id] + [table.c[f.name] for f in fields] + [table.c[n] for n in SYSTEM_TAIL]
        source = table
        for fdef in lookups:
            target_obj = schema.meta.object(fdef.spec["target"])
            target = schema.tables.table(target_obj.name).alias(f"l_{fdef.name}")
            columns.append(target.c[target_obj.title_field].label(f"{fdef.name}__label"))
            source = source.outerjoin(target, target.c.id == table.c[fdef.name])
        index = {name: i for i, name in enumerate(["id"] + [f.name for f in fields] + list(SYSTEM_TAIL))}
        plan = [("id", 0, None)]
        for fdef in fields:
            formatter = None if fdef.type.formats_as_stored else _bound_format(fdef)
            plan.append((fdef.name, index[fdef.name], formatter))
        plan += [(name, index[name], iso_utc if name.endswith("_at") else None) for name in SYSTEM_TAIL]
        label_start = len(index)
        lookup_plan = [(f.name, index[f.name], label_start + i) for i, f in enumerate(lookups)]
        return Reader(
            select(*columns).select_from(source),
            table,
            fields,
            lookups,
            [f for f in fields if f.type.name == "dynamic_lookup"],
            [f for f in obj.active_fields() if f.type.name == "many_to_many"],
            plan,
            lookup_plan,
        )

    def _format(self, reader: Reader, row: sa.Row) -> dict:
        record: dict[str, Any] = {}
        for key, position, formatter in reader.plan:
            value = row[position]
            record[key] = value if formatter is None or value is None else formatter(value)
        if record["deleted_at"] is None:
            del record["deleted_at"]
        for key, position, label_position in reader.lookup_plan:
            if row[position] is not None:
                record[key] = {"id": row[position], "label": _label(row[label_position])}
        return record

    def _attach_dynamic_labels(self, conn: Connection, schema: Schema, reader: Reader, records: list[dict]) -> None:
        """One query per referenced object for a page, never one per row."""
        for fdef in reader.dynamic:
            object_field = fdef.spec["object_field"]
            wanted: dict[str, set[int]] = {}
            for record in records:
                if record.get(fdef.name) is not None and record.get(object_field) in schema.meta.objects:
                    wanted.setdefault(record[object_field], set()).add(record[fdef.name])
            labels: dict[tuple[str, int], Any] = {}
            for target_name, ids in wanted.items():
                target_obj = schema.meta.objects[target_name]
                target = schema.tables.table(target_name)
                rows = conn.execute(select(target.c.id, target.c[target_obj.title_field]).where(target.c.id.in_(ids)))
                labels.update({(target_name, rid): _label(title) for rid, title in rows})
            for record in records:
                value = record.get(fdef.name)
                if value is not None:
                    record[fdef.name] = {"id": value, "object": record.get(object_field), "label": labels.get((record.get(object_field), value))}

    def _links(self, conn: Connection, schema: Schema, fdef: FieldDef, record_ids: list[int]) -> dict[int, list[dict]]:
        junction = schema.tables.objects[fdef.object].junctions[fdef.name]
        target_obj = schema.meta.object(fdef.spec["target"])
        target = schema.tables.table(target_obj.name)
        through = [junction.c[t.name] for t in fdef.through]
        rows = conn.execute(
            select(junction.c.source_id, junction.c.target_id, target.c[target_obj.title_field], *through)
            .join(target, target.c.id == junction.c.target_id)
            .where(junction.c.source_id.in_(record_ids), target.c.deleted_at.is_(None))
            .order_by(junction.c.id)
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

    def create(self, actor: Actor, object_name: str, data: Any) -> dict:
        with self.runtime.writing() as (conn, schema):
            return self._create(conn, schema, actor, object_name, data)

    def _create(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, data: Any, trusted: bool = False) -> dict:
        record_id = self._insert(conn, schema, actor, object_name, [data], trusted)[0]
        return self._fetch(conn, schema, object_name, record_id)

    def create_many(self, actor: Actor, object_name: str, rows: list[Any]) -> list[int]:
        """Create many records in one transaction: all are created, or none."""
        with self.runtime.writing() as (conn, schema):
            return self._insert(conn, schema, actor, object_name, rows)

    def _insert(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, rows: list[Any], trusted: bool = False) -> list[int]:
        obj = schema.meta.object(object_name)
        validator = schema.validator(object_name)
        defaults = _defaults(obj)
        plugins = self.runtime.plugins
        before = plugins.caller("tessera_before_create", object_name) or plugins.caller("tessera_validate_record", object_name)
        parsed, errors = [], {}
        for index, data in enumerate(rows):
            try:
                values = {**defaults, **validator.validate(data, partial=False, trusted=trusted)}
                if before:
                    values = self._run_before(conn, schema, actor, obj, "tessera_before_create", values, None)
            except RecordValidationError as exc:
                errors[index] = exc.errors
                continue
            parsed.append(values)
        if errors:
            if len(rows) == 1:
                raise RecordValidationError(object_name, errors[0])
            raise BatchValidationError(object_name, errors)
        if not parsed:
            return []
        self._check_references(conn, schema, obj, parsed, rows_are_batch=len(rows) > 1)
        self._check_unique(conn, schema, obj, parsed, None)
        links = {f.name: [values.pop(f.name, None) for values in parsed] for f in obj.active_fields() if f.type.name == "many_to_many"}
        self._assign_autonumbers(conn, obj, parsed)
        now = _now()
        for values in parsed:
            values.update(version=1, created_at=now, updated_at=now, created_by=actor.user_id, updated_by=actor.user_id)
            values.setdefault("owner", actor.user_id)
            if values.get("owner") is None:
                values["owner"] = actor.user_id
        table = schema.tables.table(object_name)
        ids = self._insert_rows(conn, table, parsed)
        for name, values_per_row in links.items():
            fdef = obj.fields[name]
            for record_id, links_value in zip(ids, values_per_row):
                if links_value:
                    self._write_links(conn, schema, fdef, record_id, links_value)
        after = plugins.caller("tessera_after_create", object_name)
        if after:
            records = TransactionRecords(self, conn, schema, actor)
            for record in self._fetch_many(conn, schema, object_name, ids):
                after(event=RecordEvent(object_name, actor, records, meta=schema.meta, hooks=self.runtime.plugins.hook, values=record, record=record))
        return ids

    def _run_before(self, conn, schema: Schema, actor: Actor, obj: ObjectDef, hook_name: str, values: dict,
                    previous: dict | None) -> dict:
        """Run a before-hook and the validators of plugins; what hooks set is checked like input."""
        plugins = self.runtime.plugins
        shown = _as_json(obj, values)
        event = RecordEvent(obj.name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                            hooks=plugins.hook, values=dict(shown), previous=previous)
        hook = plugins.caller(hook_name, obj.name)
        if hook:
            try:
                hook(event=event)
            except Refusal as exc:
                raise RecordValidationError(obj.name, [FieldError(exc.field, str(exc))]) from None
            if event.values != shown:  # only what hooks changed needs checking again
                values = schema.validator(obj.name).validate(event.values, partial=previous is not None, trusted=True)
                event.values = _as_json(obj, values)
        validators = plugins.caller("tessera_validate_record", obj.name)
        problems = [p for result in reversed(validators(event=event)) for p in (result or [])] if validators else []
        if problems:
            raise RecordValidationError(obj.name, [FieldError(field, message) for field, message in problems])
        return values

    def _fetch_many(self, conn: Connection, schema: Schema, object_name: str, ids: list[int]) -> list[dict]:
        reader = self._reader(schema, object_name)
        by_id: dict[int, dict] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for row in conn.execute(reader.base.where(reader.table.c.id.in_(chunk))):
                record = self._format(reader, row)
                by_id[record["id"]] = record
        records = [by_id[i] for i in ids if i in by_id]
        self._attach_dynamic_labels(conn, schema, reader, records)
        return records

    def _insert_rows(self, conn: Connection, table: sa.Table, parsed: list[dict]) -> list[int]:
        # Rows may name different columns; group them so each executemany is uniform.
        ids: list[int | None] = [None] * len(parsed)
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, values in enumerate(parsed):
            groups.setdefault(tuple(sorted(values)), []).append(i)
        for columns, indexes in groups.items():
            statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            result = conn.execute(statement, [parsed[i] for i in indexes])
            for i, row in zip(indexes, result):
                ids[i] = row[0]
        return ids  # type: ignore[return-value]

    def _assign_autonumbers(self, conn: Connection, obj: ObjectDef, parsed: list[dict]) -> None:
        for fdef in obj.active_fields():
            if fdef.type.name != "autonumber":
                continue
            first = reserve_numbers(conn, f"{obj.name}.{fdef.name}", len(parsed))
            for offset, values in enumerate(parsed):
                values[fdef.name] = format_autonumber(fdef.spec, first + offset)

    def update(self, actor: Actor, object_name: str, record_id: Any, changes: Any, version: Any = None) -> dict:
        record_id = _record_id(record_id)
        if isinstance(changes, dict):
            changes = dict(changes)
            if version is None:
                version = changes.pop("version", None)
            else:
                changes.pop("version", None)
        expected = _version(version)
        with self.runtime.writing() as (conn, schema):
            return self._update(conn, schema, actor, object_name, record_id, changes, expected)

    def _update(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, record_id: int, changes: Any, expected: int,
                trusted: bool = False) -> dict:
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        current = conn.execute(select(table).where(table.c.id == record_id, table.c.deleted_at.is_(None))).first()
        if current is None:
            raise NotFound(f"{object_name} {record_id} does not exist")
        if current.version != expected:
            raise self._conflict(conn, object_name, record_id, expected, current.version)
        if not trusted and isinstance(changes, dict):
            changes = _without_unchanged_read_only(obj, changes, current._mapping)
        values = schema.validator(object_name).validate(changes, partial=True, trusted=trusted)
        plugins = self.runtime.plugins
        if plugins.caller("tessera_before_update", object_name) or plugins.caller("tessera_validate_record", object_name):
            previous = self._fetch(conn, schema, object_name, record_id)
            values = self._run_before(conn, schema, actor, obj, "tessera_before_update", values, previous)
        self._check_references(conn, schema, obj, [_with_stored_pairs(obj, values, current._mapping)])
        self._check_unique(conn, schema, obj, [values], record_id)
        link_changes = {n: values.pop(n) for n in list(values) if obj.fields.get(n) and obj.fields[n].type.name == "many_to_many"}
        stored = current._mapping
        diff = {k: v for k, v in values.items() if not _same(stored[k], v)}
        old_links = {}
        for name in list(link_changes):
            fdef = obj.fields[name]
            old = [_link_value(fdef, link) for link in self._links(conn, schema, fdef, [record_id])[record_id]]
            new = [_link_value(fdef, link) for link in link_changes[name] or []]
            if _sorted_links(old) == _sorted_links(new):
                del link_changes[name]
            else:
                old_links[name] = old
        if not diff and not link_changes:
            return self._fetch(conn, schema, object_name, record_id)
        now = _now()
        result = conn.execute(
            sa.update(table)
            .where(table.c.id == record_id, table.c.version == expected)
            .values(**diff, version=table.c.version + 1, updated_at=now, updated_by=actor.user_id)
        )
        if result.rowcount != 1:
            latest = conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
            raise self._conflict(conn, object_name, record_id, expected, latest)
        history = [
            _history_row(obj, record_id, name, stored[name], value, expected + 1, now, actor) for name, value in diff.items()
        ]
        for name, links_value in link_changes.items():
            fdef = obj.fields[name]
            self._write_links(conn, schema, fdef, record_id, links_value or [], replace=True)
            new = [_link_value(fdef, link) for link in links_value or []]
            history.append(dict(object=obj.name, record_id=record_id, field=name, old_value=old_links[name], new_value=new,
                                record_version=expected + 1, changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name))
        if history:
            conn.execute(field_history.insert(), history)
        record = self._fetch(conn, schema, object_name, record_id)
        after = plugins.caller("tessera_after_update", object_name)
        if after:
            changed = {h["field"]: (h["old_value"], h["new_value"]) for h in history}
            event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta, hooks=self.runtime.plugins.hook,
                                values=_as_json(obj, {**diff}), record=record, changes=changed)
            after(event=event)
        return record

    def _conflict(self, conn: Connection, object_name: str, record_id: int, expected: int, current: int | None) -> Conflict:
        rows = conn.execute(
            select(field_history)
            .where(field_history.c.object == object_name, field_history.c.record_id == record_id,
                   field_history.c.record_version > expected)
            .order_by(field_history.c.id)
        )
        changes = [_history_entry(r) for r in rows]
        return Conflict(
            f"{object_name} {record_id} was changed by someone else (you had version {expected}, it is now at version {current}); "
            "reload it and apply your change again",
            current or 0,
            changes,
        )

    def delete(self, actor: Actor, object_name: str, record_id: Any, version: Any = None) -> None:
        """Soft delete: the record is hidden, restorable, and its relations follow on_delete."""
        record_id = _record_id(record_id)
        with self.runtime.writing() as (conn, schema):
            table = schema.tables.table(object_name)
            current = conn.execute(select(table.c.version).where(table.c.id == record_id, table.c.deleted_at.is_(None))).scalar()
            if current is None:
                raise NotFound(f"{object_name} {record_id} does not exist")
            if version is not None and current != _version(version):
                raise self._conflict(conn, object_name, record_id, _version(version), current)
            plugins = self.runtime.plugins
            before, after = plugins.caller("tessera_before_delete", object_name), plugins.caller("tessera_after_delete", object_name)
            hooked = before or after
            event = None
            if hooked:
                previous = self._fetch(conn, schema, object_name, record_id)
                event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta, hooks=self.runtime.plugins.hook, previous=previous, record=previous)
                try:
                    if before:
                        before(event=event)
                except Refusal as exc:
                    raise Refused(str(exc)) from None
            self._soft_delete(conn, schema, actor, object_name, [record_id], _now())
            if event is not None and after:
                after(event=event)

    def _soft_delete(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, ids: list[int], now: dt.datetime) -> None:
        for obj, fdef in self._referencing(schema, object_name):
            table = schema.tables.table(obj.name)
            column = table.c[fdef.name]
            live = and_(column.in_(ids), table.c.deleted_at.is_(None))
            rule = fdef.spec.get("on_delete", "restrict")
            if rule == "restrict":
                count = conn.execute(select(func.count()).select_from(table).where(live)).scalar_one()
                if count:
                    raise Refused(
                        f"cannot delete {object_name} {', '.join(map(str, ids[:5]))}: {count} {obj.name} record(s) point to it "
                        f"through {obj.name}.{fdef.name}; reassign or delete them first"
                    )
            elif rule == "set_null":
                rows = conn.execute(select(table.c.id, table.c.version, column).where(live)).all()
                if rows:
                    conn.execute(sa.update(table).where(live).values({fdef.name: None, "version": table.c.version + 1,
                                                                      "updated_at": now, "updated_by": actor.user_id}))
                    conn.execute(field_history.insert(), [
                        _history_row(obj, rid, fdef.name, old, None, ver + 1, now, actor) for rid, ver, old in rows
                    ])
            elif rule == "cascade":
                child_ids = list(conn.execute(select(table.c.id).where(live)).scalars())
                if child_ids:
                    self._soft_delete(conn, schema, actor, obj.name, child_ids, now)
        table = schema.tables.table(object_name)
        conn.execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.deleted_at.is_(None))
            .values(deleted_at=now, version=table.c.version + 1, updated_at=now, updated_by=actor.user_id)
        )

    def _referencing(self, schema: Schema, object_name: str) -> list[tuple[ObjectDef, FieldDef]]:
        return [
            (obj, fdef)
            for obj in schema.meta.objects.values()
            for fdef in obj.active_fields()
            if fdef.type.name == "lookup" and fdef.spec.get("target") == object_name
        ]

    def restore(self, actor: Actor, object_name: str, record_id: Any) -> dict:
        record_id = _record_id(record_id)
        with self.runtime.writing() as (conn, schema):
            table = schema.tables.table(object_name)
            result = conn.execute(
                sa.update(table)
                .where(table.c.id == record_id, table.c.deleted_at.is_not(None))
                .values(deleted_at=None, version=table.c.version + 1, updated_at=_now(), updated_by=actor.user_id)
            )
            if result.rowcount != 1:
                raise NotFound(f"{object_name} {record_id} is not a deleted record")
            return self._fetch(conn, schema, object_name, record_id)

    # --- checks -------------------------------------------------------------------------------

    def _check_references(self, conn: Connection, schema: Schema, obj: ObjectDef, rows: list[dict], rows_are_batch: bool = False) -> None:
        """Lookups must point at live records: one query per field for the whole batch."""
        errors: dict[int, list[FieldError]] = {}
        owner = schema.system_fields(obj.name)["owner"]
        for fdef in [f for f in obj.active_fields() if f.type.name in ("lookup", "many_to_many")] + [owner]:
            target = fdef.spec["target"]
            wanted = {}
            for index, values in enumerate(rows):
                for rid in _referenced_ids(fdef, values.get(fdef.name)):
                    wanted.setdefault(rid, []).append(index)
            if not wanted:
                continue
            found = self._existing(conn, schema, target, wanted)
            for rid, indexes in wanted.items():
                if rid not in found:
                    for index in indexes:
                        errors.setdefault(index, []).append(FieldError(fdef.name, f"{target} {rid} does not exist"))
        for fdef in [f for f in obj.active_fields() if f.type.name == "dynamic_lookup"]:
            for index, values in enumerate(rows):
                problem = self._dynamic_problem(conn, schema, obj, fdef, values)
                if problem:
                    errors.setdefault(index, []).append(FieldError(fdef.name, problem))
        if errors:
            if rows_are_batch:
                raise BatchValidationError(obj.name, errors)
            raise RecordValidationError(obj.name, next(iter(errors.values())))

    def _existing(self, conn: Connection, schema: Schema, target: str, wanted: dict[int, list[int]]) -> set[int]:
        table = schema.tables.table(target)
        found: set[int] = set()
        ids = list(wanted)
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            found.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk), table.c.deleted_at.is_(None))).scalars())
        return found

    def _dynamic_problem(self, conn: Connection, schema: Schema, obj: ObjectDef, fdef: FieldDef, values: dict) -> str | None:
        object_field = fdef.spec["object_field"]
        record_id = values.get(fdef.name)
        target_name = values.get(object_field)
        if record_id is None:
            return None
        if target_name is None:
            return f"give {object_field} (the kind of record) with {fdef.name}"
        if target_name not in schema.meta.objects:
            return f"'{target_name}' is not an object"
        if not self._existing(conn, schema, target_name, {record_id: [0]}):
            return f"{target_name} {record_id} does not exist"
        return None

    def _check_unique(self, conn: Connection, schema: Schema, obj: ObjectDef, rows: list[dict], record_id: int | None) -> None:
        """Unique fields: no repeats within the batch, none already taken (deleted records keep theirs)."""
        table = schema.tables.table(obj.name)
        errors: dict[int, list[FieldError]] = {}
        for fdef in obj.active_fields():
            if not fdef.spec.get("unique"):
                continue
            positions: dict[Any, list[int]] = {}
            for index, values in enumerate(rows):
                if values.get(fdef.name) is not None:
                    positions.setdefault(values[fdef.name], []).append(index)
            if not positions:
                continue
            statement = select(table.c[fdef.name]).where(table.c[fdef.name].in_(list(positions)))
            if record_id is not None:
                statement = statement.where(table.c.id != record_id)
            taken = set(conn.execute(statement).scalars())
            for value, indexes in positions.items():
                if value in taken:
                    message = f"'{value}' is already used by another {obj.name}; it must be unique"
                elif len(indexes) > 1:
                    message = f"'{value}' appears more than once in this batch (rows {', '.join(map(str, indexes))}); it must be unique"
                else:
                    continue
                for index in indexes:
                    errors.setdefault(index, []).append(FieldError(fdef.name, message))
        if errors:
            if len(rows) > 1:
                raise BatchValidationError(obj.name, errors)
            raise RecordValidationError(obj.name, errors[0])

    def _write_links(self, conn: Connection, schema: Schema, fdef: FieldDef, record_id: int, links: list[dict], replace: bool = False) -> None:
        """Links arrive parsed by the validator: [{"id": 12, "role": "buyer"}, ...]."""
        junction = schema.tables.objects[fdef.object].junctions[fdef.name]
        if replace:
            conn.execute(junction.delete().where(junction.c.source_id == record_id))
        rows = [{"source_id": record_id, "target_id": link["id"], **{t.name: link.get(t.name) for t in fdef.through}} for link in links]
        if rows:
            conn.execute(junction.insert(), rows)


class TransactionRecords:
    """Record access inside the current transaction, for hooks; acts as the same user.

    Plugin code is trusted to set read-only fields (computed totals, say); users are not.

    ``update`` without a version takes the record's current one: a hook runs inside the
    transaction that holds the write, so nothing can have changed under it.
    """

    def __init__(self, service: RecordService, conn: Connection, schema: Schema, actor: Actor) -> None:
        self._service, self._conn, self._schema, self.actor = service, conn, schema, actor

    def get(self, object_name: str, record_id: Any) -> dict:
        return self._service._fetch(self._conn, self._schema, object_name, _record_id(record_id))

    def list(self, object_name: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> Page:
        obj = self._schema.meta.object(object_name)
        return self._service._list(self._conn, self._schema, obj, parse(obj, params, self._schema.system_fields(object_name)))

    def each(self, object_name: str, params: Mapping[str, Any] = {}) -> Iterator[dict]:
        """Every record a list query matches, page by page, inside this transaction."""
        return _every(lambda page_params: self.list(object_name, page_params), params)

    def create(self, object_name: str, data: Any) -> dict:
        return self._service._create(self._conn, self._schema, self.actor, object_name, data, trusted=True)

    def update(self, object_name: str, record_id: Any, changes: Any, version: Any = None) -> dict:
        record_id = _record_id(record_id)
        if version is None:
            table = self._schema.tables.table(object_name)
            version = self._conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
            if version is None:
                raise NotFound(f"{object_name} {record_id} does not exist")
        return self._service._update(self._conn, self._schema, self.actor, object_name, record_id, changes, _version(version), trusted=True)


def _every(list_page, params: Mapping[str, Any]) -> Iterator[dict]:
    offset = 0
    while True:
        page = list_page({**params, "limit": MAX_LIMIT, "offset": offset})
        yield from page.items
        if not page.has_more:
            return
        offset += len(page.items)


def _without_unchanged_read_only(obj: ObjectDef, changes: dict, stored: Mapping) -> dict:
    """A form sending back a read-only field unchanged is not trying to write it."""
    kept = {}
    for name, value in changes.items():
        fdef = obj.fields.get(name)
        if fdef is not None and fdef.spec.get("read_only") and fdef.has_column:
            current = _as_json(obj, {name: stored[name]})[name]
            given = value.get("id") if isinstance(value, dict) and fdef.type.name == "lookup" else value
            if given == current or (given in ("", None) and current is None):
                continue
        kept[name] = value
    return kept


def _as_json(obj: ObjectDef, values: dict) -> dict:
    """Parsed values as the API shows them (what hooks read and write)."""
    result = {}
    for name, value in values.items():
        fdef = obj.fields.get(name)
        if value is None or fdef is None:
            result[name] = value
        elif fdef.type.name == "many_to_many":
            result[name] = [_link_value(fdef, link) for link in value]
        else:
            result[name] = json_value(fdef.type.format(value, fdef.spec))
    return result


def reserve_numbers(conn: Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers of a sequence; return the first.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent
    transactions get disjoint ranges.
    """
    result = conn.execute(sa.update(sequence).where(sequence.c.name == name).values(value=sequence.c.value + count).returning(sequence.c.value))
    last = result.scalar()
    if last is None:
        try:
            with conn.begin_nested():
                conn.execute(sequence.insert().values(name=name, value=count))
            last = count
        except sa.exc.IntegrityError:
            return reserve_numbers(conn, name, count)
    return last - count + 1


def _with_stored_pairs(obj: ObjectDef, values: dict, stored: Mapping) -> dict:
    """A 'related to' is a pair (object name, id): check the pair even when one half changes."""
    checked = dict(values)
    for fdef in obj.active_fields():
        if fdef.type.name == "dynamic_lookup":
            object_field = fdef.spec["object_field"]
            if fdef.name in values or object_field in values:
                checked.setdefault(fdef.name, stored[fdef.name])
                checked.setdefault(object_field, stored[object_field])
    return checked


def _link_value(fdef: FieldDef, link: dict) -> dict:
    """A link as JSON: its id and relation fields (for history and comparison)."""
    value = {"id": link["id"]}
    for t in fdef.through:
        raw = link.get(t.name)
        value[t.name] = None if raw is None else json_value(t.type.format(raw, t.spec))
    return value


def _sorted_links(links: list[dict]) -> list[dict]:
    return sorted(links, key=lambda link: link["id"])


def _referenced_ids(fdef: FieldDef, value: Any) -> list[int]:
    if value is None:
        return []
    if fdef.type.name == "many_to_many":
        return [int(v["id"]) if isinstance(v, dict) else int(v) for v in value]
    return [int(value)]


def _defaults(obj: ObjectDef) -> dict:
    defaults = {}
    for fdef in obj.active_fields():
        if "default" in fdef.spec and fdef.spec["default"] is not None and fdef.has_column:
            defaults[fdef.name] = fdef.type.parse(fdef.spec["default"], fdef.spec)
    return defaults


def _same(stored: Any, new: Any) -> bool:
    if isinstance(stored, dt.datetime) and isinstance(new, dt.datetime):
        if stored.tzinfo is None:
            stored = stored.replace(tzinfo=dt.timezone.utc)
        return stored == new
    if isinstance(stored, (float, int, decimal.Decimal)) and isinstance(new, (float, int, decimal.Decimal)) and not isinstance(stored, bool):
        return decimal.Decimal(str(stored)) == decimal.Decimal(str(new))
    return stored == new


def _history_row(obj: ObjectDef, record_id: int, name: str, old: Any, new: Any, version: int, now: dt.datetime, actor: Actor) -> dict:
    return dict(object=obj.name, record_id=record_id, field=name,
                old_value=_as_json(obj, {name: old})[name], new_value=_as_json(obj, {name: new})[name],
                record_version=version, changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name)


def _history_entry(row: sa.Row) -> dict:
    m = row._mapping
    return {"field": m["field"], "old": m["old_value"], "new": m["new_value"], "version": m["record_version"],
            "changed_at": _iso(m["changed_at"]), "changed_by": m["changed_by"], "changed_by_name": m["changed_by_name"]}


def _bound_format(fdef: FieldDef):
    spec, format_value = fdef.spec, fdef.type.format
    return lambda value: format_value(value, spec)


_iso = iso_utc


def _label(value: Any) -> Any:
    return json_value(value)


def _record_id(value: Any) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise NotFound(f"'{value}' is not a record id (ids are whole numbers)") from None
    if number < 1:
        raise NotFound(f"'{value}' is not a record id (ids are whole numbers)")
    return number


def _version(value: Any) -> int:
    if value is None:
        raise RecordError("an update must carry the record's version (the If-Match header or a 'version' field), so that it cannot overwrite someone else's change")
    try:
        return int(str(value).strip('"W/ '))
    except ValueError:
        raise RecordError(f"'{value}' is not a record version (a whole number)") from None

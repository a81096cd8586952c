"""The record service: the only way to data, for the API, the UI, imports and plugins.

Every call takes the acting user. Writes validate (core/validation.py), check that
related records exist, stamp the system fields, keep field history and use the
record's version for optimistic concurrency: an update carrying a stale version
changes nothing and raises Conflict.
"""

from __future__ import annotations

import datetime as dt
import decimal
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import Connection, and_, func, select

from core import audit, grants, group_totals, search
from core.coretables import field_history, sequence, share
from core.db import PreparedRead, fetch_on_driver, prepare_bulk
from core.fieldtypes import as_record_id, format_autonumber, iso_utc
from core.person_names import name_fields, with_full_names
from core.metadata.model import FieldDef, ObjectDef
from core.naming import title_column
from core.plugins import PluginSet, RecordEvent, Refusal
from core.permissions import ACTOR_ID, SHARE_ACCESS, TRUSTED, Access, assignable_owners, row_condition
from core.list_sql import ListStatements
from core.query import COUNT_CAP, MAX_LIMIT, ListQuery, QueryError, parse
from core.row_format import RowFormatter, row_formatter
from core.runtime import Runtime, Schema
from core.sameness import same
from core.stage_gates import gate_errors
from core.validation import FieldError, RecordValidationError, positions_by_key
from core.words import WORDS, Sentence, sentence, sentence_of

__all__ = ["Actor", "RecordService", "RecordError", "NotFound", "Conflict", "Refused", "Forbidden", "QueryError",
           "RecordValidationError"]


@dataclass(frozen=True)
class Actor:
    """Who is acting.

    ``permission_set``: the signed-in user's (from their role; "" when they have none, which
    grants nothing). None marks trusted code (the CLI, scheduled jobs, plugin code acting as
    the system), which core/permissions.py does not restrict.
    """

    user_id: int | None
    name: str
    permission_set: str | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls(None, "system")

    @property
    def params(self) -> dict:
        """The bound parameters permission conditions read."""
        return {ACTOR_ID: self.user_id}


class RecordError(Exception):
    status = 400


class NotFound(RecordError):
    status = 404


class Refused(RecordError):
    """A write the data model does not allow (e.g. deleting a record others depend on)."""

    status = 409


class Forbidden(RecordError):
    """The actor's role does not allow this operation on this object or record."""

    status = 403

    def __init__(self, message: str, object_name: str = "", operation: str = "", record_id: int | None = None) -> None:
        super().__init__(message)
        self.object, self.operation, self.record_id = object_name, operation, record_id


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


MAX_VERSION = 2**31 - 1  # the version column is an INTEGER
SYSTEM_TAIL = ("version", "created_at", "created_by", "updated_at", "updated_by", "owner", "deleted_at")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _name_fields(schema: Schema, obj) -> list:
    """The object's full-name fields, found once per metadata version (every write asks)."""
    return schema.memo(("full names", obj.name), lambda: name_fields(obj.fields.values()))


def json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


class RecordService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._readers: dict[tuple[int, str, str], Reader] = {}
        self._statements = ListStatements()

    @contextmanager
    def transaction(self, actor: Actor, checked: bool = False) -> Iterator["TransactionRecords"]:
        """Several reads and writes in one transaction, as plugin code (jobs, actions) needs.

        Writes made this way are trusted like a hook's: they may set read-only fields. With
        ``checked`` they are the actor's own instead, with the same permission checks as
        ``create``, ``update`` and ``list`` (what a person does through a core service).
        """
        with self.runtime.writing() as (conn, schema):
            yield TransactionRecords(self, conn, schema, actor, checked)

    # --- reads ------------------------------------------------------------------------------

    def get(self, actor: Actor, object_name: str, record_id: Any, include_deleted: bool = False, budget: float | None = None) -> dict:
        """One record; ``budget`` bounds its reads' time (Runtime.loop_read_budget; past it ReadBudgetExceeded)."""
        with self.runtime.reading(budget) as (conn, schema):
            access = self._allowed(schema, actor, object_name, "read")
            return self._fetch(conn, schema, object_name, _record_id(record_id), include_deleted, access, actor)

    def list(self, actor: Actor, object_name: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
             budget: float | None = None) -> Page:
        """A page of records; ``budget`` bounds its reads' time (Runtime.loop_read_budget; past it ReadBudgetExceeded)."""
        with self.reading(actor, budget) as reader:
            return reader.list(object_name, params)

    @contextmanager
    def reading(self, actor: Actor, budget: float | None = None) -> Iterator["ReadRecords"]:
        """Several reads as ``actor`` in one read transaction: a page that shows a list and what goes with it."""
        with self.runtime.reading(budget) as (conn, schema):
            yield ReadRecords(self, conn, schema, actor)

    def each(self, actor: Actor, object_name: str, params: Mapping[str, Any] = {}) -> Iterator[dict]:
        """Every record a list query matches, page by page (each page its own read)."""
        return _every(lambda page_params: self.list(actor, object_name, page_params), params)

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
            if group_by not in fields or fields[group_by].type.name not in ("picklist", "boolean", "lookup"):
                problems.append(("group_by", sentence("not_a_group_field", field=group_by, object=object_name)))
            if sum_field and (sum_field not in fields or fields[sum_field].type.name not in ("integer", "decimal", "currency", "percent")):
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
        statement, values = self._statements.build(conn, schema, obj, query, access, self._reader(schema, obj.name, access))
        table = schema.tables.table(obj.name)
        columns = [table.c[group_by], func.count().label("count")]
        if sum_field:
            columns.append(func.coalesce(func.sum(table.c[sum_field]), 0).label("sum"))
        rows = conn.execute(select(*columns).where(statement.where).group_by(table.c[group_by]), {**_params(actor), **values})
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

    def check(self, actor: Actor, object_name: str, changes: Any) -> dict:
        """Validate ``changes`` as the actor's update of a record would, and write nothing: the values as parsed, or
        RecordValidationError listing every problem. For a step that asks before writing (a mass update's
        confirmation); what depends on each record (references, plugins' validators) is checked when it is written."""
        with self.runtime.reading() as (_conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            return schema.validator(object_name).validate(changes, partial=True, hidden=access.hidden(object_name),
                                                          locked=access.locked(object_name))

    def access(self, actor: Actor) -> Access:
        """What the actor may do under the metadata in effect now."""
        with self.runtime.reading() as (_conn, schema):
            return schema.access(actor)

    def _allowed(self, schema: Schema, actor: Actor, object_name: str, operation: str) -> Access:
        """The actor's access, if their role allows ``operation`` on the object at all."""
        schema.meta.object(object_name)  # an unknown object is an UnknownObject, not a refusal
        access = schema.access(actor)
        if not access.can(object_name, operation):
            raise Forbidden(sentence("may_not", operation=operation_word(operation), object=object_name), object_name, operation)
        return access

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
            page.count = conn.execute(select(func.count()).select_from(table).where(statement.where), params).scalar_one()
        elif query.count == "capped":
            matching = select(table.c.id).where(statement.where).limit(COUNT_CAP + 1).subquery()
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
        fields = [f for f in obj.active_fields() if f.has_column and access.visible(object_name, f.name)]
        lookups = [f for f in fields if f.type.name == "lookup"] + [schema.system_fields(object_name)["owner"]]
        columns = [table.c.id] + [table.c[f.name] for f in fields] + [table.c[n] for n in SYSTEM_TAIL]
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
        index = {name: i for i, name in enumerate(["id"] + [f.name for f in fields] + list(SYSTEM_TAIL))}
        formatted = [(f.name, f.type.format, f.spec, f.type.formats_driver_values) for f in fields
                     if not f.type.formats_as_stored and f.type.name != "lookup"]
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

    def create(self, actor: Actor, object_name: str, data: Any) -> dict:
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "create")
            return self._create(conn, schema, actor, object_name, data, access=access)

    def _create(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, data: Any, trusted: bool = False,
                access: Access = TRUSTED) -> dict:
        record_id = self._insert(conn, schema, actor, object_name, [data], trusted, access)[0]
        # The creator sees what they made even when their read scope would not cover it (a record given to a teammate).
        return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    def create_many(self, actor: Actor, object_name: str, rows: list[Any]) -> list[int]:
        """Create many records in one transaction: all are created, or none."""
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "create")
            return self._insert(conn, schema, actor, object_name, rows, access=access)

    @contextmanager
    def bulk(self, actor: Actor, object_name: str, dry_run: bool = False) -> Iterator["BulkWriter"]:
        """One transaction of batch writes for an import: each invalid row is reported, not raised.

        With ``dry_run`` everything runs (validation, hooks, checks) and is rolled back at the end.
        """
        with self.runtime.writing() as (conn, schema):
            schema.meta.object(object_name)
            prepare_bulk(conn)
            yield BulkWriter(self, conn, schema, actor, object_name)
            if dry_run:
                search.forget(conn)
                conn.get_transaction().rollback()

    def _insert(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, rows: list[Any], trusted: bool = False,
                access: Access = TRUSTED, rejected: dict[int, list[FieldError]] | None = None) -> list[int]:
        """Insert ``rows``; return their ids in order.

        Without ``rejected`` any invalid row refuses the whole batch. With it (imports), each
        invalid row's errors go there by index, its id is None, and the valid rows are inserted.
        """
        obj = schema.meta.object(object_name)
        validator = schema.validator(object_name)
        defaults = _defaults(obj)
        plugins = self.runtime.plugins
        before = plugins.caller("tessera_before_create", object_name) or plugins.caller("tessera_validate_record", object_name)
        hidden, locked = access.hidden(object_name), access.locked(object_name)
        parsed, positions, now = [], [], _now()
        validated, errors = validator.validate_many(rows, partial=False, trusted=trusted, hidden=hidden, locked=locked)
        for index, values in enumerate(validated):
            if values is None:
                continue
            if defaults:
                values = {**defaults, **values}
            if gated := gate_errors(obj, None, values, actor, trusted):
                errors[index] = gated
                continue
            if before:
                try:
                    values = self._run_before(conn, schema, actor, obj, "tessera_before_create", values, None, now)
                except RecordValidationError as exc:
                    errors[index] = exc.errors
                    continue
            parsed.append(values)
            positions.append(index)
        if errors:
            errors = dict(sorted(errors.items()))  # by row, as when each row was validated, gated and then hooked
        if errors and rejected is None:
            if len(rows) == 1:
                raise RecordValidationError(object_name, errors[0])
            raise BatchValidationError(object_name, errors)
        if rejected is not None:
            rejected.update(errors)
        batch = len(rows) > 1 or rejected is not None

        def stamp_and_check_owners(kept: list[dict]) -> None:
            stamp = {"version": 1, "created_at": now, "updated_at": now, "created_by": actor.user_id, "updated_by": actor.user_id}
            owner = actor.user_id
            for values in kept:
                values.update(stamp)
                if values.get("owner") is None:
                    values["owner"] = owner
            self._check_owners(conn, schema, access, actor, object_name, "create", kept, rows_are_batch=batch)

        for check in (lambda kept: self._check_references(conn, schema, obj, kept, rows_are_batch=batch, access=access, actor=actor),
                      lambda kept: self._check_unique(conn, schema, obj, kept, None, rows_are_batch=batch),
                      stamp_and_check_owners,
                      lambda kept: self._refuse_privileged_grants(conn, schema, access, object_name, kept, rows_are_batch=batch)):
            if not parsed:
                return [None] * len(rows)  # type: ignore[list-item]
            parsed, positions = _keep_valid(check, parsed, positions, rejected)
        if not parsed:
            return [None] * len(rows)  # type: ignore[list-item]
        links = {f.name: [values.pop(f.name, None) for values in parsed] for f in obj.active_fields() if f.type.name == "many_to_many"}
        named = _name_fields(schema, obj)
        for values in parsed:
            with_full_names(named, None, values)
        self._assign_autonumbers(conn, obj, parsed)
        table = schema.tables.table(object_name)
        ids = self._insert_rows(conn, table, parsed, schema)
        search.touch(conn, object_name, ids)
        for name, values_per_row in links.items():
            fdef = obj.fields[name]
            for record_id, links_value in zip(ids, values_per_row):
                if links_value:
                    self._write_links(conn, schema, fdef, record_id, links_value)
        after = plugins.caller("tessera_after_create", object_name)
        if after:
            records = TransactionRecords(self, conn, schema, actor)
            for record in self._fetch_many(conn, schema, object_name, ids):
                _run_after(self.runtime.plugins, after, RecordEvent(object_name, actor, records, meta=schema.meta, hooks=self.runtime.plugins.hook, values=record,
                                              record=record))
        self.runtime.webhooks.enqueue(conn, object_name, "created", lambda: self._fetch_many(conn, schema, object_name, ids))
        if len(ids) == len(rows):
            return ids
        by_position: list[int | None] = [None] * len(rows)
        for position, record_id in zip(positions, ids):
            by_position[position] = record_id
        return by_position  # type: ignore[return-value]

    def _run_before(self, conn, schema: Schema, actor: Actor, obj: ObjectDef, hook_name: str, values: dict,
                    previous: dict | None, now: dt.datetime) -> dict:
        """Run a before-hook and the validators of plugins; what hooks set is checked like input."""
        plugins = self.runtime.plugins
        shown = _as_json(obj, values)
        event = RecordEvent(obj.name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                            hooks=plugins.hook, values=dict(shown), previous=previous, now=now)
        hook = plugins.caller(hook_name, obj.name)
        if hook:
            try:
                hook(event=event)
            except Refusal as exc:
                raise RecordValidationError(obj.name, [FieldError(exc.field, plugins.sentence(exc))]) from None
            if event.values != shown:  # only what hooks changed needs checking again
                values = schema.validator(obj.name).validate(event.values, partial=previous is not None, trusted=True)
                event.values = _as_json(obj, values)
        validators = plugins.caller("tessera_validate_record", obj.name)
        problems = [p for result in reversed(validators(event=event)) for p in (result or [])] if validators else []
        if problems:
            raise RecordValidationError(obj.name, [_plugin_problem(plugins, problem) for problem in problems])
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
        self._attach_dynamic_labels(conn, schema, reader, records, _params(None))
        return records

    def _insert_rows(self, conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None = None) -> list[int]:
        """Insert the rows; return their ids in the rows' order.

        Several rows go in one statement (see ``_bulk_insert``), one row in one ``INSERT ... RETURNING
        id`` on the driver's cursor; a table these cannot serve takes SQLAlchemy's own insert.
        """
        if len(parsed) >= BULK_INSERT_MIN:
            ids = _bulk_insert(conn, table, parsed, schema)
            if ids is not None:
                return ids
        elif parsed and (plan := _insert_plan(conn, table, parsed, schema)) is not None:
            return [_insert_one(conn, plan, parsed[0])]
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
            access = self._allowed(schema, actor, object_name, "update")
            return self._update(conn, schema, actor, object_name, record_id, changes, expected, access=access)

    def _update(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, record_id: int, changes: Any, expected: int,
                trusted: bool = False, access: Access = TRUSTED) -> dict:
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        current = self._current(conn, schema, access, actor, table, object_name, record_id, "update")
        if current.version != expected:
            raise self._conflict(conn, schema, object_name, record_id, expected, current.version, access, actor)
        if not trusted and isinstance(changes, dict):
            changes = _without_unchanged_read_only(obj, changes, current._mapping, access.locked(object_name))
        values = schema.validator(object_name).validate(changes, partial=True, trusted=trusted,
                                                        hidden=access.hidden(object_name), locked=access.locked(object_name))
        if gated := gate_errors(obj, current._mapping, values, actor, trusted):
            raise RecordValidationError(object_name, gated)
        if "owner" in values and values["owner"] != current.owner:
            self._check_owners(conn, schema, access, actor, object_name, "update", [values])
        self._refuse_privileged_grants(conn, schema, access, object_name, [values], [current._mapping])
        plugins, now = self.runtime.plugins, _now()
        if plugins.caller("tessera_before_update", object_name) or plugins.caller("tessera_validate_record", object_name):
            previous = self._fetch(conn, schema, object_name, record_id)
            values = self._run_before(conn, schema, actor, obj, "tessera_before_update", values, previous, now)
        held = {**current._mapping, **{name: {link["id"] for link in self._links(conn, schema, obj.fields[name], [record_id])[record_id]}
                                       for name in values if obj.fields.get(name) and obj.fields[name].type.name == "many_to_many"}}
        self._check_references(conn, schema, obj, [_with_stored_pairs(obj, values, current._mapping)], access=access, actor=actor,
                               stored=[held])
        link_changes = {n: values.pop(n) for n in list(values) if obj.fields.get(n) and obj.fields[n].type.name == "many_to_many"}
        stored = current._mapping
        diff = _changed(schema, obj, stored, with_full_names(_name_fields(schema, obj), stored, values))
        self._check_unique(conn, schema, obj, [diff], record_id)  # a value kept as it is needs no check
        old_links = {}
        for name in list(link_changes):
            fdef = obj.fields[name]
            held = self._links(conn, schema, fdef, [record_id])[record_id]
            link_changes[name] = _keeping_relation_values(fdef, link_changes[name] or [], held)
            old = [_link_value(fdef, link) for link in held]
            if same(fdef, old, [_link_value(fdef, link) for link in link_changes[name]]):
                del link_changes[name]
            else:
                old_links[name] = old
        if not diff and not link_changes:
            return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)
        holding = _holding_field(object_name, diff)
        with self._grants_kept(conn, schema, access, object_name, "update", holding) if holding else nullcontext():
            result = conn.execute(
                sa.update(table)
                .where(table.c.id == record_id, table.c.version == expected)
                .values(**diff, version=table.c.version + 1, updated_at=now, updated_by=actor.user_id)
            )
            if result.rowcount != 1:
                latest = conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
                raise self._conflict(conn, schema, object_name, record_id, expected, latest, access, actor)
        if search.indexes_any(obj, diff):
            search.touch(conn, object_name, [record_id])
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
        changed = {h["field"]: (h["old_value"], h["new_value"]) for h in history}
        after = plugins.caller("tessera_after_update", object_name)
        if after:
            event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta, hooks=self.runtime.plugins.hook,
                                values=_as_json(obj, {**diff}), record=record, changes=changed)
            _run_after(self.runtime.plugins, after, event)
        self.runtime.webhooks.enqueue(conn, object_name, "updated", lambda: [record], changed)
        if access.unrestricted:
            return record
        return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    def _update_many(self, conn: Connection, schema: Schema, actor: Actor, access: Access, object_name: str,
                     items: list[tuple[int, dict]]) -> tuple[dict[int, list[FieldError]], list[int]]:
        """``_update`` for many records at their current versions, in a few statements: the problems of each
        refused item by index, and the items left to ``_update`` one by one.

        The same checks in the same order (read and update scope, read-only and locked fields,
        validation, owners, references), one query each for the whole batch; then one UPDATE
        per set of changed fields (executemany) and one insert of the field history. Left to
        ``_update``: everything when a plugin hooks updates of the object, when a record is
        named twice or the object is a user or role (privileged grants); an item changing a
        many-to-many or unique field.
        """
        obj = schema.meta.object(object_name)
        plugins = self.runtime.plugins
        ids = [record_id for record_id, _changes in items]
        if (len(set(ids)) != len(ids) or object_name in ("role", "user")
                or any(plugins.caller(hook, object_name) for hook in ("tessera_before_update", "tessera_validate_record", "tessera_after_update"))):
            return {}, list(range(len(items)))
        table = schema.tables.table(object_name)
        current, may = self._current_rows(conn, schema, access, actor, table, object_name, ids)
        linked = {f.name for f in obj.active_fields() if f.type.name == "many_to_many"}
        unique = {f.name for f in obj.active_fields() if f.spec.get("unique")}
        hidden, locked = access.hidden(object_name), access.locked(object_name)
        problems: dict[int, list[FieldError]] = {}
        one_by_one: list[int] = []
        given, positions = [], []
        for index, (record_id, changes) in enumerate(items):
            if record_id not in current:
                problems[index] = [FieldError.coded("", "record_missing", object=object_name, id=record_id)]
            elif record_id not in may:
                problems[index] = [FieldError.coded("", "may_not_update_this", object=object_name)]
            elif not isinstance(changes, dict) or not linked.isdisjoint(changes):
                one_by_one.append(index)
            else:
                given.append(_without_unchanged_read_only(obj, changes, current[record_id]._mapping, locked))
                positions.append(index)
        validated, refused = schema.validator(object_name).validate_many(given, partial=True, hidden=hidden, locked=locked)
        problems.update((positions[i], errors) for i, errors in refused.items())
        for i, values in enumerate(validated):
            if values is not None and (gated := gate_errors(obj, current[items[positions[i]][0]]._mapping, values, actor)):
                problems[positions[i]], validated[i] = gated, None
        parsed = [values for values in validated if values is not None]
        positions = [position for position, values in zip(positions, validated) if values is not None]

        def stored(rows_positions: list[int]) -> list[sa.Row]:
            return [current[items[position][0]] for position in rows_positions]

        parsed, positions = _keep_valid(lambda rows: self._check_moved_owners(conn, schema, access, actor, object_name, rows, stored(positions)),
                                        parsed, positions, problems)
        paired = any(f.type.name == "dynamic_lookup" for f in obj.active_fields())
        parsed, positions = _keep_valid(lambda rows: self._check_references(
            conn, schema, obj, [_with_stored_pairs(obj, v, row._mapping) for v, row in zip(rows, stored(positions))] if paired else rows,
            rows_are_batch=True, access=access, actor=actor, stored=[row._mapping for row in stored(positions)]), parsed, positions, problems)
        changed: dict[tuple[str, ...], list[tuple[sa.Row, dict]]] = {}  # the fields changed -> (stored row, their new values)
        named = _name_fields(schema, obj)
        for values, position, row in zip(parsed, positions, stored(positions)):
            diff = _changed(schema, obj, row._mapping, with_full_names(named, row._mapping, values))
            if not unique.isdisjoint(diff):
                one_by_one.append(position)
            elif diff:
                changed.setdefault(tuple(diff), []).append((row, diff))
        self._write_changes(conn, schema, actor, obj, table, changed)
        return problems, sorted(one_by_one)

    def _current_rows(self, conn: Connection, schema: Schema, access: Access, actor: Actor, table: sa.Table, object_name: str,
                      ids: list[int]) -> tuple[dict[int, sa.Row], set[int]]:
        """``_current`` for many: the stored rows the actor may read (locked for the transaction), and the ids they may update."""
        params, wanted = _params(actor), sa.bindparam("tessera_ids", expanding=True)
        statement = select(table).where(table.c.id.in_(wanted), table.c.deleted_at.is_(None))
        visible = schema.row_condition(access, object_name, "read")
        if visible is not None:
            statement = statement.where(visible)
        current = {row.id: row for row in conn.execute(statement.with_for_update(), {**params, "tessera_ids": ids})}
        allowed = schema.row_condition(access, object_name, "update")
        if allowed is None or not current:
            return current, set(current)
        may = conn.execute(select(table.c.id).where(table.c.id.in_(wanted), allowed), {**params, "tessera_ids": list(current)}).scalars()
        return current, set(may)

    def _check_moved_owners(self, conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str,
                            rows: list[dict], stored: list[sa.Row]) -> None:
        """_check_owners for the rows of a batch whose owner changes; a BatchValidationError indexed like ``rows``."""
        moving = [i for i, (values, row) in enumerate(zip(rows, stored)) if "owner" in values and values["owner"] != row.owner]
        if not moving:
            return
        try:
            self._check_owners(conn, schema, access, actor, object_name, "update", [rows[i] for i in moving], rows_are_batch=True)
        except BatchValidationError as exc:
            raise BatchValidationError(object_name, {moving[i]: errors for i, errors in exc.rows.items()}) from None

    def _write_changes(self, conn: Connection, schema: Schema, actor: Actor, obj: ObjectDef, table: sa.Table,
                       changed: dict[tuple[str, ...], list[tuple[sa.Row, dict]]]) -> None:
        """One UPDATE per set of changed fields, the field history, and the updated webhooks (the rows are locked)."""
        now, history, announced = _now(), [], []
        for names, rows in changed.items():
            if search.indexes_any(obj, names):
                search.touch(conn, obj.name, [row.id for row, _diff in rows])
            statement = (sa.update(table).where(table.c.id == sa.bindparam("tessera_row_id"))
                         .values({**{n: sa.bindparam(f"tessera_set_{n}") for n in names}, "version": table.c.version + 1,
                                  "updated_at": sa.bindparam("tessera_now"), "updated_by": sa.bindparam("tessera_by")}))
            stamp = {"tessera_now": now, "tessera_by": actor.user_id}
            conn.execute(statement, [{"tessera_row_id": row.id, **stamp, **{f"tessera_set_{n}": diff[n] for n in names}} for row, diff in rows])
            for row, diff in rows:
                entries = [_history_row(obj, row.id, name, row._mapping[name], value, row.version + 1, now, actor) for name, value in diff.items()]
                history += entries
                announced.append((row.id, {h["field"]: (h["old_value"], h["new_value"]) for h in entries}))
        if history:
            conn.execute(field_history.insert(), history)
        if not announced or not self.runtime.webhooks.subscribers(conn, obj.name, "updated"):
            return
        fetched: dict[int, dict] = {}

        def record(record_id: int) -> list[dict]:
            if not fetched:
                fetched.update((r["id"], r) for r in self._fetch_many(conn, schema, obj.name, [rid for rid, _c in announced]))
            return [fetched[record_id]]

        for record_id, changes in announced:
            self.runtime.webhooks.enqueue(conn, obj.name, "updated", lambda record_id=record_id: record(record_id), changes)

    def _current(self, conn: Connection, schema: Schema, access: Access, actor: Actor | None, table: sa.Table,
                 object_name: str, record_id: int, operation: str) -> sa.Row:
        """The stored row the actor is about to change: NotFound unless they may read it, Forbidden unless they may change it."""
        statement = select(table).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        visible = schema.row_condition(access, object_name, "read")
        params = _params(actor)
        current = conn.execute(statement if visible is None else statement.where(visible), params).first()
        if current is None:
            raise NotFound(sentence("record_missing", object=object_name, id=record_id))
        allowed = schema.row_condition(access, object_name, operation)
        if allowed is not None and conn.execute(select(table.c.id).where(table.c.id == record_id, allowed), params).first() is None:
            raise Forbidden(sentence("may_not_this", operation=operation_word(operation), object=object_name), object_name, operation, record_id)
        return current

    def _check_owners(self, conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str, operation: str,
                      rows: list[dict], rows_are_batch: bool = False) -> None:
        """A role with own or team scope may only give records to the actor, or to a teammate."""
        allowed = assignable_owners(conn, access, schema.memberships, object_name, operation, actor.user_id)
        if allowed is None:
            return
        scope = access.scope(object_name, operation)
        whom = sentence("whom_own" if scope == "own" else "whom_team")
        errors = {i: [FieldError.coded("owner", "owned_only", operation=operation_word(operation), object=object_name, whom=whom)]
                  for i, values in enumerate(rows) if values.get("owner") not in allowed}
        if errors:
            if rows_are_batch:
                raise BatchValidationError(object_name, errors)
            raise RecordValidationError(object_name, next(iter(errors.values())))

    def _refuse_privileged_grants(self, conn: Connection, schema: Schema, access: Access, object_name: str, rows: list[dict],
                                  stored: list[Mapping] | None = None, rows_are_batch: bool = False) -> None:
        """A role pointed at (or away from) a privileged permission set, or a user given (or taken off) a role naming one,
        needs that privilege (core/grants.py). ``stored``: the rows as they are, for an update."""
        if access.unrestricted or object_name not in GRANTING_FIELDS:
            return
        name = GRANTING_FIELDS[object_name]
        wanted = self._granted_levels(conn, schema, object_name, rows, stored or [None] * len(rows))
        errors = {i: [FieldError(name, grants.refusal(level, sentence("through_field", object=object_name, field=name)))]
                  for i, level in enumerate(wanted) if not grants.may_grant(access, level)}
        if not errors:
            return
        if rows_are_batch:
            raise BatchValidationError(object_name, errors)
        raise Forbidden(next(iter(errors.values()))[0].said or next(iter(errors.values()))[0].message, object_name, "create" if stored is None else "update")

    def _granted_levels(self, conn: Connection, schema: Schema, object_name: str, rows: list[dict],
                        stored: list[Mapping | None]) -> list[int]:
        """Per row, the highest privilege it gives or takes away through its granting field (a changed one, on update)."""
        name = GRANTING_FIELDS[object_name]
        named = []
        for values, old in zip(rows, stored):
            if name not in values or (old is not None and old[name] == values[name]):
                named.append([])
            else:
                named.append([values[name]] + ([old[name]] if old is not None else []))
        if object_name == "user":
            role_sets = self._role_sets(conn, schema, {role_id for ids in named for role_id in ids if role_id is not None})
            named = [[role_sets.get(role_id) for role_id in ids] for ids in named]
        sets = schema.meta.permission_sets
        return [max((grants.level_of(sets, set_name) for set_name in names), default=grants.NONE) for names in named]

    def _role_sets(self, conn: Connection, schema: Schema, role_ids: set[int]) -> dict[int, str | None]:
        if not role_ids:
            return {}
        roles = schema.tables.table("role")
        return dict(conn.execute(select(roles.c.id, roles.c.permission_set).where(roles.c.id.in_(role_ids))).all())

    @contextmanager
    def _grants_kept(self, conn: Connection, schema: Schema, access: Access, object_name: str, operation: str,
                     field: str | None = None) -> Iterator[None]:
        """Around a write that may change who holds a privileged permission set (core/grants.py): refuse it when
        the actor may not make that change (Forbidden), or when it leaves no active admin (on ``field`` when given,
        else Refused)."""
        before = self._holders(conn, schema)
        yield
        after = self._holders(conn, schema)
        problem = grants.refused_change(before, after, access)
        if problem:
            raise Forbidden(problem, object_name, operation)
        if not grants.fewer_admins(before, after):
            return
        grants.lock_admins(conn)
        after = self._holders(conn, self.runtime.schema(conn))  # as committed by whoever held the lock before
        problem = grants.lost_every_admin(before, after)
        if problem and field:
            raise RecordValidationError(object_name, [FieldError(field, problem)])
        if problem:
            raise Refused(problem)

    @staticmethod
    def _holders(conn: Connection, schema: Schema) -> grants.Holders:
        tables = schema.tables
        return grants.holders(conn, tables.table("user"), tables.table("role"), schema.meta.permission_sets)

    def _deletes_reach_people(self, schema: Schema, object_name: str) -> bool:
        """Whether deleting (or merging) records of the object can delete or repoint users or roles."""
        return schema.memo(("reaches people", object_name), lambda: self._cascades_to_people(schema, object_name, set()))

    def _cascades_to_people(self, schema: Schema, object_name: str, seen: set[str]) -> bool:
        if object_name in HOLDING_FIELDS:
            return True
        seen.add(object_name)
        return any(fdef.spec.get("on_delete") == "cascade" and obj.name not in seen and self._cascades_to_people(schema, obj.name, seen)
                   for obj, fdef in self._referencing(schema, object_name))

    def _conflict(self, conn: Connection, schema: Schema, object_name: str, record_id: int, expected: int, current: int | None,
                  access: Access, actor: Actor) -> Conflict:
        """The stale update's refusal, with what changed since ``expected`` (real changes the actor may see)."""
        changes = _changes(conn, schema, access, actor, object_name, record_id, field_history.c.record_version > expected)
        return Conflict(
            sentence("stale_version", object=object_name, id=record_id, expected=expected, current=current),
            current or 0,
            changes,
        )

    def delete(self, actor: Actor, object_name: str, record_id: Any, version: Any = None) -> None:
        """Soft delete: the record is hidden, restorable, and its relations follow on_delete."""
        record_id = _record_id(record_id)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "delete")
            table = schema.tables.table(object_name)
            current = self._current(conn, schema, access, actor, table, object_name, record_id, "delete").version
            if version is not None and current != _version(version):
                raise self._conflict(conn, schema, object_name, record_id, _version(version), current, access, actor)
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
                    raise Refused(plugins.sentence(exc)) from None
            followed: list[tuple] = []
            with self._grants_kept(conn, schema, access, object_name, "delete") if self._deletes_reach_people(schema, object_name) else nullcontext():
                self._soft_delete(conn, schema, actor, object_name, [record_id], _now(), followed)
            if event is not None and after:
                _run_after(self.runtime.plugins, after, event, refused=Refused)
            self.runtime.webhooks.enqueue(conn, object_name, "deleted", lambda: [self._fetch(conn, schema, object_name, record_id, True)])
            self._announce(conn, schema, followed)

    def _announce(self, conn: Connection, schema: Schema, followed: list[tuple]) -> None:
        """The webhooks of the records a delete changed through on_delete: cascaded deletes, references set to null."""
        for object_name, event, ids, changes in followed:
            self.runtime.webhooks.enqueue(conn, object_name, event,
                                          lambda name=object_name, ids=ids: self._fetch_many(conn, schema, name, ids), changes)

    def _soft_delete(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, ids: list[int], now: dt.datetime,
                     followed: list[tuple] | None = None) -> None:
        """Soft-delete records and follow their references' on_delete; what that changed is added to ``followed``
        as (object, "deleted" or "updated", ids, changes or None)."""
        for obj, fdef in self._referencing(schema, object_name):
            table = schema.tables.table(obj.name)
            column = table.c[fdef.name]
            live = and_(column.in_(ids), table.c.deleted_at.is_(None))
            rule = fdef.spec.get("on_delete", "restrict")
            if rule == "restrict":
                count = conn.execute(select(func.count()).select_from(table).where(live)).scalar_one()
                if count:
                    raise Refused(sentence("still_referenced", object=object_name, ids=", ".join(map(str, ids[:5])), count=count,
                                           other=obj.name, field=fdef.name))
            elif rule == "set_null":
                rows = conn.execute(select(table.c.id, table.c.version, column).where(live)).all()
                if rows:
                    conn.execute(sa.update(table).where(live).values({fdef.name: None, "version": table.c.version + 1,
                                                                      "updated_at": now, "updated_by": actor.user_id}))
                    conn.execute(field_history.insert(), [
                        _history_row(obj, rid, fdef.name, old, None, ver + 1, now, actor) for rid, ver, old in rows
                    ])
                    if followed is not None:
                        for old, positions in positions_by_key(old for _rid, _ver, old in rows).items():
                            followed.append((obj.name, "updated", [rows[i][0] for i in positions], {fdef.name: (old, None)}))
            elif rule == "cascade":
                child_ids = list(conn.execute(select(table.c.id).where(live)).scalars())
                if child_ids:
                    if followed is not None:
                        followed.append((obj.name, "deleted", child_ids, None))
                    self._soft_delete(conn, schema, actor, obj.name, child_ids, now, followed)
        table = schema.tables.table(object_name)
        search.touch(conn, object_name, ids)
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

    # --- merging duplicates -------------------------------------------------------------------

    MERGE_ENTRY = "_merged"  # the history entry a merge leaves; no field can have this name (names start with a letter)

    def merge(self, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int], changes: dict,
              versions: Mapping[int, int]) -> tuple[dict, dict[str, int]]:
        """Merge duplicate records into the survivor, in one transaction (core/merge.py chooses ``changes``).

        The actor needs update on the survivor and delete on each merged record, each at the
        version in ``versions``. Unique values the survivor takes are first cleared on the merged
        record holding them (a deleted record keeps its values); the survivor is then changed like
        any update; every lookup, 'related to', many-to-many link and share that pointed at a merged
        record points at the survivor (a survivor's own lookup to a merged record, which would
        point at itself, is cleared); the merged records are soft-deleted. Returns the survivor as
        the actor sees it and how many references moved, per ``object.field`` (and ``shares``).
        """
        now = _now()
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            self._allowed(schema, actor, object_name, "delete")
            table = schema.tables.table(object_name)
            stored = {survivor_id: self._current(conn, schema, access, actor, table, object_name, survivor_id, "update")}
            for rid in merged_ids:
                stored[rid] = self._current(conn, schema, access, actor, table, object_name, rid, "delete")
            for rid, row in stored.items():
                if row.version != versions[rid]:
                    raise self._conflict(conn, schema, object_name, rid, versions[rid], row.version, access, actor)
            deleting = self._before_merge_delete(conn, schema, actor, object_name, merged_ids)
            followed: list[tuple] = []
            with self._grants_kept(conn, schema, access, object_name, "delete") if self._deletes_reach_people(schema, object_name) else nullcontext():
                self._release_unique(conn, schema, actor, object_name, merged_ids, changes, now)
                self._update(conn, schema, actor, object_name, survivor_id, changes, stored[survivor_id].version, access=access)
                moved = self._repoint(conn, schema, actor, object_name, survivor_id, merged_ids, now)
                self._soft_delete(conn, schema, actor, object_name, merged_ids, now, followed)
            after = self.runtime.plugins.caller("tessera_after_delete", object_name)
            for event in deleting:
                if after:
                    _run_after(self.runtime.plugins, after, event, refused=Refused)
            self.runtime.webhooks.enqueue(conn, object_name, "deleted", lambda: self._fetch_many(conn, schema, object_name, merged_ids))
            self._announce(conn, schema, followed)
            self._note_merge(conn, schema, actor, object_name, survivor_id, merged_ids, now)
            return self._fetch(conn, schema, object_name, survivor_id, access=access, actor=actor, row_scope=False), moved

    def _before_merge_delete(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, merged_ids: list[int]) -> list[RecordEvent]:
        """Run the before-delete hooks of the merged records (a refusal stops the merge); the events for the after-hooks."""
        plugins = self.runtime.plugins
        before, after = plugins.caller("tessera_before_delete", object_name), plugins.caller("tessera_after_delete", object_name)
        if not (before or after):
            return []
        events = []
        for previous in self._fetch_many(conn, schema, object_name, merged_ids):
            event = RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                                hooks=plugins.hook, previous=previous, record=previous)
            try:
                if before:
                    before(event=event)
            except Refusal as exc:
                raise Refused(sentence("not_mergeable", object=object_name, id=previous["id"], reason=plugins.sentence(exc))) from None
            events.append(event)
        return events

    def _release_unique(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, merged_ids: list[int],
                        changes: dict, now: dt.datetime) -> None:
        """Clear on the merged records the unique values the survivor is about to take."""
        obj = schema.meta.object(object_name)
        table = schema.tables.table(object_name)
        for name, value in changes.items():
            fdef = obj.fields.get(name)
            if fdef is None or not fdef.spec.get("unique") or value is None:
                continue
            try:
                parsed = fdef.type.parse(value, fdef.spec)
            except (TypeError, ValueError):
                continue  # the survivor's update reports it
            holder = and_(table.c.id.in_(merged_ids), table.c[name] == parsed)
            rows = conn.execute(select(table.c.id, table.c.version).where(holder)).all()
            if rows:
                conn.execute(sa.update(table).where(holder).values({name: None, "version": table.c.version + 1,
                                                                    "updated_at": now, "updated_by": actor.user_id}))
                conn.execute(field_history.insert(), [_history_row(obj, rid, name, parsed, None, ver + 1, now, actor) for rid, ver in rows])

    def _repoint(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int],
                 now: dt.datetime) -> dict[str, int]:
        """Point every reference to a merged record at the survivor; the after-update hooks and webhooks of the records changed."""
        moved: dict[str, int] = {}
        changed: dict[str, dict[int, dict]] = {}  # object -> record id -> field -> (old, new)
        for obj in schema.meta.objects.values():
            for fdef in obj.active_fields():
                kind, target = fdef.type.name, fdef.spec.get("target")
                if (kind == "lookup" and target == object_name) or kind == "dynamic_lookup":
                    found = self._repoint_lookup(conn, schema, actor, obj, fdef, object_name, survivor_id, merged_ids, now)
                elif kind == "many_to_many" and object_name in (target, obj.name):
                    found = self._repoint_links(conn, schema, actor, obj, fdef, object_name, survivor_id, merged_ids, now)
                else:
                    continue
                if found:
                    moved[f"{obj.name}.{fdef.name}"] = len(found)
                    for rid, change in found.items():
                        changed.setdefault(obj.name, {}).setdefault(rid, {})[fdef.name] = change
        shares = self._move_shares(conn, actor, object_name, survivor_id, merged_ids)
        if shares:
            moved["shares"] = shares
        for name, records in changed.items():
            self._after_repoint(conn, schema, actor, name, records)
        return moved

    def _repoint_lookup(self, conn: Connection, schema: Schema, actor: Actor, obj: ObjectDef, fdef: FieldDef, object_name: str,
                        survivor_id: int, merged_ids: list[int], now: dt.datetime) -> dict[int, tuple]:
        table = schema.tables.table(obj.name)
        column = table.c[fdef.name]
        pointing = and_(column.in_(merged_ids), table.c.deleted_at.is_(None))
        if fdef.type.name == "dynamic_lookup":
            pointing = and_(pointing, table.c[fdef.spec["object_field"]] == object_name)
        rows = conn.execute(select(table.c.id, table.c.version, column).where(pointing)).all()
        if not rows:
            return {}
        itself = obj.name == object_name
        stamp = {"version": table.c.version + 1, "updated_at": now, "updated_by": actor.user_id}
        conn.execute(sa.update(table).where(pointing, *([table.c.id != survivor_id] if itself else [])).values({fdef.name: survivor_id, **stamp}))
        if itself:
            conn.execute(sa.update(table).where(pointing, table.c.id == survivor_id).values({fdef.name: None, **stamp}))
        found = {rid: (old, None if itself and rid == survivor_id else survivor_id) for rid, _version, old in rows}
        conn.execute(field_history.insert(), [_history_row(obj, rid, fdef.name, found[rid][0], found[rid][1], version + 1, now, actor)
                                              for rid, version, _old in rows])
        return found

    def _repoint_links(self, conn: Connection, schema: Schema, actor: Actor, obj: ObjectDef, fdef: FieldDef, object_name: str,
                       survivor_id: int, merged_ids: list[int], now: dt.datetime) -> dict[int, tuple]:
        """Move the links from or to the merged records to the survivor, keeping one link per pair."""
        junction = schema.tables.objects[obj.name].junctions[fdef.name]
        target = fdef.spec["target"]
        ends = set(merged_ids) | {survivor_id}
        sides = ([("source_id", "target_id")] if obj.name == object_name else []) + ([("target_id", "source_id")] if target == object_name else [])
        plans = []
        for end, other in sides:
            rows = conn.execute(select(junction.c.id, junction.c[other]).where(junction.c[end].in_(merged_ids)).order_by(junction.c.id)).all()
            plans.append((end, other, rows))
        owners = {survivor_id if end == "source_id" else peer for end, _other, rows in plans for _id, peer in rows}
        owners = sorted(owners - set(merged_ids) if obj.name == object_name else owners)  # merged records are going: no history
        if not owners:
            return {}
        before = self._links(conn, schema, fdef, owners)
        for end, other, rows in plans:
            linked = set(conn.execute(select(junction.c[other]).where(junction.c[end] == survivor_id)).scalars())
            dropped, kept = [], []
            for link_id, peer in rows:
                self_link = obj.name == target == object_name and peer in ends
                (dropped if peer in linked or self_link else kept).append(link_id)
                linked.add(peer)
            if dropped:
                conn.execute(junction.delete().where(junction.c.id.in_(dropped)))
            if kept:
                conn.execute(sa.update(junction).where(junction.c.id.in_(kept)).values({end: survivor_id}))
        after = self._links(conn, schema, fdef, owners)
        found = {}
        for rid in owners:
            old = [_link_value(fdef, link) for link in before[rid]]
            new = [_link_value(fdef, link) for link in after[rid]]
            if not same(fdef, old, new):
                found[rid] = (old, new)
        if not found:
            return {}
        table = schema.tables.table(obj.name)
        conn.execute(sa.update(table).where(table.c.id.in_(list(found))).values(version=table.c.version + 1, updated_at=now,
                                                                                 updated_by=actor.user_id))
        versions = dict(conn.execute(select(table.c.id, table.c.version).where(table.c.id.in_(list(found)))).all())
        conn.execute(field_history.insert(), [
            dict(object=obj.name, record_id=rid, field=fdef.name, old_value=old, new_value=new, record_version=versions[rid],
                 changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name) for rid, (old, new) in found.items()
        ])
        return found

    def _move_shares(self, conn: Connection, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int]) -> int:
        """The merged records' shares go to the survivor; of two shares with the same user or team, the wider access stays."""
        mine = and_(share.c.object == object_name, share.c.record_id == survivor_id)
        held = {(r.user_id, r.team_id): r for r in conn.execute(select(share).where(mine))}
        rows = conn.execute(select(share).where(share.c.object == object_name, share.c.record_id.in_(merged_ids)).order_by(share.c.id)).all()
        for row in rows:
            key = (row.user_id, row.team_id)
            existing = held.get(key)
            if existing is None:
                conn.execute(sa.update(share).where(share.c.id == row.id).values(record_id=survivor_id))
                held[key] = row
                target = {"user": row.user_id} if row.user_id is not None else {"team": row.team_id}
                audit.write(conn, "share.created", audit.Who(actor.user_id, actor.name), object_name, survivor_id,
                            {**target, "access": row.access, "merged_from": row.record_id})
                continue
            if SHARE_ACCESS.index(row.access) > SHARE_ACCESS.index(existing.access):
                conn.execute(sa.update(share).where(share.c.id == existing.id).values(access=row.access))
                held[key] = row
            conn.execute(share.delete().where(share.c.id == row.id))
        return len(rows)

    def _after_repoint(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, records: dict[int, dict]) -> None:
        """The after-update hooks and webhooks of records whose references moved (their before-hooks do not run: see docs/api.md)."""
        obj = schema.meta.object(object_name)
        after = self.runtime.plugins.caller("tessera_after_update", object_name)
        alike: dict[str, list[dict]] = {}  # one webhook batch per kind of change (the same lookup moved, say)
        for record in self._fetch_many(conn, schema, object_name, list(records)):
            changes = records[record["id"]]
            if after:
                _run_after(self.runtime.plugins, after, RecordEvent(object_name, actor, TransactionRecords(self, conn, schema, actor), meta=schema.meta,
                                        hooks=self.runtime.plugins.hook, values={k: new for k, (_old, new) in changes.items()},
                                        record=record, changes=changes))
            alike.setdefault(repr(sorted(changes.items())), []).append(record)
        for batch in alike.values():
            self.runtime.webhooks.enqueue(conn, obj.name, "updated", lambda batch=batch: batch, records[batch[0]["id"]])

    def _note_merge(self, conn: Connection, schema: Schema, actor: Actor, object_name: str, survivor_id: int, merged_ids: list[int],
                    now: dt.datetime) -> None:
        """A history entry on the survivor and on each merged record: 'merged <object> #N into #M'."""
        table = schema.tables.table(object_name)
        versions = dict(conn.execute(select(table.c.id, table.c.version).where(table.c.id.in_([survivor_id, *merged_ids]))).all())
        rows = []
        for rid in merged_ids:
            note = f"merged {object_name} #{rid} into #{survivor_id}"
            for record_id in (survivor_id, rid):
                rows.append(dict(object=object_name, record_id=record_id, field=self.MERGE_ENTRY, old_value=None, new_value=note,
                                 record_version=versions[record_id], changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name))
        conn.execute(field_history.insert(), rows)

    def restore(self, actor: Actor, object_name: str, record_id: Any) -> dict:
        record_id = _record_id(record_id)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "delete")
            table = schema.tables.table(object_name)
            allowed = schema.row_condition(access, object_name, "delete")
            with self._grants_kept(conn, schema, access, object_name, "update") if object_name in HOLDING_FIELDS else nullcontext():
                result = conn.execute(
                    sa.update(table)
                    .where(table.c.id == record_id, table.c.deleted_at.is_not(None), *([] if allowed is None else [allowed]))
                    .values(deleted_at=None, version=table.c.version + 1, updated_at=_now(), updated_by=actor.user_id),
                    _params(actor),
                )
                if result.rowcount != 1:
                    raise NotFound(sentence("not_deleted", object=object_name, id=record_id))
            search.touch(conn, object_name, [record_id])
            self.runtime.webhooks.enqueue(conn, object_name, "updated", lambda: [self._fetch(conn, schema, object_name, record_id)])
            return self._fetch(conn, schema, object_name, record_id, access=access, actor=actor, row_scope=False)

    # --- sharing ------------------------------------------------------------------------------

    def shares(self, actor: Actor, object_name: str, record_id: Any) -> list[dict]:
        """Who a record is shared with (anyone who may read the record may see this)."""
        record_id = _record_id(record_id)
        with self.runtime.reading() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "read")
            self._fetch(conn, schema, object_name, record_id, access=access, actor=actor)
            return self._share_rows(conn, schema, access, actor, object_name, record_id)

    def share(self, actor: Actor, object_name: str, record_id: Any, user: Any = None, team: Any = None, level: str = "read") -> dict:
        """Share a record with one user or one team (``level`` read or edit); sharing again changes the level.

        Whoever may update the record may share it.
        """
        record_id = _record_id(record_id)
        if level not in SHARE_ACCESS:
            raise RecordValidationError(object_name, [FieldError.coded("access", "not_share_level", level=level)])
        if (user is None) == (team is None):
            raise RecordValidationError(object_name, [FieldError.coded("user", "share_with_one")])
        target, target_id = ("user", user) if user is not None else ("team", team)
        try:
            target_id = _record_id(target_id)
        except NotFound:
            raise RecordValidationError(object_name, [FieldError.coded(target, "not_an_id_of", value=target_id, object=target)]) from None
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            self._current(conn, schema, access, actor, schema.tables.table(object_name), object_name, record_id, "update")
            if not self._existing(conn, schema, target, {target_id: [0]}):
                raise RecordValidationError(object_name, [FieldError.coded(target, "record_missing", object=target, id=target_id)])
            column = share.c.user_id if target == "user" else share.c.team_id
            mine = and_(share.c.object == object_name, share.c.record_id == record_id, column == target_id)
            if conn.execute(sa.update(share).where(mine).values(access=level)).rowcount == 0:
                conn.execute(share.insert().values(object=object_name, record_id=record_id, access=level, created_at=_now(),
                                                   created_by=actor.user_id, **{column.name: target_id}))
            audit.write(conn, "share.created", audit.Who(actor.user_id, actor.name), object_name, record_id,
                        {target: target_id, "access": level})
            return next(s for s in self._share_rows(conn, schema, access, actor, object_name, record_id)
                        if s.get(target, {}).get("id") == target_id)

    def unshare(self, actor: Actor, object_name: str, record_id: Any, share_id: Any) -> None:
        record_id, share_id = _record_id(record_id), _record_id(share_id)
        with self.runtime.writing() as (conn, schema):
            access = self._allowed(schema, actor, object_name, "update")
            self._current(conn, schema, access, actor, schema.tables.table(object_name), object_name, record_id, "update")
            removed = conn.execute(share.delete().where(share.c.id == share_id, share.c.object == object_name, share.c.record_id == record_id))
            if removed.rowcount != 1:
                raise NotFound(sentence("share_missing", object=object_name, id=record_id, share=share_id))
            audit.write(conn, "share.removed", audit.Who(actor.user_id, actor.name), object_name, record_id, {"share_id": share_id})

    def _share_rows(self, conn: Connection, schema: Schema, access: Access, actor: Actor, object_name: str, record_id: int) -> list[dict]:
        """The record's shares; a user named as lookups name them (their username where the reader may not read them)."""
        users, teams = schema.tables.table("user"), schema.tables.table("team")
        rows = conn.execute(
            select(share, users.c.username, _name_of(schema, access, "user").label("user_label"), teams.c.name.label("team_name"))
            .outerjoin(users, users.c.id == share.c.user_id).outerjoin(teams, teams.c.id == share.c.team_id)
            .where(share.c.object == object_name, share.c.record_id == record_id).order_by(share.c.id),
            _params(actor),
        )
        result = []
        for row in rows:
            entry: dict[str, Any] = {"id": row.id, "access": row.access, "created_at": iso_utc(row.created_at), "created_by": row.created_by}
            if row.user_id is not None:
                entry["user"] = {"id": row.user_id, "label": row.user_label or row.username}
            else:
                entry["team"] = {"id": row.team_id, "label": row.team_name}
            result.append(entry)
        return result

    # --- checks -------------------------------------------------------------------------------

    def _check_references(self, conn: Connection, schema: Schema, obj: ObjectDef, rows: list[dict], rows_are_batch: bool = False,
                          access: Access = TRUSTED, actor: Actor | None = None, stored: list | None = None) -> None:
        """Lookups must point at live records ``access`` may read: one query per field for the whole batch.

        A record outside the actor's read scope is refused exactly as a missing one, so that a lookup
        tells nobody whether it exists. A value the record already holds (``stored``: the rows before
        an update) need only exist: someone else may have linked what the actor cannot see."""
        errors: dict[int, list[FieldError]] = {}
        owner = schema.system_fields(obj.name)["owner"]
        reader = (access, actor)
        for fdef in [f for f in obj.active_fields() if f.type.name in ("lookup", "many_to_many")] + [owner]:
            target, name = fdef.spec["target"], fdef.name
            wanted: dict[int, list[int]] = {}
            if fdef.type.name == "lookup":
                wanted = positions_by_key(None if (value := values.get(name)) is None else int(value) for values in rows)
            else:
                for index, values in enumerate(rows):
                    for rid in _referenced_ids(fdef, values.get(name)):
                        wanted.setdefault(rid, []).append(index)
            if not wanted:
                continue
            kept = _already_held(name, wanted, stored)
            found = self._existing(conn, schema, target, {rid: at for rid, at in wanted.items() if rid not in kept}, *reader)
            if kept:
                found |= self._existing(conn, schema, target, {rid: wanted[rid] for rid in kept})
            for rid, indexes in wanted.items():
                if rid not in found:
                    for index in indexes:
                        errors.setdefault(index, []).append(FieldError.coded(fdef.name, "record_missing", object=target, id=rid))
        for fdef in [f for f in obj.active_fields() if f.type.name == "dynamic_lookup"]:
            for index, values in enumerate(rows):
                held = stored is not None and stored[index][fdef.name] == values.get(fdef.name)
                problem = self._dynamic_problem(conn, schema, obj, fdef, values, *((TRUSTED, None) if held else reader))
                if problem:
                    errors.setdefault(index, []).append(FieldError(fdef.name, problem))
        if errors:
            if rows_are_batch:
                raise BatchValidationError(obj.name, errors)
            raise RecordValidationError(obj.name, next(iter(errors.values())))

    def _existing(self, conn: Connection, schema: Schema, target: str, wanted: dict[int, list[int]], access: Access = TRUSTED,
                  actor: Actor | None = None) -> set[int]:
        """The ids of ``wanted`` that are live records of ``target`` which ``access`` may read."""
        ids = list(wanted)
        if not ids:
            return set()
        visible = schema.row_condition(access, target, "read")
        if visible is not None:
            statement = schema.memo(("existing", target, access.name), lambda: self._existing_statement(schema, target).where(visible))
            return {rid for start in range(0, len(ids), 5000)
                    for rid in conn.execute(statement, {**_params(actor), "tessera_ids": ids[start : start + 5000]}).scalars()}
        if len(ids) == 1:  # a single record's write: a statement with no list to expand
            statement = schema.memo(("exists", target), lambda: PreparedRead(self._existing_statement(schema, target, one=True)))
            return set(ids) if statement.first(conn, tessera_id=ids[0]) is not None else set()
        if conn.dialect.name == "postgresql" or (conn.dialect.name == "sqlite" and _sqlite_has_json()):
            # The list as one parameter (no statement of its own per length), and only the missing ids come back.
            statement, pack = schema.memo(("missing", target, conn.dialect.name), lambda: _missing_statement(conn, schema, target))
            missing: set[int] = set()
            for start in range(0, len(ids), 5000):
                missing.update(conn.execute(statement, {"tessera_ids": pack(ids[start : start + 5000])}).scalars().all())
            return set(ids) - missing
        statement = schema.memo(("existing", target), lambda: self._existing_statement(schema, target))
        found: set[int] = set()
        for start in range(0, len(ids), 5000):
            found.update(conn.execute(statement, {"tessera_ids": ids[start : start + 5000]}).scalars().all())
        return found

    @staticmethod
    def _existing_statement(schema: Schema, target: str, one: bool = False) -> sa.Select:
        table = schema.tables.table(target)
        wanted = table.c.id == sa.bindparam("tessera_id") if one else table.c.id.in_(sa.bindparam("tessera_ids", expanding=True))
        return select(table.c.id).where(wanted, table.c.deleted_at.is_(None))

    def _dynamic_problem(self, conn: Connection, schema: Schema, obj: ObjectDef, fdef: FieldDef, values: dict, access: Access = TRUSTED,
                         actor: Actor | None = None) -> Sentence | None:
        object_field = fdef.spec["object_field"]
        record_id = values.get(fdef.name)
        target_name = values.get(object_field)
        if record_id is None:
            return None
        if target_name is None:
            return sentence("kind_needed", kind=object_field, field=fdef.name)
        if target_name not in schema.meta.objects:
            return sentence("unknown_object", name=target_name)
        if not self._existing(conn, schema, target_name, {record_id: [0]}, access, actor):
            return sentence("record_missing", object=target_name, id=record_id)
        return None

    def _check_unique(self, conn: Connection, schema: Schema, obj: ObjectDef, rows: list[dict], record_id: int | None,
                      rows_are_batch: bool | None = None) -> None:
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
                    message = sentence("not_unique", value=value, object=obj.name)
                elif len(indexes) > 1:
                    message = sentence("repeated_in_batch", value=value, rows=", ".join(map(str, indexes)))
                else:
                    continue
                for index in indexes:
                    errors.setdefault(index, []).append(FieldError(fdef.name, message))
        if errors:
            if rows_are_batch or (rows_are_batch is None and len(rows) > 1):
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


class BulkWriter:
    """Batch writes to one object inside one transaction, as the actor (see RecordService.bulk)."""

    def __init__(self, service: RecordService, conn: Connection, schema: Schema, actor: Actor, object_name: str) -> None:
        self._service, self._conn, self.schema, self.actor, self.object_name = service, conn, schema, actor, object_name
        self.access = schema.access(actor)

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for core services keeping their own state atomically with the batch."""
        return self._conn

    def require(self, operation: str, object_name: str | None = None) -> None:
        """Raise Forbidden unless the actor's role allows ``operation`` on the object."""
        self._service._allowed(self.schema, self.actor, object_name or self.object_name, operation)

    def create(self, rows: list[dict]) -> tuple[list[int | None], dict[int, list[FieldError]]]:
        """Create the valid rows with one insert; return each row's id (None when refused) and the refusals by index."""
        self.require("create")
        rejected: dict[int, list[FieldError]] = {}
        ids = self._service._insert(self._conn, self.schema, self.actor, self.object_name, rows, access=self.access, rejected=rejected)
        return ids, rejected

    def update_many(self, items: list[tuple[int, dict]]) -> dict[int, list[FieldError]]:
        """Change several records at their current versions, as ``update`` changes each; return the problems
        of each refused item, by index. Statements are per kind of change, not per record, where
        RecordService._update_many can (see there); the other items go through ``update`` one by one."""
        self.require("update")
        problems, one_by_one = self._service._update_many(self._conn, self.schema, self.actor, self.access, self.object_name, items)
        for index in one_by_one:
            errors = self.update(*items[index])
            if errors:
                problems[index] = errors
        return problems

    def update(self, record_id: int, changes: dict) -> list[FieldError]:
        """Change one record at its current version, under a savepoint; return its problems ([] when done)."""
        self.require("update")
        table = self.schema.tables.table(self.object_name)
        try:
            with self._conn.begin_nested():
                version = self._conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
                if version is None:
                    raise NotFound(sentence("record_missing", object=self.object_name, id=record_id))
                self._service._update(self._conn, self.schema, self.actor, self.object_name, record_id, changes, version,
                                      access=self.access)
        except RecordValidationError as exc:
            return exc.errors
        except RecordError as exc:
            return [FieldError("", sentence_of(exc) or str(exc))]
        return []

    def find(self, object_name: str, fields: str | tuple[str, ...], values: Iterable[Any]) -> dict[Any, list[int]]:
        """The live records whose ``fields`` hold one of ``values``, among those the actor may read: value -> ids.

        ``fields`` is a field name (values are single values) or a tuple of names (values are tuples).
        """
        self.require("read", object_name)
        names = fields if isinstance(fields, tuple) else (fields,)
        for name in names:
            if name != "id" and not self.access.visible(object_name, name):
                raise Forbidden(sentence("may_not_see_field", object=object_name, field=name), object_name, "read")
        statement = self.schema.memo(("find", object_name, names, self.access.name), lambda: self._find_statement(object_name, names))
        found: dict[Any, list[int]] = {}
        wanted = list(values)
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            for row in self._conn.execute(statement, {**self.actor.params, "tessera_values": chunk}).all():
                key = row[0] if len(names) == 1 else tuple(row[:-1])
                found.setdefault(key, []).append(row[-1])
        return found

    def _find_statement(self, object_name: str, names: tuple[str, ...]) -> sa.Select:
        table = self.schema.tables.table(object_name)
        columns = [table.c[n] for n in names]
        matched = columns[0] if len(columns) == 1 else sa.tuple_(*columns)
        statement = select(*columns, table.c.id).where(matched.in_(sa.bindparam("tessera_values", expanding=True)),
                                                       table.c.deleted_at.is_(None))
        visible = self.schema.row_condition(self.access, object_name, "read")
        return statement if visible is None else statement.where(visible)


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


class TransactionRecords:
    """Record access inside the current transaction, for hooks; acts as the same user.

    Plugin code is trusted to set read-only fields (computed totals, say); users are not.

    ``update`` without a version takes the record's current one: a hook runs inside the
    transaction that holds the write, so nothing can have changed under it.
    """

    def __init__(self, service: RecordService, conn: Connection, schema: Schema, actor: Actor, checked: bool = False) -> None:
        self._service, self._conn, self._schema, self.actor, self.checked = service, conn, schema, actor, checked

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for core services writing their own tables atomically with records."""
        return self._conn

    @property
    def schema(self) -> Schema:
        return self._schema

    @property
    def access(self) -> Access:
        """What the writes may do: the actor's role when checked, else everything."""
        return self._schema.access(self.actor) if self.checked else TRUSTED

    def trusted(self) -> "TransactionRecords":
        """The same transaction with trusted writes, for a core service that has checked the actor's right itself."""
        return TransactionRecords(self._service, self._conn, self._schema, self.actor)

    def _access_for(self, object_name: str, operation: str) -> Access:
        if not self.checked:
            return TRUSTED
        return self._service._allowed(self._schema, self.actor, object_name, operation)

    def get(self, object_name: str, record_id: Any) -> dict:
        access = self._access_for(object_name, "read")
        return self._service._fetch(self._conn, self._schema, object_name, _record_id(record_id), access=access, actor=self.actor)

    def list(self, object_name: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> Page:
        access = self._access_for(object_name, "read")
        obj = self._schema.meta.object(object_name)
        query = parse(obj, params, self._schema.queryable(object_name, access))
        return self._service._list(self._conn, self._schema, obj, query, access, self.actor)

    def each(self, object_name: str, params: Mapping[str, Any] = {}) -> Iterator[dict]:
        """Every record a list query matches, page by page, inside this transaction."""
        return _every(lambda page_params: self.list(object_name, page_params), params)

    def create(self, object_name: str, data: Any) -> dict:
        access = self._access_for(object_name, "create")
        return self._service._create(self._conn, self._schema, self.actor, object_name, data, trusted=not self.checked, access=access)

    def update(self, object_name: str, record_id: Any, changes: Any, version: Any = None) -> dict:
        record_id = _record_id(record_id)
        access = self._access_for(object_name, "update")
        if version is None:
            table = self._schema.tables.table(object_name)
            version = self._conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
            if version is None:
                raise NotFound(sentence("record_missing", object=object_name, id=record_id))
        return self._service._update(self._conn, self._schema, self.actor, object_name, record_id, changes, _version(version),
                                     trusted=not self.checked, access=access)


BULK_INSERT_MIN = 2  # from this many rows on, _insert_rows takes the bulk path
GRANTING_FIELDS = {"role": "permission_set", "user": "role"}  # the field through which each object grants a permission set
HOLDING_FIELDS = {"user": ("active", "role"), "role": ("permission_set",)}  # changing one may change who holds a set


def _holding_field(object_name: str, diff: Mapping) -> str | None:
    """The first field of ``diff`` that may change who holds a privileged permission set, if any."""
    return next((name for name in HOLDING_FIELDS.get(object_name, ()) if name in diff), None)


def _missing_statement(conn: Connection, schema: Schema, target: str) -> tuple[Any, Any]:
    """The ids of a list given as one parameter that are not live records of ``target``, and how to pass the
    list: an array on PostgreSQL (``unnest``), a JSON array on SQLite (``json_each``)."""
    table = conn.dialect.identifier_preparer.format_table(schema.tables.table(target))
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # noqa: PLC0415

        statement = sa.text(f"SELECT given.id FROM unnest(:tessera_ids) AS given(id) WHERE NOT EXISTS "
                            f"(SELECT 1 FROM {table} t WHERE t.id = given.id AND t.deleted_at IS NULL)")
        return statement.bindparams(sa.bindparam("tessera_ids", type_=ARRAY(sa.BigInteger))), list
    statement = sa.text(f"SELECT given.value FROM json_each(:tessera_ids) AS given WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {table} t WHERE t.id = given.value AND t.deleted_at IS NULL)")
    return statement, _json_list


def _json_list(ids: list[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


_SQLITE_JSON: list[bool] = []


def _sqlite_has_json() -> bool:
    """Whether this process's SQLite has the JSON functions (built in since 3.38 unless left out)."""
    if not _SQLITE_JSON:
        import sqlite3  # noqa: PLC0415

        try:
            sqlite3.connect(":memory:").execute("SELECT json_each.value FROM json_each('[1]')").fetchall()
            _SQLITE_JSON.append(True)
        except sqlite3.Error:
            _SQLITE_JSON.append(False)
    return _SQLITE_JSON[0]


@dataclass(frozen=True)
class _BulkPlan:
    """How rows naming ``names`` go into a table in one statement, prepared once per metadata version."""

    names: tuple[str, ...]  # the rows' keys, in the table's column order (the id comes first in ``sql``)
    processors: tuple[tuple[int, Any], ...]  # (position in names, SQLAlchemy's bind processor) where one applies
    sql: str
    one_sql: str  # one row, without its id: INSERT ... RETURNING id, in the driver's parameter style
    defaulted: tuple[str, ...]  # names whose column has a default: every row must give them (else the grouped insert)
    next_id: str | None = None  # SQLite: the query of the largest id
    sequence: str | None = None  # PostgreSQL: the sequence of the id column
    # PostgreSQL, when every column has a binary form psycopg can write: COPY's binary statement, the
    # PostgreSQL type of each column (id first) and the Python type its values must have to be sent so
    binary_sql: str | None = None
    binary_types: tuple[str, ...] = ()
    python_types: tuple[type, ...] = ()


def _insert_plan(conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None) -> _BulkPlan | None:
    """The prepared insert of rows naming these keys; None when SQLAlchemy's own insert must do it."""
    if conn.dialect.name not in ("sqlite", "postgresql") or table.kwargs.get("sqlite_autoincrement"):
        return None
    keys = set().union(*parsed)
    if "id" in keys:
        return None
    key = ("bulk insert", table.name, frozenset(keys))
    plan = schema.memo(key, lambda: _bulk_plan(conn, table, keys)) if schema is not None else _bulk_plan(conn, table, keys)
    if plan is None or any(name not in values for name in plan.defaulted for values in parsed):
        return None
    return plan


def _insert_one(conn: Connection, plan: _BulkPlan, values: dict) -> int:
    """One row with ``INSERT ... RETURNING id`` on the driver's cursor: a record created through the API."""
    row = [values.get(name) for name in plan.names]
    for position, process in plan.processors:
        row[position] = process(row[position])
    return fetch_on_driver(conn, plan.one_sql, row, one=True)[0][0]


def _bulk_insert(conn: Connection, table: sa.Table, parsed: list[dict], schema: Schema | None) -> list[int] | None:
    """Insert many rows with one statement and known ids, in the rows' order; None when this table cannot.

    The ids are drawn first: on PostgreSQL from the id column's sequence (``nextval`` for each row,
    in one query), then the rows go in one ``COPY``; on SQLite the writing transaction holds the
    database's write lock (BEGIN IMMEDIATE, core/db.py), so the ids after the largest one are free,
    and the rows go in one ``executemany``. Values are converted with SQLAlchemy's own bind
    processors of each column, so that they are stored exactly as ``table.insert()`` stores them;
    a key some rows lack is NULL for them, as in a grouped insert, unless its column has a default
    (version's, which the record service always sets): then the grouped insert applies it.
    """
    dialect = conn.dialect.name
    plan = _insert_plan(conn, table, parsed, schema)
    if plan is None:
        return None
    count = len(parsed)
    columns = [[values.get(name) for values in parsed] for name in plan.names]
    for position, process in plan.processors:
        column, last, done = columns[position], _UNSET, None
        for index, value in enumerate(column):
            if value is not last:  # the stamps repeat one value for every row
                last, done = value, process(value)
            column[index] = done
    if dialect == "sqlite":
        first = (conn.exec_driver_sql(plan.next_id).scalar() or 0) + 1
        ids = list(range(first, first + count))
        conn.exec_driver_sql(plan.sql, list(zip(ids, *columns)))
        return ids
    ids = sorted(conn.execute(_NEXT_IDS, {"sequence": plan.sequence, "count": count}).scalars())
    if len(ids) != count:
        raise RuntimeError(f"the sequence {plan.sequence} gave {len(ids)} ids for {count} rows")
    binary = plan.binary_sql is not None and _all_of_types(columns, plan.python_types)
    statement = plan.binary_sql if binary else plan.sql
    try:
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            if binary:
                copy.set_types(plan.binary_types)
            for row in zip(ids, *columns):
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # raised as SQLAlchemy raises the driver's errors
        raise sa.exc.DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from exc
    return ids


_UNSET = object()
_NEXT_IDS = sa.text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)")


def _bulk_plan(conn: Connection, table: sa.Table, keys: set[str]) -> _BulkPlan | None:
    if not keys <= set(table.c.keys()):
        return None  # an unknown key: the grouped insert raises SQLAlchemy's error about it
    dialect = conn.dialect
    names = tuple(c.name for c in table.columns if c.name in keys)
    processors = []
    for position, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, process))
    defaulted = tuple(n for n in names if table.c[n].default is not None or table.c[n].server_default is not None)
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in ("id", *names))
    name = dialect.identifier_preparer.format_table(table)
    placeholder = "?" if dialect.name == "sqlite" else "%s"
    one_sql = (f"INSERT INTO {name} ({', '.join(dialect.identifier_preparer.quote(n) for n in names)}) "
               f"VALUES ({', '.join([placeholder] * len(names))}) RETURNING id")
    if dialect.name == "sqlite":
        return _BulkPlan(names, tuple(processors), f"INSERT INTO {name} ({quoted}) VALUES ({', '.join('?' * (len(names) + 1))})",
                         one_sql, defaulted, next_id=f"SELECT max(id) FROM {name}")
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": name}).scalar()
    if sequence is None:
        return None
    copy = f"COPY {name} ({quoted}) FROM STDIN"
    binary = [_binary_type(table.c[n].type.dialect_impl(dialect)) for n in ("id", *names)]
    if all(binary) and binary[0][1] is int:
        return _BulkPlan(names, tuple(processors), copy, one_sql, defaulted, sequence=sequence, binary_sql=f"{copy} (FORMAT BINARY)",
                         binary_types=tuple(b[0] for b in binary), python_types=tuple(b[1] for b in binary[1:]))
    return _BulkPlan(names, tuple(processors), copy, one_sql, defaulted, sequence=sequence)


def _binary_type(sql_type: Any) -> tuple[str, type] | None:
    """The PostgreSQL type psycopg writes a column's values as in a binary COPY, and their Python type."""
    if isinstance(sql_type, sa.Boolean):
        return "bool", bool
    if isinstance(sql_type, sa.BigInteger):
        return "int8", int
    if isinstance(sql_type, sa.SmallInteger):
        return "int2", int
    if isinstance(sql_type, sa.Integer):
        return "int4", int
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
        return "numeric", decimal.Decimal
    if isinstance(sql_type, sa.DateTime):
        return ("timestamptz", dt.datetime) if sql_type.timezone else None
    if isinstance(sql_type, sa.Date):
        return "date", dt.date
    if isinstance(sql_type, (sa.String, sa.Text)) and not isinstance(sql_type, (sa.Enum, sa.JSON)):
        return "text", str
    return None  # JSON and others: the text COPY, where the server parses what SQLAlchemy's processor wrote


def _all_of_types(columns: list[list], python_types: tuple[type, ...]) -> bool:
    """Whether each value is None or exactly of its column's Python type (datetimes aware: timestamptz)."""
    for column, wanted in zip(columns, python_types):
        for value in column:
            if value is not None and type(value) is not wanted:
                return False
        if wanted is dt.datetime and any(v is not None and v.tzinfo is None for v in column):
            return False
    return True


def _every(list_page, params: Mapping[str, Any]) -> Iterator[dict]:
    offset = 0
    while True:
        page = list_page({**params, "limit": MAX_LIMIT, "offset": offset})
        yield from page.items
        if not page.has_more:
            return
        offset += len(page.items)


def _keep_valid(check, parsed: list[dict], positions: list[int], rejected: dict[int, list[FieldError]] | None
                ) -> tuple[list[dict], list[int]]:
    """Run a batch check; with ``rejected``, move the rows it refuses there instead of raising."""
    try:
        check(parsed)
    except BatchValidationError as exc:
        if rejected is None:
            raise
        for index, errors in exc.rows.items():
            rejected.setdefault(positions[index], []).extend(errors)
        kept = [i for i in range(len(parsed)) if i not in exc.rows]
        return [parsed[i] for i in kept], [positions[i] for i in kept]
    return parsed, positions


def _without_unchanged_read_only(obj: ObjectDef, changes: dict, stored: Mapping, locked: frozenset[str] = frozenset()) -> dict:
    """A form sending back a read-only field (or one the role may only read) unchanged is not trying to write it."""
    kept = {}
    for name, value in changes.items():
        fdef = obj.fields.get(name)
        if fdef is not None and (fdef.spec.get("read_only") or name in locked) and fdef.has_column and same(fdef, stored[name], value):
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


def _field_def(schema: Schema, obj: ObjectDef | None, name: str) -> FieldDef | None:
    """A field of the object by name, system fields (owner) included; None for one no longer defined."""
    if obj is None:
        return None
    return obj.fields.get(name) or schema.system_fields(obj.name).get(name)


def _changed(schema: Schema, obj: ObjectDef, stored: Mapping, values: dict) -> dict:
    """The values that are not the same as the stored ones (core/sameness.py): what an update writes and records."""
    return {name: value for name, value in values.items() if not same(_field_def(schema, obj, name), stored[name], value)}


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


def _keeping_relation_values(fdef: FieldDef, given: list[dict], held: list[dict]) -> list[dict]:
    """Links as an update writes them: a link already held that leaves out one of its relation fields (a form
    sends the linked ids alone) keeps the value it holds there; only a value given, null included, replaces it."""
    held_by_id = {link["id"]: link for link in held}
    kept = []
    for link in given:
        before = held_by_id.get(link["id"])
        missing = [t for t in fdef.through if t.name not in link] if before is not None else []
        kept.append({**link, **{t.name: _parsed_again(t, before.get(t.name)) for t in missing}} if missing else link)
    return kept


def _parsed_again(fdef: FieldDef, shown: Any) -> Any:
    """A relation field's value as read (formatted) back as the junction table stores it."""
    if shown is None:
        return None
    try:
        return fdef.type.parse(shown, fdef.spec)
    except (ValueError, TypeError, ArithmeticError):
        return shown  # a value the field's definition no longer offers: kept as it is


def _history_row(obj: ObjectDef, record_id: int, name: str, old: Any, new: Any, version: int, now: dt.datetime, actor: Actor) -> dict:
    return dict(object=obj.name, record_id=record_id, field=name,
                old_value=_as_json(obj, {name: old})[name], new_value=_as_json(obj, {name: new})[name],
                record_version=version, changed_at=now, changed_by=actor.user_id, changed_by_name=actor.name)


def _history_entry(row: sa.Row) -> dict:
    m = row._mapping
    return {"field": m["field"], "old": m["old_value"], "new": m["new_value"], "version": m["record_version"],
            "changed_at": _iso(m["changed_at"]), "changed_by": m["changed_by"], "changed_by_name": m["changed_by_name"],
            "changed_by_label": m["changed_by_label"] or m["changed_by_name"]}


def _params(actor: Actor | None) -> dict:
    return actor.params if actor is not None else {ACTOR_ID: None}


_iso = iso_utc


def _label(value: Any) -> Any:
    return json_value(value)


def _plugin_problem(plugins: PluginSet, problem: Refusal | tuple) -> FieldError:
    """A problem ``tessera_validate_record`` returned: a Refusal, or a (field, message) pair."""
    if isinstance(problem, Refusal):
        return FieldError(problem.field, plugins.sentence(problem))
    field, message = problem
    return FieldError(field, message)


def _run_after(plugins: PluginSet, hook, event: RecordEvent, refused: type[Exception] | None = None) -> None:
    """Run an after-hook. A Refusal raised in it refuses the whole write, which is then rolled back, as one raised
    in a before-hook does: a field error (or ``refused``, for deletes), never an unexpected failure."""
    try:
        hook(event=event)
    except Refusal as exc:
        if refused is not None:
            raise refused(plugins.sentence(exc)) from None
        raise RecordValidationError(event.object, [FieldError(exc.field, plugins.sentence(exc))]) from None


def _already_held(name: str, wanted: dict[int, list[int]], stored: list | None) -> set[int]:
    """The ids in ``wanted`` that each of their rows already holds in field ``name`` (a lookup's id, a set of linked ids)."""
    if stored is None:
        return set()

    def holds(index: int, rid: int) -> bool:
        held = stored[index][name] if name in stored[index] else None
        return rid in held if isinstance(held, set) else held == rid

    return {rid for rid, indexes in wanted.items() if all(holds(i, rid) for i in indexes)}


def operation_word(operation: str) -> Sentence | str:
    """An operation (read, create, update, delete) as a word of the sentence that names it."""
    return sentence(f"operation_{operation}") if f"operation_{operation}" in WORDS else operation


def _record_id(value: Any) -> int:
    number = as_record_id(value)
    if number is None:
        raise NotFound(sentence("not_a_record_id", value=value))
    return number


def _version(value: Any) -> int:
    if value is None:
        raise RecordError(sentence("version_needed"))
    text = value.removeprefix("W/").strip('"') if isinstance(value, str) else value  # an If-Match header: "3" or W/"3"
    number = as_record_id(text)
    if number is None:
        raise RecordError(sentence("not_a_version", value=value)) from None
    if not 1 <= number <= MAX_VERSION:
        raise RecordError(sentence("version_from_one", value=value))
    return number


def _aware(when: dt.datetime) -> dt.datetime:
    """A stored time as UTC: SQLite gives it back without its zone."""
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)

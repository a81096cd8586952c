"""What hooks and plugins get inside a write transaction: reads and writes through the service, and batch writes for imports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import Connection, select

from core.permissions import TRUSTED, Access
from core.query import parse
from core.runtime import Schema
from core.validation import FieldError, RecordValidationError
from core.words import sentence, sentence_of
from core.records.actor import Actor
from core.records.checks import HOLDING_FIELDS
from core.records.errors import Forbidden, NotFound, RecordError
from core.records.reading import _every, Page
from core.records.values import _record_id, _version

if TYPE_CHECKING:
    from core.records.service import RecordService


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
        of each refused item, by index. The items go through the write pipeline together (statements per
        kind of change, not per record), except where one item's write must not undo the others': when
        plugins hook updates of the object (a hook refusing one record), when it is a user or a role (the last
        active admin is kept after each write), or when a record is named twice."""
        self.require("update")
        ids = [record_id for record_id, _changes in items]
        plugins = self._service.runtime.plugins
        hooked = any(plugins.caller(hook, self.object_name) for hook in ("tessera_before_update", "tessera_validate_record", "tessera_after_update"))
        if hooked or self.object_name in HOLDING_FIELDS or len(set(ids)) != len(ids):
            problems = {}
            for index, item in enumerate(items):
                if errors := self.update(*item):
                    problems[index] = errors
            return problems
        return self._service._update_many(self._conn, self.schema, self.actor, self.access, self.object_name, items)

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

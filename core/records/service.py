"""The record service: the only way to data, for the API, the UI, imports and plugins."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping


from core.permissions import Access
from core.list_sql import ListStatements
from core.runtime import Runtime, Schema
from core.words import sentence
from core.records.actor import Actor
from core.records.checks import Checks
from core.records.deleting import Deletes
from core.records.errors import Forbidden
from core.records.merging import Merges
from core.records.reading import _every, Page, Reader, ReadRecords, Reads
from core.records.sharing import Shares
from core.records.transaction import TransactionRecords
from core.records.values import _record_id, operation_word
from core.records.writing import Writes




class RecordService(Reads, Writes, Checks, Deletes, Merges, Shares):
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

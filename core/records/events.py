"""What a write tells the rest of Tessera: the records of one object it created, updated or deleted.

The record service publishes a ``RecordChanges`` inside the writing transaction, after the
rows are stored; each subscriber (webhooks, workflow rules) enqueues what it does later in
that same transaction, so the work exists exactly when the change committed. A subscriber
that wants nothing costs what it takes to decide that; the records are read only when one
asks for them, once for all subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from sqlalchemy import Connection

from core.records.actor import Actor

CREATED, UPDATED, DELETED = "created", "updated", "deleted"


@dataclass
class RecordChanges:
    """``ids`` of ``object_name`` were ``event`` by ``actor``; ``changes``: per record id, field -> (old, new) on updates."""

    object_name: str
    event: str
    actor: Actor | None
    ids: list[int]
    fetch: Callable[[], list[dict]]
    changes: dict[int, dict[str, tuple[Any, Any]]] | None = None
    rows: Callable[[], dict[int, Mapping[str, Any]]] | None = None  # the columns as stored, raw (no labels, no links), when known
    schema: Any = None  # the runtime's Schema the write used, when the writer has it (else subscribers read the version)
    _records: list[dict] | None = field(default=None, repr=False)

    def records(self) -> list[dict]:
        """The records as stored now (deleted ones included), read once."""
        if self._records is None:
            self._records = self.fetch()
        return self._records

    def values(self) -> dict[int, Mapping[str, Any]]:
        """Per record id, its values as cheaply as they are known: the raw columns the write just stored (lookups as
        ids, no many-to-many fields), else the records read back."""
        if self.rows is not None:
            return self.rows()
        return {record["id"]: record for record in self.records()}

    def changes_of(self, record_id: int) -> dict[str, tuple[Any, Any]] | None:
        return None if self.changes is None else self.changes.get(record_id, {})


class Subscriber(Protocol):
    def __call__(self, conn: Connection, change: RecordChanges) -> None: ...


def publish(subscribers: list[Subscriber], conn: Connection, change: RecordChanges) -> None:
    if change.ids:
        for subscriber in subscribers:
            subscriber(conn, change)

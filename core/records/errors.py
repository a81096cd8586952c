"""The refusals of the record service."""

from __future__ import annotations



from core.validation import FieldError, RecordValidationError


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

"""The record service: the only way to data, for the API, the UI, imports and plugins.

Every call takes the acting user. Writes validate (core/validation.py), check that
related records exist, stamp the system fields, keep field history and use the
record's version for optimistic concurrency: an update carrying a stale version
changes nothing and raises Conflict.

The service is one class made of parts, each in its own module: reading, writing
(create and update), the checks before a write, deleting, merging and sharing.
"""

from core.query import QueryError
from core.records.actor import Actor
from core.records.errors import BatchValidationError, Conflict, Forbidden, NotFound, RecordError, Refused
from core.records.reading import Page
from core.records.service import RecordService
from core.records.transaction import BulkWriter, TransactionRecords
from core.records.values import json_value
from core.records.pipeline import _defaults
from core.validation import RecordValidationError

__all__ = ["Actor", "BatchValidationError", "BulkWriter", "Conflict", "Forbidden", "NotFound", "Page", "QueryError", "RecordError",
           "RecordService", "RecordValidationError", "Refused", "TransactionRecords", "json_value", "_defaults"]

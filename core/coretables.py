"""Core's own tables. Their DDL lives in alembic revisions under core/migrations."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from core.fieldtypes import ID_TYPE

core_metadata = MetaData()
JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")

meta_state = Table(
    "tessera_meta_state",
    core_metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

meta_document = Table(
    "tessera_meta_document",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("document", JSON_TYPE, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("uq_tessera_meta_document_kind_name", "kind", "name", unique=True),
)

schema_history = Table(
    "tessera_schema_history",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("applied_by", String(200), nullable=False),
    Column("metadata_version", BigInteger, nullable=False),
    Column("operation", String(40), nullable=False),
    Column("object", String(64), nullable=True),
    Column("detail", Text, nullable=False),
)

field_history = Table(
    "tessera_field_history",
    core_metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("field", String(64), nullable=False),
    Column("old_value", JSON_TYPE, nullable=True),
    Column("new_value", JSON_TYPE, nullable=True),
    Column("record_version", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", BigInteger, nullable=True),
    Column("changed_by_name", String(200), nullable=False),
    Index("ix_tessera_field_history_record", "object", "record_id", "id"),
)

sequence = Table(
    "tessera_sequence",
    core_metadata,
    Column("name", String(120), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

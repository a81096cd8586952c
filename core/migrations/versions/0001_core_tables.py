"""Core tables: metadata documents and version, schema and field history, sequences.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_meta_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
    )
    op.create_table(
        "tessera_meta_document",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_index("uq_tessera_meta_document_kind_name", "tessera_meta_document", ["kind", "name"], unique=True)
    op.create_table(
        "tessera_schema_history",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("applied_at", TS, nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
        sa.Column("metadata_version", sa.BigInteger, nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("object", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "tessera_field_history",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", JSON, nullable=True),
        sa.Column("new_value", JSON, nullable=True),
        sa.Column("record_version", sa.Integer, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("changed_by", sa.BigInteger, nullable=True),
        sa.Column("changed_by_name", sa.String(200), nullable=False),
    )
    op.create_index("ix_tessera_field_history_record", "tessera_field_history", ["object", "record_id", "id"])
    op.create_table(
        "tessera_sequence",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("tessera_sequence", "tessera_field_history", "tessera_schema_history",
                  "tessera_meta_document", "tessera_meta_state"):
        op.drop_table(table)

"""Import jobs: one row per import with its progress, so that an interrupted run resumes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_import_job",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("settings_digest", sa.String(64), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("next_row", sa.BigInteger, nullable=False),
        sa.Column("rows_total", sa.BigInteger, nullable=True),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
        sa.Column("skipped", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        sa.Column("rejected_path", sa.Text, nullable=True),
        sa.Column("rejected_bytes", sa.BigInteger, nullable=False),
        sa.Column("pending", JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created_by", sa.BigInteger, nullable=True),
        sa.Column("created_by_name", sa.String(200), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_tessera_import_job_resume", "tessera_import_job", ["object", "fingerprint", "status"])


def downgrade() -> None:
    op.drop_table("tessera_import_job")

"""The web UI's own state: saved list views and recently viewed records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_saved_view",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("owner", sa.BigInteger, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_tessera_saved_view_object", "tessera_saved_view", ["object", "owner"])
    op.create_table(
        "tessera_recent_view",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("object", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.BigInteger, primary_key=True),
        sa.Column("viewed_at", TS, nullable=False),
    )
    op.create_index("ix_tessera_recent_view_user", "tessera_recent_view", ["user_id", "viewed_at"])


def downgrade() -> None:
    op.drop_table("tessera_recent_view")
    op.drop_table("tessera_saved_view")

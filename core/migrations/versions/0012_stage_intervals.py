"""Stage intervals: when each record entered and left each value of its object's process field (core/stage_history.py).

Revision ID: 0012
Revises: 0011
Create Date: 2027-05-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_stage_interval",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("entered_at", TS, nullable=False),
        sa.Column("left_at", TS, nullable=True),
    )
    op.create_index("ix_tessera_stage_interval_record", "tessera_stage_interval", ["object", "field", "record_id", "left_at"])


def downgrade() -> None:
    op.drop_table("tessera_stage_interval")

"""Board column totals: count and sum per value of a board's column field (core/group_totals.py).

Revision ID: 0006
Revises: 0005
Create Date: 2027-02-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_group_total",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("sum_field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Numeric, nullable=False),
    )
    op.create_index("ix_tessera_group_total_key", "tessera_group_total", ["object", "field", "sum_field", "value"])


def downgrade() -> None:
    op.drop_table("tessera_group_total")

"""Approvals: records submitted to an approval process, and each approver's decision (core/approvals/service.py).

Revision ID: 0011
Revises: 0010
Create Date: 2027-04-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "tessera_approval",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("process", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("step", sa.Integer, nullable=True),
        sa.Column("step_name", sa.String(64), nullable=True),
        sa.Column("approvers", JSON, nullable=False),
        sa.Column("submitted_by", sa.BigInteger, nullable=True),
        sa.Column("submitted_by_name", sa.String(200), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_tessera_approval_record", "tessera_approval", ["object", "record_id", "id"])
    op.create_index("uq_tessera_approval_pending", "tessera_approval", ["object", "record_id"], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)
    op.create_table(
        "tessera_approval_decision",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("approval_id", sa.BigInteger, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("step_name", sa.String(64), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=True),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(12), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("decided_at", TS, nullable=False),
    )
    op.create_index("ix_tessera_approval_decision", "tessera_approval_decision", ["approval_id", "id"])


def downgrade() -> None:
    op.drop_table("tessera_approval_decision")
    op.drop_table("tessera_approval")

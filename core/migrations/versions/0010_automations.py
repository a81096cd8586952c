"""Workflow rules: their runs, the due times of time triggers, and what rules keep between runs (core/automations/).

Revision ID: 0010
Revises: 0009
Create Date: 2027-04-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_automation_run",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("job_id", sa.BigInteger, nullable=True),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_tessera_automation_run_record", "tessera_automation_run", ["object", "record_id", "id"])
    op.create_index("ix_tessera_automation_run_rule", "tessera_automation_run", ["rule", "id"])
    op.create_table(
        "tessera_automation_due",
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.BigInteger, primary_key=True),
        sa.Column("due_at", TS, nullable=False),
    )
    op.create_index("ix_tessera_automation_due_at", "tessera_automation_due", ["due_at"])
    op.create_table(
        "tessera_automation_state",
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("state", JSON, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tessera_automation_state")
    op.drop_table("tessera_automation_due")
    op.drop_table("tessera_automation_run")

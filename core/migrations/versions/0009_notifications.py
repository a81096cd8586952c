"""In-app notifications and each user's choice of e-mail for them (core/notifications.py).

Revision ID: 0009
Revises: 0008
Create Date: 2027-03-15
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_notification",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("object", sa.String(64), nullable=True),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("code", sa.String(128), nullable=True),
        sa.Column("params", JSON, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS, nullable=True),
    )
    op.create_index("ix_tessera_notification_unread", "tessera_notification", ["user_id", "read_at", "id"])
    op.create_index("uq_tessera_notification_key", "tessera_notification", ["user_id", "key"], unique=True)
    op.create_table(
        "tessera_notification_setting",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("email", sa.String(12), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tessera_notification_setting")
    op.drop_table("tessera_notification")

"""Access: settings, credentials, sessions, API tokens, login throttling, audit, sharing, webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tessera_setting",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "tessera_credential",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
    )
    op.create_table(
        "tessera_session",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
    )
    op.create_index("ix_tessera_session_user", "tessera_session", ["user_id"])
    op.create_table(
        "tessera_api_token",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("uq_tessera_api_token_hash", "tessera_api_token", ["token_hash"], unique=True)
    op.create_index("ix_tessera_api_token_user", "tessera_api_token", ["user_id", "id"])
    op.create_table(
        "tessera_login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", TS, nullable=False),
        sa.Column("locked_until", TS, nullable=True),
    )
    op.create_table(
        "tessera_audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=True),
        sa.Column("username", sa.String(200), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("object", sa.String(64), nullable=True),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("detail", JSON, nullable=True),
    )
    op.create_index("ix_tessera_audit_at", "tessera_audit", ["at", "id"])
    op.create_index("ix_tessera_audit_event", "tessera_audit", ["event", "id"])
    op.create_index("ix_tessera_audit_user", "tessera_audit", ["user_id", "id"])
    op.create_table(
        "tessera_share",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=True),
        sa.Column("team_id", sa.BigInteger, nullable=True),
        sa.Column("access", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_tessera_share_user", "tessera_share", ["object", "user_id", "record_id"])
    op.create_index("ix_tessera_share_team", "tessera_share", ["object", "team_id", "record_id"])
    op.create_index("ix_tessera_share_record", "tessera_share", ["object", "record_id"])
    op.create_table(
        "tessera_webhook",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_tessera_webhook_object", "tessera_webhook", ["object", "active"])
    op.create_table(
        "tessera_webhook_delivery",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
    )
    op.create_index("ix_tessera_webhook_delivery_due", "tessera_webhook_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_tessera_webhook_delivery_hook", "tessera_webhook_delivery", ["webhook_id", "id"])


def downgrade() -> None:
    for table in ("tessera_webhook_delivery", "tessera_webhook", "tessera_share", "tessera_audit", "tessera_login_throttle",
                  "tessera_api_token", "tessera_session", "tessera_credential", "tessera_setting"):
        op.drop_table(table)

"""Search entries keyed by object, field and record, so that a search reads each object's matches apart.

Revision ID: 0007
Revises: 0006
Create Date: 2027-02-15

The entries are emptied here and built again, with their new ids, when the application next
starts (core/search.py ``build_once``).
"""
import importlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SEARCH = importlib.import_module("core.migrations.versions.0005_search")
TRIGGERS = ("tessera_search_entry_ai", "tessera_search_entry_ad", "tessera_search_entry_au")
# the words' first 2, 3 and 4 letters indexed apart (core/search.py PREFIXES): a short prefix is one term to read
FTS = ("CREATE VIRTUAL TABLE tessera_search_fts USING fts5(terms, content='tessera_search_entry', content_rowid='id', "
       "tokenize='unicode61 remove_diacritics 0', prefix='{prefixes}')")


def upgrade() -> None:
    op.create_table(
        "tessera_search_object",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("code", sa.Integer, nullable=False, unique=True),
    )
    _empty_index("2 3 4")
    if op.get_context().dialect.name == "postgresql":  # one GIN index per object, made with its code (core/search.py)
        op.drop_index("ix_tessera_search_entry_terms", "tessera_search_entry")


def downgrade() -> None:
    _empty_index("2 3")
    if op.get_context().dialect.name == "postgresql":
        codes = op.get_bind().execute(sa.text("SELECT code FROM tessera_search_object")).scalars().all()
        for code in codes:
            op.execute(f"DROP INDEX IF EXISTS ix_tessera_search_o{int(code)}")
        op.create_index("ix_tessera_search_entry_terms", "tessera_search_entry", ["terms"], postgresql_using="gin")
    op.drop_table("tessera_search_object")


def _empty_index(prefixes: str) -> None:
    if op.get_context().dialect.name == "sqlite":
        for trigger in TRIGGERS:  # emptied at once below, not entry by entry
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE tessera_search_fts")
        op.execute("DELETE FROM tessera_search_entry")
        for statement in [FTS.format(prefixes=prefixes), *SEARCH.SQLITE_FTS[1:]]:
            op.execute(statement)
    else:
        op.execute("TRUNCATE tessera_search_entry")
    op.execute("DELETE FROM tessera_setting WHERE name = 'search_index_built'")

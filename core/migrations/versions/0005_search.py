"""Global search: the index of every record's title and searchable fields (core/search.py).

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-10
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# SQLite: an FTS5 index over the entries' terms (external content: the words are kept once, in the entry
# table), kept in step by triggers. The terms are already split and lower-cased by core/search.py.
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE tessera_search_fts USING fts5(terms, content='tessera_search_entry', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0', prefix='2 3')",
    "CREATE TRIGGER tessera_search_entry_ai AFTER INSERT ON tessera_search_entry BEGIN "
    "INSERT INTO tessera_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER tessera_search_entry_ad AFTER DELETE ON tessera_search_entry BEGIN "
    "INSERT INTO tessera_search_fts(tessera_search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER tessera_search_entry_au AFTER UPDATE ON tessera_search_entry BEGIN "
    "INSERT INTO tessera_search_fts(tessera_search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
    "INSERT INTO tessera_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
]


def upgrade() -> None:
    op.create_table(
        "tessera_search_entry",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("terms", sa.Text().with_variant(TSVECTOR(), "postgresql"), nullable=False),
    )
    op.create_index("ix_tessera_search_entry_record", "tessera_search_entry", ["object", "record_id"])
    if op.get_context().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.create_index("ix_tessera_search_entry_terms", "tessera_search_entry", ["terms"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TABLE tessera_search_fts")
    op.drop_table("tessera_search_entry")

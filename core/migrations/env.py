"""Alembic environment for core's own tables (never the metadata-defined objects)."""

from alembic import context

from core.coretables import core_metadata

VERSION_TABLE = "tessera_alembic_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=core_metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    include_name=lambda name, type_, parent: type_ != "table" or name.startswith("tessera_"),
)
with context.begin_transaction():
    context.run_migrations()

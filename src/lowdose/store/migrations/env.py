"""Alembic environment: lowdose runs migrations in process through `lowdose.store.migrate`,
which hands over an open connection (inside its transaction) as `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from lowdose.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through lowdose.store.migrate(url), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

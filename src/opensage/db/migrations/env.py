"""Alembic environment: runs migrations on the connection the platform hands over."""

from __future__ import annotations

from alembic import context

from opensage.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the platform always passes its connection
    raise RuntimeError("opensage migrations run through opensage.db.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

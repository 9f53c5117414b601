"""Alembic environment: runs migrations on the connection handed over by `storage.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from viraltracker_bot.storage.tables import Base


def run_migrations(connection: Connection) -> None:
    """Migrate inside the caller's transaction, so the caller decides when it commits.

    `render_as_batch` lets later migrations alter columns on SQLite (copy-and-move tables).
    """
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """`alembic upgrade --sql`: print the DDL for a DBA to review."""
    url = context.config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    handed_over = context.config.attributes.get("connection")
    if handed_over is None:
        raise RuntimeError(
            "Run migrations through viraltracker_bot.storage.migrate (or `viraltracker-bot db`)"
        )
    run_migrations(handed_over)

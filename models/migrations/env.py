"""Alembic environment: the URL comes from the Config (set by models.schema) or from Settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import models.tables  # noqa: F401  (registers every table on the metadata)
import notifications.sink_store  # noqa: F401  (the mail sink's table, without its SMTP server)
from models.db import make_engine
from models.schema import migration_transaction
from models.settings import get_settings
from models.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url, create=True)  # alembic's own command line, as `shouxin db upgrade`
    with engine.connect() as conn, migration_transaction(conn):
        _run(conn)
    engine.dispose()


run_migrations_online()

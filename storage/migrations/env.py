"""Alembic environment for GridBot; configured from code by `storage.migrate` (no alembic.ini).

`storage.migrate` hands over an open connection in `config.attributes["connection"]`; without one
(plain `alembic` command with `-x url=...` or `sqlalchemy.url`), an engine is made here.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from storage.db import make_engine
from storage.migrate import include_for
from storage.models import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata

# Any constant: serialises concurrent upgrades (two workers starting at once) on PostgreSQL.
PG_MIGRATION_LOCK = 0x67726964  # "grid"


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones so migrations don't import the models."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    if connection is not None:
        kwargs.setdefault("include_object", include_for(connection.dialect.name))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # always: a migration generated against PostgreSQL must run on SQLite
        compare_type=True,
        compare_server_default=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite and not connection.in_transaction():
        # Batch mode recreates tables (copy, drop, rename); with foreign keys enforced, dropping a
        # referenced table would fail or cascade. The pragma only takes effect outside a
        # transaction, hence on the raw connection before BEGIN; integrity is checked below.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        _configure(connection)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
            context.run_migrations()
            if is_sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left dangling foreign keys: {broken[:5]}")
    finally:
        if is_sqlite and not connection.in_transaction():
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(url or None)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

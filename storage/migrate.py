"""Schema migrations, driven from code: the alembic environment ships inside the package.

    from storage.migrate import upgrade, current, check_head
    upgrade(url)            # create or upgrade to head; returns the revision now applied
    check_head(url)         # True when the database is at head (the bot refuses to start otherwise)

`url` is a database URL (see `storage.db.resolve_url`; None = the configured default) or an Engine.
New revisions: `python -m storage.migrate revision -m "what changed"` autogenerates against a
scratch SQLite file at head; review the generated file by hand (it must run on both backends).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from storage.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Revision files are named "0001_initial.py": sortable, and the id is in the file.
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision shipped with this code."""
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None, "no migrations shipped"
    return rev


@contextmanager
def _connect(url: str | Engine | None) -> Iterator[Connection]:
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        if not isinstance(url, Engine):  # ours to close; a caller's engine stays open
            engine.dispose()


def upgrade(url: str | Engine | None = None, revision: str = "head") -> str | None:
    """Create the schema or bring it up to `revision`; returns the revision now applied."""
    with _connect(url) as conn:
        command.upgrade(alembic_config(conn), revision)
        if conn.in_transaction():
            conn.commit()
        return _current_on(conn)


def _current_on(conn: Connection) -> str | None:
    rev = MigrationContext.configure(conn).get_current_revision()
    if conn.in_transaction():
        conn.rollback()  # reading the version table autobegins; don't hold a transaction open
    return rev


def current(url: str | Engine | None = None) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    with _connect(url) as conn:
        return _current_on(conn)


def include_for(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` hook for a database of `dialect`: leaves out what the models
    declare for other dialects only (`Index(...).ddl_if(dialect=...)`, which `create_all` skips
    there too), so autogenerate and the schema check do not ask for it."""

    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        if ddl_if is None or ddl_if.dialect is None:
            return True
        wanted = ddl_if.dialect
        return dialect == wanted if isinstance(wanted, str) else dialect in wanted

    return include


def check_head(url: str | Engine | None = None) -> bool:
    return current(url) == head()


def _autogenerate(message: str) -> None:
    """Developer tool: write a new revision from the difference between head and models.py."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                cfg = alembic_config(conn)
                existing = len(list(ScriptDirectory.from_config(cfg).walk_revisions()))
                command.revision(cfg, message=message, autogenerate=True, rev_id=f"{existing + 1:04d}")
        finally:
            engine.dispose()


if __name__ == "__main__":  # python -m storage.migrate revision -m "message"
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "revision" and args[1] == "-m":
        _autogenerate(args[2])
    else:
        print('usage: python -m storage.migrate revision -m "what changed"', file=sys.stderr)
        sys.exit(2)

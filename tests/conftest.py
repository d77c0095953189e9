"""Database fixtures shared by the whole suite: every storage test runs on SQLite and PostgreSQL.

Fixtures
--------
db_backend    "sqlite" | "postgres" (the parameter; tests using any fixture below run twice).
db_url        URL of this backend's test database, migrated to head once per test session and
              emptied (all tables, ids restarted) before each test. Safe to hand to a subprocess.
engine        Engine on `db_url` (shared for the session; at head; tables empty at test start).
session       sqlmodel Session on `engine`; closed (uncommitted work rolled back) after the test.
empty_db_url  A brand-new EMPTY database (no tables) for this test only: migration tests.

PostgreSQL: the server from env GRIDBOT_TEST_PG_URL (default postgresql://postgres@127.0.0.1/test)
is used to CREATE a uniquely named database per test session (gridbot_test_<random>), dropped at
the end. If the server is unreachable the postgres half is skipped — or fails loudly when env CI
is set, so CI never silently tests SQLite only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlmodel import Session, SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage import sqlite_library
from storage.db import make_engine, resolve_url
from storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get("GRIDBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")

# As `gridbot` does at start (storage/sqlite_library.py): before any test opens a connection.
sqlite_library.tune()


class _PgServer:
    """Creates and drops test databases through the admin database; remembers reachability."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url: URL = resolve_url(admin_url)
        self.created: list[str] = []
        self._admin: Engine | None = None
        self.error: str | None = None

    def admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
            )
        return self._admin

    def reachable(self) -> bool:
        if self.error is not None:
            return False
        try:
            with self.admin().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return False
        return True

    def create_database(self) -> str:
        name = f"gridbot_test_{uuid.uuid4().hex[:12]}"
        with self.admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = resolve_url(url).database
        with self.admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop_database(self.admin_url.set(database=name).render_as_string(hide_password=False))
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session")
def _pg_server() -> Iterator[_PgServer]:
    server = _PgServer(PG_ADMIN_URL)
    yield server
    server.close()


def _require_pg(server: _PgServer) -> None:
    if server.reachable():
        return
    message = f"PostgreSQL unreachable at {resolve_url(PG_ADMIN_URL).render_as_string()}: {server.error}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: the postgres half of the suite must run)", pytrace=False)
    pytest.skip(message)


class _TestDatabase:
    """One migrated database per backend per test session, wiped between tests."""

    def __init__(self, url: str, backend: str) -> None:
        self.url = url
        self.backend = backend
        upgrade(url)
        self.engine = make_engine(url)

    def wipe(self) -> None:
        tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
        with self.engine.begin() as conn:
            if self.backend == "postgres":
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))  # a leaked transaction must not hang us
                quoted = ", ".join(f'"{t}"' for t in tables)
                conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:  # children first, so foreign keys stay satisfied
                    conn.execute(text(f'DELETE FROM "{table}"'))


class _Databases:
    """Created lazily: a run that touches only SQLite never connects to PostgreSQL."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, pg: _PgServer) -> None:
        self._tmp = tmp_path_factory
        self._pg = pg
        self._dbs: dict[str, _TestDatabase] = {}

    def get(self, backend: str) -> _TestDatabase:
        if backend not in self._dbs:
            if backend == "sqlite":
                path: Path = self._tmp.mktemp("db") / "gridbot.sqlite3"
                self._dbs[backend] = _TestDatabase(f"sqlite:///{path}", backend)
            else:
                _require_pg(self._pg)
                self._dbs[backend] = _TestDatabase(self._pg.create_database(), backend)
        return self._dbs[backend]

    def close(self) -> None:
        for db in self._dbs.values():
            db.engine.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory, _pg_server: _PgServer) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory, _pg_server)
    yield dbs
    dbs.close()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(db_backend: str, _databases: _Databases) -> str:
    db = _databases.get(db_backend)
    db.wipe()
    return db.url


@pytest.fixture
def engine(db_url: str, db_backend: str, _databases: _Databases) -> Engine:
    return _databases.get(db_backend).engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path, _pg_server: _PgServer) -> Iterator[str]:
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    _require_pg(_pg_server)
    url = _pg_server.create_database()
    try:
        yield url
    finally:
        _pg_server.drop_database(url)

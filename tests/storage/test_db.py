"""storage.db: URL resolution, SQLite pragmas and transactions, PostgreSQL engine settings."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, select

import storage.db as storage_db
from storage.db import describe_url, make_engine, resolve_url, session_factory
from storage.migrate import upgrade
from storage.models import Community, GridRole, InboundMessage
from tests.conftest import _PgServer, _require_pg


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    upgrade(url)
    return make_engine(url)


def test_postgres_urls_use_psycopg3() -> None:
    assert resolve_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgres://u@h:5433/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_env_url_and_default_sqlite_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GRIDBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("GRIDBOT_DATA_DIR", str(tmp_path / "d"))
    assert resolve_url(None).database == str(tmp_path / "d" / "gridbot.sqlite3")
    monkeypatch.delenv("GRIDBOT_DATA_DIR")
    assert resolve_url(None).database == "data/gridbot.sqlite3"
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", "postgresql://bot:pw@db/grid")
    assert resolve_url(None).render_as_string(hide_password=False) == "postgresql+psycopg://bot:pw@db/grid"
    assert resolve_url("sqlite:///other.db").database == "other.db"  # the argument wins
    assert resolve_url("some/file.sqlite3").database == "some/file.sqlite3"


def test_describe_url_hides_password() -> None:
    shown = describe_url("postgresql://bot:s3cret@db.example/grid")
    assert "s3cret" not in shown and "bot:***@db.example" in shown
    assert describe_url("not a url ://").startswith("<")


def test_make_engine_creates_the_data_dir(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'g.sqlite3'}")
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    engine.dispose()
    assert (tmp_path / "new" / "dir" / "g.sqlite3").exists()


def test_sqlite_pragmas_are_set_on_every_connection(sqlite_engine: Engine) -> None:
    for _ in range(2):
        with sqlite_engine.connect() as conn:
            pragma = {n: conn.exec_driver_sql(f"PRAGMA {n}").scalar() for n in
                      ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")}  # fmt: skip
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}
        sqlite_engine.dispose()  # next round: a fresh connection


def test_sqlite_enforces_foreign_keys(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as s:
        s.add(GridRole(person_id=999, micro_grid_id=999, role="leader"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_sqlite_savepoint_rolls_back_inside_transaction(sqlite_engine: Engine) -> None:
    """The BEGIN hook: without it sqlite3 would not start a transaction before SAVEPOINT."""
    make = session_factory(sqlite_engine)
    with make() as s:
        s.add(Community(code="keep", name="留下"))
        with s.begin_nested():
            s.add(Community(code="keep", name="重复"))
            with pytest.raises(IntegrityError):
                s.flush()
        s.commit()
    with make() as s:
        assert [c.name for c in s.exec(select(Community))] == ["留下"]


def test_sqlite_rollback_undoes_ddl(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        conn.rollback()
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name='scratch'").all()
    assert names == []


def test_postgres_engine_settings() -> None:
    engine = make_engine("postgresql://u:p@127.0.0.1:1/none")  # no connection is made here
    assert engine.dialect.driver == "psycopg"
    assert not engine.pool._pre_ping  # storage.db pings only connections that sat idle
    engine.dispose()


@pytest.fixture
def pg_url(_pg_server: _PgServer) -> Iterator[str]:
    _require_pg(_pg_server)
    url = _pg_server.create_database()
    yield url
    _pg_server.drop_database(url)


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


@contextmanager
def _pooled_connection_killed(
    url: str, monkeypatch: pytest.MonkeyPatch, ping_idle_s: float
) -> Iterator[tuple[Engine, int]]:
    """An engine whose one pooled connection's server session has just been terminated (as by a
    firewall or a server restart), and that session's pid."""
    monkeypatch.setattr(storage_db, "PING_IDLE_S", ping_idle_s)
    engine = make_engine(url)
    try:
        lost = _backend_pid(engine)
        admin = make_engine(url)
        with admin.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({lost})").scalar_one()
        admin.dispose()
        time.sleep(0.1)  # the backend is gone; the pooled connection does not know it yet
        yield engine, lost
    finally:
        engine.dispose()


def test_a_postgres_connection_lost_while_idle_is_replaced_unnoticed(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _pooled_connection_killed(pg_url, monkeypatch, ping_idle_s=0.05) as (engine, lost):
        assert _backend_pid(engine) != lost  # the checkout's ping found it dead: a new one, no error


def test_a_postgres_connection_in_steady_use_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _pooled_connection_killed(pg_url, monkeypatch, ping_idle_s=60.0) as (engine, lost):
        # No round trip before use: the statement meets the dead connection and SQLAlchemy
        # empties the pool (the pipeline then does the message again: tests/workflow/
        # test_connection_loss.py); the next checkout connects anew.
        with pytest.raises(DBAPIError) as failed:
            _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert _backend_pid(engine) != lost


def test_session_factory_keeps_objects_readable(engine: Engine) -> None:
    with session_factory(engine)() as s:
        community = Community(code="c1", name="幸福里社区")
        s.add(community)
        s.commit()
    assert community.name == "幸福里社区" and community.id is not None


def test_json_columns_round_trip_through_orjson(engine: Engine) -> None:
    """Both backends: what a JSON column gets back equals what was written (CJK unescaped,
    integer keys made strings as json.dumps makes them), and the stored text is compact."""
    parsed = {"kind": "basic", "times": [{"phrase": "明天下午三点"}], 7: None, "building": 12}
    with Session(engine) as session:
        row = InboundMessage(
            platform_id=f"json-{uuid.uuid4()}",
            chat="group",
            sender_id="wx:a",
            text="x",
            parsed=parsed,
            received_at=datetime(2026, 11, 23, tzinfo=UTC),
        )
        session.add(row)
        session.commit()
        session.expire_all()
        stored = session.get(InboundMessage, row.id)
        assert stored is not None
        assert stored.parsed == {
            "kind": "basic",
            "times": [{"phrase": "明天下午三点"}],
            "7": None,
            "building": 12,
        }
        raw = session.execute(
            text("SELECT CAST(parsed AS TEXT) FROM inboundmessage WHERE id = :i"), {"i": row.id}
        )
        assert "明天下午三点" in raw.scalar_one()

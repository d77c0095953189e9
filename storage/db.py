"""Engines and sessions: one embedded SQLite file by default, PostgreSQL in production.

Which database:

1. the `url` argument (tests, `--url` on the command line), else
2. env `GRIDBOT_DATABASE_URL` (production: `postgresql://user:pass@host/db`), else
3. `$GRIDBOT_DATA_DIR/gridbot.sqlite3` (default data dir `./data`).

`postgresql://` and `postgres://` are rewritten to the psycopg 3 driver (`postgresql+psycopg://`),
the only PostgreSQL driver installed. A bare file path is taken as a SQLite file.
"""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.checkpoint import BACKSTOP_PAGES, Checkpointer

ENV_DATABASE_URL = "GRIDBOT_DATABASE_URL"
ENV_DATA_DIR = "GRIDBOT_DATA_DIR"
SQLITE_FILENAME = "gridbot.sqlite3"
PING_IDLE_S = 1.0  # a PostgreSQL connection unused this long is pinged before use (see _ping_when_idle)

# Applied on every new SQLite connection: these pragmas (except journal_mode) are per connection.
# WAL lets the dashboard read while the bot writes; NORMAL is durable enough under WAL and much
# faster than FULL; busy_timeout makes a second writer wait instead of failing at once.
SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    ("journal_mode", "WAL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "5000"),
    ("synchronous", "NORMAL"),
)


def default_sqlite_path() -> Path:
    return Path(os.environ.get(ENV_DATA_DIR) or "data") / SQLITE_FILENAME


def resolve_url(url: str | None = None) -> URL:
    """The URL to use (see the module docstring), with the driver normalised."""
    raw = url or os.environ.get(ENV_DATABASE_URL) or ""
    if not raw:
        return make_url(f"sqlite:///{default_sqlite_path()}")
    if "://" not in raw:  # a plain path: the embedded database somewhere else
        return make_url(f"sqlite:///{raw}")
    parsed = make_url(raw)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe_url(url: str | URL | None) -> str:
    """The URL with its password hidden, for logs and command output."""
    if url is None:
        return describe_url(resolve_url(None))
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return "<无效的数据库地址 / invalid database URL>"
    return parsed.render_as_string(hide_password=True)


def json_dumps(value: Any) -> str:
    """JSON columns' text (a message's parse summary, an outbox row's mention lists): orjson,
    ~0.5 µs a value where `json.dumps` took ~4 (measured on a parse summary), written for every
    message. Compact and UTF-8 rather than spaced and \\u-escaped; any JSON reader reads both.
    Integer keys become strings, as `json.dumps` makes them."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(
    url: str | None = None,
    *,
    sqlite_immediate: bool = False,
    sqlite_checkpointer: bool = False,
    echo: bool = False,
) -> Engine:
    """An engine for `url` (or the configured default), ready for the bot's access pattern.

    `sqlite_immediate`: start SQLite transactions with BEGIN IMMEDIATE, so concurrent writers queue
    on busy_timeout instead of failing when a read transaction upgrades to a write (SQLITE_BUSY is
    not retried for that case). Off by default because it also makes pure readers queue.
    `sqlite_checkpointer`: WAL checkpoints in a background thread instead of inside commits (see
    `storage.checkpoint`), for the service's long-lived engine; it stops with `engine.dispose()`.
    """
    parsed = resolve_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, immediate=sqlite_immediate, checkpointer=sqlite_checkpointer, echo=echo)
    engine = create_engine(
        parsed,
        echo=echo,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        pool_timeout=30,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection out only after a ping, if it sat unused for `PING_IDLE_S`.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: at 2,000 msg/s on PostgreSQL, one round
    trip a batch, about 6% of the pipeline's time. A connection is lost while it is idle (a
    firewall's timeout, a server restart in a quiet hour), so that is when to ask. A connection in
    steady use that dies with the server fails on its next statement instead: SQLAlchemy sees the
    disconnect and empties the pool, the pipeline does that message again on a new connection
    (`Pipeline.handle_message`), and the scheduler and the outbox sender retry as after any outage.
    A failed ping makes the pool reconnect (the documented DisconnectionError)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:  # the driver's own error types: any failure means reconnect
            raise DisconnectionError(f"pooled connection lost while idle: {exc}") from exc


def _sqlite_engine(parsed: URL, *, immediate: bool, checkpointer: bool, echo: bool) -> Engine:
    database = parsed.database or ""
    on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
    if on_disk:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo, json_serializer=json_dumps, json_deserializer=orjson.loads)
    begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    pragmas = SQLITE_PRAGMAS
    if checkpointer and on_disk:
        pragmas += (("wal_autocheckpoint", str(BACKSTOP_PAGES)),)
        _checkpoint_in_background(engine, Path(database).expanduser())

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Pragmas first, outside any transaction (foreign_keys is a no-op inside one). Then take
        # BEGIN away from the sqlite3 module: its legacy mode does not begin before DDL or
        # SAVEPOINT, which breaks transactional migrations and nested transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for name, value in pragmas:
                cursor.execute(f"PRAGMA {name}={value}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # On the driver connection: `exec_driver_sql` wrapped this one statement in SQLAlchemy's
        # execution machinery (events, a result object), ~20 µs of every transaction.
        connection.connection.driver_connection.execute(begin_sql)

    return engine


def _checkpoint_in_background(engine: Engine, path: Path) -> None:
    """Start a `Checkpointer` with the engine's first connection and stop it when the engine is
    disposed. (SQLAlchemy runs first_connect before the pragmas of `connect`; a round before the
    file is in WAL mode finds no log and does nothing.)"""

    @event.listens_for(engine, "first_connect")
    def _start(_dbapi_connection: Any, _record: Any) -> None:
        _checkpointers[engine] = Checkpointer(path).start()

    @event.listens_for(engine, "engine_disposed")
    def _stop(_engine: Any) -> None:
        running = _checkpointers.pop(engine, None)
        if running is not None:
            running.stop()


_checkpointers: weakref.WeakKeyDictionary[Engine, Checkpointer] = weakref.WeakKeyDictionary()


def checkpointer_of(engine: Engine) -> Checkpointer | None:
    """The engine's running background checkpointer, if it has one (for tests and health)."""
    return _checkpointers.get(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for units of work. Objects are not expired on commit, so a caller can still read
    what it wrote (to compose a reply, say) without a second round trip."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)

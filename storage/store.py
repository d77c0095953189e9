"""The store: every query and write the workflow makes, over one SQLAlchemy session.

One Store lives for one unit of work (one inbound message, one scheduled job run, or a batch of
messages under group commit); the caller commits. Inserts that must happen once (inbound dedupe,
outbox dedupe keys, points) use INSERT … ON CONFLICT DO NOTHING so a duplicate costs no exception
and no rollback.

Hot-path statements are compiled once by SQLAlchemy and run on the driver connection
(storage/fastsql.py): no ORM object is built or flushed for a row nobody reads back, and no
per-call SQLAlchemy work is paid for the few statements every message makes.

A Store made with `deferred=True` (the pipeline's group commit) queues the write-only rows —
inbound records, outbox, points, ticket events, patrol entries, alerts, and a record's later
patrol reports in the batch (`add_patrol_report`) — and sends each table's
queue as one executemany in `flush_writes()` (one PostgreSQL pipeline for all of them), called
before commit and before any read of those tables. Inbound records get ids reserved up front
(`reserve_inbound_ids`) so handlers can cite them at once: the keys citing them are checked at
commit (INITIALLY DEFERRED, migration 0010). On PostgreSQL the batch's senders' open requests are read once
(`expect_senders`), where SQLite probes an index per request.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic_core import PydanticUndefined
from sqlalchemy import (
    ClauseElement,
    Connection,
    Insert,
    Table,
    TextualSelect,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col, select

from handlers.events import MessageReceived, Outbound
from storage import fastsql
from storage.cache import RosterCache, detached_copy
from storage.models import (
    CompGrid,
    GridRole,
    InboundMessage,
    Incident,
    IncidentAlert,
    JobRun,
    MicroGrid,
    OutboxMessage,
    PatrolEntry,
    PatrolReport,
    Person,
    PointsEntry,
    Supervisor,
    Ticket,
    TicketEvent,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

OPEN_TICKET_STATES = ("open", "accepted", "suspended")


class DeferredWriteConflict(RuntimeError):
    """A queued insert-once row was already there: the caller was told it was new. Redo the work
    without deferral (the pipeline re-runs the batch one message at a time)."""


@dataclass(frozen=True, slots=True)
class PatrolMark:
    """A grid's patrol record for a day after one more report was added to it."""

    id: int
    day: date
    status: str
    first: bool  # this was the first report of the day (the record did not exist before)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


def _dialect_insert(table: Table, dialect: str) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


@functools.cache
def _insert_once_stmt(
    model: type[SQLModel], dialect: str, conflict: tuple[str, ...], returning: bool = True
) -> Insert:
    table = _table(model)
    stmt = _dialect_insert(table, dialect).on_conflict_do_nothing(index_elements=list(conflict))
    return stmt.returning(table.c.id) if returning else stmt


@functools.cache
def _insert_stmt(model: type[SQLModel], returning_id: bool) -> Insert:
    table = _table(model)
    return insert(table).returning(table.c.id) if returning_id else insert(table)


@functools.cache
def _table_ranks() -> dict[str, int]:
    return {table.name: rank for rank, table in enumerate(SQLModel.metadata.sorted_tables)}


@functools.cache
def _parent_tables_of(table_name: str) -> frozenset[str]:
    """The tables a table's rows reference by foreign key."""
    table = SQLModel.metadata.tables[table_name]
    return frozenset(fk.column.table.name for fk in table.foreign_keys)


def _parent_tables(model: type[SQLModel]) -> frozenset[str]:
    return _parent_tables_of(_table(model).name)


def _table_rank(stmt: Insert) -> int:
    """Where an insert's table comes in foreign-key order (referenced tables first)."""
    return _table_ranks()[stmt.table.name]


_Defaults = tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...]]


@functools.cache
def _model_defaults(model: type[SQLModel]) -> _Defaults:
    """A model's field defaults (plain values, factories), for rows written without the ORM."""
    plain: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    for name, info in model.model_fields.items():
        if name == "id":
            continue
        if info.default_factory is not None:
            factories.append((name, info.default_factory))  # type: ignore[arg-type]
        elif info.default is not PydanticUndefined:
            plain[name] = info.default
    return plain, tuple(factories)


def _row(model: type[SQLModel], values: dict[str, Any]) -> dict[str, Any]:
    """`values` completed with the model's defaults, as the ORM would have inserted them."""
    plain, factories = _model_defaults(model)
    row = {**plain, **values}
    for name, factory in factories:
        if name not in row:
            row[name] = factory()
    return row


@functools.cache
def _patrol_upsert_stmt(
    dialect: str, severity: tuple[tuple[str, int], ...], returning: bool = True
) -> Insert:
    """One day's patrol record: created by the first report, raised to the most serious status
    after (a record already marked missed stays missed), counted and summarised by every report.
    Without `returning`: the form a batch queues once it knows the record (`add_patrol_report`)."""
    table = _table(PatrolReport)
    ins = _dialect_insert(table, dialect)
    new = ins.excluded
    ranks = dict(severity)

    def rank(column: Any) -> Any:
        return case(ranks, value=column, else_=0)

    upsert = ins.on_conflict_do_update(
        index_elements=["micro_grid_id", "day"],
        set_={
            "status": case(
                (and_(table.c.status != "missed", rank(new.status) > rank(table.c.status)), new.status),
                else_=table.c.status,
            ),
            "entries": table.c.entries + 1,
            "updated_at": new.updated_at,
            "summary": case(
                (or_(new.status != "zero", table.c.summary == ""), new.summary), else_=table.c.summary
            ),
        },
    )
    return upsert.returning(table.c.id, table.c.day, table.c.status, table.c.entries) if returning else upsert


# Built once, run on the driver connection: the "one reminder an hour" probe (`enqueue(may_exist)`)
# went through the ORM's autoflush and query machinery, ~1 ms a probe.
_OUTBOX_KEY = select(OutboxMessage.id).where(col(OutboxMessage.dedupe_key) == bindparam("key", None)).limit(1)

# Built once: the repeat check runs for every request (see storage/fastsql.py). The parameters
# carry a None value only so the IN list can be rendered into plain parameters at compile time.
_SAME_OPEN_REQUEST = (
    select(Ticket.id)
    .where(
        col(Ticket.reporter_id) == bindparam("reporter", None),
        col(Ticket.masked_text) == bindparam("text", None),
        col(Ticket.status).in_(OPEN_TICKET_STATES),
        col(Ticket.created_at) >= bindparam("since", None, type_=_table(Ticket).c.created_at.type),
    )
    .order_by(col(Ticket.id).desc())
    .limit(1)
)
# SQLite: the same by the (reporter_id, masked_text) index, named because without statistics
# SQLite's planner prefers (reporter_id, created_at) and reads every ticket of the day.
_SAME_OPEN_REQUEST_SQLITE = (
    text(
        "SELECT id FROM ticket INDEXED BY ix_ticket_reporter_text"
        " WHERE reporter_id = :reporter AND masked_text = :text"
        f" AND status IN ({', '.join(repr(s) for s in OPEN_TICKET_STATES)}) AND created_at >= :since"
        " ORDER BY id DESC LIMIT 1"
    )
    .bindparams(bindparam("since", type_=_table(Ticket).c.created_at.type))
    .columns(_table(Ticket).c.id)
)


_TICKET_BY_ID = select(*_table(Ticket).columns).where(_table(Ticket).c.id == bindparam("id", None))
_TICKET_COLUMNS = tuple(c.name for c in _table(Ticket).columns)
_TICKET_MANAGER = sa_inspect(Ticket).class_manager  # builds Ticket objects as row loading does

_PERSON = _table(Person)


def contact_key(contact_id: str) -> tuple[str, str]:
    """The roster cache's key for the person behind a chat contact (None cached: no one yet)."""
    return ("contact", contact_id)


def room_key(room_id: str) -> tuple[str, str]:
    """The roster cache's key for the micro-grid a group chat is bound to."""
    return ("room", room_id)


_PERSON_BY_CONTACT = select(*_PERSON.columns).where(_PERSON.c.wechat_id == bindparam("contact", None))
_PERSON_BOOLS = frozenset(c.name for c in _PERSON.columns if c.type.python_type is bool)


def _person_fields(row: Sequence[Any]) -> dict[str, Any]:
    """A raw `person` row as Person's fields (SQLite gives 0/1 for booleans)."""
    return {
        c.name: bool(v) if c.name in _PERSON_BOOLS else v for c, v in zip(_PERSON.columns, row, strict=True)
    }


def _open_requests_stmt() -> TextualSelect:
    """PostgreSQL: open tickets since :since whose reporter is one of the contact ids in the
    array :contacts. SQLite asks per request instead (`Store.same_open_request`).

    Written out for the join order: from the few senders (unique wechat_id index) to each one's
    tickets of the window (ix_ticket_reporter_created). Planning on its own, PostgreSQL hashed
    every open ticket of the window, which grows with the backlog; a LATERAL sub-select that
    OFFSET 0 keeps from being flattened into the plain join holds it to the senders, and another
    with LIMIT 1 makes each sender one probe of person's wechat_id index. The senders
    come as one array, not an IN list of their count: one statement text, which psycopg prepares
    once. With a list, every batch size was a statement of its own, parsed and planned anew:
    0.3 ms of the server's time in each batch's opening round trip.
    """
    ticket = _table(Ticket)
    states = ", ".join(f"'{state}'" for state in OPEN_TICKET_STATES)
    sql = (
        "SELECT t.id, t.reporter_id, t.masked_text, t.created_at"
        " FROM unnest(CAST(:contacts AS varchar[])) AS c(wechat_id)"
        " CROSS JOIN LATERAL (SELECT id FROM person WHERE wechat_id = c.wechat_id LIMIT 1) AS p"
        " CROSS JOIN LATERAL"
        f" (SELECT * FROM ticket AS t WHERE t.reporter_id = p.id AND t.status IN ({states})"
        " AND t.created_at >= :since OFFSET 0) AS t"
    )
    return (
        text(sql)
        .bindparams(bindparam("contacts"), bindparam("since", type_=ticket.c.created_at.type))
        .columns(ticket.c.id, ticket.c.reporter_id, ticket.c.masked_text, ticket.c.created_at)
    )


_OPEN_REQUESTS = _open_requests_stmt()


REQUESTS_SLACK = timedelta(hours=1)  # loaded a little further back: later messages ask for less


@dataclass(slots=True)
class _OpenRequests:
    """Open tickets by (reporter, text), loaded for a batch's senders and kept current by it."""

    since: datetime
    # A loaded row keeps created_at as the driver gave it (SQLite: text) and is converted only
    # when its text matches: a batch loads many rows and asks about a few.
    convert: Callable[[Any], Any] | None = None
    by_text: dict[tuple[int, str], list[tuple[int, Any]]] = field(default_factory=dict)

    def add(self, reporter_id: int, masked_text: str, ticket_id: int, created_at: Any) -> None:
        self.by_text.setdefault((reporter_id, masked_text), []).append((ticket_id, created_at))

    def find(self, reporter_id: int, masked_text: str, since: datetime) -> int | None:
        ids = [t for t, at in self.by_text.get((reporter_id, masked_text), ()) if self._at(at) >= since]
        return max(ids) if ids else None

    def _at(self, value: Any) -> datetime:
        if isinstance(value, datetime) or self.convert is None:
            return cast(datetime, value)
        return cast(datetime, self.convert(value))


def _open_requests_from(
    since: datetime, prepared: fastsql.Prepared, rows: Iterable[Sequence[Any]]
) -> _OpenRequests:
    found = _OpenRequests(since, convert=prepared.results[3])
    for ticket_id, reporter_id, masked_text, created_at in rows:
        found.add(reporter_id, masked_text, ticket_id, created_at)
    return found


# The batch's grids' patrol records of the day, if there are any yet, locked as the upsert of a
# report would lock them (in id order, so that two writers cannot each hold one the other wants).
_PATROLS_POSTGRESQL = (
    "SELECT id, micro_grid_id, day, status FROM patrolreport"
    " WHERE (micro_grid_id, day) IN (SELECT * FROM unnest(%s::int[], %s::date[]))"
    " ORDER BY id FOR NO KEY UPDATE"
)
_RESERVE_INBOUND_POSTGRESQL = (
    "SELECT nextval(pg_get_serial_sequence('inboundmessage', 'id')) FROM generate_series(1, %s)"
)


def _by_account(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(account, platform id) pairs as each account's distinct platform ids."""
    by_account: dict[str, list[str]] = {}
    for account, platform_id in set(keys):
        by_account.setdefault(account, []).append(platform_id)
    return by_account


def seen_query(dialect: str, account: str, ids: Sequence[str]) -> tuple[str, Sequence[Any]]:
    """SQL and parameters: which of `ids` the account has recorded (for `Store.inbound_seen`).

    PostgreSQL: the LIMIT keeps the sub-select a per-id probe of the unique index. Given
    `platform_id = ANY(…)` the planner read every row of the account instead (a bitmap scan on the
    account alone without statistics, a seq scan with them): 20 ms a batch after 20,000 messages.
    """
    if dialect == "postgresql":
        sql = (
            "SELECT u.platform_id FROM unnest(%s::varchar[]) AS u(platform_id) CROSS JOIN LATERAL"
            " (SELECT 1 FROM inboundmessage AS m WHERE m.account = %s AND m.platform_id = u.platform_id"
            " LIMIT 1) AS hit"
        )
        return sql, (list(ids), account)
    marks = ",".join("?" * len(ids))
    sql = f"SELECT platform_id FROM inboundmessage WHERE account = ? AND platform_id IN ({marks})"
    return sql, (account, *ids)


class Store:
    def __init__(self, session: Session, cache: RosterCache | None = None, *, deferred: bool = False) -> None:
        self.session = session
        # Without a cache every look-up goes to the database (scripts, tests that edit the roster).
        self.cache = cache
        self.deferred = deferred
        # Queued write-only rows, per statement, in arrival order; `_expect` is how many rows each
        # insert-once statement must insert (all of them: the caller was told they were new).
        self._queued: dict[Insert, list[dict[str, Any]]] = {}
        self._expect_all: set[Insert] = set()
        self._queued_keys: set[str] = set()  # `may_exist` outbox keys queued in this unit of work
        self._inbound_ids: list[int] = []  # ids reserved for this batch's inbound rows (deferred)
        # A batch: the queued parents (inbound records) may wait, their citing keys being
        # checked at commit (storage.models._message_fk); no other queued table is a parent.
        self._fk_deferred = False
        # The session's connection for its current transaction (see `_connection`).
        self._tx: SessionTransaction | None = None
        self._tx_connection: Connection | None = None
        # A batch's senders (`expect_senders`) and, once asked, their open requests: the repeat
        # check then needs no query per request. None: not loaded, or invalid (a ticket changed).
        self._senders: frozenset[str] = frozenset()
        self._requests: _OpenRequests | None = None
        # Deferred: the patrol records this unit of work has written, as they now are. The first
        # report of a grid and day goes to the database (the record's id is needed); later ones
        # in the same batch are queued, their outcome known here: the upsert's row lock, held
        # until commit, keeps anyone else from changing the record meanwhile.
        self._patrols: dict[tuple[int, date], PatrolMark] = {}
        # PostgreSQL: (grid, day) pairs whose records `open_batch` loads and locks up front
        # (`expect_patrols`), so even a grid's first report in the batch is queued.
        self._patrol_keys_of: Callable[[], Iterable[tuple[int, date]]] | None = None

    def cached(self, key: Hashable, load: Callable[[], T]) -> T:
        """A roster-derived fact from the process cache (loaded on a miss; always without one)."""
        return load() if self.cache is None else self.cache.get(key, load)

    def _forget(self, key: Hashable | None = None) -> None:
        """Drop one cached fact (or all of them) after this process changed it."""
        if self.cache is not None:
            if key is None:
                self.cache.clear()
            else:
                self.cache.forget(key)

    # -- generic -------------------------------------------------------------------------------

    def _connection(self) -> Connection:
        """`session.connection()`, remembered for the transaction it belongs to: the session's
        call walks its transaction state machine each time (~6 µs), several times a message."""
        tx = self.session.get_transaction()
        if tx is not None and tx is self._tx and tx.is_active and self._tx_connection is not None:
            return self._tx_connection
        connection = self.session.connection()
        self._tx, self._tx_connection = self.session.get_transaction(), connection
        return connection

    def _insert_once(
        self, model: type[SQLModel], values: dict[str, Any], conflict: Sequence[str]
    ) -> int | None:
        """Insert a row unless one with the same `conflict` columns exists; return its new id or None."""
        connection = self._connection()
        dialect, key = connection.dialect.name, tuple(conflict)
        plain = _insert_once_stmt(model, dialect, key, False)
        return self._new_id(connection, plain, _insert_once_stmt(model, dialect, key), _row(model, values))

    def _new_id(
        self, connection: Connection, plain: ClauseElement, returning: ClauseElement, row: dict[str, Any]
    ) -> int | None:
        """Insert `row`; its new id, or None when nothing was inserted (ON CONFLICT DO NOTHING).
        SQLite runs `plain` and reads the id from the cursor (see fastsql.insert_rowid: RETURNING
        costs it more than the insert); PostgreSQL runs `returning`."""
        if connection.dialect.name == "sqlite":
            return fastsql.insert_rowid(connection, fastsql.prepare(plain, connection, row.keys()), row)
        rows = self._run(connection, returning, row)
        return int(rows[0][0]) if rows else None

    @staticmethod
    def _run(connection: Connection, stmt: ClauseElement, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """One hot-path statement on the driver connection (see storage/fastsql.py)."""
        return fastsql.execute(connection, fastsql.prepare(stmt, connection, values.keys()), values)

    def _insert(self, model: type[SQLModel], values: dict[str, Any]) -> int:
        """Insert one row now (model defaults filled in); return its id."""
        self._flush_parents(model)
        row = _row(model, values)
        new_id = self._new_id(self._connection(), _insert_stmt(model, False), _insert_stmt(model, True), row)
        if new_id is None:
            raise RuntimeError(f"insert into {model.__name__} gave no row id")
        return new_id

    def _write(self, model: type[SQLModel], values: dict[str, Any]) -> None:
        """Insert a row nobody reads back in this unit of work: now, or queued when deferred."""
        stmt = _insert_stmt(model, False)
        row = _row(model, values)
        if self.deferred:
            self._queued.setdefault(stmt, []).append(row)
        else:
            self._run(self._connection(), stmt, row)

    def _write_once(
        self, model: type[SQLModel], values: dict[str, Any], conflict: Sequence[str], expect_new: bool
    ) -> bool:
        """Insert-once. Deferred, the row is queued and reported new; with `expect_new` that is
        checked when it is sent (a count in `flush_writes` on SQLite, a unique violation on
        PostgreSQL), else a repeat is silently dropped there."""
        if not self.deferred:
            return self._insert_once(model, values, conflict) is not None
        connection = self._connection()
        if expect_new and connection.dialect.name == "postgresql":
            # Reported new, so inserted plainly: a row stored meanwhile by another writer fails
            # the insert (a unique violation) rather than being counted afterwards, and the
            # batch's COMMIT can travel in the same pipeline as its rows (`commit`).
            stmt = _insert_stmt(model, False)
        else:
            stmt = _insert_once_stmt(model, connection.dialect.name, tuple(conflict), returning=False)
        self._queued.setdefault(stmt, []).append(_row(model, values))
        if expect_new:
            self._expect_all.add(stmt)
        return True

    def _flush_parents(self, model: type[SQLModel]) -> None:
        """Send the queued rows a row of `model` may reference (its inbound record, its ticket),
        so the row can be written now; other queues keep waiting for the batch's commit."""
        if not self._queued or self._fk_deferred:
            return
        parents = _parent_tables(model)
        if any(stmt.table.name in parents for stmt in self._queued):
            self.flush_writes(parents)

    def flush_writes(self, tables: frozenset[str] | None = None) -> None:
        """Send the queued rows (of `tables`, default all), one executemany per statement. Raises
        DeferredWriteConflict when an insert-once row that was reported new turns out to exist."""
        if not self._queued:
            return
        if tables is None:
            queued, self._queued = self._queued, {}
        else:  # only these; a queued parent of theirs (a ticket's inbound record) goes too
            wanted = tables | {name for t in tables for name in _parent_tables_of(t)}
            queued = {s: r for s, r in self._queued.items() if s.table.name in wanted}
            self._queued = {s: r for s, r in self._queued.items() if s not in queued}
        self._send(queued)

    def commit(self) -> None:
        """End the unit of work: the queued rows, then COMMIT.

        PostgreSQL sends the COMMIT in the pipeline of the rows, one round trip where there were
        two (a batch of ten messages at 2,000 msg/s made about a dozen). Whatever fails there
        (a row another writer stored, which `_write_once` inserts plainly there, or a deferred
        foreign key) raises before anything counts the batch done, as a separate commit would."""
        connection = self._connection()
        if connection.dialect.name != "postgresql" or not self._queued:
            self.flush_writes()
            self.session.commit()
            return
        self.session.flush()  # the ORM's pending changes belong before the COMMIT
        queued, self._queued = self._queued, {}
        self._send(queued, commit=True)
        self.session.commit()  # the session's own ending: the driver has no transaction to commit

    def _send(self, queued: dict[Insert, list[dict[str, Any]]], *, commit: bool = False) -> None:
        connection = self._connection()
        # Parents before children (inbound records before the entries and tickets citing them),
        # whatever order the queues were started in.
        ordered = sorted(queued.items(), key=lambda item: _table_rank(item[0]))
        # All rows of one statement have the same keys: `_row` completes them all alike.
        batches = [(fastsql.prepare(stmt, connection, rows[0]), rows) for stmt, rows in ordered]
        counts = fastsql.execute_batches(connection, batches, commit=commit)
        for (stmt, rows), inserted in zip(ordered, counts, strict=True):
            if stmt in self._expect_all and inserted != len(rows):
                raise DeferredWriteConflict(f"{len(rows) - inserted} of {len(rows)} rows existed")

    def add(self, obj: SQLModel) -> None:
        if isinstance(obj, Ticket):
            self._requests = None  # a status may have changed: ask the database from now on
        self._flush_parents(type(obj))
        self.session.add(obj)
        self.session.flush()

    # -- inbound -------------------------------------------------------------------------------

    def reserve_inbound_ids(self, count: int) -> None:
        """Take ids for the next `count` inbound records, so a batch can queue its inserts (sent as
        one executemany before commit) and still tell handlers each record's id at once.

        PostgreSQL: from the table's sequence (safe with other writers). SQLite: after the largest
        id; the service's BEGIN IMMEDIATE makes this transaction the only writer. Without it a
        concurrent insert makes the batch fail on the primary key and re-run one message at a time.
        """
        if count <= 0:
            return
        connection = self._connection()
        raw = fastsql.driver(connection)
        if connection.dialect.name == "postgresql":
            self._take_inbound_ids([int(i) for (i,) in raw.execute(_RESERVE_INBOUND_POSTGRESQL, (count,))])
        else:
            (top,) = raw.execute("SELECT coalesce(max(id), 0) FROM inboundmessage").fetchone()
            self._take_inbound_ids(list(range(int(top) + 1, int(top) + 1 + count)))

    def _take_inbound_ids(self, ids: list[int]) -> None:
        ids.reverse()  # popped from the end, in order
        self._inbound_ids = ids

    def insert_inbound(self, event: MessageReceived, text: str, **fields: Any) -> int | None:
        """Record an inbound message; None when this platform id was seen before (a duplicate).

        `fields` are further columns known at insert time (kind, masked_text, parsed, person_id...).
        With ids reserved (a deferred batch whose ids were checked new) the row is queued and its
        reserved id returned; `flush_writes` raises DeferredWriteConflict if it turns out stored.
        """
        values = self._inbound_values(event, text, fields)
        if self.deferred and self._inbound_ids:
            values["id"] = self._inbound_ids.pop()
            self._write_once(InboundMessage, values, ("account", "platform_id"), expect_new=True)
            return int(values["id"])
        return self._insert_once(InboundMessage, values, ("account", "platform_id"))

    @staticmethod
    def _inbound_values(event: MessageReceived, text: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            **fields,
            "account": event.account,
            "platform_id": event.message_id,
            "chat": str(event.chat),
            "room_id": event.room_id,
            "sender_id": event.sender_id,
            "text": text,
            "received_at": event.at,
            "image_path": event.image_path,
            "parsed": fields.get("parsed", {}),
        }

    def inbound_seen(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (account, platform id) pairs are recorded already: a batch's dedupe in one query."""
        if not keys:
            return set()
        connection = self._connection()
        raw, dialect = fastsql.driver(connection), connection.dialect.name
        seen: set[tuple[str, str]] = set()
        # Per account, one probe of the (account, platform_id) unique index per id. Plain SQL: an
        # OR of SQLAlchemy expressions cost ~10 ms to build.
        for account, ids in _by_account(keys).items():
            rows = raw.execute(*seen_query(dialect, account, ids)).fetchall()
            seen.update((account, platform_id) for (platform_id,) in rows)
        return seen

    def open_batch(
        self,
        keys: Sequence[tuple[str, str]],
        requests_since: datetime | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> set[tuple[str, str]]:
        """Start a deferred batch of messages: which of `keys` are recorded already
        (`inbound_seen`), and ids reserved for the new ones (`reserve_inbound_ids`).

        On PostgreSQL the statements go to the server in one pipeline, with the transaction's
        BEGIN: one round trip instead of one each. At 2,000 msg/s the loop takes batches of a
        handful of messages, and those round trips were a fifth of such a batch's time. Ids
        are reserved for every key, as the reservation cannot wait for the answer: a duplicate's
        id stays unused, a gap in the sequence that nothing reads. Given `requests_since` (and the
        senders, `expect_senders`), the senders' open requests since then go in the same pipeline,
        for `same_open_request`: nearly every batch asks, and it was a round trip of its own.

        `meanwhile`, work of the caller's that needs none of the answers (the batch's parsing),
        runs while that round trip is out: the statements are on the wire when queued, so the
        server runs them on its own core as this one parses."""
        connection = self._connection()
        if connection.dialect.name != "postgresql":
            seen = self.inbound_seen(keys)
            self.reserve_inbound_ids(len(set(keys) - seen))
            self._fk_deferred = True
            if meanwhile is not None:
                meanwhile()
            return seen
        raw = fastsql.driver(connection)
        unique = set(keys)
        since = requests_since - REQUESTS_SLACK if requests_since is not None and self._senders else None
        patrol_keys = sorted(set(self._patrol_keys_of())) if self._patrol_keys_of is not None else []
        with raw.pipeline():  # results can be read once it has synced, after the block
            probes = [
                (account, raw.execute(*seen_query("postgresql", account, ids)))
                for account, ids in _by_account(unique).items()
            ]
            reserved = raw.execute(_RESERVE_INBOUND_POSTGRESQL, (len(unique),))
            if since is not None:
                prepared, values = self._open_requests_query(connection, since)
                requests = raw.execute(prepared.sql, prepared.bind(values))
            if patrol_keys:
                grids, days = [g for g, _ in patrol_keys], [d for _, d in patrol_keys]
                patrols = raw.execute(_PATROLS_POSTGRESQL, (grids, days))
            if meanwhile is not None:
                meanwhile()
        if since is not None:
            self._requests = _open_requests_from(since, prepared, requests.fetchall())
        if patrol_keys:
            for report_id, grid_id, day, status in patrols.fetchall():
                self._patrols[(grid_id, day)] = PatrolMark(id=report_id, day=day, status=status, first=False)
        self._fk_deferred = True
        self._take_inbound_ids([int(i) for (i,) in reserved.fetchall()])
        return {(account, platform_id) for account, cursor in probes for (platform_id,) in cursor.fetchall()}

    def inbound(self, inbound_id: int) -> InboundMessage | None:
        self.flush_writes()
        return self.session.get(InboundMessage, inbound_id)

    def last_grid_of_sender(self, sender_id: str) -> int | None:
        """The micro-grid whose group this contact last spoke in, if any."""
        self.flush_writes()
        stmt = (
            select(InboundMessage.micro_grid_id)
            .where(InboundMessage.sender_id == sender_id, col(InboundMessage.micro_grid_id).is_not(None))
            .order_by(col(InboundMessage.id).desc())
            .limit(1)
        )
        return self.session.exec(stmt).first()

    def inbound_by_platform_id(self, account: str, platform_id: str) -> InboundMessage | None:
        self.flush_writes()
        stmt = select(InboundMessage).where(
            InboundMessage.account == account, InboundMessage.platform_id == platform_id
        )
        return self.session.exec(stmt).first()

    # -- directory: grids and people -----------------------------------------------------------

    def grid(self, grid_id: int | None) -> MicroGrid | None:
        return None if grid_id is None else self.session.get(MicroGrid, grid_id)

    def comp_grid(self, comp_grid_id: int) -> CompGrid | None:
        return self.session.get(CompGrid, comp_grid_id)

    def grid_for_room(self, room_id: str | None, topic: str | None) -> MicroGrid | None:
        """The micro-grid a group chat belongs to: by its bound room id, else by topic (then bound)."""
        if self.cache is not None and room_id:
            grid = self.cache.get(room_key(room_id), lambda: self._grid_by_room_id(room_id))
            if grid is not None:
                return grid
        grid = self._grid_for_room(room_id, topic)
        if grid is not None and room_id:
            self.session.flush()
            self._forget(room_key(room_id))  # a new binding: forget the negative look-up
        return grid

    def _grid_by_room_id(self, room_id: str) -> MicroGrid | None:
        grid = self.session.exec(select(MicroGrid).where(MicroGrid.room_id == room_id)).first()
        return None if grid is None else detached_copy(grid)

    def _grid_for_room(self, room_id: str | None, topic: str | None) -> MicroGrid | None:
        if room_id:
            grid = self.session.exec(select(MicroGrid).where(MicroGrid.room_id == room_id)).first()
            if grid is not None:
                return grid
        if not topic:
            return None
        grid = self.session.exec(
            select(MicroGrid).where(MicroGrid.room_topic == topic, col(MicroGrid.room_id).is_(None))
        ).first()
        if grid is not None and room_id:
            grid.room_id = room_id  # first sight of this room: remember it, topics change
            self.add(grid)
        return grid

    def find_grid(self, text: str) -> MicroGrid | None:
        """A micro-grid by code, name or group topic (for #绑定)."""
        text = text.strip()
        if not text:
            return None
        stmt = select(MicroGrid).where(
            or_(col(MicroGrid.code) == text, col(MicroGrid.name) == text, col(MicroGrid.room_topic) == text)
        )
        return self.session.exec(stmt).first()

    def bind_room(self, grid: MicroGrid, room_id: str, topic: str | None) -> None:
        for other in self.session.exec(select(MicroGrid).where(MicroGrid.room_id == room_id)):
            other.room_id = None
            self.session.add(other)
        self.session.flush()
        grid.room_id = room_id
        if topic:
            grid.room_topic = topic
        self.add(grid)
        self._forget()

    def rename_room(self, room_id: str, new_topic: str) -> MicroGrid | None:
        grid = self.session.exec(select(MicroGrid).where(MicroGrid.room_id == room_id)).first()
        if grid is not None:
            grid.room_topic = new_topic
            self.add(grid)
            self._forget()
        return grid

    def person(self, person_id: int | None) -> Person | None:
        return None if person_id is None else self.session.get(Person, person_id)

    def person_by_contact(self, contact_id: str) -> Person | None:
        if self.cache is not None:
            return self.cache.get(contact_key(contact_id), lambda: self._person_by_contact(contact_id, True))
        return self._person_by_contact(contact_id, False)

    def _person_by_contact(self, contact_id: str, copy: bool) -> Person | None:
        # Raw first: most contacts asked about here are new (no row), and a copy needs no ORM.
        rows = self._run(self._connection(), _PERSON_BY_CONTACT, {"contact": contact_id})
        if not rows:
            return None
        if copy:
            return Person(**_person_fields(rows[0]))
        return self.session.get(Person, rows[0][0])

    def person_by_name(self, name: str) -> Person | None:
        stmt = select(Person).where(
            col(Person.is_resident).is_(False), or_(col(Person.name) == name, col(Person.wechat_name) == name)
        )
        return self.session.exec(stmt).first()

    def unbound_roster_person(self, display_name: str) -> Person | None:
        """A roster person with this WeChat name whose contact id is not known yet."""
        if display_name not in self.cached(("unbound names",), self._unbound_names):
            return None  # the common case (a resident), answered without a query
        stmt = select(Person).where(
            col(Person.is_resident).is_(False),
            col(Person.wechat_id).is_(None),
            or_(col(Person.wechat_name) == display_name, col(Person.name) == display_name),
        )
        return self.session.exec(stmt).first()

    def _unbound_names(self) -> frozenset[str]:
        """Names and WeChat names of roster people whose contact id is not known yet."""
        stmt = select(Person.name, Person.wechat_name).where(
            col(Person.is_resident).is_(False), col(Person.wechat_id).is_(None)
        )
        return frozenset(n for pair in self.session.exec(stmt) for n in pair if n)

    def bind_contact(self, person: Person, contact_id: str) -> None:
        person.wechat_id = contact_id
        self.add(person)
        self._forget(contact_key(contact_id))
        self._forget(("unbound names",))

    def ensure_resident(self, contact_id: str, display_name: str) -> Person:
        person = self._person_by_contact(contact_id, False)
        if person is not None:
            return person
        values: dict[str, Any] = {
            "code": f"res:{contact_id}"[:64],
            "name": display_name[:64] or "居民",
            "wechat_name": display_name[:128],
            "wechat_id": contact_id,
            "phone": "",
            "is_admin": False,
            "is_resident": True,
        }
        self._settle_deferred_rows()
        new_id = self._insert_once(Person, values, ("code",))
        if new_id is not None and self.cache is not None:
            # The row is what was just written: a detached copy of it, as the cache holds, spares
            # an ORM load (about half a millisecond); someone new holds no role anywhere either.
            created = Person(id=new_id, **values)
            self.cache.put(contact_key(contact_id), created)
            self.cache.put(("roles", new_id), [])
            self.cache.put(("supervisor", new_id), [])
            return created
        self._forget(contact_key(contact_id))
        found = (
            self._person_by_contact(contact_id, False) if new_id is None else self.session.get(Person, new_id)
        )
        assert found is not None
        return found

    def _settle_deferred_rows(self) -> None:
        """SQLite, in a deferred batch: send the queued rows before a person row goes in.

        Until they are in, a ticket written ahead of its queued inbound record is an outstanding
        deferred violation. While one is outstanding, SQLite looks up the rows citing each parent
        row inserted: for a person, those of every table citing people, inbound messages
        included, which have no index by person (migration 0009: every message wrote an entry
        there, for the rare first message of someone new). With nothing outstanding SQLite skips
        the look-up. PostgreSQL never makes it on insert, and a flush there is a round trip."""
        if self.deferred and self._queued and self._connection().dialect.name == "sqlite":
            self.flush_writes()

    def grid_roles(self, person_id: int) -> list[GridRole]:
        def load() -> list[GridRole]:
            rows = self.session.exec(select(GridRole).where(GridRole.person_id == person_id))
            return [detached_copy(r) for r in rows] if self.cache is not None else list(rows)

        return self.cached(("roles", person_id), load)

    def supervisor_rows(self, person_id: int) -> list[Supervisor]:
        def load() -> list[Supervisor]:
            rows = self.session.exec(select(Supervisor).where(Supervisor.person_id == person_id))
            return [detached_copy(r) for r in rows] if self.cache is not None else list(rows)

        return self.cached(("supervisor", person_id), load)

    def grid_staff(self, grid_id: int) -> list[tuple[Person, str]]:
        """(person, role) of a micro-grid's team, leaders first."""
        stmt = (
            select(Person, GridRole.role)
            .join(GridRole, col(GridRole.person_id) == Person.id)
            .where(GridRole.micro_grid_id == grid_id, col(GridRole.role).in_(("leader", "member")))
            .order_by(GridRole.role, col(Person.id))
        )
        return [(p, r) for p, r in self.session.exec(stmt)]

    def staff_of_grids(self, grid_ids: Sequence[int]) -> dict[int, list[tuple[Person, str]]]:
        """`grid_staff` for many grids in one query (the 16:00 chase covers thousands)."""
        out: dict[int, list[tuple[Person, str]]] = {grid_id: [] for grid_id in grid_ids}
        if not out:
            return out
        stmt = (
            select(GridRole.micro_grid_id, Person, GridRole.role)
            .join(GridRole, col(GridRole.person_id) == Person.id)
            .where(col(GridRole.micro_grid_id).in_(list(out)), col(GridRole.role).in_(("leader", "member")))
            .order_by(col(GridRole.micro_grid_id), col(GridRole.role), col(Person.id))
        )
        for grid_id, person, role in self.session.exec(stmt):
            out[grid_id].append((person, role))
        return out

    def grid_leader(self, grid_id: int) -> Person | None:
        return self.cached(("leader", grid_id), lambda: self._grid_leader(grid_id))

    def _grid_leader(self, grid_id: int) -> Person | None:
        staff = self.grid_staff(grid_id)
        leaders = [p for p, r in staff if r == "leader"] or [p for p, _ in staff]
        if not leaders:
            return None
        return detached_copy(leaders[0]) if self.cache is not None else leaders[0]

    def community_of_grid(self, grid: MicroGrid) -> int | None:
        def load() -> int | None:
            comp = self.comp_grid(grid.comp_grid_id)
            return None if comp is None else comp.community_id

        return self.cached(("community", grid.comp_grid_id), load)

    def supervisors_at(self, level: int, grid: MicroGrid | None, community_id: int | None) -> list[Person]:
        """Supervisors of one level responsible for a grid (level 1: its comprehensive grid)."""
        stmt = select(Person, Supervisor).join(Supervisor, col(Supervisor.person_id) == Person.id)
        stmt = stmt.where(Supervisor.level == level)
        if level == 1 and grid is not None:
            stmt = stmt.where(Supervisor.comp_grid_id == grid.comp_grid_id)
        elif community_id is not None:
            stmt = stmt.where(
                or_(col(Supervisor.community_id).is_(None), col(Supervisor.community_id) == community_id)
            )
        seen: dict[int, Person] = {}
        for person, _ in self.session.exec(stmt.order_by(col(Person.id))):
            assert person.id is not None
            seen.setdefault(person.id, person)
        return list(seen.values())

    def grids(self) -> list[MicroGrid]:
        return list(self.session.exec(select(MicroGrid).where(col(MicroGrid.active).is_(True))))

    # -- patrol --------------------------------------------------------------------------------

    def patrol(self, grid_id: int, day: date) -> PatrolReport | None:
        self.flush_writes()  # a batch's later reports of a record wait in the queue
        stmt = select(PatrolReport).where(PatrolReport.micro_grid_id == grid_id, PatrolReport.day == day)
        return self.session.exec(stmt).first()

    def patrols_on(self, day: date) -> list[PatrolReport]:
        self.flush_writes()
        return list(self.session.exec(select(PatrolReport).where(PatrolReport.day == day)))

    def add_patrol_report(
        self,
        grid_id: int,
        day: date,
        status: str,
        reporter_id: int | None,
        at: datetime,
        summary: str,
        severity: dict[str, int],
    ) -> PatrolMark:
        """Count one report into the grid's record for `day` (created by the first one); the record
        takes the most serious `status` by `severity`, except that a day marked missed stays so."""
        connection = self._connection()
        ranks = tuple(sorted(severity.items()))
        values = {
            "micro_grid_id": grid_id,
            "day": day,
            "status": status,
            "reporter_id": reporter_id,
            "summary": summary,
            "entries": 1,
            "first_at": at,
            "updated_at": at,
            "recalled": False,
        }
        known = self._patrols.get((grid_id, day))
        if known is not None:
            queued = _patrol_upsert_stmt(connection.dialect.name, ranks, False)
            self._queued.setdefault(queued, []).append(values)
            # as the upsert's CASE: a missed record stays missed, else the more serious status
            if known.status != "missed" and severity.get(status, 0) > severity.get(known.status, 0):
                known = PatrolMark(id=known.id, day=day, status=status, first=False)
            else:
                known = PatrolMark(id=known.id, day=day, status=known.status, first=False)
            self._patrols[(grid_id, day)] = known
            return known
        stmt = _patrol_upsert_stmt(connection.dialect.name, ranks)
        ((report_id, _, status, entries),) = self._run(connection, stmt, values)
        # entries == 1: this report created the record (a missed record starts at 0 entries).
        first = entries == 1 and status != "missed"
        mark = PatrolMark(id=int(report_id), day=day, status=status, first=first)
        if self.deferred:
            self._patrols[(grid_id, day)] = mark
        return mark

    def add_patrol_entry(
        self,
        report_id: int,
        message_id: int | None,
        person_id: int | None,
        kind: str,
        category: str | None,
        masked_text: str,
        at: datetime,
    ) -> None:
        self._write(
            PatrolEntry,
            {
                "report_id": report_id,
                "message_id": message_id,
                "person_id": person_id,
                "kind": kind,
                "category": category,
                "masked_text": masked_text,
                "at": at,
            },
        )

    def patrol_entries_of_message(self, inbound_id: int) -> list[PatrolEntry]:
        self.flush_writes()
        return list(self.session.exec(select(PatrolEntry).where(PatrolEntry.message_id == inbound_id)))

    # -- tickets -------------------------------------------------------------------------------

    def ticket(self, ticket_id: int) -> Ticket | None:
        """A ticket, attached to the session (changes to it are saved by `add`).

        Read on the driver connection and attached as a loaded object: `session.get` spent
        ~0.3 ms of ORM machinery on it, and every ticket command starts here.
        """
        loaded = self.session.identity_map.get(identity_key(Ticket, ticket_id))
        if loaded is not None:
            return loaded
        connection = self._connection()
        rows = fastsql.execute_typed(
            connection, fastsql.prepare(_TICKET_BY_ID, connection), {"id": ticket_id}
        )
        if not rows:
            return None
        # Built as the ORM builds a loaded row (`new_instance`, then its attribute dict): the
        # model's __init__ ran its field machinery for every column, ~100 µs of a status query.
        ticket = _TICKET_MANAGER.new_instance()
        ticket.__dict__.update(zip(_TICKET_COLUMNS, rows[0], strict=True))
        make_transient_to_detached(ticket)  # as if loaded: later changes are tracked as updates
        self.session.add(ticket)
        return ticket

    def open_ticket(self, **fields: Any) -> int:
        """Insert a new ticket (Ticket columns as keywords); return its id, the "R12" of replies."""
        ticket_id = self._insert(Ticket, fields)
        if self._requests is not None and fields.get("status", "open") in OPEN_TICKET_STATES:
            self._requests.add(fields["reporter_id"], fields["masked_text"], ticket_id, fields["created_at"])
        return ticket_id

    def add_ticket_event(
        self, ticket: Ticket | int, at: datetime, actor_id: int | None, action: str, note: str = ""
    ) -> None:
        ticket_id = ticket if isinstance(ticket, int) else ticket.id
        assert ticket_id is not None
        values = {"ticket_id": ticket_id, "at": at, "actor_id": actor_id, "action": action, "note": note}
        self._write(TicketEvent, values)

    def ticket_events(self, ticket_id: int) -> list[TicketEvent]:
        self.flush_writes()
        stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
        return list(self.session.exec(stmt))

    def expect_patrols(self, keys: Callable[[], Iterable[tuple[int, date]]]) -> None:
        """The (grid, day) patrol records this batch's reports may count into, asked for only
        where used. PostgreSQL loads and locks the existing ones with the batch's first round
        trip (`open_batch`): a report into one then costs none of its own, where the upsert that
        learns the record's id was a round trip for a fifth of all messages. SQLite has no round
        trip to save and does not ask."""
        self._patrol_keys_of = keys

    def expect_senders(self, contact_ids: Sequence[str]) -> None:
        """The contacts whose messages this unit of work handles (a batch): what the Store may
        load for all of them at once when first asked about one."""
        self._senders = frozenset(contact_ids)
        self._requests = None

    def same_open_request(self, person_id: int, masked_text: str, since: datetime) -> int | None:
        """The id of this reporter's open ticket with the same text opened since `since`, if any.

        PostgreSQL: from the batch's senders' tickets, loaded in one round trip when first asked.
        SQLite asks per request, by its (reporter_id, masked_text) index: no round trip to save,
        and a batch load reads every open ticket of the day of every sender (migration 0007)."""
        connection = self._connection()
        sqlite = connection.dialect.name == "sqlite"
        if not sqlite:
            if self._senders and self._requests is None:
                self._requests = self._load_open_requests(since - REQUESTS_SLACK)
            if self._requests is not None and since >= self._requests.since:
                return self._requests.find(person_id, masked_text, since)
        values = {"reporter": person_id, "text": masked_text, "since": since}
        rows = self._run(connection, _SAME_OPEN_REQUEST_SQLITE if sqlite else _SAME_OPEN_REQUEST, values)
        return int(rows[0][0]) if rows else None

    def _load_open_requests(self, since: datetime) -> _OpenRequests:
        """Open tickets opened since `since` by the batch's senders, in one query."""
        connection = self._connection()
        prepared, values = self._open_requests_query(connection, since)
        return _open_requests_from(since, prepared, fastsql.execute(connection, prepared, values))

    def _open_requests_query(
        self, connection: Connection, since: datetime
    ) -> tuple[fastsql.Prepared, dict[str, Any]]:
        prepared = fastsql.prepare(_OPEN_REQUESTS, connection)
        return prepared, {"contacts": sorted(self._senders), "since": since}

    def open_tickets_of(self, person_id: int) -> list[Ticket]:
        stmt = select(Ticket).where(
            Ticket.reporter_id == person_id, col(Ticket.status).in_(OPEN_TICKET_STATES)
        )
        return list(self.session.exec(stmt.order_by(col(Ticket.id))))

    def tickets_by_message(self, inbound_id: int) -> list[Ticket]:
        return list(self.session.exec(select(Ticket).where(Ticket.message_id == inbound_id)))

    # -- incidents -----------------------------------------------------------------------------

    def incident(self, incident_id: int) -> Incident | None:
        return self.session.get(Incident, incident_id)

    def add_alert(
        self, incident: Incident, level: int, person_id: int | None, action: str, at: datetime
    ) -> None:
        assert incident.id is not None
        self._write(
            IncidentAlert,
            {"incident_id": incident.id, "level": level, "person_id": person_id, "action": action, "at": at},
        )

    def alerts(self, incident_id: int) -> list[IncidentAlert]:
        self.flush_writes()
        stmt = select(IncidentAlert).where(IncidentAlert.incident_id == incident_id)
        return list(self.session.exec(stmt.order_by(col(IncidentAlert.id))))

    def incidents_due(self, now: datetime) -> list[Incident]:
        """Open incidents whose escalation timer ran out, locked for this transaction: with several
        workers polling, each incident is escalated by one of them (PostgreSQL SKIP LOCKED; SQLite
        serialises writers and ignores the clause)."""
        stmt = select(Incident).where(
            Incident.status == "open",
            col(Incident.next_escalation_at).is_not(None),
            col(Incident.next_escalation_at) <= now,
        )
        stmt = stmt.order_by(col(Incident.id)).with_for_update(skip_locked=True)
        return list(self.session.exec(stmt))

    def incidents_by_message(self, inbound_id: int) -> list[Incident]:
        return list(self.session.exec(select(Incident).where(Incident.message_id == inbound_id)))

    # -- points --------------------------------------------------------------------------------

    def add_points(
        self, person_id: int, community_id: int | None, rule: str, points: int, ref: str, at: datetime
    ) -> bool:
        """Credit points once per (rule, ref, person); False when already credited.

        Deferred, the credit is queued (True) and a repeat is dropped when the queue is sent.
        """
        if points == 0:
            return False
        values = {
            "person_id": person_id,
            "community_id": community_id,
            "rule": rule,
            "points": points,
            "ref": ref,
            "at": at,
        }
        return self._write_once(PointsEntry, values, ("rule", "ref", "person_id"), expect_new=False)

    def points_total(self, person_id: int) -> int:
        self.flush_writes()
        stmt = select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.person_id == person_id
        )
        return int(self.session.exec(stmt).one())

    # -- outbox --------------------------------------------------------------------------------

    def enqueue(self, message: Outbound, at: datetime, *, may_exist: bool = False) -> bool:
        """Write an outbound message; False when its dedupe key was enqueued before.

        Deferred, the row is queued and taken as new; `flush_writes` raises DeferredWriteConflict
        if it was not, so a caller never acts on a wrong answer. Keys that may legitimately exist
        already (`may_exist`: "at most one reminder an hour") are looked up first instead, so an
        expected repeat costs a batch no re-run (nor a PostgreSQL sequence value: batched and
        one-by-one runs then give the same ids).
        """
        if may_exist and self._outbox_key_taken(message.dedupe_key):
            return False
        return self._write_once(
            OutboxMessage,
            {
                "dedupe_key": message.dedupe_key,
                "account": message.account,
                "chat": str(message.chat),
                "to_id": message.to_id,
                "to_name": message.to_name,
                "kind": message.kind,
                "text": message.text,
                "mentions": list(message.mentions),
                "mention_names": list(message.mention_names),
                "created_at": at,
                "status": "pending",
                "attempts": 0,
                "last_error": "",
            },
            ("dedupe_key",),
            expect_new=True,
        )

    def _outbox_key_taken(self, key: str) -> bool:
        if key in self._queued_keys:
            return True
        if any(isinstance(obj, OutboxMessage) for obj in self.session.new):
            self.session.flush()  # a row added through the ORM: the probe below must see it
        if self._run(self._connection(), _OUTBOX_KEY, {"key": key}):
            return True
        self._queued_keys.add(key)
        return False

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        self.flush_writes()
        stmt = select(OutboxMessage)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        return list(self.session.exec(stmt.order_by(col(OutboxMessage.id))))

    # -- scheduled work ------------------------------------------------------------------------

    def claim_job(self, job_key: str, at: datetime, worker: str) -> bool:
        """Claim one scheduled run; False when it ran (or is running) elsewhere already.

        The claim commits with the job's effects, so a crash mid-job leaves it unclaimed and the
        catch-up after restart runs it again, once.
        """
        values = {"job_key": job_key, "claimed_at": at, "worker": worker, "finished_at": at}
        return self._insert_once(JobRun, values, ("job_key",)) is not None

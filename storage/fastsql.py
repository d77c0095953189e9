"""Hot-path SQL: statements compiled once per dialect, run on the DB-API connection.

SQLAlchemy Core costs 100–250 µs of Python per `execute` (cache key, parameter construction,
result wrapping) — more than SQLite takes to run the statement, and most of a message's budget.
The pipeline's few per-message statements (inbound insert, ticket insert, patrol upsert, the
repeat check) and its per-batch executemany are therefore compiled ONCE by SQLAlchemy (so the SQL,
quoting and type conversions are still SQLAlchemy's, from the same models) and then executed on the
raw driver connection that the session's transaction already holds. Same connection, same
transaction: commit and rollback stay with the session.

Type conversion on the way in uses the compiled statement's own bind processors (aware datetimes
to UTC, JSON, booleans), so a row written here is byte-for-byte what the ORM would write. Results
come back raw: callers select only plain columns (ids, strings, integers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

_Processors = tuple[tuple[str, Callable[[Any], Any]], ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One statement as the driver wants it: SQL text, parameter order, bind conversions."""

    sql: str
    keys: tuple[str, ...] | None  # positional drivers (sqlite3 "?"): the order; None: named
    processors: _Processors
    constants: Mapping[str, Any]  # parameters with values fixed in the statement (CASE ranks…)
    # Positional drivers: per parameter (name, conversion or None), in order — `bind` is one pass.
    plan: tuple[tuple[str, Callable[[Any], Any] | None], ...] = ()
    # A SELECT's result conversions per column (None: as the driver gives it), for `execute_typed`.
    results: tuple[Callable[[Any], Any] | None, ...] = ()

    def bind(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.keys is not None:
            if self.constants:
                values = {**self.constants, **values}
            return tuple([values[k] if p is None else p(values[k]) for k, p in self.plan])
        if self.processors or self.constants:
            values = {**self.constants, **values}
            for name, process in self.processors:
                if name in values:
                    values[name] = process(values[name])
        return values


_prepared: dict[tuple[ClauseElement, str, tuple[str, ...] | None], Prepared] = {}


def prepare(stmt: ClauseElement, connection: Connection, keys: Iterable[str] | None = None) -> Prepared:
    """`stmt` compiled for this connection's dialect (once; cached by statement identity).

    `keys`: for an INSERT, the columns given (the others take their server defaults), as
    SQLAlchemy compiles an insert for the parameters it is executed with.
    """
    columns = tuple(keys) if keys is not None else None
    dialect = connection.dialect
    cache_key = (stmt, dialect.name, columns)
    found = _prepared.get(cache_key)
    if found is None:
        compiled: Any = stmt.compile(  # a SQLCompiler: positiontup, binds, _bind_processors
            dialect=dialect,
            column_keys=list(columns) if columns is not None else None,
            compile_kwargs={"render_postcompile": True},  # IN (fixed list): plain parameters
        )
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        processors = tuple(compiled._bind_processors.items())  # the compiled conversions
        given = set(columns or ())
        # Parameters that carry their own value (CASE ranks, IN lists, LIMIT): sent every time.
        constants = {k: v for k, v in compiled.params.items() if k not in given and v is not None}
        convert = dict(processors)
        plan = tuple((key, convert.get(key)) for key in order) if order is not None else ()
        results = tuple(
            entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns
        )
        found = Prepared(str(compiled), order, processors, constants, plan, results)
        _prepared[cache_key] = found
    return found


def driver(connection: Connection) -> Any:
    """The DB-API connection under a SQLAlchemy connection (inside its current transaction)."""
    return connection.connection.driver_connection


def execute(connection: Connection, prepared: Prepared, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement; its rows (RETURNING or SELECT), all fetched so the statement is done."""
    cursor = driver(connection).execute(prepared.sql, prepared.bind(values))
    if cursor.description is None:
        return []
    return [tuple(row) for row in cursor.fetchall()]


def insert_rowid(connection: Connection, prepared: Prepared, values: Mapping[str, Any]) -> int | None:
    """SQLite: run an INSERT (without RETURNING) and give the new row's id, or None when it
    inserted nothing (ON CONFLICT DO NOTHING). RETURNING costs SQLite 3.40 about 50 µs more per
    insert than the statement itself takes (measured on a ticket insert); the rowid is free."""
    cursor = driver(connection).execute(prepared.sql, prepared.bind(values))
    return int(cursor.lastrowid) if cursor.rowcount == 1 and cursor.lastrowid else None


def execute_typed(
    connection: Connection, prepared: Prepared, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """`execute` with each column converted as SQLAlchemy would (aware datetimes, JSON, booleans)."""
    rows = driver(connection).execute(prepared.sql, prepared.bind(values)).fetchall()
    convert = prepared.results
    return [
        tuple([v if f is None or v is None else f(v) for f, v in zip(convert, row, strict=True)])
        for row in rows
    ]


def execute_many(connection: Connection, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run one statement for many rows (sqlite3 steps it per row in C; psycopg pipelines them);
    how many rows it changed in all (an INSERT … ON CONFLICT DO NOTHING: how many were new)."""
    raw = driver(connection)
    params = [prepared.bind(row) for row in rows]
    if hasattr(raw, "executemany"):  # sqlite3
        return int(raw.executemany(prepared.sql, params).rowcount)
    with raw.cursor() as cursor:
        cursor.executemany(prepared.sql, params)
        return int(cursor.rowcount)


def execute_batches(
    connection: Connection,
    batches: Sequence[tuple[Prepared, Sequence[Mapping[str, Any]]]],
    *,
    commit: bool = False,
) -> list[int]:
    """`execute_many` for several statements in order; rows changed by each. On PostgreSQL all of
    them go in one pipeline: one round trip for the lot instead of one per statement.

    `commit` (PostgreSQL only): the transaction's COMMIT goes at the end of the same pipeline.
    Should a statement fail, the server skips the rest, COMMIT included, and the error is raised
    here with the transaction still open to roll back; a failing COMMIT (a deferred foreign key)
    has rolled it back itself. Either way the caller sees the error before counting anything."""
    raw = driver(connection)
    if hasattr(raw, "executemany"):  # sqlite3: no round trips to save
        assert not commit, "SQLite commits through its session"
        return [execute_many(connection, prepared, rows) for prepared, rows in batches]
    cursors = []
    with raw.pipeline():
        for prepared, rows in batches:
            cursor = raw.cursor()
            cursor.executemany(prepared.sql, [prepared.bind(row) for row in rows])
            cursors.append(cursor)
        if commit:
            raw.execute("COMMIT")
    # Counts are known once the pipeline has synced, i.e. after the block.
    counts = [int(cursor.rowcount) for cursor in cursors]
    for cursor in cursors:
        cursor.close()
    return counts

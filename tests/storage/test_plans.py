"""SQLite's plans for the pipeline's hot reads, on a migrated database without statistics (as a
new deployment runs: nothing ever runs ANALYZE). A wrong plan returns the right rows, slowly and
ever more slowly as tables grow, so only the plan shows it. PostgreSQL plans from statistics;
where it chose badly all the same, the query now fixes its plan, and a test here runs there too."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ClauseElement, Engine

from storage import fastsql
from storage.db import make_engine
from storage.migrate import upgrade
from storage.store import _OPEN_REQUESTS, _OUTBOX_KEY, _SAME_OPEN_REQUEST_SQLITE, seen_query

SINCE = datetime(2026, 11, 22, tzinfo=UTC)


def _plan(tmp_path: Path, stmt: ClauseElement, values: dict[str, Any]) -> list[str]:
    url = f"sqlite:///{tmp_path / 'plans.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            prepared = fastsql.prepare(stmt, conn)
            raw = fastsql.driver(conn)
            rows = raw.execute("EXPLAIN QUERY PLAN " + prepared.sql, prepared.bind(values)).fetchall()
            return [str(row[-1]) for row in rows]
    finally:
        engine.dispose()


def test_repeat_check_probes_the_reporters_tickets_with_that_text(tmp_path: Path) -> None:
    values = {"reporter": 7, "text": "楼道灯坏了", "since": SINCE}
    plan = _plan(tmp_path, _SAME_OPEN_REQUEST_SQLITE, values)
    # not every ticket of the reporter's day, which a flood of requests makes hundreds
    assert "ix_ticket_reporter_text (reporter_id=? AND masked_text=?)" in plan[0], plan


def test_outbox_key_probe_is_an_index_look_up(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _OUTBOX_KEY, {"key": "repeat:R12:2026112309"})
    assert len(plan) == 1 and plan[0].startswith("SEARCH outboxmessage USING"), plan


def _explain(engine: Engine, sql: str, params: Any) -> list[str]:
    """The plan of `sql` on the shared test database of either backend, one string per line."""
    with engine.connect() as conn:
        raw = fastsql.driver(conn)
        if conn.dialect.name == "postgresql":
            return [str(row[0]) for row in raw.execute("EXPLAIN " + sql, params)]
        return [str(row[-1]) for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]


def test_dedupe_probe_is_one_index_look_up_per_id(engine: Engine) -> None:
    """Both backends (PostgreSQL from whatever statistics the shared test database has): the
    batch's dedupe reads the unique (account, platform_id) index once per id, never the account's
    whole history. The plain `platform_id = ANY(…)` failed this on PostgreSQL."""
    plan = _explain(engine, *seen_query(engine.dialect.name, "default", [f"m-{i}" for i in range(64)]))
    text = "\n".join(plan)
    if engine.dialect.name == "postgresql":
        assert "Index Only Scan using uq_inbound_platform_id" in text, plan
        cond = next(line for line in plan if "Index Cond:" in line)
        assert "platform_id" in cond, plan  # both columns, not the account alone
        assert "Filter" not in text, plan
    else:
        assert len(plan) == 1 and plan[0].startswith("SEARCH inboundmessage USING COVERING INDEX"), plan
        assert plan[0].endswith("(account=? AND platform_id=?)"), plan


@pytest.mark.parametrize("db_backend", ["postgres"])
def test_prefetch_of_open_requests_starts_from_the_senders(engine: Engine) -> None:
    """PostgreSQL only: SQLite probes per request (the test above)."""
    values: dict[str, Any] = {"contacts": ["wxid_a", "wxid_b", "wxid_c"], "since": SINCE}
    with engine.connect() as conn:
        prepared = fastsql.prepare(_OPEN_REQUESTS, conn)
    plan = _explain(engine, prepared.sql, prepared.bind(values))
    text = "\n".join(plan)
    assert "ix_ticket_reporter_created" in text, plan  # each sender's tickets of the window…
    assert "Hash" not in text and "Seq Scan on ticket" not in text, plan  # …not all open tickets
    assert "Seq Scan on person" not in text, plan  # each sender one probe of the wechat_id index


def _index_definitions(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        raw = fastsql.driver(conn)
        if conn.dialect.name == "postgresql":
            rows = raw.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            )
        else:
            rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return {str(name): str(sql) for name, sql in rows}


SET_LATER = ("accepted_by", "resolved_by", "resolved_at", "rated_at")


def test_columns_set_after_a_ticket_opens_are_indexed_only_where_set(engine: Engine) -> None:
    """Migration 0008: opening a ticket writes none of these four indexes (their columns are
    NULL then), and the outbox has no created_at index (nothing searches by it)."""
    defs = _index_definitions(engine)
    for column in SET_LATER:
        definition = defs[f"ix_ticket_{column}"]
        assert re.search(rf"\({column}\) WHERE \(?{column} IS NOT NULL\)?$", definition), definition
    assert "ix_outboxmessage_created_at" not in defs
    assert "ix_outbox_pending" in defs  # the sender's look-up stays


@pytest.mark.parametrize("column", ["resolved_at", "rated_at"])
def test_bulletin_windows_still_read_the_partial_indexes(engine: Engine, column: str) -> None:
    """The bulletins count tickets resolved or rated in a window: `column >= ? AND column < ?`
    implies IS NOT NULL, so the partial index serves it on both backends. (PostgreSQL's tables
    are tiny here: sequential scans are switched off to ask whether the index can be used.)"""
    with engine.connect() as conn:
        raw = fastsql.driver(conn)
        if conn.dialect.name == "postgresql":
            raw.execute("SET LOCAL enable_seqscan = off")
            sql, explain = f"SELECT count(*) FROM ticket WHERE {column} >= %s AND {column} < %s", "EXPLAIN "
            params: tuple[object, ...] = (SINCE, SINCE.replace(day=29))
        else:
            sql, explain = (
                f"SELECT count(*) FROM ticket WHERE {column} >= ? AND {column} < ?",
                "EXPLAIN QUERY PLAN ",
            )
            params = (SINCE.isoformat(" "), SINCE.replace(day=29).isoformat(" "))
        plan = "\n".join(str(row[-1]) for row in raw.execute(explain + sql, params))
    assert f"ix_ticket_{column}" in plan, plan


def test_indexes_a_message_writes_are_the_ones_read(engine: Engine) -> None:
    """Migration 0009: no person or grid index on messages, the outbox's kind index only over the kinds
    the WeCom mirror reads, and on SQLite no (reporter_id, created_at) ticket index."""
    defs = _index_definitions(engine)
    assert "ix_inboundmessage_micro_grid_id" not in defs
    assert "ix_inboundmessage_person_id" not in defs
    assert "ix_outboxmessage_kind" not in defs
    mirrored = defs["ix_outbox_mirrored"]
    assert re.search(r"\(id\) WHERE \(?\(?kind\)?.*'major_alert'.*'monthly_bulletin'", mirrored), mirrored
    postgres = engine.dialect.name == "postgresql"
    assert ("ix_ticket_reporter_created" in defs) is postgres
    assert ("ix_ticket_reporter_text" in defs) is not postgres


def test_mirror_reads_its_partial_index_newest_first(engine: Engine) -> None:
    """The WeCom mirror's pass reads ix_outbox_mirrored backwards and stops at its window: no
    scan of the outbox, no sort of every supervisor message ever sent."""
    from bot.wecom_mirror import RECENT_MIRRORED

    with engine.connect() as conn:
        prepared = fastsql.prepare(RECENT_MIRRORED, conn)
        raw = fastsql.driver(conn)
        if conn.dialect.name == "postgresql":
            # Tiny test tables, where a sort of five rows is cheapest: asked whether it could,
            # not whether it would (with a year's outbox it must).
            for method in ("seqscan", "bitmapscan", "sort"):
                raw.execute(f"SET LOCAL enable_{method} = off")
            plan = [str(row[0]) for row in raw.execute("EXPLAIN " + prepared.sql, prepared.bind({}))]
        else:
            rows = raw.execute("EXPLAIN QUERY PLAN " + prepared.sql, prepared.bind({}))
            plan = [str(row[-1]) for row in rows]
    text = "\n".join(plan)
    if engine.dialect.name == "postgresql":
        assert "Index Scan Backward using ix_outbox_mirrored" in text, plan
        assert "Sort" not in text, plan
    else:
        assert plan == ["SCAN outboxmessage USING INDEX ix_outbox_mirrored"], plan


def test_photo_rule_reads_the_reporters_tickets_by_index(tmp_path: Path) -> None:
    """SQLite, without (reporter_id, created_at) since migration 0009: "this sender's tickets of
    the last minutes" still starts from the reporter's entries of (reporter_id, masked_text)."""
    from sqlmodel import col, select

    from storage.models import Ticket

    stmt = (
        select(Ticket.id)
        .where(Ticket.reporter_id == 7, col(Ticket.created_at) >= SINCE)
        .order_by(col(Ticket.id).desc())
    )
    plan = _plan(tmp_path, stmt, {})
    assert "ix_ticket_reporter_text (reporter_id=?)" in plan[0], plan

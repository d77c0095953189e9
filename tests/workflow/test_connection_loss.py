"""A PostgreSQL connection that died in the pool (a server restart since its last use) costs a
message nothing: the pipeline does it again on a new connection instead of keeping it as an error."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

import storage.db as storage_db
from storage.models import InboundMessage, Ticket
from tests.workflow.harness import Chat

GROUP = "3号楼微网格群"


def _kill_the_pools_connections(engine: Engine) -> int:
    """Terminate, from an engine of its own, every other session on the engine's database."""
    killer = storage_db.make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with killer.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid != pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        killer.dispose()
    time.sleep(0.1)  # gone; the pooled connection does not know it yet
    return int(killed)


@pytest.mark.parametrize("size", [1, 3])
async def test_a_connection_lost_in_the_pool_costs_no_message(
    chat: Chat, db_backend: str, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    if db_backend != "postgres":
        pytest.skip("a SQLite connection does not go away with a server")
    monkeypatch.setattr(storage_db, "PING_IDLE_S", 60.0)  # used just now: checked out without a ping
    await chat.group(GROUP, "李大爷", "收到")  # the pool holds a connection, used a moment ago
    assert _kill_the_pools_connections(chat.engine) >= 1  # as a server restart would
    events = [chat.event("李大爷", f"5号楼{i}单元楼道灯坏了", GROUP) for i in range(1, size + 1)]
    outcomes = await chat.pipeline.handle_batch(events)
    assert [o.error for o in outcomes] == [None] * size
    assert [o.kind for o in outcomes] == ["basic"] * size
    with chat.session() as s:
        assert len(s.exec(select(Ticket)).all()) == size
        assert not s.exec(select(InboundMessage).where(InboundMessage.kind == "error")).all()

"""Group commit: `Pipeline.handle_batch` gives exactly what one-by-one `handle` gives, on both backends."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, select

from handlers.context import MessageContext
from handlers.events import InboundEvent, MessageRecalled, MessageReceived
from handlers.pipeline import PARSE_AHEAD_MAX_CHARS, Outcome
from storage.models import InboundMessage, OutboxMessage, PatrolReport, Ticket
from tests.workflow.harness import Chat, roster_loaded

GROUP = "3号楼微网格群"
LEADER = "张丽"
RESIDENT = "李大爷"

# Every table a message can write, compared row by row (ids included: same order, same ids).
TABLES = (
    "inboundmessage",
    "person",
    "microgrid",
    "patrolreport",
    "patrolentry",
    "ticket",
    "ticketevent",
    "incident",
    "incidentalert",
    "pointsentry",
    "outboxmessage",
)


def script(chat: Chat) -> list[InboundEvent]:
    """A morning in one group: reports, a ticket through its whole loop, a major, noise, a
    duplicate, a photo and a recall."""
    events: list[InboundEvent] = []

    def say(who: str, text: str, topic: str | None = GROUP, msg_id: str | None = None) -> MessageReceived:
        event = chat.event(who, text, topic, msg_id)
        events.append(event)
        chat.advance(minutes=1)
        return event

    say(LEADER, "今日巡查无异常，零报告")
    ticket_msg = say(RESIDENT, "5号楼2单元楼道灯坏了，晚上黑乎乎的")
    photo = say(RESIDENT, "[图片]")
    events[-1] = dataclasses.replace(photo, image_path="photos/p1.jpg")
    say(RESIDENT, ticket_msg.text)  # impatience: folds into R1, one reminder
    say(LEADER, "#接单 R1")
    say("王小明", "哈哈，谢谢网格长")
    say(RESIDENT, ticket_msg.text)  # again within the hour: folded, no second reminder
    say(LEADER, "3号楼楼道堆放的纸箱已清理")
    say(LEADER, "#办结 R1 已换新灯泡")
    say(RESIDENT, ticket_msg.text)  # R1 is closed now: this is a new ticket
    say(RESIDENT, "#评价 R1 5")
    say(RESIDENT, "#查询", topic=None)
    say(LEADER, "下午复查一遍，无情况")
    say(RESIDENT, "3号楼2单元着火了，有人被困，快来人")
    noise = say("赵阿姨", "楼上302天天半夜装修，吵得睡不着，电话13812345678")
    events.append(MessageRecalled(message_id=noise.message_id, at=chat.clock.now()))
    say(LEADER, "#统计")
    say(RESIDENT, "#乱说一通")
    say("新来的", "想问下社区老年卡怎么办理？", topic=None)
    say(LEADER, "#帮助")
    # The platform delivers one again. Last: on PostgreSQL the one-by-one path's refused insert
    # takes a sequence value (the batch drops it before inserting), which would shift later ids.
    events.append(ticket_msg)
    return events


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    with Session(engine) as s:
        return {
            name: [
                dict(r._mapping)
                for r in s.connection().execute(core_select(tables[name]).order_by(tables[name].c.id))
            ]
            for name in TABLES
        }


def summarize(outcomes: Sequence[Outcome]) -> list[tuple[Any, ...]]:
    return [(o.duplicate, o.inbound_id, o.kind, o.outbound, o.notes, o.error) for o in outcomes]


async def run_batched(chat: Chat, events: Sequence[InboundEvent], size: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for i in range(0, len(events), size):
        outcomes += await chat.pipeline.handle_batch(events[i : i + size])
    return outcomes


@pytest.mark.parametrize("size", [4, 64])
async def test_batch_gives_what_one_by_one_gives(
    roster_loaded: Engine, db_backend: str, _databases: Any, size: int, caplog: pytest.LogCaptureFixture
) -> None:
    serial_chat = Chat(roster_loaded)
    events = script(serial_chat)
    serial = [await serial_chat.pipeline.handle(e) for e in events]
    expected = snapshot(roster_loaded)
    assert expected["ticket"] and expected["incident"] and expected["outboxmessage"]

    _databases.get(db_backend).wipe()
    roster_loaded = roster_loaded_again(roster_loaded)
    with caplog.at_level(logging.WARNING, logger="handlers.pipeline"):
        batched = await run_batched(Chat(roster_loaded), events, size)
    # ...by really batching: deferred inserts, reserved ids and deferred foreign keys held, so
    # no batch fell back to one message at a time (which would give the same rows, slowly).
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]

    assert summarize(batched) == summarize(serial)
    assert snapshot(roster_loaded) == expected


def roster_loaded_again(engine: Engine) -> Engine:
    return roster_loaded.__wrapped__(engine)  # type: ignore[attr-defined]


async def test_duplicate_inside_a_batch_is_processed_once(chat: Chat) -> None:
    first = chat.event(RESIDENT, "5号楼2单元楼道灯坏了", GROUP, "dup-1")
    other = chat.event(LEADER, "今日巡查无异常，零报告", GROUP)
    outcomes = await chat.pipeline.handle_batch([first, other, first])
    assert [o.duplicate for o in outcomes] == [False, False, True]
    with chat.session() as s:
        assert len(list(s.exec(select(InboundMessage).where(InboundMessage.platform_id == "dup-1")))) == 1
        assert len(list(s.exec(select(Ticket)))) == 1
    # and again in a later batch: stored already, dropped before any work
    again = await chat.pipeline.handle_batch([first, chat.event(RESIDENT, "收到", GROUP)])
    assert [o.duplicate for o in again] == [True, False]
    assert len(chat.outbox("ticket_opened")) == 1


async def test_a_repeat_in_a_later_batch_finds_the_open_ticket(chat: Chat) -> None:
    """The repeat check of a batch asks the senders' open requests once (on PostgreSQL in the
    round trip that opens the batch): a repeat there, with no ticket changed before it in its
    batch, must still fold into the open ticket, and a request opened in the same batch too."""
    text = "5号楼2单元楼道灯坏了，晚上黑乎乎的"
    await chat.pipeline.handle_batch([chat.event(RESIDENT, text, GROUP), chat.event(LEADER, "收到", GROUP)])
    chat.advance(minutes=5)
    other = "6号楼门口的路灯不亮了"
    outcomes = await chat.pipeline.handle_batch(
        [
            chat.event("王小明", "哈哈，谢谢网格长", GROUP),
            chat.event(RESIDENT, text, GROUP),  # R1 again: folded
            chat.event("王小明", other, GROUP),  # a new request: R2
            chat.event("王小明", other, GROUP),  # and at once again: folded into R2
        ]
    )
    assert [o.notes for o in outcomes][1:] == [["repeat of R1"], ["ticket R2"], ["repeat of R2"]]
    with chat.session() as s:
        assert len(list(s.exec(select(Ticket)))) == 2


async def test_a_batch_is_parsed_ahead_once_per_message(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    """Senders the roster cache knows: all of the batch parsed before the first handler runs
    (the parser's tables stay in the CPU's caches), and no message parsed twice."""
    for _ in range(2):  # (the leader's first message binds her contact id, which empties the cache)
        await chat.pipeline.handle_batch([chat.event(who, "收到", GROUP) for who in (LEADER, RESIDENT)])
    steps: list[str] = []
    parser, dispatch = chat.pipeline.parser, chat.pipeline.router.dispatch

    class Counting:
        def parse(self, text: str, **kw: Any) -> Any:
            steps.append(f"parse {text[:4]}")
            return parser.parse(text, **kw)

    async def dispatching(ctx: MessageContext) -> Any:
        steps.append("handle")
        return await dispatch(ctx)

    monkeypatch.setattr(chat.pipeline, "parser", Counting())
    monkeypatch.setattr(chat.pipeline.router, "dispatch", dispatching)
    chat.advance(minutes=1)
    outcomes = await chat.pipeline.handle_batch(
        [
            chat.event(LEADER, "今天巡查一圈，都正常", GROUP),
            chat.event(RESIDENT, "5号楼2单元楼道灯坏了", GROUP),
            chat.event(RESIDENT, "谢谢", GROUP),
            chat.event(RESIDENT, "哈" * (PARSE_AHEAD_MAX_CHARS + 1), GROUP),  # in its turn: memory
        ]
    )
    assert [o.kind for o in outcomes] == ["zero_report", "basic", "other", "other"]
    ahead = ["parse 今天巡查", "parse 5号楼2", "parse 谢谢"]  # in order: the leader's too
    assert steps == [*ahead, *["handle"] * 3, "parse 哈哈哈哈", "handle"]


async def test_a_batch_is_parsed_while_its_first_round_trip_is_out(
    chat: Chat, monkeypatch: pytest.MonkeyPatch, db_backend: str
) -> None:
    """The batch's parsing runs inside `Store.open_batch`. On PostgreSQL that is while the
    pipeline is open and its statements are already on the server: a second connection sees the
    batch's ids reserved from the sequence before the first parse returns, so the server works
    on its own core while this one parses (one of the statements, not a queue sent at the end)."""
    from storage import fastsql
    from storage.store import Store

    for _ in range(2):  # (the leader's first message binds her contact id, which empties the cache)
        await chat.pipeline.handle_batch([chat.event(who, "收到", GROUP) for who in (LEADER, RESIDENT)])
    parser, opening = chat.pipeline.parser, Store.open_batch
    inside: list[Any] = []
    seen_at_parse: list[int] = []

    def open_batch(self: Store, *args: Any, **kw: Any) -> set[tuple[str, str]]:
        inside.append(fastsql.driver(self._connection()))
        try:
            return opening(self, *args, **kw)
        finally:
            inside.pop()

    def reserved() -> int:
        with chat.engine.connect() as other:
            seq = other.exec_driver_sql("SELECT pg_get_serial_sequence('inboundmessage', 'id')").scalar()
            return int(other.exec_driver_sql(f"SELECT last_value FROM {seq}").scalar_one())

    before = reserved() if db_backend == "postgres" else 0

    class Watching:
        def parse(self, text: str, **kw: Any) -> Any:
            assert inside, "parsed outside Store.open_batch"
            if db_backend == "postgres" and not seen_at_parse:
                assert inside[-1].pgconn.pipeline_status, "the pipeline had synced already"
                deadline = time.monotonic() + 5
                while reserved() == before and time.monotonic() < deadline:
                    time.sleep(0.001)
                seen_at_parse.append(reserved() - before)
            return parser.parse(text, **kw)

    monkeypatch.setattr(Store, "open_batch", open_batch)
    monkeypatch.setattr(chat.pipeline, "parser", Watching())
    chat.advance(minutes=1)
    texts = ["今天巡查一圈，都正常", "5号楼2单元楼道灯坏了", "谢谢"]
    outcomes = await chat.pipeline.handle_batch(
        [chat.event(who, text, GROUP) for who, text in zip((LEADER, RESIDENT, RESIDENT), texts, strict=True)]
    )
    assert [o.kind for o in outcomes] == ["zero_report", "basic", "other"]
    assert seen_at_parse == ([3] if db_backend == "postgres" else [])


async def test_dedupe_in_a_batch_is_per_account(chat: Chat) -> None:
    """One bot account's platform id says nothing about another's: the batch asks per account
    (on PostgreSQL in the same round trip that opens it) and stores the second account's copy."""
    first = chat.event(RESIDENT, "5号楼2单元楼道灯坏了", GROUP, "same-1")
    await chat.pipeline.handle_batch([first, chat.event(LEADER, "今日巡查无异常，零报告", GROUP)])
    chat.advance(minutes=1)
    other = dataclasses.replace(first, account="second")
    new = chat.event(RESIDENT, "收到", GROUP)
    outcomes = await chat.pipeline.handle_batch([first, other, new, other])
    assert [o.duplicate for o in outcomes] == [True, False, False, True]
    assert outcomes[1].inbound_id is not None and outcomes[2].inbound_id is not None
    assert outcomes[1].inbound_id < outcomes[2].inbound_id  # in arrival order
    with chat.session() as s:
        rows = s.exec(select(InboundMessage).where(InboundMessage.platform_id == "same-1")).all()
        assert sorted(m.account for m in rows) == ["default", "second"]


async def test_a_failing_message_fails_alone(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatch = chat.pipeline.router.dispatch

    async def failing(ctx: MessageContext) -> Any:
        if "BOOM" in ctx.event.text:
            raise RuntimeError("handler bug")
        return await dispatch(ctx)

    monkeypatch.setattr(chat.pipeline.router, "dispatch", failing)
    events = [
        chat.event(LEADER, "今日巡查无异常，零报告", GROUP),
        chat.event(RESIDENT, "5号楼2单元楼道灯坏了 BOOM", GROUP),
        chat.event(RESIDENT, "6号楼1单元电梯坏了", GROUP),
    ]
    chat.advance(minutes=1)
    outcomes = await chat.pipeline.handle_batch(events)
    assert [o.kind for o in outcomes] == ["zero_report", "error", "basic"]
    assert outcomes[1].error == "handler bug" and outcomes[1].inbound_id is not None
    with chat.session() as s:
        stored = {m.platform_id: m for m in s.exec(select(InboundMessage))}
        tickets = list(s.exec(select(Ticket)))
    assert len(stored) == 3 and stored[events[1].message_id].kind == "error"
    assert "RuntimeError" in stored[events[1].message_id].parsed["error"]
    assert len(tickets) == 1 and "电梯" in tickets[0].masked_text
    assert [m.kind for m in chat.outbox()] == ["report_ack", "ticket_opened"]


async def test_a_write_conflict_in_a_batch_redoes_it_one_by_one(chat: Chat) -> None:
    """An outbox key already taken (here: written by hand) is noticed at flush, not acted on."""
    event = chat.event(RESIDENT, "#帮助", GROUP)
    with chat.session() as s:
        s.add(
            OutboxMessage(
                dedupe_key=f"in:default:{event.message_id}:1",
                chat="group",
                to_id="x",
                kind="reply",
                text="earlier",
                created_at=chat.clock.now() - timedelta(minutes=1),
            )
        )
        s.commit()
    outcomes = await chat.pipeline.handle_batch([chat.event(LEADER, "#帮助", GROUP), event])
    assert [len(o.outbound) for o in outcomes] == [1, 0]  # as one-by-one: the taken key sends nothing
    assert [o.kind for o in outcomes] == ["command", "command"]


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_someone_new_in_a_batch_costs_no_look_up_of_messages(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: inbound messages have no index by person (migration 0009). Were a deferred
    violation outstanding when a new person goes in (a ticket written ahead of its queued
    inbound record), SQLite would look up the messages citing the new person, a scan of them
    all. The batch sends its queued rows first (`Store._settle_deferred_rows`), so the insert
    runs the same few hundred VM steps however many messages are stored."""
    from storage import fastsql
    from storage.store import Store

    with chat.engine.begin() as conn:  # a year of someone else's messages
        fastsql.driver(conn).execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
            " INSERT INTO inboundmessage (account, platform_id, chat, sender_id, text, masked_text,"
            " kind, parsed, received_at, recalled)"
            " SELECT 'default', 'old-' || i, 'group', 'wx:old', '', '', 'other', '{}',"
            " '2025-11-01 00:00:00.000000', 0 FROM n"
        )
    await chat.group(GROUP, RESIDENT, "你好")  # known before the batch
    steps: list[int] = []
    insert_once = Store._insert_once

    def counted(
        self: Store, model: type[SQLModel], values: dict[str, Any], conflict: Sequence[str]
    ) -> int | None:
        if model.__name__ != "Person":
            return insert_once(self, model, values, conflict)
        raw = fastsql.driver(self._connection())
        count = [0]

        def step() -> int:
            count[0] += 1
            return 0

        raw.set_progress_handler(step, 1)  # called at every VM instruction
        try:
            return insert_once(self, model, values, conflict)
        finally:
            raw.set_progress_handler(None, 0)
            steps.append(count[0])

    monkeypatch.setattr(Store, "_insert_once", counted)
    batch = [
        chat.event(RESIDENT, "3号楼2单元楼道灯坏了，晚上黑乎乎的", GROUP),  # a ticket: a violation
        chat.event("新来的邻居", "大家好，我刚搬来", GROUP),
    ]
    outcomes = await chat.pipeline.handle_batch(batch)
    assert [o.kind for o in outcomes] == ["basic", "other"]
    with chat.session() as s:
        assert len(s.exec(select(Ticket)).all()) == 1
    assert steps and max(steps) < 2_000, steps  # scanning the 20,000 messages took 60,107


def _reprepared_statements(engine: Engine) -> dict[str, tuple[int, int]]:
    """{sql: (times re-prepared, times run)} of every prepared statement of the pool's SQLite
    connection, read from the library (sqlite3_stmt_status), which the sqlite3 module does not show."""
    import ctypes

    from storage import sqlite_library

    path = sqlite_library._loaded_library()
    assert path is not None, "these tests run where the sqlite3 module uses the shared libsqlite3"
    lib = ctypes.CDLL(path)
    lib.sqlite3_next_stmt.restype = ctypes.c_void_p
    lib.sqlite3_next_stmt.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.sqlite3_sql.restype = ctypes.c_char_p
    lib.sqlite3_sql.argtypes = [ctypes.c_void_p]
    lib.sqlite3_stmt_status.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.sqlite3_db_filename.restype = ctypes.c_char_p
    lib.sqlite3_db_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        # CPython's sqlite3.Connection holds its `sqlite3 *` right after the object header.
        db = ctypes.c_void_p.from_address(id(driver) + object.__basicsize__).value
        assert lib.sqlite3_db_filename(db, b"main").decode() == engine.url.database  # that handle
        found = {}
        stmt = lib.sqlite3_next_stmt(db, None)
        while stmt:
            reprepare, run = lib.sqlite3_stmt_status(stmt, 5, 0), lib.sqlite3_stmt_status(stmt, 6, 0)
            found[lib.sqlite3_sql(stmt).decode()] = (reprepare, run)  # 5, 6: REPREPARE, RUN
            stmt = lib.sqlite3_next_stmt(db, stmt)
        return found
    finally:
        raw.close()


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_batches_prepare_their_statements_once(chat: Chat) -> None:
    """SQLite: a batch's statements stay prepared from one batch to the next. The keys citing
    queued inbound records are deferred by the schema (migration 0010); the flag pragma that
    deferred them per transaction expired every prepared statement, 8% of a batch's work."""
    for n in range(4):
        batch = [
            chat.event(RESIDENT, f"{n + 1}号楼2单元楼道灯坏了", GROUP),
            chat.event(LEADER, "今日巡查无异常，零报告", GROUP),
            chat.event(RESIDENT, "谢谢", GROUP),
        ]
        chat.advance(minutes=5)
        assert [o.kind for o in await chat.pipeline.handle_batch(batch)] == ["basic", "zero_report", "other"]
    found = _reprepared_statements(chat.engine)
    tickets = [counts for sql, counts in found.items() if sql.startswith("INSERT INTO ticket ")]
    assert tickets and tickets[0][1] >= 4, found  # the pipeline's own connection, every batch
    assert {sql: counts for sql, counts in found.items() if counts[0]} == {}


async def test_a_report_into_todays_record_is_counted_without_a_query_of_its_own(
    chat: Chat, monkeypatch: pytest.MonkeyPatch, db_backend: str
) -> None:
    """Both backends count a later report into the day's record and say so ("已更新"). On
    PostgreSQL the batch loaded (and locked) the record with its first round trip
    (`Store.expect_patrols`), so the report ran no upsert of its own; SQLite, with no round trip
    to save, upserts the first report of each batch."""
    from storage.store import Store

    upserts: list[str] = []
    run = Store._run

    def counted(connection: Any, stmt: Any, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        if getattr(getattr(stmt, "table", None), "name", None) == "patrolreport":
            upserts.append(str(values["status"]))
        return run(connection, stmt, values)

    await chat.group(GROUP, LEADER, "大家早上好")  # her first message makes her known by contact id
    monkeypatch.setattr(Store, "_run", staticmethod(counted))
    first = await chat.pipeline.handle_batch(
        [chat.event(LEADER, "今日巡查无异常，零报告", GROUP), chat.event(RESIDENT, "谢谢", GROUP)]
    )
    assert [o.kind for o in first] == ["zero_report", "other"]
    chat.advance(minutes=30)
    later = await chat.pipeline.handle_batch(
        [chat.event(LEADER, "5号楼3单元楼道堆放的纸箱已清理", GROUP), chat.event(RESIDENT, "好的", GROUP)]
    )
    assert [o.kind for o in later] == ["basic", "other"]
    assert "巡查记录已更新" in later[0].outbound[0].text, later[0].outbound
    record = chat.one(PatrolReport)
    assert (record.status, record.entries) == ("basic", 2)
    assert upserts == (["zero"] if db_backend == "postgres" else ["zero", "basic"])


async def test_a_resident_is_parsed_ahead_in_any_group(chat: Chat) -> None:
    """Someone with no role anywhere is a resident in every group, so the cache answers for a
    resident's first message in another group (the batch parses it ahead); a leader's role in
    a group she has not spoken in yet is not guessed."""
    from handlers.identity import cached_role

    other = "1号楼微网格群"
    await chat.group(GROUP, LEADER, "大家好")  # binding a room clears the cache: both first
    await chat.group(other, "陈秀英", "大家好")
    await chat.group(other, "陈秀英", "今天降温，注意保暖")  # the room cached from here on
    await chat.group(GROUP, RESIDENT, "你好")
    await chat.group(GROUP, LEADER, "今天降温，注意保暖")
    cache = chat.pipeline.cache
    assert cached_role(cache, chat.event(RESIDENT, "楼道灯坏了", other)) == "resident"
    assert cached_role(cache, chat.event(LEADER, "楼道灯坏了", GROUP)) == "leader"
    assert cached_role(cache, chat.event(LEADER, "楼道灯坏了", other)) is None

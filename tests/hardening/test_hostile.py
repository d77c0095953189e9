"""Hostile input through the real pipeline on SQLite and PostgreSQL: huge messages, bursts,
SQL-looking text, markup in names, and people pretending to be the micro-grid leader."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, func, inspect
from sqlmodel import Session, SQLModel, col, select

from config.roster import apply_roster, validate_roster
from handlers.identity import claim_code
from handlers.pipeline import MAX_STORED_CHARS, Outcome
from handlers.policy import WorkflowPolicy
from storage.models import InboundMessage, OutboxMessage, Person, Ticket
from tests.hardening.helpers import outbox_leaks
from tests.workflow.harness import DEMO_ROSTER, Chat

TOPIC = "3号楼微网格群"
LEADER = "张丽"
DONE = ("resolved", "closed")


def count(engine: Engine, model: type[SQLModel]) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


async def test_one_megabyte_message(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded)
    text = "3号楼2单元电梯坏了，联系13812345678。" + "电梯" * 500_000 + "😀" * 1000
    assert len(text.encode()) > 1_000_000
    started = time.perf_counter()
    outcome = await chat.group(TOPIC, "居民甲", text)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, elapsed
    assert outcome.error is None and outcome.kind not in (None, "error"), outcome.kind
    with Session(roster_loaded) as s:
        row = s.get(InboundMessage, outcome.inbound_id)
        assert row is not None
        assert row.text == text[:MAX_STORED_CHARS]  # kept up to the cap, documented in pipeline.py
        assert len(row.masked_text) <= 4000 and "13812345678" not in row.masked_text
        assert not outbox_leaks(s)
    assert sum(len(o.text) for o in outcome.outbound) < 4000  # the reply does not echo the megabyte


async def test_burst_of_10000_from_one_sender(roster_loaded: Engine, db_backend: str) -> None:
    """What the Application does under a flood: batches of 64 through handle_batch."""
    chat = Chat(roster_loaded)
    n = 10_000
    variants = ["谢谢网格长", "收到", "👍", "3号楼2单元电梯坏了", "今天天气不错", "楼道灯坏了，晚上看不见"]
    events = [
        chat.event("刷屏居民", f"{variants[i % len(variants)]}{'' if i % 7 else ' #' + str(i)}", TOPIC)
        for i in range(n)
    ]
    started = time.perf_counter()
    outcomes = []
    for start in range(0, n, 64):
        outcomes += await chat.pipeline.handle_batch(events[start : start + 64])
    elapsed = time.perf_counter() - started
    assert len(outcomes) == n and not any(o.duplicate or o.error for o in outcomes)
    assert count(roster_loaded, InboundMessage) == n
    # replayed in full (a reconnecting connector): all duplicates, nothing new
    again = await chat.pipeline.handle_batch(events[:64])
    assert all(o.duplicate for o in again)
    with Session(roster_loaded) as s:
        group = s.exec(select(func.count()).where(OutboxMessage.chat == "group")).one()
        tickets = s.exec(select(func.count()).select_from(Ticket)).one()
        assert not outbox_leaks(s)
    print(
        f"\n[{db_backend}] 10,000 messages in {elapsed:.1f} s ({n / elapsed:.0f}/s); "
        f"group replies queued: {group}; tickets opened: {tickets}"
    )
    # A flood from one resident must not become a flood from the bot (paced at 20/min, 1,000+
    # group messages would keep the group busy for most of a day).
    assert group <= n // 2, f"bot would post {group} group messages in reply to one sender's spam"


async def test_repeated_identical_request_does_not_flood(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded)
    events = [chat.event("刷屏居民", "3号楼2单元电梯坏了", TOPIC) for _ in range(1000)]
    for start in range(0, len(events), 64):
        await chat.pipeline.handle_batch(events[start : start + 64])
    assert count(roster_loaded, Ticket) <= 5
    with Session(roster_loaded) as s:
        assert s.exec(select(func.count()).where(OutboxMessage.chat == "group")).one() <= 50


async def test_sql_looking_text_is_stored_verbatim(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded)
    nasty = [
        "'); DROP TABLE ticket;--",
        "3号楼电梯坏了'); DELETE FROM person; --",
        "#查询 R1' OR '1'='1",
        "#办结 R1; DROP TABLE inboundmessage",
        'Robert"); TRUNCATE outboxmessage CASCADE;--',
        "\\'; SELECT pg_sleep(10);--",
        "%s %(x)s {0} ${x} :param ?",
    ]
    before = set(inspect(roster_loaded).get_table_names())
    people = count(roster_loaded, Person)
    for i, text in enumerate(nasty):
        outcome = await chat.group(TOPIC, f"居民{i}'; DROP TABLE person;--", text)
        assert outcome.error is None
        with Session(roster_loaded) as s:
            row = s.get(InboundMessage, outcome.inbound_id)
            assert row is not None and row.text == text
    assert set(inspect(roster_loaded).get_table_names()) == before
    assert count(roster_loaded, Person) == people + len(nasty)
    with Session(roster_loaded) as s:
        names = s.exec(select(Person.name).where(col(Person.name).contains("DROP TABLE"))).all()
    assert len(names) == len(nasty)


async def _nul_message(engine: Engine) -> None:
    chat = Chat(engine)
    outcome = await chat.group(TOPIC, "居民\x00甲", "电梯\x00坏了\x07\x1b[2J")
    assert outcome.inbound_id is not None


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_nul_and_control_characters_sqlite(roster_loaded: Engine) -> None:
    await _nul_message(roster_loaded)


@pytest.mark.parametrize("db_backend", ["postgres"])
async def test_nul_and_control_characters_postgres(roster_loaded: Engine) -> None:
    await _nul_message(roster_loaded)


async def test_markup_in_display_name(roster_loaded: Engine, tmp_path: Path) -> None:
    from bot.dashboard import mount_dashboard
    from bot.dashboard.auth import hash_password
    from storage.models import Community, DashboardUser

    chat = Chat(roster_loaded)
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    outcome = await chat.group(TOPIC, evil, "3号楼2单元电梯坏了，没人管")
    assert outcome.error is None
    assert all("<script>" not in m for o in outcome.outbound for m in o.mention_names)
    with Session(roster_loaded) as s:
        person = s.exec(select(Person).where(Person.wechat_name == evil)).one()
        assert person.name == evil[:64]
        ticket_id = s.exec(select(Ticket)).one().id
        community = s.exec(select(Community).where(Community.code == "xfl")).one()
        s.add(
            DashboardUser(
                username="xss",
                password_hash=hash_password("pw-123456!", n=2**10),
                community_id=community.id,
                can_see_pii=True,
            )
        )
        s.commit()

    app = web.Application()
    mount_dashboard(
        app, lambda: Session(roster_loaded, expire_on_commit=False), chat.clock, b"k" * 32, data_dir=tmp_path
    )
    async with TestClient(TestServer(app)) as client:
        page = await (await client.get("/admin/login")).text()
        import re

        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        resp = await client.post(
            "/admin/login",
            data={"username": "xss", "password": "pw-123456!", "csrf": csrf.group(1), "next": "/admin"},
            allow_redirects=False,
        )
        assert resp.status in (302, 303)
        for url in (f"/admin/tickets/{ticket_id}", "/admin/tickets", "/admin/people"):
            resp = await client.get(url)
            html = await resp.text()
            assert resp.status == 200, url
            assert "<script>alert(1)" not in html and "<img src=x" not in html, url
        api = await (await client.get(f"/admin/api/tickets/{ticket_id}")).json()
        assert evil[:20] in str(api)  # JSON carries the name as data


def _roster_with_wechat_id(leader_id: str | None) -> Any:
    data = copy.deepcopy(yaml.safe_load(DEMO_ROSTER.read_text(encoding="utf-8")))
    if leader_id:
        for person in data["people"]:
            if person["name"] == LEADER:
                person["wechat_id"] = leader_id
    return data


async def _open_ticket(chat: Chat) -> None:
    out = await chat.group(TOPIC, "居民甲", "3号楼2单元电梯坏了")
    assert any("R1" in o.text for o in out.outbound), [o.text for o in out.outbound]


async def test_impostor_after_leader_spoke_gains_nothing(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded)
    await _open_ticket(chat)
    await chat.group(TOPIC, LEADER, "收到")  # the real leader (contact wx:张丽) is bound
    outcome = await _impostor_tries_to_close(chat, roster_loaded)
    assert outcome.outbound and all("已办结" not in o.text for o in outcome.outbound)


def _impostor_event(chat: Chat, text: str) -> Any:
    event = chat.event(LEADER, text, TOPIC)
    return type(event)(**{**{f: getattr(event, f) for f in event.__slots__}, "sender_id": "wx:fake"})


async def _impostor_tries_to_close(chat: Chat, engine: Engine) -> Outcome:
    """The namesake (contact wx:fake) accepts and closes R1: nothing happens, they stay a resident."""
    await chat.pipeline.handle(_impostor_event(chat, "#接单 R1"))
    outcome = await chat.pipeline.handle(_impostor_event(chat, "#办结 R1 已修复"))
    assert outcome.error is None
    with Session(engine) as s:
        assert s.exec(select(Ticket)).one().status not in DONE
        fake = s.exec(select(Person).where(Person.wechat_id == "wx:fake")).one()
        assert fake.is_resident
    return outcome


async def test_impostor_first_with_wechat_id_configured(engine: Engine) -> None:
    """The roster's wechat_id pins the leader: a namesake speaking first stays a resident."""
    with Session(engine) as s:
        apply_roster(s, validate_roster(_roster_with_wechat_id(f"wx:{LEADER}")))
        s.commit()
    chat = Chat(engine)
    await _open_ticket(chat)
    for text in ("大家好", "#接单 R1", "#办结 R1 已修复"):
        await chat.pipeline.handle(_impostor_event(chat, text))
    with Session(engine) as s:
        assert s.exec(select(Ticket)).one().status not in DONE
        leader = s.exec(select(Person).where(Person.name == LEADER, Person.is_resident == False)).one()  # noqa: E712
        assert leader.wechat_id == f"wx:{LEADER}"
    outcome = await chat.group(TOPIC, LEADER, "#接单 R1")  # the real one keeps the role
    assert any("已由" in o.text for o in outcome.outbound), [o.text for o in outcome.outbound]


async def test_impostor_first_without_wechat_id(
    roster_loaded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No wechat_id in the roster and the production default (claim code required): whoever speaks
    first under the leader's name stays a resident; the real leader proves herself with her code."""
    monkeypatch.setenv("GRIDBOT_SECRET", "hostile-test-secret")
    chat = Chat(roster_loaded, WorkflowPolicy())  # identity.claim_by_name: false
    await _open_ticket(chat)
    await chat.pipeline.handle(_impostor_event(chat, "大家好"))  # before the real leader ever spoke
    await _impostor_tries_to_close(chat, roster_loaded)
    with Session(roster_loaded) as s:
        leader = s.exec(select(Person).where(Person.code == "张丽-0103")).one()
        assert leader.wechat_id is None
    assert [m.to_id for m in chat.outbox("claim_hint")] == ["wx:fake"]
    # The real leader, with the code her supervisor gave her, gets her role (and R1) back.
    code = claim_code(b"hostile-test-secret", leader)
    await chat.private(LEADER, f"#认领 {code}")
    outcome = await chat.group(TOPIC, LEADER, "#接单 R1")
    assert any("已由" in o.text for o in outcome.outbound), [o.text for o in outcome.outbound]

"""The whole service over the Wechaty connector: fake Puppet Service on loopback (real gRPC),
real pipeline, real SQLite file, real outbox sender. What a grid's WeChat group would see."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import Application
from bot.connectors.wechaty import WechatyAuthError, WechatyConnector
from bot.outbox_sender import UNPACED
from bot.runtime import open_runtime
from config.roster import load_roster
from handlers.clock import SHANGHAI
from tests.connectors.test_wechaty import fast_settings
from tests.fake_puppet import T_TEXT, FakeMessage, FakePuppet, Sent
from tests.workflow.harness import DEMO_ROSTER

# A Wednesday at 03:00: no scheduled job (patrol reminders from 09:00, digests at 21:00, the
# weekly bulletin on Monday mornings, each with its catch-up window) is due, whatever the day the
# suite runs on. Time still passes at the real rate: the outbox and the escalations run on it.
QUIET = datetime(2026, 11, 18, 3, 0, tzinfo=SHANGHAI)


class RunningClock:
    """The wall clock's pace from a fixed start."""

    tz = SHANGHAI

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


ROOM = "r3@chatroom"
LEADER, RESIDENT, SUPERVISOR = "wxid_zhangli", "wxid_li", "wxid_liujianguo"


@pytest.fixture
async def puppet() -> AsyncIterator[FakePuppet]:
    fake = FakePuppet()
    fake.add_contact(LEADER, "张丽")
    fake.add_contact(RESIDENT, "李大爷")
    fake.add_contact(SUPERVISOR, "刘建国")  # level-1 supervisor of 3号楼's comprehensive grid
    fake.add_room(ROOM, "3号楼微网格群", {LEADER: None, RESIDENT: "3-2-1802 李", "wxid_bot": None})
    await fake.serve()
    yield fake
    await fake.close()


@pytest.fixture
async def service(puppet: FakePuppet, tmp_path: Path) -> AsyncIterator[Application]:
    url = f"sqlite:///{tmp_path / 'gridbot.sqlite3'}"
    runtime = open_runtime(url, load_roster(DEMO_ROSTER), RunningClock(QUIET))
    connector = WechatyConnector(fast_settings(puppet, account="default"), data_dir=tmp_path)
    app = Application(runtime, connector, web.Application(), UNPACED)
    await app.start()
    yield app
    await app.stop()


def say(puppet: FakePuppet, mid: str, talker: str, text: str, room: str = ROOM) -> None:
    puppet.add_message(FakeMessage(mid, text, T_TEXT, talker, room))
    puppet.push_message(mid)


async def replies(puppet: FakePuppet, count: int, timeout: float = 5.0) -> list[Sent]:
    """Wait until the bot has sent `count` messages; return them."""
    async with asyncio.timeout(timeout):
        while len(puppet.sent) < count:
            await asyncio.sleep(0.02)
    return list(puppet.sent)


async def test_reports_requests_and_majors_through_wechaty(service: Application, puppet: FakePuppet) -> None:
    say(puppet, "m1", LEADER, "今日巡查无异常，零报告")
    [ack] = await replies(puppet, 1)
    assert ack.conversation_id == ROOM and "零报告" in ack.text

    say(puppet, "m2", RESIDENT, "3号楼2单元电梯坏了，我家老人下不了楼")
    ticket = (await replies(puppet, 2))[1]
    assert "R1" in ticket.text
    assert ticket.mention_ids == (LEADER,) and ticket.text.startswith("@张丽\u2005")  # a real @mention

    say(puppet, "m2", RESIDENT, "3号楼2单元电梯坏了，我家老人下不了楼")  # the provider repeats an event
    say(puppet, "m3", RESIDENT, "5楼楼道里着火了，好多烟")
    sent = await replies(puppet, 4)
    await asyncio.sleep(0.3)
    sent = list(puppet.sent)
    assert sum("R1" in s.text for s in sent) == 1 and not any("R2" in s.text for s in sent)
    group = [s for s in sent[2:] if s.conversation_id == ROOM]
    private = [s for s in sent[2:] if s.conversation_id == SUPERVISOR]
    assert len(group) == 1 and "着火" not in group[0].text and group[0].mention_ids == (RESIDENT,)
    assert len(private) == 1 and "着火" in private[0].text  # found by name via ContactList


async def test_reconnects_after_the_server_dies(service: Application, puppet: FakePuppet) -> None:
    say(puppet, "a1", LEADER, "今日巡查无异常，零报告")
    await replies(puppet, 1)
    await puppet.kill()
    await asyncio.sleep(0.2)
    await puppet.serve()
    await puppet.wait_streams(2, timeout=10)
    say(puppet, "a2", RESIDENT, "楼道灯坏了")
    sent = await replies(puppet, 2, timeout=10)
    assert "R1" in sent[1].text


async def test_wrong_token_is_a_clear_error(puppet: FakePuppet, tmp_path: Path) -> None:
    settings = fast_settings(puppet, token="insecure_wrong-token-000")
    connector = WechatyConnector(settings, data_dir=tmp_path)
    with pytest.raises(WechatyAuthError) as err:
        await connector.start(lambda event: asyncio.sleep(0))
    assert "token" in str(err.value).lower() or "令牌" in str(err.value)
    assert "wrong-token-000" not in str(err.value)  # never the whole token in a message
    await connector.stop()

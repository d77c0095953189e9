"""The WeCom robot against a real HTTP server on loopback speaking the webhook protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.connectors.base import SendError
from bot.connectors.wecom import MAX_BYTES, WeComRobot
from handlers.events import ChatKind, Outbound


class FakeWeCom:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.reply: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}

    async def send(self, request: web.Request) -> web.Response:
        if request.query.get("key") != "good-key":
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        self.received.append(await request.json())
        return web.json_response(self.reply)


@pytest.fixture
async def wecom() -> AsyncIterator[tuple[FakeWeCom, str]]:
    fake = FakeWeCom()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", fake.send)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


def alert(text: str = "🚨 重大情况 M1（火情）\n位置：5号楼3层") -> Outbound:
    return Outbound(
        chat=ChatKind.GROUP,
        to_id="wecom",
        to_name="督办群",
        kind="major_alert",
        text=text,
        dedupe_key="wecom:M1",
    )


async def test_sends_markdown(wecom: tuple[FakeWeCom, str]) -> None:
    fake, base = wecom
    robot = WeComRobot("good-key", base)
    try:
        assert await robot.send(alert()) == "wecom:M1"
    finally:
        await robot.stop()
    [body] = fake.received
    assert body["msgtype"] == "markdown" and "5号楼3层" in body["markdown"]["content"]


async def test_long_text_is_trimmed_to_the_byte_limit(wecom: tuple[FakeWeCom, str]) -> None:
    fake, base = wecom
    robot = WeComRobot("good-key", base)
    try:
        await robot.send(alert("火" * 5000))
    finally:
        await robot.stop()
    assert len(fake.received[0]["markdown"]["content"].encode("utf-8")) <= MAX_BYTES


async def test_wrong_key_is_permanent_rate_limit_is_retryable(wecom: tuple[FakeWeCom, str]) -> None:
    fake, base = wecom
    bad = WeComRobot("bad-key", base)
    with pytest.raises(SendError) as err:
        await bad.send(alert())
    assert not err.value.retryable
    await bad.stop()
    fake.reply = {"errcode": 45009, "errmsg": "api freq out of limit"}
    robot = WeComRobot("good-key", base)
    with pytest.raises(SendError) as err:
        await robot.send(alert())
    assert err.value.retryable
    await robot.stop()


async def test_unreachable_is_retryable() -> None:
    robot = WeComRobot("good-key", "http://127.0.0.1:9")
    with pytest.raises(SendError) as err:
        await robot.send(alert())
    assert err.value.retryable
    await robot.stop()

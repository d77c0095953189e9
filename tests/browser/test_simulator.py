"""The web chat simulator: the WebSocket protocol over aiohttp (no browser), then a real
`gridbot serve` driven by Chromium through the page, the way a grid worker would use it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.connectors.web import WEB_DIR, WebChatConnector
from bot.outbox_sender import to_outbound
from bot.runtime import Runtime, open_runtime
from config.roster import load_roster
from handlers.clock import SHANGHAI, VirtualClock
from handlers.events import ChatKind, InboundEvent, MessageReceived, Outbound
from handlers.pipeline import Pipeline
from storage.models import InboundMessage, OutboxMessage
from tests.browser.conftest import REPO, GridbotServer

DEMO_ROSTER = REPO / "config" / "demo_roster.yaml"
CJK = re.compile(r"[\u4e00-\u9fff]")
GROUP = "3号楼微网格群"


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (7, 193, 96)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    def pixel(x: int, y: int) -> bytes:  # a gentle gradient, so it looks like a picture
        return bytes((rgb[0], min(255, rgb[1] + y * 2), min(255, rgb[2] + x * 3)))

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# ---------------------------------------------------------------------------- protocol (aiohttp)


@dataclass
class Sim:
    client: TestClient[Any, Any]
    connector: WebChatConnector
    runtime: Runtime
    data_dir: Path
    events: list[InboundEvent] = field(default_factory=list)

    async def ws(self) -> ClientWebSocketResponse:
        ws = await self.client.ws_connect("/ws")
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "history"
        return ws

    async def deliver(self) -> list[str]:
        """What the outbox sender does: send each pending row through the connector, mark it sent."""
        ids = []
        with self.runtime.session_factory() as session:
            rows = session.exec(
                select(OutboxMessage).where(OutboxMessage.status == "pending").order_by(col(OutboxMessage.id))
            )
            for row in rows:
                row.platform_msg_id = await self.connector.send(to_outbound(row))
                row.status = "sent"
                row.sent_at = self.connector.clock.now()
                session.add(row)
                ids.append(row.platform_msg_id)
            session.commit()
        return ids


async def make_sim(data_dir: Path, clock: VirtualClock, delay: float = 0.0) -> Sim:
    runtime = open_runtime(f"sqlite:///{data_dir}/gridbot.sqlite3", load_roster(DEMO_ROSTER), clock)
    pipeline = Pipeline(runtime.session_factory, runtime.services)
    app = web.Application()
    connector = WebChatConnector(app, runtime.session_factory, data_dir, clock)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    sim = Sim(client, connector, runtime, data_dir)

    async def sink(event: InboundEvent) -> None:
        sim.events.append(event)
        if delay:
            await asyncio.sleep(delay)  # a slow database: duplicates arrive while the first is in flight
        await pipeline.handle(event)

    await client.start_server()
    await connector.start(sink)
    return sim


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    s = await make_sim(tmp_path, clock, delay=0.05)
    try:
        yield s
    finally:
        await s.connector.stop()
        await s.client.close()
        s.runtime.engine.dispose()


async def quiet(ws: ClientWebSocketResponse, seconds: float = 0.2) -> list[dict[str, Any]]:
    """Frames that arrive within `seconds` (none expected, usually)."""
    frames = []
    try:
        while True:
            frames.append(await ws.receive_json(timeout=seconds))
    except TimeoutError:
        return frames


async def until(ws: ClientWebSocketResponse, kind: str, msg_id: str | None = None) -> dict[str, Any]:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == kind and (msg_id is None or frame.get("id") == msg_id):
            return frame


def send_frame(msg_id: str, text: str = "今日巡查无异常，零报告", **extra: Any) -> dict[str, Any]:
    return {"type": "send", "id": msg_id, "room": GROUP, "as": "张丽", "text": text, **extra}


async def test_bad_frames_get_chinese_errors_and_nothing_else(sim: Sim) -> None:
    ws, watcher = await sim.ws(), await sim.ws()
    bad: list[str] = [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"type": "hello"}),
        json.dumps({"type": "send", "room": GROUP, "as": "张丽", "text": "没有编号"}),
        json.dumps({"type": "send", "id": "x 1", "room": GROUP, "as": "张丽", "text": "编号有空格"}),
        json.dumps({"type": "send", "id": "a1", "room": GROUP, "text": "没有发送人"}),
        json.dumps({"type": "send", "id": "a2", "room": GROUP, "as": "张丽", "text": "   "}),
        json.dumps({"type": "send", "id": "a3", "room": GROUP, "as": "张丽", "text": 5}),
        json.dumps({"type": "send", "id": "a4", "room": 3, "as": "张丽", "text": "群名不对"}),
        json.dumps({"type": "send", "id": "a5", "room": GROUP, "as": "张丽", "text": "长" * 20_001}),
    ]
    for raw in bad:
        await ws.send_str(raw)
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "error", raw[:60]
        assert CJK.search(reply["message"]), reply
    await ws.send_bytes(b"\x00\x01")
    reply = await ws.receive_json(timeout=5)
    assert reply["type"] == "error" and CJK.search(reply["message"])
    assert await quiet(ws) == []
    assert await quiet(watcher) == []  # nothing was broadcast
    assert sim.events == []
    # 20,000 characters exactly is still fine
    await ws.send_json(send_frame("long-ok", "长" * 20_000))
    assert (await until(ws, "ack", "long-ok"))["id"] == "long-ok"


async def test_message_is_broadcast_stored_and_answered(sim: Sim) -> None:
    ws, other = await sim.ws(), await sim.ws()
    await ws.send_json(send_frame("m1"))
    shown = await until(other, "message", "m1")
    assert shown["room"] == GROUP and shown["from"] == "张丽" and shown["text"] == "今日巡查无异常，零报告"
    assert shown["at"].startswith("2026-11-23T09:00:00")
    await until(ws, "ack", "m1")
    event = sim.events[0]
    assert isinstance(event, MessageReceived)
    assert (event.message_id, event.chat, event.sender_id, event.room_id, event.room_topic) == (
        "web-m1",
        ChatKind.GROUP,
        "sim:张丽",
        f"sim-room:{GROUP}",
        GROUP,
    )
    ids = await sim.deliver()
    bot = await until(other, "bot")
    assert bot["id"] == ids[0] and bot["chat"] == "group" and bot["room"] == GROUP and bot["to"] is None
    assert "零报告" in bot["text"]
    # a resent outbox row (crash before it was marked sent) is not shown twice: same id back
    row = Outbound(
        chat=ChatKind.PRIVATE, to_id="sim:王书记", to_name="王书记", kind="t", text="私信", dedupe_key="k-1"
    )
    first, again = await sim.connector.send(row), await sim.connector.send(row)
    assert first == again
    frames = await quiet(other)
    private = [f for f in frames if f["type"] == "bot"]
    assert len(private) == 1 and private[0]["chat"] == "private" and private[0]["to"] == "王书记"


async def test_duplicate_client_ids_are_processed_and_shown_once(sim: Sim) -> None:
    a, b, watcher = await sim.ws(), await sim.ws(), await sim.ws()
    frame = send_frame("dup-1", "3号楼2单元楼道灯坏了，晚上看不见", **{"as": "李阿姨"})
    await a.send_json(frame)
    await b.send_json(frame)  # another tab resending while the first is still in the sink
    await until(a, "ack", "dup-1")
    await until(b, "ack", "dup-1")
    await a.send_json(frame)  # and once more after it was stored
    await until(a, "ack", "dup-1")
    frames = await quiet(watcher, 0.3)
    assert [f["type"] for f in frames if f.get("id") == "dup-1"].count("message") == 1
    assert len(sim.events) == 1
    with sim.runtime.session_factory() as session:
        rows = session.exec(select(InboundMessage).where(InboundMessage.platform_id == "web-dup-1")).all()
    assert len(rows) == 1


async def test_images_are_checked_stored_and_served(sim: Sim) -> None:
    ws = await sim.ws()
    png = tiny_png()
    refused = {
        "too-big": data_url(png + b"\x00" * (5 * 1024 * 1024)),
        "svg": data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        "not-png": data_url(b"GIF-but-not-really" * 4),
        "not-b64": "data:image/png;base64,@@@@",
        "no-data-url": "http://example.invalid/x.png",
    }
    for msg_id, image in refused.items():
        await ws.send_json(send_frame(msg_id, "", image=image))
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "error" and reply["id"] == msg_id, (msg_id, reply)
        assert CJK.search(reply["message"])
    assert sim.events == []
    assert not (sim.data_dir / "images").exists() or not any((sim.data_dir / "images").iterdir())

    await ws.send_json(send_frame("img-1", "", image=data_url(png)))
    shown = await until(ws, "message", "img-1")
    await until(ws, "ack", "img-1")
    event = sim.events[0]
    assert isinstance(event, MessageReceived) and event.text == "[图片]" and event.image_path
    stored = Path(event.image_path)
    assert stored.parent == sim.data_dir / "images" and stored.suffix == ".png"
    assert stored.read_bytes() == png
    assert shown["text"] == "[图片]" and shown["image_url"] == f"/media/{stored.name}"
    resp = await sim.client.get(shown["image_url"])
    assert resp.status == 200 and resp.content_type == "image/png" and await resp.read() == png
    assert (await sim.client.get("/media/..%2Fgridbot.sqlite3")).status == 404


async def test_history_survives_reconnect_and_restart(sim: Sim, tmp_path: Path) -> None:
    ws = await sim.ws()
    await ws.send_json(send_frame("h1", "今日巡查无异常，零报告，电话13903710103"))
    await until(ws, "ack", "h1")
    await sim.deliver()
    again = await sim.client.ws_connect("/ws")
    history = (await again.receive_json(timeout=5))["items"]
    assert [i["type"] for i in history] == ["message", "bot"]
    assert "139****0103" in history[0]["text"]  # what is replayed is masked

    await sim.connector.stop()
    await sim.client.close()
    clock = VirtualClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    restarted = await make_sim(tmp_path, clock)
    try:
        ws2 = await restarted.client.ws_connect("/ws")
        rebuilt = (await ws2.receive_json(timeout=5))["items"]
        assert [(i["type"], i["id"]) for i in rebuilt] == [(i["type"], i["id"]) for i in history]
        assert rebuilt[0]["from"] == "张丽" and rebuilt[0]["room"] == GROUP
        assert rebuilt[1]["room"] == GROUP and "零报告" in rebuilt[1]["text"]
        await ws2.send_json(send_frame("h1"))  # a page resending after the restart: known already
        assert (await ws2.receive_json(timeout=5)) == {"type": "ack", "id": "h1"}
        assert await quiet(ws2) == []
        assert restarted.events == []
    finally:
        await restarted.connector.stop()
        await restarted.client.close()
        restarted.runtime.engine.dispose()


async def test_directory_and_assets(sim: Sim) -> None:
    directory = await (await sim.client.get("/api/directory")).json()
    group = next(g for g in directory["groups"] if g["topic"] == GROUP)
    assert {(m["name"], m["role"]) for m in group["members"]} == {
        ("张丽", "网格长"),
        ("李强", "网格员"),
        ("孙红梅", "网格员"),
    }
    merchant = next(g for g in directory["groups"] if g["topic"] == "幸福路商户微网格群")
    assert merchant["kind"] == "merchant"
    assert {(s["name"], s["level"]) for s in directory["supervisors"]} >= {("王书记", 2), ("陈志强", 3)}
    page = await sim.client.get("/")
    assert page.status == 200 and 'data-testid="identity-select"' in await page.text()
    for name in ("app.js", "app.css"):
        assert (await sim.client.get(f"/static/{name}")).status == 200
    for name in ("..%2Fconnectors%2Fweb.py", ".hidden.js", "nope.js", "index.py"):
        assert (await sim.client.get(f"/static/{name}")).status == 404
    # everything comes from the service: no CDN, no external fonts
    for path in WEB_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", text), path


async def test_a_page_connected_before_start_is_told_to_wait_then_gets_history(tmp_path: Path) -> None:
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    runtime = open_runtime(f"sqlite:///{tmp_path}/gridbot.sqlite3", load_roster(DEMO_ROSTER), clock)
    app = web.Application()
    connector = WebChatConnector(app, runtime.session_factory, tmp_path, clock)
    events: list[InboundEvent] = []

    async def sink(event: InboundEvent) -> None:
        events.append(event)

    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/ws")
        assert (await ws.receive_json(timeout=5)) == {"type": "history", "items": []}
        await ws.send_json(send_frame("early"))
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "error" and "id" not in reply and CJK.search(reply["message"])
        await connector.start(sink)
        assert (await ws.receive_json(timeout=5))["type"] == "history"
        await ws.send_json(send_frame("early"))  # what the page does on a history frame
        await until(ws, "ack", "early")
        assert len(events) == 1
        await connector.stop()
        await connector.stop()  # idempotent
    runtime.engine.dispose()


# ---------------------------------------------------------------------------- browser
# Last in the module: the sync Playwright fixture runs an event loop until the module ends, and
# async tests after it could not start theirs.


ZERO_REPORT_ACK = '[data-testid="bot-message"][data-kind="report_ack"]'


def test_chat_in_the_browser(gridbot: GridbotServer, browser: Any, artifacts: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(gridbot.url + "/")
    expect(page.get_by_test_id("group-item").first).to_be_visible()
    expect(page.get_by_test_id("connection-state")).to_have_class(re.compile("online"))
    page.screenshot(path=artifacts / "sim-01-start.png")

    # 张丽, leader of building 3, files today's zero report in her group
    page.get_by_test_id("identity-select").select_option("张丽")
    page.locator(f"[data-testid=group-item][data-room='{GROUP}']").click()
    expect(page.get_by_test_id("chat-title")).to_contain_text(GROUP)
    page.get_by_test_id("message-input").fill("今日巡查无异常，零报告")
    page.get_by_test_id("message-input").press("Enter")
    mine = page.get_by_test_id("my-message").filter(has_text="今日巡查无异常，零报告")
    expect(mine).to_be_visible()
    # The acknowledgement itself: the morning patrol reminder (sent when the suite runs between
    # 09:00 and 11:00 Beijing time) mentions 零报告 too.
    expect(page.locator(ZERO_REPORT_ACK)).to_be_visible(timeout=15_000)
    expect(mine.get_by_test_id("message-pending")).to_have_count(0)
    page.screenshot(path=artifacts / "sim-02-zero-report.png")

    # a new resident reports a broken light: a ticket R1, and 张丽 is @-mentioned
    page.get_by_test_id("identity-select").select_option(label="新居民…")
    expect(page.get_by_test_id("new-resident-dialog")).to_be_visible()
    page.get_by_test_id("new-resident-input").fill("李阿姨")
    page.get_by_test_id("new-resident-ok").click()
    expect(page.get_by_test_id("identity-select")).to_have_value("李阿姨")
    page.get_by_test_id("message-input").fill("3号楼2单元楼道灯坏了，晚上看不见")
    page.get_by_test_id("send-button").click()
    ticket = page.get_by_test_id("bot-message").filter(has_text="R1")
    expect(ticket).to_be_visible(timeout=15_000)
    expect(ticket.get_by_test_id("mention").first).to_have_text("@张丽")
    expect(page.get_by_test_id("user-message").filter(has_text="零报告")).to_be_visible()  # 张丽's, not mine
    page.screenshot(path=artifacts / "sim-03-ticket.png")

    # a picture through the attach button
    png = tmp_path / "photo.png"
    png.write_bytes(tiny_png(48, 32))
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("attach-button").click()
    chooser.value.set_files(png)
    image = page.get_by_test_id("my-message").get_by_test_id("message-image").last
    expect(image).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{64}\.png$"), timeout=15_000)
    # A locator, not an element handle: each new message re-renders the list, and a detached
    # loading="lazy" image never loads, so a handle taken before a re-render waits forever.
    expect(image).to_have_js_property("naturalWidth", 48, timeout=15_000)
    assert len(list((gridbot.data_dir / "images").glob("*.png"))) == 1
    page.screenshot(path=artifacts / "sim-04-image.png")

    # the private chat shows only this person's conversation with the bot
    page.get_by_test_id("private-chat").click()
    expect(page.get_by_test_id("chat-title")).to_contain_text("私聊")
    expect(page.get_by_test_id("my-message")).to_have_count(0)

    # another tab sees the same conversation, with an unread badge for news elsewhere
    other = context.new_page()
    other.goto(gridbot.url + "/")
    other.get_by_test_id("identity-select").select_option("张丽")  # own messages are never unread
    other.locator("[data-testid=group-item][data-room='1号楼微网格群']").click()
    page.locator(f"[data-testid=group-item][data-room='{GROUP}']").click()
    page.get_by_test_id("message-input").fill("谢谢网格员！")
    page.get_by_test_id("message-input").press("Enter")
    badge = other.locator(f"[data-testid=group-item][data-room='{GROUP}'] [data-testid=unread-badge]")
    expect(badge).to_be_visible()
    other.screenshot(path=artifacts / "sim-05-second-tab.png")
    other.close()

    # phone-sized: the group list collapses into its own screen
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    mobile.goto(gridbot.url + "/")
    expect(mobile.get_by_test_id("chat-list")).to_be_visible()
    expect(mobile.get_by_test_id("chat-pane")).to_be_hidden()
    mobile.screenshot(path=artifacts / "sim-06-phone-list.png")
    mobile.locator(f"[data-testid=group-item][data-room='{GROUP}']").click()
    expect(mobile.get_by_test_id("chat-list")).to_be_hidden()
    expect(mobile.get_by_test_id("bot-message").filter(has_text="R1")).to_be_visible()
    mobile.screenshot(path=artifacts / "sim-07-phone-chat.png")
    mobile.get_by_test_id("back-button").click()
    expect(mobile.get_by_test_id("chat-list")).to_be_visible()
    phone.close()

    # the service restarts: the page says so, reconnects by itself and the conversation is back
    gridbot.stop()
    expect(page.get_by_test_id("reconnect-banner")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("reconnect-banner")).to_have_text("连接已断开，正在重连…")
    page.screenshot(path=artifacts / "sim-08-disconnected.png")
    gridbot.start()
    expect(page.get_by_test_id("reconnect-banner")).to_be_hidden(timeout=15_000)
    page.reload()
    expect(page.get_by_test_id("bot-message").filter(has_text="R1")).to_be_visible()
    expect(page.locator(ZERO_REPORT_ACK)).to_be_visible()
    expect(page.get_by_test_id("identity-select")).to_have_value("李阿姨")
    assert errors == [], errors
    context.close()

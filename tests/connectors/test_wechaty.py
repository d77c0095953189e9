"""WechatyConnector end to end over real gRPC on loopback against tests/fake_puppet.py (no mocks)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot.connectors.base import SendError
from bot.connectors.wechaty import WechatyAuthError, WechatyConnector, WechatyError, WechatySettings
from bot.connectors.wechaty_settings import WechatyConfigError, discover_endpoint, mask_token
from bot.connectors.wechaty_wire import SeenIds, epoch_to_datetime, mention_text
from handlers.clock import SHANGHAI
from handlers.events import (
    ChatKind,
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MessageRecalled,
    MessageReceived,
    Outbound,
    RoomRenamed,
)
from tests.fake_puppet import (
    PNG_BYTES,
    READY,
    ROOM_JOIN,
    ROOM_LEAVE,
    T_IMAGE,
    T_RECALLED,
    T_SYSTEM,
    T_TEXT,
    T_URL,
    FakeMessage,
    FakePuppet,
)

ROOM = "r1@chatroom"
TOPIC = "幸福里3号网格群"
ALICE, BOB, CAROL = "wxid_alice", "wxid_bob", "wxid_carol"


class Collector:
    """The EventSink: keeps every event and lets a test await the next one."""

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []
        self._queue: asyncio.Queue[InboundEvent] = asyncio.Queue()

    async def __call__(self, event: InboundEvent) -> None:
        self.events.append(event)
        self._queue.put_nowait(event)

    async def next(self, timeout: float = 3.0) -> InboundEvent:
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    async def next_message(self, timeout: float = 3.0) -> MessageReceived:
        event = await self.next(timeout)
        assert isinstance(event, MessageReceived), event
        return event


def fast_settings(fake: FakePuppet, **overrides: object) -> WechatySettings:
    settings = WechatySettings(
        token=fake.token,
        endpoint=f"127.0.0.1:{fake.port}",
        tls=False,
        account="bot-a",
        heartbeat_timeout=1.0,
        login_timeout=3.0,
        rpc_timeout=2.0,
        reconnect_base=0.05,
        reconnect_cap=0.2,
        send_interval=0,
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakePuppet]:
    puppet = FakePuppet()
    puppet.add_contact(ALICE, "王阿姨")
    puppet.add_contact(BOB, "Bob Li")
    puppet.add_contact(CAROL, "陈卡罗")
    puppet.add_room(ROOM, TOPIC, {ALICE: "3栋-王秀英", BOB: None, CAROL: None, "wxid_bot": None})
    await puppet.serve()
    yield puppet
    await puppet.close()


@pytest.fixture
async def connected(fake: FakePuppet, tmp_path: Path) -> AsyncIterator[tuple[WechatyConnector, Collector]]:
    connector = WechatyConnector(fast_settings(fake), data_dir=tmp_path)
    sink = Collector()
    await connector.start(sink)
    yield connector, sink
    await connector.stop()


def text_message(mid: str, text: str, talker: str = ALICE, room: str = ROOM, **kw: object) -> FakeMessage:
    return FakeMessage(mid, text, T_TEXT, talker, room, **kw)  # type: ignore[arg-type]


async def deliver(fake: FakePuppet, message: FakeMessage) -> None:
    fake.add_message(message)
    fake.push_message(message.id)


# ---------------------------------------------------------------------- connecting


async def test_login_records_own_contact_id(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    connector, _ = connected
    assert connector.self_id == "wxid_bot"
    assert fake.calls[:2] == ["Start", "Event"]
    assert connector.name == "wechaty" and connector.account == "bot-a"


async def test_wrong_token_raises_auth_error_with_masked_token(fake: FakePuppet, tmp_path: Path) -> None:
    token = "puppet_service_wrong-secret-token-1234"
    connector = WechatyConnector(fast_settings(fake, token=token), data_dir=tmp_path)
    with pytest.raises(WechatyAuthError) as info:
        await connector.start(Collector())
    message = str(info.value)
    assert "UNAUTHENTICATED" in message and "令牌" in message and "GRIDBOT_WECHATY_TOKEN" in message
    assert token not in message and "wrong-secret" not in message
    assert info.value.masked_token.startswith("puppet_service_")
    await connector.stop()  # idempotent after a failed start
    assert fake.streams_opened == 0


async def test_stop_is_idempotent_and_calls_stop(fake: FakePuppet, tmp_path: Path) -> None:
    connector = WechatyConnector(fast_settings(fake), data_dir=tmp_path)
    await connector.start(Collector())
    await connector.stop()
    await connector.stop()
    assert fake.calls.count("Stop") == 1
    assert not fake.started


# ---------------------------------------------------------------------- inbound mapping


async def test_room_text_message_has_topic_sender_alias_and_mentions(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    now = int(time.time())
    await deliver(
        fake, text_message("m1", "@网格机器人\u2005路灯坏了", mention_ids=["wxid_bot"], timestamp=now)
    )
    event = await sink.next_message()
    assert event.message_id == "m1"
    assert event.chat is ChatKind.GROUP
    assert (event.room_id, event.room_topic) == (ROOM, TOPIC)
    assert (event.sender_id, event.sender_name) == (ALICE, "3栋-王秀英")  # in-room alias wins
    assert event.text == "@网格机器人\u2005路灯坏了"
    assert event.mention_ids == ("wxid_bot",)
    assert event.account == "bot-a"
    assert event.at == datetime.fromtimestamp(now, SHANGHAI) and event.at.tzinfo is not None

    await deliver(fake, text_message("m2", "收到", talker=BOB))
    event = await sink.next_message()
    assert event.sender_name == "Bob Li"  # no alias in the room: contact name
    assert fake.calls.count("RoomPayload") == 1  # topic cached


async def test_private_message(connected: tuple[WechatyConnector, Collector], fake: FakePuppet) -> None:
    _, sink = connected
    await deliver(fake, text_message("p1", "你好", talker=CAROL, room=""))
    event = await sink.next_message()
    assert event.chat is ChatKind.PRIVATE
    assert (event.room_id, event.room_topic) == (None, None)
    assert (event.sender_id, event.sender_name) == (CAROL, "陈卡罗")


async def test_type_numbers_are_the_wire_enum_not_the_proto_labels(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    """The proto labels 6 as TEXT; servers send Text=7 and Image=6."""
    _, sink = connected
    await deliver(fake, FakeMessage("t7", "真正的文字", T_TEXT, ALICE, ROOM))
    assert (await sink.next_message()).text == "真正的文字"
    fake.images["t6"] = PNG_BYTES
    await deliver(fake, FakeMessage("t6", "<img/>", T_IMAGE, ALICE, ROOM))
    assert (await sink.next_message()).text == "[图片]"


@pytest.mark.parametrize("mode", ["uuid", "base64"])
async def test_image_is_downloaded_and_stored_by_hash(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet, tmp_path: Path, mode: str
) -> None:
    _, sink = connected
    fake.image_mode = mode
    fake.images["img1"] = PNG_BYTES
    await deliver(fake, FakeMessage("img1", "", T_IMAGE, ALICE, ROOM))
    event = await sink.next_message()
    assert event.text == "[图片]"
    assert event.image_path is not None
    path = Path(event.image_path)
    assert path.parent == tmp_path / "images" and path.suffix == ".png"
    assert path.read_bytes() == PNG_BYTES
    assert path.stem == __import__("hashlib").sha256(PNG_BYTES).hexdigest()
    if mode == "uuid":
        assert "Download" in fake.calls


async def test_image_without_download_support_still_arrives(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    fake.image_mode = "unimplemented"
    await deliver(fake, FakeMessage("img2", "", T_IMAGE, ALICE, ROOM))
    event = await sink.next_message()
    assert (event.text, event.image_path) == ("[图片]", None)


async def test_recall_url_and_system_messages(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    await deliver(fake, FakeMessage("sys1", "王阿姨加入了群聊", T_SYSTEM, ALICE, ROOM))
    await deliver(fake, FakeMessage("rc1", "m-original-42", T_RECALLED, ALICE, ROOM))
    recalled = await sink.next()
    assert isinstance(recalled, MessageRecalled)
    assert (recalled.message_id, recalled.account) == ("m-original-42", "bot-a")
    await deliver(fake, FakeMessage("u1", "", T_URL, ALICE, ROOM, url_title="停水通知"))
    assert (await sink.next_message()).text == "[链接] 停水通知"
    assert len(sink.events) == 2  # the system message was ignored


async def test_room_topic_change_renames_and_updates_the_cache(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    await deliver(fake, text_message("a1", "早"))
    assert (await sink.next_message()).room_topic == TOPIC
    fake.rename_room(ROOM, "幸福里3号网格群（新）", ALICE)
    renamed = await sink.next()
    assert isinstance(renamed, RoomRenamed)
    assert (renamed.room_id, renamed.old_topic, renamed.new_topic) == (ROOM, TOPIC, "幸福里3号网格群（新）")
    await deliver(fake, text_message("a2", "好"))
    assert (await sink.next_message()).room_topic == "幸福里3号网格群（新）"
    assert fake.calls.count("RoomPayload") == 1  # updated from the event, not refetched


async def test_room_join_and_leave(connected: tuple[WechatyConnector, Collector], fake: FakePuppet) -> None:
    _, sink = connected
    fake.push(ROOM_JOIN, {"roomId": ROOM, "inviteeIdList": ["wxid_new"], "inviterId": ALICE, "timestamp": 1})
    joined = await sink.next()
    assert isinstance(joined, MemberJoined) and joined.member_ids == ("wxid_new",)
    fake.push(ROOM_LEAVE, {"roomId": ROOM, "removeeIdList": [BOB], "removerId": BOB})
    left = await sink.next()
    assert isinstance(left, MemberLeft) and (left.room_id, left.member_ids) == (ROOM, (BOB,))


# ---------------------------------------------------------------------- what is dropped


async def test_duplicate_message_events_deliver_once(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    fake.add_message(text_message("d1", "重复"))
    for _ in range(3):
        fake.push_message("d1")
    await deliver(fake, text_message("d2", "之后"))  # sentinel: once it arrives, d1's copies are past
    assert (await sink.next_message()).message_id == "d1"
    assert (await sink.next_message()).message_id == "d2"
    assert [e.message_id for e in sink.events if isinstance(e, MessageReceived)] == ["d1", "d2"]


async def test_old_replayed_message_is_dropped(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    yesterday_ms = int((time.time() - 86_400) * 1000)  # milliseconds, as some providers send
    await deliver(fake, text_message("old1", "昨天的消息", timestamp=yesterday_ms))
    await deliver(fake, text_message("new1", "今天的消息"))
    assert (await sink.next_message()).message_id == "new1"
    assert len(sink.events) == 1


async def test_own_messages_are_dropped_and_send_with_mentions(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    connector, sink = connected
    out = Outbound(
        chat=ChatKind.GROUP,
        to_id=ROOM,
        to_name=TOPIC,
        kind="report_ack",
        text="已收到您的报告，工单 #12",
        mentions=(ALICE, BOB, "wxid_ghost"),
        mention_names=("王阿姨", "李先生", "小周"),
    )
    message_id = await connector.send(out)
    assert message_id == "sent-1"
    sent = fake.sent[-1]
    assert sent.conversation_id == ROOM
    assert sent.text == "@3栋-王秀英\u2005@Bob Li\u2005@小周\u2005已收到您的报告，工单 #12"
    assert sent.mention_ids == (ALICE, BOB, "wxid_ghost")
    # The fake echoes the sent message back as the bot's own MESSAGE event: it must not come in.
    await deliver(fake, text_message("after-send", "谢谢"))
    assert (await sink.next_message()).message_id == "after-send"
    assert len(sink.events) == 1


async def test_private_send_and_send_errors(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    connector, _ = connected
    out = Outbound(
        chat=ChatKind.PRIVATE, to_id=CAROL, to_name="陈卡罗", kind="dm", text="您好", mentions=(CAROL,)
    )
    assert await connector.send(out) == "sent-1"
    assert (fake.sent[-1].text, fake.sent[-1].mention_ids) == ("您好", ())
    with pytest.raises(SendError) as info:
        await connector.send(replace(out, to_id="wxid_unknown"))
    assert info.value.retryable is False  # NOT_FOUND: retrying cannot help


async def test_private_message_to_a_roster_name_needs_exactly_one_contact_of_that_name(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    """A roster person the bot has no contact id for is found by display name, but a major
    incident must not go to a namesake: with two contacts of that name, nobody gets it."""
    connector, _ = connected
    out = Outbound(
        chat=ChatKind.PRIVATE, to_id="person:P7", to_name="刘建国", kind="incident_alert", text="M1 火情"
    )
    with pytest.raises(SendError) as info:
        await connector.send(out)  # nobody of that name yet
    assert info.value.retryable is True
    fake.add_contact("wxid_liu_1", "刘建国")
    fake.add_contact("wxid_liu_2", "刘建国")
    with pytest.raises(SendError) as info:
        await connector.send(out)
    assert info.value.retryable is True and fake.sent == []
    del fake.contacts["wxid_liu_2"]
    assert await connector.send(out) == "sent-1"
    assert fake.sent[-1].conversation_id == "wxid_liu_1"


async def test_send_while_server_down_is_retryable(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    connector, _ = connected
    await fake.kill()
    with pytest.raises(SendError) as info:
        await connector.send(Outbound(ChatKind.GROUP, ROOM, TOPIC, "x", "hi"))
    assert info.value.retryable is True


# ---------------------------------------------------------------------- liveness and reconnects


def _lifecycle_calls(fake: FakePuppet, since: int) -> list[str]:
    return [c for c in fake.calls[since:] if c in ("Start", "Stop", "Event")]


async def test_server_killed_mid_stream_reconnects_without_repeats(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    connector, sink = connected
    await deliver(fake, text_message("k1", "断线前"))
    assert (await sink.next_message()).message_id == "k1"
    mark = len(fake.calls)

    await fake.kill()
    await asyncio.sleep(0.3)  # several refused reconnect attempts
    await fake.serve()  # same port, puppet state lost
    await fake.wait_streams(2)
    assert _lifecycle_calls(fake, mark) == ["Stop", "Start", "Event"]
    assert connector.sessions == 2

    fake.push_message("k1")  # the provider replays recent history after a reconnect
    await deliver(fake, text_message("k2", "断线后"))
    assert (await sink.next_message()).message_id == "k2"
    assert [e.message_id for e in sink.events if isinstance(e, MessageReceived)] == ["k1", "k2"]


async def test_messages_pushed_during_outage_are_not_lost(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    _, sink = connected
    await fake.kill()
    fake.add_message(text_message("gap1", "断线期间"))
    fake.push_message("gap1")  # buffered by the provider, delivered when the stream reopens
    await fake.serve()
    assert (await sink.next_message()).message_id == "gap1"


async def test_heartbeat_silence_triggers_stop_start_reopen(
    connected: tuple[WechatyConnector, Collector], fake: FakePuppet
) -> None:
    connector, sink = connected
    mark = len(fake.calls)
    fake.silent = True
    await fake.wait_streams(2, timeout=4.0)  # heartbeat_timeout is 1 s in these settings
    fake.silent = False
    assert _lifecycle_calls(fake, mark) == ["Stop", "Start", "Event"]
    await deliver(fake, text_message("h1", "恢复了"))
    assert (await sink.next_message()).message_id == "h1"
    assert connector.sessions == 2


async def test_stale_stream_from_earlier_process_is_taken_over(fake: FakePuppet, tmp_path: Path) -> None:
    fake.occupy_stream()  # an earlier process died without calling Stop
    connector = WechatyConnector(fast_settings(fake), data_dir=tmp_path)
    sink = Collector()
    await connector.start(sink)
    assert _lifecycle_calls(fake, 0) == ["Start", "Event", "Stop", "Start", "Event"]
    await deliver(fake, text_message("s1", "接管"))
    assert (await sink.next_message()).message_id == "s1"
    await connector.stop()


async def test_unreachable_server_fails_start(fake: FakePuppet, tmp_path: Path) -> None:
    await fake.kill()
    connector = WechatyConnector(fast_settings(fake), data_dir=tmp_path)
    with pytest.raises(WechatyError, match="cannot reach"):
        await connector.start(Collector())


async def test_start_waits_for_login_or_ready(fake: FakePuppet, tmp_path: Path) -> None:
    fake.auto_login = False  # e.g. the account waits for a QR scan
    connector = WechatyConnector(fast_settings(fake, login_timeout=0.3), data_dir=tmp_path)
    with pytest.raises(WechatyError, match="LOGIN or READY"):
        await connector.start(Collector())
    fake.push(READY)
    await connector.start(Collector())  # READY alone is enough; the own id stays unknown
    assert connector.self_id is None
    await connector.stop()


def _make_certs(folder: Path, server_name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `server_name` (the SNI)."""
    ca_key, ca_crt = folder / "ca.key", folder / "ca.pem"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.pem"
    ext = folder / "ext.cnf"
    ext.write_text(f"subjectAltName=DNS:{server_name}\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sign = ["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial"]
    run = [
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=test-root-ca"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={server_name}"],
        [*sign, "-out", crt, "-days", "2", "-extfile", ext],
    ]
    for args in run:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return ca_crt, crt, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make certificates")
async def test_tls_with_sni_from_token_and_configured_ca(tmp_path: Path) -> None:
    ca, crt, key = _make_certs(tmp_path, "insecure")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(crt, key)
    server_ctx.set_alpn_protocols(["h2"])
    fake = FakePuppet(token="insecure_tls-token-0001")
    await fake.serve(ssl=server_ctx)
    try:
        settings = fast_settings(fake, tls=True, ca_path=ca)
        assert settings.server_name == "insecure"
        connector = WechatyConnector(settings, data_dir=tmp_path)
        await connector.start(Collector())
        assert connector.self_id == "wxid_bot"
        await connector.stop()

        wrong_name = WechatyConnector(replace(settings, server_name_override="elsewhere"), data_dir=tmp_path)
        with pytest.raises(WechatyError, match="cannot reach"):
            await wrong_name.start(Collector())  # certificate does not match the SNI
    finally:
        await fake.close()


# ---------------------------------------------------------------------- settings and helpers


def test_settings_from_env_defaults_and_sni(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = WechatySettings.from_env(
        {"GRIDBOT_WECHATY_TOKEN": "Puppet_PadLocal_abc-123", "GRIDBOT_WECHATY_CA": str(ca)}
    )
    assert settings.tls and settings.endpoint is None and settings.authority == "api.chatie.io"
    assert settings.server_name == "puppet_padlocal"
    assert settings.heartbeat_timeout == 90.0 and settings.account == "default"

    plain = WechatySettings.from_env(
        {
            "GRIDBOT_WECHATY_TOKEN": "insecure_x",
            "GRIDBOT_WECHATY_ENDPOINT": "10.0.0.5:8788",
            "GRIDBOT_WECHATY_TLS": "off",
            "GRIDBOT_WECHATY_SERVER_NAME": "override",
            "GRIDBOT_WECHATY_HEARTBEAT_TIMEOUT": "30",
            "GRIDBOT_WECHATY_ACCOUNT": "grid-bot-2",
        }
    )
    assert (plain.tls, plain.endpoint, plain.server_name) == (False, "10.0.0.5:8788", "override")
    assert (plain.heartbeat_timeout, plain.account) == (30.0, "grid-bot-2")
    assert plain.ssl_context() is None


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"GRIDBOT_WECHATY_TOKEN": "insecure_x"},  # TLS on by default but no CA configured
        {"GRIDBOT_WECHATY_TOKEN": "insecure_x", "GRIDBOT_WECHATY_TLS": "maybe"},
        {"GRIDBOT_WECHATY_TOKEN": "x", "GRIDBOT_WECHATY_TLS": "off", "GRIDBOT_WECHATY_ENDPOINT": "nohost"},
        {"GRIDBOT_WECHATY_TOKEN": "x", "GRIDBOT_WECHATY_TLS": "0", "GRIDBOT_WECHATY_HEARTBEAT_TIMEOUT": "-1"},
    ],
)
def test_settings_from_env_rejects_bad_config(env: dict[str, str]) -> None:
    with pytest.raises(WechatyConfigError):
        WechatySettings.from_env(env)


async def test_discovery_resolves_and_rejects_unknown_tokens(fake: FakePuppet) -> None:
    async def hosties(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if token == "insecure_known":
            return web.json_response({"ip": "127.0.0.1", "port": fake.port})
        if token == "insecure_offline":
            return web.json_response({"ip": "0.0.0.0", "port": 0})
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/v0/hosties/{token}", hosties)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        base = WechatySettings(token="insecure_known", authority=f"127.0.0.1:{port}", tls=False)
        base = replace(base, discovery_scheme="http")
        assert await discover_endpoint(base) == ("127.0.0.1", fake.port)
        for token in ("insecure_offline", "insecure_unknown"):
            with pytest.raises(WechatyConfigError) as info:
                await discover_endpoint(replace(base, token=token))
            assert token not in str(info.value)
    finally:
        await runner.cleanup()


def test_wire_helpers() -> None:
    assert epoch_to_datetime(1_700_000_000, SHANGHAI) == epoch_to_datetime(1_700_000_000_000, SHANGHAI)
    seen = SeenIds(2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    assert seen.add("c") and "b" not in seen and len(seen) == 2  # least recently seen evicted
    assert mention_text("hi", ["张三"]) == "@张三\u2005hi"
    assert mention_text("@张三\u2005hi", ["张三"]) == "@张三\u2005hi"
    assert mask_token("insecure_0123456789abcdef") == "insecure_0123…ef"

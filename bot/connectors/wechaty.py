"""Wechaty Puppet Service connector: WeChat groups over the puppet gRPC protocol (grpclib + wechaty-grpc).

The connector turns the puppet's event stream into typed events (handlers.events) with the room topic
and sender name resolved; it knows nothing about grids or rosters. See docs/wechaty-connector.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError
from wechaty_grpc.wechaty import PuppetStub
from wechaty_grpc.wechaty import puppet as pb

from bot.connectors.base import EventSink, SendError
from bot.connectors.wechaty_settings import (
    WechatyAuthError,
    WechatyConfigError,
    WechatyError,
    WechatySettings,
    discover_endpoint,
)
from bot.connectors.wechaty_wire import (
    PLACEHOLDERS,
    Dirty,
    Ev,
    Msg,
    SeenIds,
    epoch_to_datetime,
    id_list,
    image_extension,
    mention_text,
    message_time,
    parse_event_payload,
    parse_file_box,
)
from handlers.clock import Clock, SystemClock
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

__all__ = [
    "WechatyAuthError",
    "WechatyConfigError",
    "WechatyConnector",
    "WechatyError",
    "WechatySettings",
]

log = logging.getLogger(__name__)

# Failures of the transport itself: the stream (or the whole server) is gone, so reconnect.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    StreamTerminatedError,
    ProtocolError,
    TimeoutError,
)
IMAGE_ERRORS: tuple[type[BaseException], ...] = (GRPCError, aiohttp.ClientError, *CONNECTION_ERRORS)
# Statuses after which the same send may succeed later; everything else is a permanent refusal.
RETRYABLE_STATUSES = frozenset(
    {
        Status.UNAVAILABLE,
        Status.DEADLINE_EXCEEDED,
        Status.RESOURCE_EXHAUSTED,
        Status.ABORTED,
        Status.INTERNAL,
        Status.UNKNOWN,
        Status.CANCELLED,
    }
)
EVENT_METHOD = "/wechaty.Puppet/Event"
CACHE_TTL = 3600.0  # names and topics also change without a DIRTY event on some providers


class _StreamDead(Exception):
    """The event stream stopped delivering (silence past the heartbeat timeout, or ended)."""


class _TtlCache:
    """Tiny per-key cache with expiry on read; loop time so tests can use short TTLs if needed."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._data: dict[Any, tuple[float, str]] = {}

    def get(self, key: Any) -> str | None:
        hit = self._data.get(key)
        if hit is None or hit[0] < asyncio.get_running_loop().time():
            return None
        return hit[1]

    def put(self, key: Any, value: str) -> None:
        self._data[key] = (asyncio.get_running_loop().time() + self._ttl, value)

    def key_for(self, value: str) -> Any | None:
        """The (unexpired) key whose value is `value`, if any: a reverse look-up by name/topic."""
        now = asyncio.get_running_loop().time()
        return next((k for k, (exp, v) in self._data.items() if v == value and exp >= now), None)

    def drop(self, match: Callable[[Any], bool]) -> None:
        for key in [k for k in self._data if match(k)]:
            del self._data[key]


class WechatyConnector:
    name = "wechaty"

    def __init__(self, settings: WechatySettings, clock: Clock | None = None, *, data_dir: Path) -> None:
        self.settings = settings
        self.account = settings.account
        self._clock: Clock = clock or SystemClock()
        self._data_dir = data_dir
        self._sink: EventSink | None = None
        self._address: tuple[str, int] | None = None
        self._channel: Channel | None = None
        self._stub: PuppetStub | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stopping = False
        self._self_id: str | None = None
        self._since: datetime | None = None
        self._seen = SeenIds(settings.dedupe_size)
        self._topics = _TtlCache(CACHE_TTL)  # room id → topic
        self._names = _TtlCache(CACHE_TTL)  # contact id → name
        self._aliases = _TtlCache(CACHE_TTL)  # (room id, contact id) → display name in that room
        self._send_lock = asyncio.Lock()
        self._last_send = 0.0
        self._session_events = 0
        self._handlers = self._event_handlers()
        self.sessions = 0  # event streams opened so far (1 + reconnects); for logs and tests

    # ------------------------------------------------------------------ lifecycle

    @property
    def self_id(self) -> str | None:
        return self._self_id

    async def start(self, sink: EventSink) -> None:
        if self._task is not None:
            raise WechatyError("WechatyConnector.start() called twice")
        self._sink = sink
        self._stopping = False
        self._address = await discover_endpoint(self.settings)
        # Anything older than this is a provider replay of history from before we listened.
        self._since = self._clock.now() - timedelta(seconds=self.settings.replay_grace)
        self._ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._supervise(self._ready), name="wechaty-events")
        log.info(
            "wechaty: connecting to %s:%d (tls=%s, token=%s)",
            *self._address,
            self.settings.tls,
            self.settings.masked_token,
        )
        try:
            async with asyncio.timeout(self.settings.login_timeout):
                await asyncio.shield(self._ready)
        except TimeoutError:
            await self.stop()
            raise WechatyError(
                f"wechaty: 等待登录超时 / no LOGIN or READY within {self.settings.login_timeout:g}s"
                " (does the account need a QR scan?)"
            ) from None
        except BaseException:
            await self.stop()
            raise
        log.info("wechaty: logged in as %s", self._self_id or "<unknown>")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._stub is not None:
            try:
                await self._call_stop(timeout=min(self.settings.rpc_timeout, 5.0))
            except Exception as exc:  # shutting down anyway (e.g. the token was just rejected)
                log.info("wechaty: Stop during shutdown failed: %r", exc)
        self._close_channel()

    # ------------------------------------------------------------------ connection supervision

    async def _supervise(self, ready: asyncio.Future[None]) -> None:
        """Run sessions forever: each failure → Stop, Start, reopen, with exponential backoff."""
        attempt = 0
        reset = False
        while not self._stopping:
            self._session_events = 0
            try:
                await self._session(reset=reset)
                reason = "server ended the event stream"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = self._describe_failure(exc)
                fatal = self._fatal_before_ready(exc, ready)
                if fatal is not None:
                    ready.set_exception(fatal)
                    return
            reset = True
            if self._session_events > 0:
                attempt = 0  # the session was healthy for a while: start the backoff over
            delay = self._backoff(attempt)
            attempt += 1
            log.warning("wechaty: %s; reconnecting in %.1fs (attempt %d)", reason, delay, attempt)
            await asyncio.sleep(delay)

    def _fatal_before_ready(self, exc: Exception, ready: asyncio.Future[None]) -> Exception | None:
        """Before the first login a failure is the caller's to see; afterwards we only retry."""
        if isinstance(exc, GRPCError) and exc.status is Status.UNAUTHENTICATED:
            err: Exception = WechatyAuthError(self.settings.token, _grpc_detail(exc))
            if ready.done():
                log.error("wechaty: %s", err)  # token revoked while running: keep retrying, loudly
                return None
            return err
        if ready.done():
            return None
        if isinstance(exc, GRPCError) and exc.status is Status.ALREADY_EXISTS:
            return None  # a stale stream from an earlier process: the retry calls Stop first
        if isinstance(exc, _StreamDead):
            return None  # reachable but quiet (e.g. waiting for a QR scan): login_timeout bounds it
        return WechatyError(f"wechaty: 连接失败 / cannot reach the puppet service: {exc!r}")

    def _describe_failure(self, exc: Exception) -> str:
        if isinstance(exc, GRPCError):
            return f"gRPC {exc.status.name}: {_grpc_detail(exc)}"
        return str(exc) if isinstance(exc, _StreamDead) else f"connection lost ({exc!r})"

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, capped: many bots must not reconnect in lockstep."""
        ceiling = min(self.settings.reconnect_cap, self.settings.reconnect_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)

    async def _session(self, *, reset: bool) -> None:
        """One connection: fresh channel, (Stop,) Start, then read events until the stream dies."""
        stub = self._open_channel()
        if reset:
            await self._call_stop(timeout=self.settings.rpc_timeout)
        await stub.start(pb.StartRequest())
        assert self._channel is not None
        self.sessions += 1
        if reset:
            log.info("wechaty: puppet restarted (Stop, Start); reopening events (#%d)", self.sessions)
        async with self._channel.request(
            EVENT_METHOD,
            Cardinality.UNARY_STREAM,
            pb.EventRequest,
            pb.EventResponse,
            metadata=self._metadata(),
        ) as stream:
            await stream.send_message(pb.EventRequest(), end=True)
            while True:
                try:
                    async with asyncio.timeout(self.settings.heartbeat_timeout):
                        resp = await stream.recv_message()
                except TimeoutError:
                    raise _StreamDead(
                        f"no event for {self.settings.heartbeat_timeout:g}s (heartbeat lost)"
                    ) from None
                if resp is None:
                    return
                self._session_events += 1
                await self._on_event(int(resp.type), parse_event_payload(resp.payload))

    def _metadata(self) -> dict[str, str]:
        return {"authorization": f"Wechaty {self.settings.token}"}

    def _open_channel(self) -> PuppetStub:
        # A new channel per session: after a silent network failure the old connection may look alive.
        self._close_channel()
        assert self._address is not None
        host, port = self._address
        ctx = self.settings.ssl_context()
        config = Configuration(ssl_target_name_override=self.settings.server_name) if ctx else None
        self._channel = Channel(host, port, ssl=ctx, config=config)
        self._stub = PuppetStub(self._channel, metadata=self._metadata(), timeout=self.settings.rpc_timeout)
        return self._stub

    def _close_channel(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()

    async def _call_stop(self, *, timeout: float) -> None:
        """Stop frees the server's single event-stream slot; failure here is not worth failing over."""
        if self._stub is None:
            return
        try:
            await self._stub.stop(pb.StopRequest(), timeout=timeout)
        except GRPCError as exc:
            if exc.status is Status.UNAUTHENTICATED:
                raise
            log.info("wechaty: Stop answered %s (ignored)", exc.status.name)

    # ------------------------------------------------------------------ events

    def _event_handlers(self) -> dict[int, Callable[[dict[str, Any]], Awaitable[None]]]:
        return {
            Ev.MESSAGE: self._on_message,
            Ev.LOGIN: self._on_login,
            Ev.READY: self._on_ready,
            Ev.ROOM_JOIN: self._on_room_join,
            Ev.ROOM_LEAVE: self._on_room_leave,
            Ev.ROOM_TOPIC: self._on_room_topic,
            Ev.DIRTY: self._on_dirty,
            Ev.SCAN: self._on_scan,
            Ev.LOGOUT: self._on_logout,
            Ev.ERROR: self._on_error,
        }

    async def _on_event(self, etype: int, payload: dict[str, Any]) -> None:
        handler = self._handlers.get(etype)
        if handler is not None:
            await handler(payload)
        elif etype not in (Ev.HEARTBEAT, Ev.DONG):
            log.debug("wechaty: ignoring event type %d", etype)

    async def _on_login(self, payload: dict[str, Any]) -> None:
        self._self_id = str(payload.get("contactId") or "") or self._self_id
        log.info("wechaty: LOGIN %s", self._self_id)
        self._mark_ready()

    async def _on_ready(self, payload: dict[str, Any]) -> None:
        self._mark_ready()

    def _mark_ready(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    async def _on_scan(self, payload: dict[str, Any]) -> None:
        # The operator has to scan this QR code with the bot's phone; nothing else can log it in.
        log.warning("wechaty: 需要扫码登录 / QR scan needed: status=%s qrcode=%s", *_scan_fields(payload))

    async def _on_logout(self, payload: dict[str, Any]) -> None:
        log.warning("wechaty: LOGOUT %s (%s)", payload.get("contactId"), payload.get("data", ""))

    async def _on_error(self, payload: dict[str, Any]) -> None:
        log.warning("wechaty: provider error event: %s", payload.get("data", payload))

    async def _on_dirty(self, payload: dict[str, Any]) -> None:
        kind = _as_int(payload.get("payloadType"))
        pid = str(payload.get("payloadId") or "")
        if kind == Dirty.ROOM:
            self._topics.drop(lambda k: k == pid)
            self._aliases.drop(lambda k: k[0] == pid)
        elif kind == Dirty.ROOM_MEMBER:
            # RoomMember dirty ids are the room's id (all of its members) or a member's contact id.
            self._aliases.drop(lambda k: pid in k)
        elif kind == Dirty.CONTACT:
            self._names.drop(lambda k: k == pid)
            self._aliases.drop(lambda k: k[1] == pid)

    async def _on_room_join(self, payload: dict[str, Any]) -> None:
        room_id = str(payload.get("roomId") or "")
        members = id_list(payload.get("inviteeIdList"))
        if room_id and members:
            self._aliases.drop(lambda k: k[0] == room_id and k[1] in members)
            await self._emit(MemberJoined(room_id, members, self._event_time(payload), self.account))

    async def _on_room_leave(self, payload: dict[str, Any]) -> None:
        room_id = str(payload.get("roomId") or "")
        members = id_list(payload.get("removeeIdList"))
        if room_id and members:
            self._aliases.drop(lambda k: k[0] == room_id and k[1] in members)
            await self._emit(MemberLeft(room_id, members, self._event_time(payload), self.account))

    async def _on_room_topic(self, payload: dict[str, Any]) -> None:
        room_id = str(payload.get("roomId") or "")
        new_topic = str(payload.get("newTopic") or "")
        if not room_id:
            return
        self._topics.put(room_id, new_topic)  # later messages must carry the new topic at once
        old_topic = str(payload.get("oldTopic") or "")
        event = RoomRenamed(room_id, old_topic, new_topic, self._event_time(payload), self.account)
        await self._emit(event)

    def _event_time(self, payload: dict[str, Any]) -> datetime:
        stamp = payload.get("timestamp")
        if isinstance(stamp, int | float) and stamp > 0:
            return epoch_to_datetime(stamp, self._clock.tz)
        return self._clock.now()

    async def _on_message(self, payload: dict[str, Any]) -> None:
        mid = str(payload.get("messageId") or "")
        if not mid or not self._seen.add(mid):
            return  # providers deliver some events two or three times
        try:
            event = await self._message_event(mid)
        except GRPCError as exc:
            self._seen.discard(mid)  # a redelivery may succeed
            log.warning("wechaty: cannot load message %s: %s", mid, _grpc_detail(exc))
            return
        except BaseException:
            self._seen.discard(mid)  # connection lost mid-lookup: let a replay bring it back
            raise
        if event is not None and not await self._emit(event):
            self._seen.discard(mid)

    async def _emit(self, event: InboundEvent) -> bool:
        assert self._sink is not None
        try:
            await self._sink(event)
        except Exception:
            log.exception("wechaty: sink failed for %s", type(event).__name__)
            return False
        return True

    async def _message_event(self, mid: str) -> InboundEvent | None:
        stub = self._require_stub()
        p = await stub.message_payload(pb.MessagePayloadRequest(id=mid))
        at = message_time(p.receive_time, p.timestamp_deprecated, self._clock.tz, self._clock.now())
        kind = int(p.type)  # plain int on purpose: see wechaty_wire.Msg
        # Field 6 is `talker_id` in 1.x and `from_id` in 0.20: same wire number, so this covers both.
        talker = p.talker_id
        if self._self_id and talker == self._self_id:
            return None
        if self._since is not None and at < self._since:
            log.debug("wechaty: dropping replayed message %s from %s", mid, at.isoformat())
            return None
        if kind == Msg.RECALLED:
            original = p.text.strip()
            return MessageRecalled(original, at, self.account) if original else None
        text, image_path = await self._message_text(mid, kind, p.text)
        if text is None:
            return None
        room_id = p.room_id or None
        return MessageReceived(
            message_id=mid,
            chat=ChatKind.GROUP if room_id else ChatKind.PRIVATE,
            sender_id=talker,
            sender_name=await self._sender_name(room_id, talker),
            text=text,
            at=at,
            room_id=room_id,
            room_topic=await self._room_topic(room_id) if room_id else None,
            mention_ids=tuple(p.mention_ids),
            account=self.account,
            image_path=image_path,
        )

    async def _message_text(self, mid: str, kind: int, text: str) -> tuple[str | None, str | None]:
        """(text to hand on, stored image path); text None means the message is not for us."""
        if kind == Msg.TEXT:
            return text, None
        if kind == Msg.IMAGE:
            return PLACEHOLDERS[Msg.IMAGE], await self._store_image(mid)
        if kind == Msg.URL:
            title = await self._url_title(mid)
            return (f"{PLACEHOLDERS[Msg.URL]} {title}" if title else PLACEHOLDERS[Msg.URL]), None
        if kind in PLACEHOLDERS:
            return PLACEHOLDERS[kind], None
        log.debug("wechaty: ignoring message %s of type %d", mid, kind)
        return None, None

    async def _url_title(self, mid: str) -> str:
        try:
            resp = await self._require_stub().message_url(pb.MessageUrlRequest(id=mid))
        except GRPCError:
            return ""
        return resp.url_link.title.strip() if resp.url_link else ""

    # ------------------------------------------------------------------ names and topics

    async def _room_topic(self, room_id: str) -> str | None:
        cached = self._topics.get(room_id)
        if cached is not None:
            return cached
        try:
            room = await self._require_stub().room_payload(pb.RoomPayloadRequest(id=room_id))
        except GRPCError as exc:
            log.warning("wechaty: RoomPayload(%s) failed: %s", room_id, _grpc_detail(exc))
            return None
        self._topics.put(room_id, room.topic)
        return room.topic

    async def _contact_name(self, contact_id: str) -> str | None:
        cached = self._names.get(contact_id)
        if cached is not None:
            return cached
        try:
            contact = await self._require_stub().contact_payload(pb.ContactPayloadRequest(id=contact_id))
        except GRPCError as exc:
            log.warning("wechaty: ContactPayload(%s) failed: %s", contact_id, _grpc_detail(exc))
            return None
        if contact.name:
            self._names.put(contact_id, contact.name)
        return contact.name or None

    async def _member_name(self, room_id: str, contact_id: str) -> str | None:
        """In-group nickname (room alias) first: that is the name people see in the group."""
        cached = self._aliases.get((room_id, contact_id))
        if cached is not None:
            return cached
        name: str | None = None
        try:
            member = await self._require_stub().room_member_payload(
                pb.RoomMemberPayloadRequest(id=room_id, member_id=contact_id)
            )
            name = member.room_alias or member.name or None
        except GRPCError as exc:
            log.info("wechaty: RoomMemberPayload(%s) failed: %s", contact_id, _grpc_detail(exc))
        name = name or await self._contact_name(contact_id)
        if name:
            self._aliases.put((room_id, contact_id), name)
        return name

    async def _sender_name(self, room_id: str | None, contact_id: str) -> str:
        name = (
            await self._member_name(room_id, contact_id) if room_id else await self._contact_name(contact_id)
        )
        return name or contact_id  # identity is the id anyway; a name is only for display

    # ------------------------------------------------------------------ images

    async def _store_image(self, mid: str) -> str | None:
        try:
            fetched = await self._fetch_image(mid)
        except IMAGE_ERRORS as exc:
            log.warning("wechaty: image %s not downloaded: %r", mid, exc)
            return None
        if fetched is None:
            log.warning("wechaty: image %s: the server offers no way to download it", mid)
            return None
        data, name = fetched
        digest = hashlib.sha256(data).hexdigest()
        path = self._data_dir / "images" / f"{digest}.{image_extension(data, name)}"
        await asyncio.to_thread(_write_once, path, data)
        return str(path)

    async def _fetch_image(self, mid: str) -> tuple[bytes, str] | None:
        """MessageImage (FileBox JSON) first; servers without it may offer MessageImageStream."""
        stub = self._require_stub()
        try:
            resp = await stub.message_image(pb.MessageImageRequest(id=mid, type=pb.ImageType.IMAGE_TYPE_HD))
        except GRPCError as exc:
            if exc.status is not Status.UNIMPLEMENTED:
                raise
            return await self._image_stream(mid)
        box = parse_file_box(resp.file_box)
        if box is None:
            return None
        if box.data is not None:
            return self._capped(box.data), box.name
        if box.uuid is not None:
            return await self._download(box.uuid), box.name
        assert box.url is not None
        return await self._http_get(box.url), box.name

    async def _download(self, uuid: str) -> bytes:
        chunks = bytearray()
        async for part in self._require_stub().download(pb.DownloadRequest(id=uuid)):
            chunks += part.chunk
            self._capped(chunks)
        return bytes(chunks)

    async def _image_stream(self, mid: str) -> tuple[bytes, str] | None:
        chunks, name = bytearray(), ""
        request = pb.MessageImageStreamRequest(id=mid, type=pb.ImageType.IMAGE_TYPE_HD)
        try:
            async for part in self._require_stub().message_image_stream(request):
                box = part.file_box_chunk
                chunks += box.data or b""
                name = box.name or name
                self._capped(chunks)
        except GRPCError as exc:
            if exc.status is Status.UNIMPLEMENTED:
                return None
            raise
        return (bytes(chunks), name) if chunks else None

    async def _http_get(self, url: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self.settings.rpc_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
            resp.raise_for_status()
            data = await resp.content.read(self.settings.image_max_bytes + 1)
        return self._capped(data)

    def _capped(self, data: bytes | bytearray) -> bytes:
        if len(data) > self.settings.image_max_bytes:
            raise OSError(f"image larger than {self.settings.image_max_bytes} bytes")
        return bytes(data)

    # ------------------------------------------------------------------ sending

    async def send(self, message: Outbound) -> str:
        stub = self._stub
        if stub is None or self._task is None:
            raise SendError("wechaty: not connected", retryable=True)
        ids: list[str] = []
        names: list[str] = []
        if message.chat is ChatKind.GROUP and message.mentions:
            ids, names = await self._mention_names(message)
        conversation = await self._conversation_id(message)
        request = pb.MessageSendTextRequest(
            conversation_id=conversation, text=mention_text(message.text, names), mentional_ids=ids
        )
        async with self._send_lock:
            await self._pace()
            try:
                resp = await stub.message_send_text(request)
            except GRPCError as exc:
                raise SendError(
                    f"wechaty: MessageSendText to {message.to_name or message.to_id} failed: "
                    f"{exc.status.name} {_grpc_detail(exc)}",
                    retryable=exc.status in RETRYABLE_STATUSES,
                ) from exc
            except CONNECTION_ERRORS as exc:
                raise SendError(f"wechaty: connection lost while sending: {exc!r}") from exc
            finally:
                self._last_send = asyncio.get_running_loop().time()
        return resp.id or resp.id_string_value_deprecated or ""

    async def _conversation_id(self, message: Outbound) -> str:
        """The platform id to send to. The outbox may name a roster person the bot has not seen yet
        ("person:<code>") or a group not yet bound ("topic:<topic>"): find them by name/topic."""
        target = message.to_id
        if target.startswith("topic:"):
            topic = target.removeprefix("topic:")
            found = self._topics.key_for(topic) or await self._scan_rooms(topic)
        elif target.startswith("person:"):
            found = await self._contact_named(message.to_name)
        else:
            return target
        if not found:
            # Retryable: once the person speaks (or the group is seen) the id becomes known.
            raise SendError(f"wechaty: 尚未找到「{message.to_name}」/ unknown contact", retryable=True)
        return str(found)

    async def _contact_named(self, name: str) -> str | None:
        """The one contact whose display name is `name`. A private message may carry a major
        incident: when two contacts share the name, neither gets it (the person's id becomes
        known once they claim their identity or speak), rather than a namesake guessed at."""
        stub = self._require_stub()
        try:
            ids = (await stub.contact_list(pb.ContactListRequest())).ids
        except GRPCError as exc:
            log.warning("wechaty: ContactList failed: %s", _grpc_detail(exc))
            return None
        matches = [str(contact_id) for contact_id in ids if await self._contact_name(contact_id) == name]
        if len(matches) > 1:
            log.warning("wechaty: %d contacts are named %s: private message held", len(matches), name)
            return None
        return matches[0] if matches else None

    async def _scan_rooms(self, topic: str) -> str | None:
        stub = self._require_stub()
        try:
            ids = (await stub.room_list(pb.RoomListRequest())).ids
        except GRPCError as exc:
            log.warning("wechaty: RoomList failed: %s", _grpc_detail(exc))
            return None
        for room_id in ids:
            if await self._room_topic(room_id) == topic:
                return str(room_id)
        return None

    async def _mention_names(self, message: Outbound) -> tuple[list[str], list[str]]:
        """Visible names for each mentioned id; an id with no name is dropped (an @ nobody sees)."""
        ids: list[str] = []
        names: list[str] = []
        for index, contact_id in enumerate(message.mentions):
            fallback = message.mention_names[index] if index < len(message.mention_names) else ""
            try:
                name = await self._member_name(message.to_id, contact_id) or fallback
            except CONNECTION_ERRORS:
                name = fallback
            if name:
                ids.append(contact_id)
                names.append(name)
            else:
                log.warning("wechaty: no display name for %s; not mentioning them", contact_id)
        return ids, names

    async def _pace(self) -> None:
        """Space sends out: accounts that send in bursts get limited (操作过于频繁) or banned."""
        interval = self.settings.send_interval
        if interval <= 0:
            return
        wait = self._last_send + interval + random.uniform(0, self.settings.send_jitter)
        delay = wait - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _require_stub(self) -> PuppetStub:
        if self._stub is None:
            raise StreamTerminatedError("wechaty: no open channel")
        return self._stub


def _grpc_detail(exc: GRPCError) -> str:
    return exc.message or exc.status.name


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _scan_fields(payload: dict[str, Any]) -> tuple[object, object]:
    return payload.get("status"), payload.get("qrcode", "")


def _write_once(path: Path, data: bytes) -> None:
    """Content-addressed: an existing file already holds these bytes. Rename keeps readers safe."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)

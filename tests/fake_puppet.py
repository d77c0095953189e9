"""A fake Wechaty Puppet Service: real gRPC (grpclib Server + wechaty-grpc messages) on loopback.

It holds rooms, contacts and messages in memory, checks the token like real servers do
(`authorization: Wechaty <token>`, else UNAUTHENTICATED), allows one event stream at a time
(ALREADY_EXISTS otherwise, freed by Stop), lets a test push events, records what the bot sends,
and can be killed (connections dropped) and restarted on the same port.

Message type numbers are stored as the wechaty-puppet enum that real servers put on the wire
(Text=7, Image=6, ...), never the proto's labels.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any, cast

from grpclib.const import Status
from grpclib.events import RecvRequest, listen
from grpclib.exceptions import GRPCError
from grpclib.server import Server
from wechaty_grpc.wechaty import PuppetBase
from wechaty_grpc.wechaty import puppet as pb

# Event type numbers (plain ints, as on the wire).
HEARTBEAT, MESSAGE, ROOM_JOIN, ROOM_LEAVE, ROOM_TOPIC, READY, LOGIN, DIRTY = 1, 2, 19, 20, 21, 23, 25, 27
# Message type numbers as servers send them (wechaty-puppet enum).
T_EMOTICON, T_IMAGE, T_TEXT, T_RECALLED, T_URL, T_VIDEO, T_SYSTEM = 5, 6, 7, 13, 14, 15, 18

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100  # big enough to need several chunks
_END = object()


@dataclass
class FakeRoom:
    topic: str
    member_ids: list[str]
    aliases: dict[str, str] = field(default_factory=dict)  # contact id → in-group nickname


@dataclass
class FakeMessage:
    id: str
    text: str
    type: int
    talker_id: str
    room_id: str = ""
    timestamp: int = 0  # seconds or milliseconds, as providers do
    mention_ids: list[str] = field(default_factory=list)
    url_title: str = ""


@dataclass(frozen=True)
class Sent:
    conversation_id: str
    text: str
    mention_ids: tuple[str, ...]


class FakePuppet(PuppetBase):
    def __init__(self, token: str = "insecure_0123456789abcdef", *, self_id: str = "wxid_bot") -> None:
        self.token = token
        self.self_id = self_id
        self.contacts: dict[str, str] = {self_id: "网格机器人"}  # id → name
        self.rooms: dict[str, FakeRoom] = {}
        self.messages: dict[str, FakeMessage] = {}
        self.images: dict[str, bytes] = {}  # message id → bytes
        self.image_mode = "uuid"  # "uuid" (Download RPC), "base64", or "unimplemented"
        self.sent: list[Sent] = []
        self.calls: list[str] = []  # RPC names in arrival order (authenticated calls only)
        self.started = False
        self.auto_login = True  # emit LOGIN when a stream opens on a started puppet
        self.silent = False  # True: stop heartbeats (a wedged provider)
        self.heartbeat_interval = 0.2
        self.streams_opened = 0
        self.port = 0
        self._stream: asyncio.Queue[object] | None = None
        self._pending: list[pb.EventResponse] = []  # pushed while no stream was open
        self._server: Server | None = None
        self._transports: list[asyncio.Transport] = []
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._downloads: dict[str, bytes] = {}
        self._stream_changed = asyncio.Event()

    # ------------------------------------------------------------------ test controls

    async def serve(self, ssl: SSLContext | None = None) -> None:
        """Listen on 127.0.0.1 (ephemeral port the first time, the same port after a kill)."""
        server = Server([self])
        listen(server, RecvRequest, self._check_auth)
        self._track_connections(server)
        await server.start("127.0.0.1", self.port, reuse_address=True, ssl=ssl)
        self._server = server
        listener = cast(asyncio.Server, server._server)
        self.port = listener.sockets[0].getsockname()[1]
        self._heartbeat_task = asyncio.create_task(self._heartbeats())

    async def kill(self) -> None:
        """The server process dies: listener closed, live connections dropped, puppet state lost."""
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            self._heartbeat_task = None
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for transport in self._transports:
            transport.abort()
        self._transports.clear()
        await server.wait_closed()
        self._stream = None
        self.started = False

    def occupy_stream(self) -> None:
        """Leave a stream open as a crashed earlier client would: the next Event gets ALREADY_EXISTS."""
        self._stream = asyncio.Queue()

    async def close(self) -> None:
        await self.kill()

    def add_contact(self, contact_id: str, name: str) -> None:
        self.contacts[contact_id] = name

    def add_room(self, room_id: str, topic: str, members: dict[str, str | None]) -> None:
        """`members`: contact id → in-group alias (None: no alias set)."""
        room = FakeRoom(topic, list(members))
        room.aliases = {cid: alias for cid, alias in members.items() if alias}
        self.rooms[room_id] = room

    def add_message(self, message: FakeMessage) -> None:
        if not message.timestamp:
            message.timestamp = int(time.time() * 1000)
        self.messages[message.id] = message

    def push(self, etype: int, payload: dict[str, Any] | None = None) -> None:
        event = pb.EventResponse(type=etype, payload=json.dumps(payload or {}, ensure_ascii=False))
        if self._stream is None:
            self._pending.append(event)  # replayed when the next stream opens
        else:
            self._stream.put_nowait(event)

    def push_message(self, message_id: str) -> None:
        self.push(MESSAGE, {"messageId": message_id})

    def rename_room(self, room_id: str, new_topic: str, changer_id: str) -> None:
        room = self.rooms[room_id]
        old, room.topic = room.topic, new_topic
        payload = {"roomId": room_id, "oldTopic": old, "newTopic": new_topic, "changerId": changer_id}
        self.push(ROOM_TOPIC, {**payload, "timestamp": int(time.time())})

    async def wait_streams(self, count: int, timeout: float = 5.0) -> None:
        """Wait until `count` event streams have been opened in total."""
        async with asyncio.timeout(timeout):
            while self.streams_opened < count:
                self._stream_changed.clear()
                await self._stream_changed.wait()

    # ------------------------------------------------------------------ plumbing

    async def _check_auth(self, event: RecvRequest) -> None:
        if event.metadata.get("authorization") != f"Wechaty {self.token}":
            raise GRPCError(Status.UNAUTHENTICATED, "Invalid Wechaty TOKEN")
        self.calls.append(event.method_name.rsplit("/", 1)[-1])

    def _track_connections(self, server: Server) -> None:
        """Remember transports so kill() can drop live connections like a dying process would."""
        make_protocol = server._protocol_factory

        def factory() -> Any:
            protocol = make_protocol()
            made = protocol.connection_made

            def connection_made(transport: asyncio.Transport) -> None:
                self._transports.append(transport)
                made(transport)

            protocol.connection_made = connection_made  # type: ignore[method-assign,assignment]
            return protocol

        server._protocol_factory = factory  # type: ignore[method-assign]

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.silent and self._stream is not None:
                self._stream.put_nowait(
                    pb.EventResponse(type=HEARTBEAT, payload=json.dumps({"data": "beat"}))
                )

    def _end_stream(self) -> None:
        if self._stream is not None:
            self._stream.put_nowait(_END)
            self._stream = None

    # ------------------------------------------------------------------ RPCs

    async def event(self, request: pb.EventRequest) -> AsyncIterator[pb.EventResponse]:
        if self._stream is not None:
            raise GRPCError(Status.ALREADY_EXISTS, "an event stream is already open: Stop first")
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._stream = queue
        self.streams_opened += 1
        self._stream_changed.set()
        try:
            if self.started and self.auto_login:
                yield pb.EventResponse(type=LOGIN, payload=json.dumps({"contactId": self.self_id}))
            pending, self._pending = self._pending, []
            for item in pending:
                yield item
            while (item := await queue.get()) is not _END:
                assert isinstance(item, pb.EventResponse)
                yield item
        finally:
            if self._stream is queue:
                self._stream = None

    async def start(self, request: pb.StartRequest) -> pb.StartResponse:
        self.started = True
        return pb.StartResponse()

    async def stop(self, request: pb.StopRequest) -> pb.StopResponse:
        self.started = False
        self._end_stream()
        return pb.StopResponse()

    async def message_payload(self, request: pb.MessagePayloadRequest) -> pb.MessagePayloadResponse:
        msg = self.messages.get(request.id)
        if msg is None:
            raise GRPCError(Status.NOT_FOUND, f"no message {request.id}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # providers still fill `timestamp`
            return pb.MessagePayloadResponse(
                id=msg.id,
                text=msg.text,
                type=msg.type,  # wire number, deliberately not the enum label
                talker_id=msg.talker_id,
                room_id=msg.room_id,
                timestamp_deprecated=msg.timestamp,
                mention_ids=list(msg.mention_ids),
            )

    async def room_payload(self, request: pb.RoomPayloadRequest) -> pb.RoomPayloadResponse:
        room = self.rooms.get(request.id)
        if room is None:
            raise GRPCError(Status.NOT_FOUND, f"no room {request.id}")
        return pb.RoomPayloadResponse(id=request.id, topic=room.topic, member_ids=list(room.member_ids))

    async def contact_payload(self, request: pb.ContactPayloadRequest) -> pb.ContactPayloadResponse:
        name = self.contacts.get(request.id)
        if name is None:
            raise GRPCError(Status.NOT_FOUND, f"no contact {request.id}")
        return pb.ContactPayloadResponse(id=request.id, name=name)

    async def room_member_payload(self, request: pb.RoomMemberPayloadRequest) -> pb.RoomMemberPayloadResponse:
        room = self.rooms.get(request.id)
        if room is None or request.member_id not in room.member_ids:
            raise GRPCError(Status.NOT_FOUND, f"no member {request.member_id} in {request.id}")
        return pb.RoomMemberPayloadResponse(
            id=request.member_id,
            room_alias=room.aliases.get(request.member_id, ""),
            name=self.contacts.get(request.member_id, ""),
        )

    async def message_image(self, request: pb.MessageImageRequest) -> pb.MessageImageResponse:
        data = self.images.get(request.id)
        if self.image_mode == "unimplemented":
            raise GRPCError(Status.UNIMPLEMENTED)
        if data is None:
            raise GRPCError(Status.NOT_FOUND, f"no image {request.id}")
        if self.image_mode == "base64":
            box = {"type": 1, "name": "photo.jpg", "base64": base64.b64encode(data).decode()}
        else:
            uuid = f"uuid-{request.id}"
            self._downloads[uuid] = data
            box = {"type": 7, "name": "photo.jpg", "uuid": uuid}
        return pb.MessageImageResponse(file_box=json.dumps(box))

    async def download(self, request: pb.DownloadRequest) -> AsyncIterator[pb.DownloadResponse]:
        data = self._downloads.get(request.id)
        if data is None:
            raise GRPCError(Status.NOT_FOUND, f"no file {request.id}")
        for offset in range(0, len(data), 8192):
            yield pb.DownloadResponse(chunk=data[offset : offset + 8192])

    async def message_url(self, request: pb.MessageUrlRequest) -> pb.MessageUrlResponse:
        msg = self.messages.get(request.id)
        if msg is None:
            raise GRPCError(Status.NOT_FOUND, f"no message {request.id}")
        return pb.MessageUrlResponse(
            url_link=pb.UrlLinkPayload(title=msg.url_title, url="https://example.org")
        )

    async def contact_list(self, request: pb.ContactListRequest) -> pb.ContactListResponse:
        return pb.ContactListResponse(ids=list(self.contacts))

    async def room_list(self, request: pb.RoomListRequest) -> pb.RoomListResponse:
        return pb.RoomListResponse(ids=list(self.rooms))

    async def message_send_text(self, request: pb.MessageSendTextRequest) -> pb.MessageSendTextResponse:
        if request.conversation_id not in self.rooms and request.conversation_id not in self.contacts:
            raise GRPCError(Status.NOT_FOUND, f"no conversation {request.conversation_id}")
        self.sent.append(Sent(request.conversation_id, request.text, tuple(request.mentional_ids)))
        message_id = f"sent-{len(self.sent)}"
        room_id = request.conversation_id if request.conversation_id in self.rooms else ""
        # Real providers echo the bot's own message back as a MESSAGE event.
        self.add_message(FakeMessage(message_id, request.text, T_TEXT, self.self_id, room_id))
        self.push_message(message_id)
        return pb.MessageSendTextResponse(id=message_id)

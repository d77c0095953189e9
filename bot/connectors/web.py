"""Web chat simulator: the embedded default connector, so anyone can try the bot in a browser.

The page (bot/web/) shows every micro-grid group chat and a private chat with the bot; the person
typing picks who they are ("我是：") from the roster or types a new resident's name. Identities use
the same ids as `gridbot simulate` (`sim:<name>`, `sim-room:<topic>`), so a person is recognised the
same way in both.

Routes (registered on the aiohttp application handed in):
    GET /                 the chat page
    GET /static/{name}    its assets (bot/web/; nothing from a CDN)
    GET /media/{name}     pictures people sent (data_dir/images/<sha256>.<ext>)
    GET /api/directory    groups, their members and roles, supervisors, known residents (JSON)
    GET /ws               the conversation (WebSocket, JSON frames)

WebSocket frames, browser → server:
    {"type": "send", "id": "<client uuid>", "room": "<group topic>" | null, "as": "<name>",
     "text": "...", "image": "data:image/png;base64,..." (optional)}
server → browser:
    {"type": "history", "items": [<message | bot>, ...]}           on connect, oldest first
    {"type": "message", "id", "room", "from", "text", "at", "image_url"?}   to everyone
    {"type": "ack", "id"}                        the message is stored (the pipeline has it)
    {"type": "failed", "id", "message"}          it was shown but could not be stored: resend
    {"type": "bot", "id", "chat", "room", "to", "kind", "text", "mentions", "at"}
    {"type": "error", "message": "<中文>", "id"?}  a bad frame; nothing else happened

A message is broadcast before the sink is awaited, so the bot's replies (sent by the outbox while
the sink may still be returning) never appear above the message that caused them. A resend of the
same client id is neither shown nor processed twice; the pipeline dedupes by message id as well.

History is rebuilt from the database on start (inbound messages and sent outbox rows). What was
typed is replayed with phone and ID numbers masked (`mask_pii`), in memory and from the database
alike: the raw text is shown to no one once stored. Live echoes carry the text as typed, as a chat
platform would.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlmodel import Session, col, select

from bot.connectors.base import EventSink
from bot.connectors.images import sniff_image
from bot.simulate import contact_id, room_id
from handlers.clock import Clock
from handlers.events import ChatKind, MessageReceived, Outbound, storable_text
from handlers.parsing import mask_pii
from storage.models import (
    Community,
    CompGrid,
    GridRole,
    InboundMessage,
    MicroGrid,
    OutboxMessage,
    Person,
    Supervisor,
)

log = logging.getLogger(__name__)

__all__ = ["WebChatConnector"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
HISTORY_SIZE = 300
RESEND_WINDOW = timedelta(days=2)  # how far back a resent client id is recognised without a query
MAX_TEXT = 20_000
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# A 5 MB picture is ~6.7 MB of base64; anything far above that is refused by aiohttp itself.
MAX_FRAME_BYTES = 8 * 1024 * 1024
MAX_NAME = 64
MAX_TOPIC = 128
REMEMBERED_KEYS = 20_000  # outbound dedupe keys (and client ids) remembered in memory
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DATA_URL_RE = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,", re.IGNORECASE)
MEDIA_NAME_RE = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")
STATIC_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
ALLOWED_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
ROLE_TITLES = {"leader": "网格长", "member": "网格员", "merchant": "商户"}
ROLE_ORDER = {"leader": 0, "member": 1, "merchant": 2}
LEVEL_TITLES = {1: "综合网格长", 2: "社区书记", 3: "街道网格办"}
SIM_CONTACT = contact_id("")
SIM_ROOM = room_id("")


class FrameError(ValueError):
    """A frame the page should not have sent; the message (Chinese) goes back to the browser.

    `retry`: the frame was fine but cannot be taken now; the reply names no id, so the page keeps
    the message and resends it with the next history frame."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class WebChatConnector:
    """Connector for the browser simulator; see the module docstring for routes and frames."""

    name = "web"

    def __init__(
        self,
        web_app: web.Application,
        session_factory: Callable[[], Session],
        data_dir: Path,
        clock: Clock,
        *,
        account: str = "default",
    ) -> None:
        self.account = account
        self.session_factory = session_factory
        self.data_dir = Path(data_dir)
        self.clock = clock
        self._sink: EventSink | None = None
        self._clients: set[web.WebSocketResponse] = set()
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY_SIZE)
        self._shown: OrderedDict[str, dict[str, Any]] = OrderedDict()  # client id -> its frame
        self._stored: OrderedDict[str, None] = OrderedDict()  # client ids the sink accepted
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._sent_keys: OrderedDict[str, str] = OrderedDict()  # outbound dedupe key -> our id
        self._stopped = False
        web_app.router.add_get("/", self._page)
        web_app.router.add_get("/static/{name}", self._static)
        web_app.router.add_get("/media/{name}", self._media)
        web_app.router.add_get("/api/directory", self._directory)
        web_app.router.add_get("/ws", self._websocket)
        web_app.on_shutdown.append(self._on_shutdown)

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    # ------------------------------------------------------------------ Connector

    async def start(self, sink: EventSink) -> None:
        self._stopped = False
        self._load_history()
        self._sink = sink
        # Pages that connected while the service was starting saw no history: send it again; they
        # resend what they could not send meanwhile.
        await self._broadcast({"type": "history", "items": list(self._history)})
        log.info("web: simulator ready (%d history items)", len(self._history))

    async def stop(self) -> None:
        self._stopped = True
        self._sink = None
        await self._close_clients("服务已停止")

    async def send(self, message: Outbound) -> str:
        key = message.dedupe_key
        if key and key in self._sent_keys:
            return self._sent_keys[key]  # shown already: a retry after a crash or a lost ack
        # Derived from the dedupe key: a reply resent after a crash keeps its id, so a chat window
        # that showed it before the crash recognises it instead of showing it twice.
        msg_id = (
            f"web-bot-{hashlib.sha256(key.encode()).hexdigest()[:20]}"
            if key
            else f"web-bot-{uuid.uuid4().hex[:20]}"
        )
        group = message.chat == ChatKind.GROUP
        item: dict[str, Any] = {
            "type": "bot",
            "id": msg_id,
            "chat": "group" if group else "private",
            "room": message.to_name if group else None,
            "to": None if group else message.to_name,
            "kind": message.kind,
            "text": message.text,
            "mentions": list(message.mention_names),
            "at": self._iso(self.clock.now()),
        }
        if key:
            _remember(self._sent_keys, key, msg_id)
        self._history.append(item)
        await self._broadcast(item)
        return msg_id

    # ------------------------------------------------------------------ HTTP

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        suffix = Path(name).suffix
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
            raise web.HTTPNotFound()
        path = WEB_DIR / name
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(
            path, headers={"Content-Type": STATIC_TYPES[suffix], "Cache-Control": "no-cache"}
        )

    async def _media(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        match = MEDIA_NAME_RE.match(name)
        path = self.images_dir / name
        if match is None or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(
            path,
            headers={"Content-Type": MEDIA_TYPES[match.group(1)], "Cache-Control": "max-age=86400"},
        )

    async def _directory(self, request: web.Request) -> web.Response:
        return web.json_response(self.directory(), dumps=_dumps)

    def directory(self) -> dict[str, Any]:
        """Who can be chosen in the page: read-only queries over the roster tables."""
        with self.session_factory() as session:
            people = {p.id: p for p in session.exec(select(Person))}
            comp_grids = {c.id: c for c in session.exec(select(CompGrid))}
            communities = {c.id: c for c in session.exec(select(Community))}
            grids = list(
                session.exec(select(MicroGrid).where(col(MicroGrid.active)).order_by(col(MicroGrid.id)))
            )
            roles = list(session.exec(select(GridRole).order_by(col(GridRole.id))))
            supervisors = list(
                session.exec(select(Supervisor).order_by(col(Supervisor.level), col(Supervisor.id)))
            )
        by_grid: dict[int, list[GridRole]] = {}
        for role in roles:
            by_grid.setdefault(role.micro_grid_id, []).append(role)
        groups = []
        for grid in grids:
            members = []
            for role in sorted(by_grid.get(grid.id or 0, []), key=lambda r: ROLE_ORDER.get(r.role, 9)):
                person = people.get(role.person_id)
                if person is not None:
                    members.append(
                        {
                            "name": person.name,
                            "wechat_name": person.wechat_name or person.name,
                            "role": ROLE_TITLES.get(role.role, role.role),
                        }
                    )
            comp = comp_grids.get(grid.comp_grid_id)
            groups.append(
                {
                    "topic": grid.room_topic or grid.name,
                    "name": grid.name,
                    "kind": grid.kind,
                    "comp_grid": comp.name if comp else "",
                    "members": members,
                }
            )
        sups = []
        for sup in supervisors:
            person = people.get(sup.person_id)
            if person is None:
                continue
            comp = comp_grids.get(sup.comp_grid_id) if sup.comp_grid_id else None
            community = communities.get(sup.community_id) if sup.community_id else None
            if sup.level == 3 and community is not None and community.street:
                where = community.street
            else:
                where = comp.name if comp else community.name if community else ""
            sups.append(
                {
                    "name": person.name,
                    "level": sup.level,
                    "title": LEVEL_TITLES.get(sup.level, f"{sup.level}级督办"),
                    "where": where,
                }
            )
        residents = sorted(
            {p.name for p in people.values() if p.is_resident and p.wechat_id and _is_sim(p.wechat_id)}
        )
        community_names = [c.name for c in communities.values()]
        return {
            "community": "、".join(community_names),
            "groups": groups,
            "supervisors": sups,
            "residents": residents,
        }

    # ------------------------------------------------------------------ WebSocket

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        if self._stopped:
            await ws.close(code=WSCloseCode.GOING_AWAY, message="服务已停止".encode())
            return ws
        self._clients.add(ws)
        # Frames are handled as tasks so a page (or a load test) that sends faster than one
        # commit at a time is not held to one message per commit: the application then stores
        # what is queued in one batch. Tasks start in arrival order, so messages keep their order.
        handling: set[asyncio.Task[None]] = set()
        try:
            await ws.send_str(_dumps({"type": "history", "items": list(self._history)}))
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    task = asyncio.create_task(self._on_frame(ws, frame.data))
                    handling.add(task)
                    task.add_done_callback(handling.discard)
                elif frame.type == WSMsgType.BINARY:
                    await _send(ws, {"type": "error", "message": "不支持二进制消息"})
                elif frame.type == WSMsgType.ERROR:
                    log.info("web: websocket error: %r", ws.exception())
            if handling:  # the page went away: what it sent is still stored
                await asyncio.gather(*handling, return_exceptions=True)
        finally:
            self._clients.discard(ws)
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, raw: str) -> None:
        client_id: str | None = None
        try:
            data = _parse_frame(raw)
            client_id = data["id"]
            await self._accept(ws, data)
        except FrameError as exc:
            reply: dict[str, Any] = {"type": "error", "message": str(exc)}
            if client_id and not exc.retry:
                reply["id"] = client_id
            await _send(ws, reply)

    async def _accept(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        client_id: str = data["id"]
        if client_id in self._stored:
            _remember(self._stored, client_id, None)
            await _send(ws, {"type": "ack", "id": client_id})
            return
        pending = self._inflight.get(client_id)
        if pending is not None:  # the same message is being handled right now: wait for that
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
            if client_id in self._stored:
                await _send(ws, {"type": "ack", "id": client_id})
            return
        sink = self._sink
        if sink is None:
            raise FrameError("机器人正在启动，请稍候，消息会自动重发", retry=True)
        image_path: Path | None = None
        if data.get("image") is not None:
            image_path = await self._store_image(data["image"])
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[client_id] = future
        try:
            frame = self._shown.get(client_id)
            if frame is None:
                frame = self._message_frame(data, image_path)
                _remember(self._shown, client_id, frame)
                self._history.append(self._history_copy(frame))
                await self._broadcast(frame)
            event = MessageReceived(
                message_id=f"web-{client_id}",
                chat=ChatKind.GROUP if data["room"] else ChatKind.PRIVATE,
                sender_id=contact_id(data["as"]),
                sender_name=data["as"],
                text="[图片]" if image_path else data["text"],
                at=datetime.fromisoformat(frame["at"]),
                room_id=room_id(data["room"]) if data["room"] else None,
                room_topic=data["room"],
                account=self.account,
                image_path=str(image_path) if image_path else None,
            )
            try:
                await sink(event)
            except Exception as exc:
                log.exception("web: message %s not stored", client_id)
                await self._broadcast(
                    {"type": "failed", "id": client_id, "message": "消息未能保存，请稍后重发"}
                )
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
                return
            _remember(self._stored, client_id, None)
            future.set_result(None)
            await self._broadcast({"type": "ack", "id": client_id})
        finally:
            if not future.done():
                future.cancel()
            self._inflight.pop(client_id, None)

    def _message_frame(self, data: dict[str, Any], image_path: Path | None) -> dict[str, Any]:
        frame: dict[str, Any] = {
            "type": "message",
            "id": data["id"],
            "room": data["room"],
            "from": data["as"],
            "text": "[图片]" if image_path else data["text"],
            "at": self._iso(self.clock.now()),
        }
        if image_path is not None:
            frame["image_url"] = f"/media/{image_path.name}"
        return frame

    def _history_copy(self, frame: dict[str, Any]) -> dict[str, Any]:
        # What a later visitor sees: masked, like the history rebuilt from the database.
        return {**frame, "text": mask_pii(frame["text"])[:4000]}

    def _load_stored_ids(self) -> None:
        """Ids of recently stored web messages, so a page resending after a restart is recognised
        from memory (one query at start, none per message). Older resends are still processed
        once: the pipeline deduplicates by message id; only their echo would show again."""
        since = self.clock.now() - RESEND_WINDOW
        with self.session_factory() as session:
            stmt = (
                select(InboundMessage.platform_id)
                .where(
                    InboundMessage.account == self.account,
                    col(InboundMessage.platform_id).startswith("web-"),
                    col(InboundMessage.received_at) >= since,
                )
                .order_by(col(InboundMessage.id).desc())
                .limit(REMEMBERED_KEYS)
            )
            for platform_id in reversed(list(session.exec(stmt))):
                _remember(self._stored, platform_id[4:], None)

    async def _store_image(self, value: object) -> Path:
        if not isinstance(value, str):
            raise FrameError("图片格式不正确")
        match = DATA_URL_RE.match(value)
        if match is None:
            raise FrameError("图片格式不正确，只支持 PNG、JPEG、GIF、WebP 图片")
        if match.group(1).lower() not in ALLOWED_IMAGE_TYPES:
            raise FrameError("只支持 PNG、JPEG、GIF、WebP 图片")
        encoded = value[match.end() :]
        if len(encoded) > (MAX_IMAGE_BYTES * 4) // 3 + 8:
            raise FrameError("图片太大，不能超过 5 MB")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FrameError("图片数据无法解码") from exc
        if len(data) > MAX_IMAGE_BYTES:
            raise FrameError("图片太大，不能超过 5 MB")
        ext = sniff_image(data)
        if ext is None:
            raise FrameError("图片内容无法识别，只支持 PNG、JPEG、GIF、WebP 图片")
        path = self.images_dir / f"{hashlib.sha256(data).hexdigest()}.{ext}"
        await asyncio.to_thread(_write_once, path, data)
        return path

    async def _broadcast(self, frame: dict[str, Any]) -> None:
        text = _dumps(frame)
        for ws in list(self._clients):
            if ws.closed:
                self._clients.discard(ws)
                continue
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                log.info("web: dropping a client: %r", exc)
                self._clients.discard(ws)

    async def _close_clients(self, reason: str) -> None:
        for ws in list(self._clients):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())
        self._clients.clear()

    async def _on_shutdown(self, app: web.Application) -> None:
        # Open WebSockets would hold aiohttp's graceful shutdown until its timeout.
        await self._close_clients("服务正在关闭")

    # ------------------------------------------------------------------ history

    def _iso(self, when: datetime) -> str:
        return when.astimezone(self.clock.tz).isoformat(timespec="milliseconds")

    def _load_history(self) -> None:
        """The recent conversation from the database, so a restart shows what was said."""
        self._load_stored_ids()
        with self.session_factory() as session:
            inbound = list(
                session.exec(
                    select(InboundMessage)
                    .where(
                        InboundMessage.account == self.account,
                        col(InboundMessage.chat).in_(("group", "private")),
                        col(InboundMessage.recalled).is_(False),
                    )
                    .order_by(col(InboundMessage.id).desc())
                    .limit(HISTORY_SIZE)
                )
            )
            outbound = list(
                session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.account == self.account, OutboxMessage.status == "sent")
                    .order_by(col(OutboxMessage.id).desc())
                    .limit(HISTORY_SIZE)
                )
            )
            grid_ids = {m.micro_grid_id for m in inbound if m.micro_grid_id is not None}
            topics = {
                g.id: g.room_topic or g.name
                for g in session.exec(select(MicroGrid).where(col(MicroGrid.id).in_(grid_ids)))
            }
            person_ids = {m.person_id for m in inbound if m.person_id is not None}
            names = {p.id: p.name for p in session.exec(select(Person).where(col(Person.id).in_(person_ids)))}
        items: list[tuple[datetime, int, dict[str, Any]]] = []
        for m in inbound:
            items.append((m.received_at, 0, self._inbound_item(m, topics, names)))
            if m.platform_id.startswith("web-"):
                _remember(self._stored, m.platform_id[4:], None)
        for row in outbound:
            when = row.sent_at or row.created_at
            items.append((when, 1, self._outbox_item(row, when)))
            _remember(self._sent_keys, row.dedupe_key, row.platform_msg_id or f"outbox-{row.id}")
        items.sort(key=lambda t: (t[0], t[1]))
        self._history.clear()
        self._history.extend(item for _, _, item in items[-HISTORY_SIZE:])

    def _inbound_item(
        self, m: InboundMessage, topics: dict[int | None, str], names: dict[int | None, str]
    ) -> dict[str, Any]:
        room: str | None = None
        if m.chat == "group":
            if m.room_id and m.room_id.startswith(SIM_ROOM):
                room = m.room_id[len(SIM_ROOM) :]
            else:
                room = topics.get(m.micro_grid_id) or m.room_id or "未知群聊"
        sender = m.sender_id[len(SIM_CONTACT) :] if _is_sim(m.sender_id) else names.get(m.person_id)
        client_id = m.platform_id[4:] if m.platform_id.startswith("web-") else m.platform_id
        item: dict[str, Any] = {
            "type": "message",
            "id": client_id,
            "room": room,
            "from": sender or m.sender_id,
            "text": mask_pii(m.text[:4000]),
            "at": self._iso(m.received_at),
        }
        if m.image_path:
            name = Path(m.image_path).name
            if MEDIA_NAME_RE.match(name):
                item["image_url"] = f"/media/{name}"
                item["text"] = "[图片]"
        return item

    def _outbox_item(self, row: OutboxMessage, when: datetime) -> dict[str, Any]:
        group = row.chat == "group"
        return {
            "type": "bot",
            "id": row.platform_msg_id or f"outbox-{row.id}",
            "chat": "group" if group else "private",
            "room": row.to_name if group else None,
            "to": None if group else row.to_name,
            "kind": row.kind,
            "text": row.text,
            "mentions": list(row.mention_names),
            "at": self._iso(when),
        }


# ---------------------------------------------------------------------- helpers


def _parse_frame(raw: str) -> dict[str, Any]:
    """Check a browser frame; raises FrameError with the Chinese message for the page."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise FrameError("消息格式错误：不是有效的 JSON") from exc
    if not isinstance(data, dict):
        raise FrameError("消息格式错误：应为 JSON 对象")
    if data.get("type") != "send":
        raise FrameError("不支持的消息类型")
    client_id = data.get("id")
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise FrameError("缺少消息编号（id）或编号格式不正确")
    sender = data.get("as")
    if not isinstance(sender, str) or not sender.strip():
        raise FrameError("请先选择“我是”谁再发言")
    if len(sender) > MAX_NAME:
        raise FrameError(f"名字太长（最多 {MAX_NAME} 个字）")
    room = data.get("room")
    if room is not None and (not isinstance(room, str) or not room.strip()):
        raise FrameError("群聊名称不正确")
    if isinstance(room, str) and len(room) > MAX_TOPIC:
        raise FrameError("群聊名称太长")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise FrameError("消息内容应为文字")
    # Lone surrogates and NUL can neither be stored nor sent back out as UTF-8: replace them.
    text, sender = storable_text(text), storable_text(sender)
    if isinstance(room, str):
        room = storable_text(room)
    if len(text) > MAX_TEXT:
        raise FrameError(f"消息太长（最多 {MAX_TEXT} 个字）")
    image = data.get("image")
    if image is None and not text.strip():
        raise FrameError("不能发送空白消息")
    return {"id": client_id, "as": sender.strip(), "room": room, "text": text, "image": image}


def _is_sim(contact: str) -> bool:
    return contact.startswith(SIM_CONTACT) and len(contact) > len(SIM_CONTACT)


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > REMEMBERED_KEYS:
        table.popitem(last=False)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(_dumps(frame))


def _write_once(path: Path, data: bytes) -> None:
    """Content-addressed: an existing file already holds these bytes. Rename keeps readers safe."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f"{path.suffix}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)

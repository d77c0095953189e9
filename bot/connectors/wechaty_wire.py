"""Pure helpers for the Puppet Service wire format: type numbers, timestamps, FileBox, dedupe.

No I/O here, so every rule about the protocol's quirks can be read (and tested) in one place.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.connectors.images import sniff_image


class Ev:
    """Event type numbers on the wire (treated as plain ints: older stubs lack some)."""

    HEARTBEAT = 1
    MESSAGE = 2
    DONG = 3
    ERROR = 16
    FRIENDSHIP = 17
    ROOM_INVITE = 18
    ROOM_JOIN = 19
    ROOM_LEAVE = 20
    ROOM_TOPIC = 21
    SCAN = 22
    READY = 23
    RESET = 24
    LOGIN = 25
    LOGOUT = 26
    DIRTY = 27
    ROOM_ANNOUNCE = 32


class Msg:
    """Message type numbers servers actually write: the wechaty-puppet enum, NOT the proto labels.

    The proto (both 0.20 and 1.x stubs) labels 6 as TEXT and 5 as IMAGE; real servers send
    Text=7, Image=6, Emoticon=5. Reading the stub's enum names would turn every text into an image.
    """

    UNKNOWN = 0
    ATTACHMENT = 1
    AUDIO = 2
    CONTACT = 3
    CHAT_HISTORY = 4
    EMOTICON = 5
    IMAGE = 6
    TEXT = 7
    LOCATION = 8
    MINI_PROGRAM = 9
    GROUP_NOTE = 10
    TRANSFER = 11
    RED_ENVELOPE = 12
    RECALLED = 13
    URL = 14
    VIDEO = 15
    POST = 16
    SYSTEM = 18


class Dirty:
    """PayloadType numbers in DIRTY events."""

    MESSAGE = 1
    CONTACT = 2
    ROOM = 3
    ROOM_MEMBER = 4
    FRIENDSHIP = 5


PLACEHOLDERS = {
    Msg.IMAGE: "[图片]",
    Msg.EMOTICON: "[表情]",
    Msg.VIDEO: "[视频]",
    Msg.URL: "[链接]",
}

MENTION_SEP = "\u2005"  # WeChat's separator after a visible @Name; required for the mention to render
_MS_THRESHOLD = 10**11  # epoch seconds reach 1e11 only in year 5138: anything above is milliseconds


def epoch_to_datetime(value: float, tz: ZoneInfo) -> datetime:
    """Providers send seconds or milliseconds; both become an aware datetime in `tz`."""
    seconds = value / 1000 if value >= _MS_THRESHOLD else value
    return datetime.fromtimestamp(seconds, tz)


def message_time(receive_time: datetime | None, timestamp: int, tz: ZoneInfo, fallback: datetime) -> datetime:
    """Prefer the 1.x `receive_time`; older servers fill only the deprecated `timestamp`."""
    if receive_time is not None and receive_time.timestamp() > 1:
        aware = receive_time if receive_time.tzinfo else receive_time.replace(tzinfo=UTC)
        return aware.astimezone(tz)
    if timestamp > 0:
        return epoch_to_datetime(timestamp, tz)
    return fallback


def parse_event_payload(raw: str) -> dict[str, Any]:
    """Event payloads are JSON objects; a malformed one is treated as empty rather than fatal."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def id_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value if v)
    return ()


class SeenIds:
    """Bounded LRU of ids: enough to swallow provider duplicates and post-reconnect replays."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """Record `key`; False if it was already there (a duplicate)."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def discard(self, key: str) -> None:
        self._ids.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def mention_text(text: str, names: list[str]) -> str:
    """Prefix `@Name\\u2005` per mentioned person unless the text already starts with it."""
    prefix = "".join(f"@{name}{MENTION_SEP}" for name in names)
    return text if not prefix or text.startswith(prefix) else prefix + text


@dataclass(frozen=True, slots=True)
class FileBoxRef:
    """What a FileBox JSON (as returned by MessageImage) points at."""

    name: str
    data: bytes | None = None  # inline (base64 box)
    uuid: str | None = None  # fetch with the Download RPC
    url: str | None = None  # fetch over HTTP


_BOX_BASE64 = 1
_BOX_URL = 2
_BOX_UUID = 7


def parse_file_box(raw: str) -> FileBoxRef | None:
    """Read a serialized FileBox; `type` (1.x) or `boxType` (0.x) says which variant it is."""
    body = parse_event_payload(raw)
    if not body:
        return None
    kind = body.get("type", body.get("boxType"))
    name = str(body.get("name") or "")
    if kind == _BOX_BASE64 and body.get("base64"):
        try:
            return FileBoxRef(name=name, data=base64.b64decode(str(body["base64"])))
        except ValueError:
            return None
    if kind == _BOX_UUID and body.get("uuid"):
        return FileBoxRef(name=name, uuid=str(body["uuid"]))
    if kind == _BOX_URL and body.get("url"):
        return FileBoxRef(name=name, url=str(body["url"]))
    return None


def image_extension(data: bytes, name: str = "") -> str:
    """Trust the bytes over the file name: providers name everything `.jpg`."""
    sniffed = sniff_image(data)
    if sniffed is not None:
        return sniffed
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix if suffix.isalnum() and 0 < len(suffix) <= 5 else "bin"

"""Typed events: what connectors turn platform traffic into, and what handlers consume.

Handlers never see a platform. Identity is the platform's stable contact id (`sender_id`),
never the display name, so renaming yourself in a group gains you nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ChatKind(StrEnum):
    GROUP = "group"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class MessageReceived:
    message_id: str  # the platform's id: the dedupe key (with `account`)
    chat: ChatKind
    sender_id: str  # platform contact id
    sender_name: str  # display name / in-group alias as seen now
    text: str
    at: datetime  # aware datetime
    room_id: str | None = None  # platform room id for group chats
    room_topic: str | None = None
    mention_ids: tuple[str, ...] = ()
    account: str = "default"  # which bot account received it
    image_path: str | None = None  # set for an image message once stored locally


@dataclass(frozen=True, slots=True)
class MessageRecalled:
    message_id: str  # the id of the message that was recalled
    at: datetime
    account: str = "default"


@dataclass(frozen=True, slots=True)
class MemberJoined:
    room_id: str
    member_ids: tuple[str, ...]
    at: datetime
    account: str = "default"


@dataclass(frozen=True, slots=True)
class MemberLeft:
    room_id: str
    member_ids: tuple[str, ...]
    at: datetime
    account: str = "default"


@dataclass(frozen=True, slots=True)
class RoomRenamed:
    room_id: str
    old_topic: str
    new_topic: str
    at: datetime
    account: str = "default"


InboundEvent = MessageReceived | MessageRecalled | MemberJoined | MemberLeft | RoomRenamed


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message the bot wants to send; written to the outbox before any connector sees it."""

    chat: ChatKind
    to_id: str  # room id (group) or contact id (private)
    to_name: str  # group topic or person's name, for logs and the simulator
    kind: str  # tag: report_ack, ticket_opened, major_alert, ...
    text: str  # already masked
    mentions: tuple[str, ...] = ()  # contact ids to @-mention
    mention_names: tuple[str, ...] = ()
    dedupe_key: str = ""  # unique per logical message: a retry or replay never sends twice
    account: str = "default"
    extra: dict[str, str] = field(default_factory=dict)


def storable_text(text: str) -> str:
    """`text` without what no database can store: NUL (PostgreSQL) and lone surrogates (UTF-8)."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from JSON "\ud800"
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def storable(event: InboundEvent) -> InboundEvent:
    """The event with every text field storable. Without this, storing fails, keeping the message
    as an error fails too, and a service would retry that batch for ever."""
    if not isinstance(event, MessageReceived):
        return event
    text = storable_text(event.text)
    sender_id = storable_text(event.sender_id)
    sender_name = storable_text(event.sender_name)
    room_id = None if event.room_id is None else storable_text(event.room_id)
    room_topic = None if event.room_topic is None else storable_text(event.room_topic)
    if (text, sender_id, sender_name, room_id, room_topic) == (
        event.text, event.sender_id, event.sender_name, event.room_id, event.room_topic,
    ):  # fmt: skip
        return event  # the usual case: `dataclasses.replace` is slow enough to show per message
    return dataclasses.replace(
        event, text=text, sender_id=sender_id, sender_name=sender_name, room_id=room_id, room_topic=room_topic
    )

"""`storable`: an event whose texts every database can store, the same event when they already can."""

from __future__ import annotations

from datetime import datetime

from handlers.clock import SHANGHAI
from handlers.events import ChatKind, MessageReceived, storable

AT = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def _event(text: str, name: str = "张丽", room: str | None = "r1@chatroom") -> MessageReceived:
    return MessageReceived("m1", ChatKind.GROUP, "wxid_a", name, text, AT, room_id=room, room_topic="3号楼")


def test_clean_event_is_returned_as_is() -> None:
    event = _event("今日巡查无异常，零报告")
    assert storable(event) is event


def test_nul_and_lone_surrogates_are_replaced_in_every_text_field() -> None:
    event = _event("电梯\x00坏了", name="李\ud800", room="r\x001")
    fixed = storable(event)
    assert isinstance(fixed, MessageReceived)
    assert (fixed.text, fixed.sender_name, fixed.room_id) == ("电梯\ufffd坏了", "李?", "r\ufffd1")
    assert (fixed.message_id, fixed.at, fixed.room_topic) == (event.message_id, event.at, event.room_topic)
    for value in (fixed.text, fixed.sender_name, fixed.room_id):
        assert value is not None
        value.encode("utf-8")

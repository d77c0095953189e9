"""Supervisor messages are mirrored to the WeCom robot account once, durably, on both backends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.wecom_mirror import mirror_once
from handlers.clock import SHANGHAI
from handlers.events import ChatKind, Outbound
from storage.models import OutboxMessage
from storage.store import Store

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def put(engine: Engine, key: str, kind: str, text: str, to: str) -> None:
    with Session(engine) as s:
        Store(s).enqueue(Outbound(ChatKind.PRIVATE, to, to, kind, text, dedupe_key=key), T0)
        s.commit()


def test_an_alert_to_three_supervisors_is_mirrored_once(engine: Engine) -> None:
    for who in ("刘建国", "王书记", "陈志强"):
        put(engine, f"alert:{who}", "major_alert", "🚨 重大情况 M1（火情）", who)
    put(engine, "ack", "report_ack", "零报告已记录", "3号楼微网格群")  # not a supervisor message
    factory = lambda: Session(engine)  # noqa: E731
    assert mirror_once(factory) == 1
    assert mirror_once(factory) == 0  # idempotent
    with Session(engine) as s:
        copies = list(s.exec(select(OutboxMessage).where(OutboxMessage.account == "wecom")))
    assert [c.kind for c in copies] == ["major_alert"] and copies[0].status == "pending"

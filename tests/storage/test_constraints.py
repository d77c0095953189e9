"""The unique constraints the workflow's "exactly once" relies on, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from storage.models import Community, CompGrid, InboundMessage, MicroGrid, OutboxMessage, PatrolReport

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _grid(session: Session) -> int:
    community = Community(code="c", name="社区")
    session.add(community)
    session.flush()
    assert community.id is not None
    comp = CompGrid(community_id=community.id, code="g", name="综合网格")
    session.add(comp)
    session.flush()
    assert comp.id is not None
    grid = MicroGrid(
        comp_grid_id=comp.id, code="m", name="3号楼微网格", room_topic="3号楼微网格群", buildings=[3]
    )
    session.add(grid)
    session.flush()
    assert grid.id is not None
    return grid.id


def _twice(session: Session, make: object) -> None:
    assert callable(make)
    first: SQLModel = make()
    session.add(first)
    session.commit()
    session.add(make())
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def _inbound(account: str = "default") -> InboundMessage:
    return InboundMessage(
        account=account, platform_id="wx-1", chat="group", sender_id="s", text="t", received_at=NOW
    )


def _outbox() -> OutboxMessage:
    return OutboxMessage(
        dedupe_key="ack:1", chat="group", to_id="room", kind="ack", text="收到", created_at=NOW
    )


def test_inbound_message_dedupe(session: Session) -> None:
    _twice(session, _inbound)
    session.add(_inbound(account="other"))  # same platform id on another bot account is fine
    session.commit()


def test_outbox_dedupe_key(session: Session) -> None:
    _twice(session, _outbox)


def test_one_patrol_report_per_grid_and_day(session: Session) -> None:
    grid_id = _grid(session)
    session.commit()
    _twice(session, lambda: PatrolReport(micro_grid_id=grid_id, day=date(2026, 11, 23), status="zero"))
    session.add(PatrolReport(micro_grid_id=grid_id, day=date(2026, 11, 24), status="zero"))
    session.commit()


def test_json_and_aware_datetimes_round_trip(session: Session) -> None:
    grid_id = _grid(session)
    session.add(_inbound())
    session.commit()
    session.expunge_all()
    grid = session.get(MicroGrid, grid_id)
    message = session.get(InboundMessage, 1)
    assert grid is not None and grid.buildings == [3]
    assert message is not None and message.received_at == NOW and message.received_at.tzinfo is not None


def test_tables_are_empty_at_test_start(session: Session) -> None:
    """The fixtures wipe between tests (and restart ids): earlier tests left rows behind."""
    assert session.exec(select(Community)).all() == []
    assert session.exec(select(InboundMessage)).all() == []

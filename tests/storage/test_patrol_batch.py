"""A batch's later reports of one grid and day are queued (`Store.add_patrol_report`): the marks
handed back and the record committed must be what reporting one at a time gives, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers.reports import SEVERITY
from storage.models import PatrolReport
from storage.store import PatrolMark, Store
from tests.storage.test_constraints import _grid

DAY = date(2026, 11, 23)
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _report(store: Store, grid: int, statuses: list[str]) -> list[PatrolMark]:
    return [
        store.add_patrol_report(grid, DAY, status, None, AT + timedelta(minutes=i), f"第{i}条", SEVERITY)
        for i, status in enumerate(statuses)
    ]


def _record(session: Session, grid: int) -> tuple[str, int, str]:
    row = session.exec(select(PatrolReport).where(PatrolReport.micro_grid_id == grid)).one()
    return row.status, row.entries, row.summary


def _both_ways(engine: Engine, statuses: list[str], missed_before: bool) -> None:
    outcome = []
    for deferred in (False, True):
        with Session(engine) as session:
            grid = _grid(session)
            if missed_before:  # the chase job marked the day missed before anyone reported
                session.add(PatrolReport(micro_grid_id=grid, day=DAY, status="missed", entries=0))
            session.flush()
            store = Store(session, deferred=deferred)
            marks = _report(store, grid, statuses)
            if deferred:
                assert store._queued, "later reports of the record were not queued"
                assert _record(session, grid)[1] == 1  # the queue waits for the flush…
                assert store.patrol(grid, DAY) is not None  # …which a read of the record forces
            store.flush_writes()
            outcome.append(([(m.id - marks[0].id, m.status, m.first) for m in marks], _record(session, grid)))
            session.rollback()
    assert outcome[1] == outcome[0]


def test_status_rises_and_never_falls(engine: Engine) -> None:
    _both_ways(engine, ["zero", "basic", "zero", "major", "basic"], missed_before=False)


def test_a_missed_day_stays_missed(engine: Engine) -> None:
    _both_ways(engine, ["zero", "basic", "zero"], missed_before=True)

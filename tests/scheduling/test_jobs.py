"""Scheduled work on the virtual clock: a whole day and a week, over the real pipeline and database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.scheduler import JobQueue
from handlers.clock import SHANGHAI
from storage.models import MicroGrid, OutboxMessage, PatrolReport, Ticket
from tests.workflow.harness import Chat


class Day(Chat):
    """The chat harness plus the real job queue on the same virtual clock."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.jobs = JobQueue(self.session, self.services)

    def until(self, hhmm: str, day: int = 23) -> None:
        hour, minute = (int(x) for x in hhmm.split(":"))
        self.jobs.run_until(datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI))

    def kinds(self, kind: str) -> list[OutboxMessage]:
        return self.outbox(kind)


@pytest.fixture
def day(roster_loaded: Engine) -> Iterator[Day]:
    yield Day(roster_loaded)


def staff_names(day: Day) -> dict[str, set[str]]:
    """Group topic -> names of its leader and members (as mentioned)."""
    from storage.store import Store

    with day.session() as s:
        store = Store(s)
        out = {}
        for grid in s.exec(select(MicroGrid)):
            assert grid.id is not None
            out[grid.room_topic] = {p.wechat_name or p.name for p, _ in store.grid_staff(grid.id)}
    return out


async def test_a_whole_day(day: Day) -> None:
    await day.group("3号楼微网格群", "张丽", "今日巡查无异常，零报告")
    day.until("09:01")
    reminders = day.kinds("patrol_reminder")
    assert len(reminders) == 12 and all(m.chat == "group" for m in reminders)

    day.until("16:01")
    chases = day.kinds("patrol_chase")
    staff = staff_names(day)
    assert {m.to_name for m in chases} == set(staff) - {"3号楼微网格群"}  # exactly the missing
    for m in chases:
        assert set(m.mention_names) == staff[m.to_name]

    await day.group("7号楼微网格群", "何建军", "7号楼巡查完毕，无异常")  # late but before the deadline
    day.until("18:01")
    with day.session() as s:
        missed = list(s.exec(select(PatrolReport).where(PatrolReport.status == "missed")))
    assert len(missed) == 10
    notices = day.kinds("missed_reports")
    lists = [m for m in notices if "未报送巡查的网格" in m.text]
    assert len({m.to_name for m in lists}) == len(lists)  # one list per supervisor, not one per grid
    assert any(m.to_name == "王书记" and "（10 个）" in m.text for m in lists)
    assert len(notices) - len(lists) == 10  # each missing grid's leader, privately
    assert all(m.chat == "private" for m in notices)

    day.until("21:01")
    [digest] = [m for m in day.kinds("digest") if m.to_name == "王书记"]
    assert "已报 2/12" in digest.text and "未报 10" in digest.text


async def test_major_alert_at_once_then_escalation_until_acknowledged(day: Day) -> None:
    day.until("10:00")
    await day.group("5号楼微网格群", "王阿姨", "5号楼3楼楼道里着火了，好多烟！")
    [alert] = day.kinds("major_alert")
    assert alert.created_at.astimezone(SHANGHAI) == datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    day.until("10:09")
    assert day.kinds("major_escalation") == []
    day.until("10:11")
    assert [m.to_name for m in day.kinds("major_escalation")] == ["王书记"]
    day.advance(minutes=1)
    await day.private("王书记", "#收到 M1")
    day.until("12:00")
    assert len(day.kinds("major_escalation")) == 1  # acknowledged: no more rounds


async def test_unacknowledged_major_climbs_to_the_street_and_stops_at_the_cap(day: Day) -> None:
    day.until("10:00")
    await day.private("李大爷", "我家老人出门一下午没回来，电话打不通")
    day.until("11:00")
    escalations = day.kinds("major_escalation")
    assert [m.to_name for m in escalations] == ["王书记", "陈志强"]  # level 2 then level 3, cap 3 rounds


async def test_ticket_follow_up_warns_then_chases_daily(day: Day) -> None:
    day.until("10:00")
    await day.group("3号楼微网格群", "李大爷", "楼道里的灯坏了")
    deadline = day.one(Ticket).deadline.astimezone(SHANGHAI)
    day.jobs.run_until(deadline - timedelta(hours=4, minutes=1))
    assert day.kinds("ticket_due_soon") == []
    day.jobs.run_until(deadline - timedelta(hours=3, minutes=54))
    [soon] = day.kinds("ticket_due_soon")
    assert soon.mention_names == ["张丽"] and soon.to_name == "3号楼微网格群"
    day.jobs.run_until(deadline + timedelta(minutes=6))
    overdue = day.kinds("ticket_overdue")
    assert len(overdue) == 1 and "已超过办理时限" in overdue[0].text
    chase_day = deadline.date() + timedelta(days=2)
    day.jobs.run_until(datetime.combine(chase_day, time(10, 1), SHANGHAI))
    chases = [m for m in day.kinds("ticket_overdue") if "督办" in m.text]
    assert len(chases) == 2  # once a day at 10:00 while it stays overdue
    day.jobs.run_until(datetime.combine(chase_day, time(21, 1), SHANGHAI))
    label = f"{chase_day.month}月{chase_day.day}日"
    digest = next(m for m in day.kinds("digest") if m.to_name == "王书记" and label in m.text)
    assert "超期未办 1" in digest.text


async def test_weekly_bulletin_on_monday_morning(day: Day) -> None:
    for d in range(23, 30):
        day.until("08:00", day=d)
        await day.group("3号楼微网格群", "张丽", "今日巡查无异常，零报告")
    day.jobs.run_until(datetime(2026, 11, 30, 9, 1, tzinfo=SHANGHAI))
    bulletins = [m for m in day.kinds("weekly_bulletin") if "11月23日" in m.text]
    assert bulletins and all(m.chat == "private" for m in bulletins)
    secretary = next(m for m in bulletins if m.to_name == "王书记")
    assert "3号楼微网格" in secretary.text or "报告率" in secretary.text


def test_jobs_fire_in_time_order(day: Day) -> None:
    day.until("23:59")
    names = [name for name, _ in day.jobs.ran if name not in ("escalation", "ticket_followup")]
    expected = ["patrol_reminder", "weekly_bulletin", "overdue_chase", "patrol_chase", "missed_reports"]
    assert names == [*expected, "daily_digest"]  # a Monday: the weekly bulletin at 09:00 too
    times = [due for _, due in day.jobs.ran]
    assert times == sorted(times)
    assert timedelta(0) < times[-1] - times[0]

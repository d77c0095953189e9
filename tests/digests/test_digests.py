"""Supervisors' digests and bulletins on a real database (SQLite and PostgreSQL via `engine`).

The hierarchy: one community (幸福社区, 下站街道) with comprehensive grids 东区 (micro-grids A1, A2)
and 西区 (B1, B2); a leader per micro-grid; supervisors at level 1 (东区, 西区), 2 and 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers.clock import SHANGHAI, VirtualClock
from handlers.context import Services
from handlers.digests import (
    MAX_CHARS,
    MAX_LINES,
    Scope,
    collect_daily,
    collect_period,
    daily_digest,
    digest_templates,
    monthly_bulletin,
    weekly_bulletin,
)
from handlers.policy import WorkflowPolicy
from handlers.templates import TemplateError, Templates
from storage.models import (
    Community,
    CompGrid,
    GridRole,
    Incident,
    MicroGrid,
    OutboxMessage,
    PatrolReport,
    Person,
    PointsEntry,
    Supervisor,
    Ticket,
)
from storage.store import Store

DAY = date(2026, 11, 23)  # a Monday
WEEK = date(2026, 11, 16)  # the Monday before
PHONE = "13812345678"
PHONE_RE = re.compile(r"1[3-9]\d{9}")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class World:
    session: Session
    community: Community
    grids: dict[str, MicroGrid]
    people: dict[str, Person]
    comps: dict[str, CompGrid]

    def add(self, *objs: object) -> None:
        for obj in objs:
            self.session.add(obj)
        self.session.flush()

    def gid(self, code: str) -> int:
        grid_id = self.grids[code].id
        assert grid_id is not None
        return grid_id

    def pid(self, name: str) -> int:
        person_id = self.people[name].id
        assert person_id is not None
        return person_id

    def report(self, code: str, day: date, status: str, recalled: bool = False) -> None:
        self.add(PatrolReport(micro_grid_id=self.gid(code), day=day, status=status, recalled=recalled))

    def ticket(self, code: str, created: datetime, deadline: datetime, **kw: Any) -> Ticket:
        t = Ticket(micro_grid_id=self.gid(code), created_at=created, deadline=deadline, **kw)
        self.add(t)
        return t

    def points(self, name: str, when: datetime, points: int, ref: str) -> None:
        cid = self.community.id
        self.add(
            PointsEntry(person_id=self.pid(name), community_id=cid, at=when, rule="r", points=points, ref=ref)
        )


@pytest.fixture
def services() -> Services:
    return Services(clock=VirtualClock(at(DAY, 21)), policy=WorkflowPolicy(), texts=Templates())


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with Session(engine, expire_on_commit=False) as session:
        community = Community(code="C1", name="幸福社区", street="下站街道")
        session.add(community)
        session.flush()
        assert community.id is not None
        comps = {
            k: CompGrid(community_id=community.id, code=k, name=n) for k, n in (("A", "东区"), ("B", "西区"))
        }
        session.add_all(comps.values())
        session.flush()
        grids: dict[str, MicroGrid] = {}
        for code in ("A1", "A2", "B1", "B2"):
            comp_id = comps[code[0]].id
            assert comp_id is not None
            grids[code] = MicroGrid(comp_grid_id=comp_id, code=code, name=f"{code}号楼", room_topic=code)
        session.add_all(grids.values())
        names = ["甲", "乙", "丙", "丁", "主任A", "主任B", "书记", "街道"]
        people = {n: Person(code=n, name=n, phone=PHONE) for n in names}
        people["丁"].name = f"丁{PHONE}"  # a display name carrying a phone number
        session.add_all(people.values())
        session.flush()
        w = World(session, community, grids, people, comps)
        for leader, code in (("甲", "A1"), ("乙", "A2"), ("丙", "B1"), ("丁", "B2")):
            w.add(GridRole(person_id=w.pid(leader), micro_grid_id=w.gid(code), role="leader"))
        w.add(
            Supervisor(
                person_id=w.pid("主任A"), level=1, community_id=community.id, comp_grid_id=comps["A"].id
            ),
            Supervisor(
                person_id=w.pid("主任B"), level=1, community_id=community.id, comp_grid_id=comps["B"].id
            ),
            Supervisor(person_id=w.pid("书记"), level=2, community_id=community.id),
            Supervisor(person_id=w.pid("街道"), level=3),
        )
        session.commit()
        yield w


@pytest.fixture
def day_events(world: World) -> World:
    """DAY: A1 zero, A2 basic, B1 major, B2 missed; tickets, incidents and points as commented."""
    w = world
    w.report("A1", DAY, "zero")
    w.report("A2", DAY, "basic")
    w.report("B1", DAY, "major")
    w.report("B2", DAY, "missed")
    d = DAY
    # R1: new today, closed in time.        R2: new today, text with a phone number.
    w.ticket("A1", at(d, 9), at(d + timedelta(1), 9), category="sanitation", grade="A",
             status="resolved", resolved_at=at(d, 15))  # fmt: skip
    w.ticket("A2", at(d, 10), at(d + timedelta(3), 10), category="facility", grade="B",
             masked_text=f"电话{PHONE}楼道灯坏了")  # fmt: skip
    # R3: open since 3 days, deadline 2 days ago: overdue.   R4: closed today but late.
    w.ticket("B1", at(d - timedelta(3), 9), at(d - timedelta(2), 9), category="dispute")
    w.ticket("B1", at(d - timedelta(5), 9), at(d - timedelta(4), 9), status="resolved", resolved_at=at(d, 11))
    # R5: accepted, overdue since yesterday 08:00.           R6: new today, grade C.
    w.ticket("A1", at(d - timedelta(2), 8), at(d - timedelta(1), 8), status="accepted")
    w.ticket("B2", at(d, 12), at(d + timedelta(7), 12), category="safety", grade="C")
    # R7: recalled: counts nowhere.   R8: suspended past deadline: paused, not overdue.
    w.ticket("A1", at(d, 13), at(d - timedelta(1), 13), recalled=True)
    w.ticket("A2", at(d - timedelta(5), 9), at(d - timedelta(4), 9), status="suspended")
    w.add(
        Incident(micro_grid_id=w.gid("B1"), category="fire", created_at=at(d, 14), status="acked",
                 acked_at=at(d, 14, 8)),
        Incident(micro_grid_id=w.gid("A2"), category="gas", created_at=at(d, 16)),
        Incident(micro_grid_id=w.gid("A1"), category="fire", created_at=at(d - timedelta(1), 16)),
    )  # fmt: skip
    w.points("甲", at(d, 9), 1, "p1")
    w.points("甲", at(d, 15), 3, "p2")
    w.points("乙", at(d, 10), 2, "p3")
    w.points("丙", at(d, 10), 2, "p4")
    w.points("丁", at(d, 18), -2, "p5")
    w.points("丁", at(d - timedelta(1), 10), 9, "p6")  # yesterday: not today's ranking
    w.session.commit()
    return w


def scope_of(w: World, code: str) -> Scope:
    comp_id = w.comps[code].id
    assert comp_id is not None
    return Scope(comp_grid_ids=frozenset({comp_id}))


def messages(engine: Engine, kind: str) -> dict[str, str]:
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
    return {r.to_name: r.text for r in rows}


# -- daily figures ---------------------------------------------------------------------------------


def test_daily_figures_for_a_comprehensive_grid(day_events: World, services: Services) -> None:
    w = day_events
    f = collect_daily(Store(w.session), services, DAY, scope_of(w, "A"), as_of=at(DAY, 21))
    assert f.scope_name == "东区"
    assert (f.total.grids, f.total.zero, f.total.basic, f.total.major, f.total.missing) == (2, 1, 1, 0, ())
    assert f.new_by_grade == {"A": 1, "B": 1, "C": 0}
    assert f.new_by_category == {"sanitation": 1, "facility": 1}
    assert (f.closed, f.closed_in_time) == (1, 1)
    assert f.overdue == 1
    assert [(o.ref, o.grid, o.late.days) for o in f.oldest_overdue] == [("R5", "A1号楼", 1)]
    assert [(i.ref, i.category, i.ack_minutes) for i in f.incidents] == [("M2", "燃气", None)]
    assert [(c.name, c.points) for c in f.top] == [("甲", 4), ("乙", 2)]


def test_daily_figures_for_the_community(day_events: World, services: Services) -> None:
    w = day_events
    assert w.community.id is not None
    scope = Scope(community_ids=frozenset({w.community.id}))
    f = collect_daily(Store(w.session), services, DAY, scope, as_of=at(DAY, 21))
    assert f.scope_name == "幸福社区"
    assert (f.total.grids, f.total.reported, f.total.missing) == (4, 3, ("B2号楼",))
    assert [(u.name, u.reported, u.missing) for u in f.by_comp_grid] == [
        ("东区", 2, ()),
        ("西区", 1, ("B2号楼",)),
    ]
    assert f.new_by_grade == {"A": 1, "B": 1, "C": 1}
    assert (f.closed, f.closed_in_time) == (2, 1)
    assert f.overdue == 2
    assert [o.ref for o in f.oldest_overdue] == ["R3", "R5"]  # oldest deadline first
    assert [o.late.days for o in f.oldest_overdue] == [2, 1]
    assert [(i.ref, i.category, i.ack_minutes) for i in f.incidents] == [
        ("M1", "火情", 8),
        ("M2", "燃气", None),
    ]
    assert [(c.name, c.points) for c in f.top] == [("甲", 4), ("丙", 2), ("乙", 2)]  # ties by name


def test_overdue_is_judged_at_as_of(day_events: World, services: Services) -> None:
    """R5's deadline was yesterday 08:00: at yesterday 07:00 it was not overdue yet."""
    w = day_events
    scope = scope_of(w, "A")
    earlier = collect_daily(Store(w.session), services, DAY, scope, as_of=at(DAY - timedelta(1), 7))
    assert earlier.overdue == 0


# -- daily messages ------------------------------------------------------------------------------


def test_one_digest_per_supervisor_each_in_scope(
    engine: Engine, day_events: World, services: Services
) -> None:
    w = day_events
    sent = daily_digest(Store(w.session), services, DAY, at(DAY, 21))
    w.session.commit()
    assert sent == 4
    texts = messages(engine, "digest")
    assert set(texts) == {"主任A", "主任B", "书记", "街道"}
    a, b = texts["主任A"], texts["主任B"]
    assert "东区" in a.splitlines()[0] and "已报 2/2" in a
    assert "B1" not in a and "B2" not in a and "R3" not in a and "M1" not in a
    assert "A1" not in b and "A2" not in b and "R5" not in b and "M2" not in b
    assert "未报网格：B2号楼" in b
    assert "M1 火情 8分钟确认" in b
    assert "M2 燃气 未确认" in a
    assert "R5 A1号楼 超1天" in a
    assert "今日办结 1，按时 1" in a
    assert "今日办结 1，按时 0" in b
    community = texts["书记"]
    assert "已报 3/4" in community and "· 西区 1/2，未报：B2号楼" in community
    assert "超期未办 2：R3 B1号楼 超2天、R5 A1号楼 超1天" in community
    assert "甲 4分" in community
    assert texts["街道"].splitlines()[0].endswith("下站街道")


def test_digest_rerun_writes_nothing(engine: Engine, day_events: World, services: Services) -> None:
    w = day_events
    assert daily_digest(Store(w.session), services, DAY, at(DAY, 21)) == 4
    w.session.commit()
    assert daily_digest(Store(w.session), services, DAY, at(DAY, 21, 5)) == 0
    w.session.commit()
    with Session(engine) as s:
        keys = sorted(r.dedupe_key for r in s.exec(select(OutboxMessage)))
    assert len(keys) == 4
    assert all(k.startswith(f"digest:{DAY}:") for k in keys)


def test_digest_text_has_no_phone_number(engine: Engine, day_events: World, services: Services) -> None:
    w = day_events
    w.points("丁", at(DAY, 19), 10, "p7")  # 丁 (whose name carries a phone) now tops the ranking
    daily_digest(Store(w.session), services, DAY, at(DAY, 21))
    w.session.commit()
    texts = messages(engine, "digest")
    assert "丁" in texts["书记"]
    for text in texts.values():
        assert not PHONE_RE.search(text), text


def test_street_digest_of_200_grids_fits_a_phone(engine: Engine, world: World, services: Services) -> None:
    w = world
    long = "非常非常长的名字" * 4
    for c in range(10):  # 10 communities × 2 comprehensive grids × 10 micro-grids
        community = Community(code=f"S{c}", name=f"{long}社区{c}", street="下站街道")
        w.add(community)
        assert community.id is not None
        for k in range(2):
            comp = CompGrid(community_id=community.id, code=f"S{c}-{k}", name=f"{long}综合网格{c}-{k}")
            w.add(comp)
            assert comp.id is not None
            for g in range(10):
                grid = MicroGrid(comp_grid_id=comp.id, code=f"S{c}-{k}-{g}", name=f"{long}{c}{k}{g}号楼")
                w.add(grid)
                assert grid.id is not None
                if g % 3 == 0:
                    w.add(PatrolReport(micro_grid_id=grid.id, day=DAY, status="zero"))
                w.add(Ticket(micro_grid_id=grid.id, category="facility", created_at=at(DAY, 8),
                             deadline=at(DAY - timedelta(days=g + 1), 8)))  # fmt: skip
                w.add(Incident(micro_grid_id=grid.id, category="fire", created_at=at(DAY, 9)))
        w.add(Supervisor(person_id=w.pid("主任A"), level=2, community_id=community.id))
    w.session.commit()
    daily_digest(Store(w.session), services, DAY, at(DAY, 21))
    w.session.commit()
    texts = messages(engine, "digest")
    for name in ("街道", "主任A"):
        text = texts[name]
        assert len(text) <= MAX_CHARS, len(text)
        assert len(text.splitlines()) <= MAX_LINES
        assert "超期未办 200" in text or name == "主任A"
    street = texts["街道"]
    assert "未报网格：" in street
    assert "· 其余3个社区，未报 " in street  # 11 communities: 8 listed, the rest folded


def test_rest_day_digest_counts_no_missing(engine: Engine, world: World) -> None:
    services = Services(VirtualClock(at(DAY, 9)), WorkflowPolicy(workdays_only=True), Templates())
    saturday = date(2026, 11, 21)
    world.report("A1", saturday, "zero")
    assert daily_digest(Store(world.session), services, saturday, at(saturday, 21)) == 4
    world.session.commit()
    text = messages(engine, "digest")["主任A"]
    assert "已报 1/2" in text and "休息日" in text and "未报网格" not in text


def test_templates_missing_a_key_fail_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "digest.yaml"
    broken.write_text('daily_header: "{day}"\n', encoding="utf-8")
    with pytest.raises(TemplateError, match="daily_patrol"):
        digest_templates(broken)


# -- weekly / monthly ----------------------------------------------------------------------------


@pytest.fixture
def crafted_week(world: World) -> World:
    """A1 reports all 7 days; A2 3 days (plus a 漏报 row); B1 never; B2 7 days of which one recalled."""
    w = world
    for i in range(7):
        d = WEEK + timedelta(days=i)
        w.report("A1", d, "zero" if i % 2 else "basic")
        if i < 3:
            w.report("A2", d, "zero")
        elif i == 3:
            w.report("A2", d, "missed")
        w.report("B2", d, "zero", recalled=(i == 6))
    w.report("B1", WEEK + timedelta(days=7), "zero")  # the next Monday: outside the week
    d = WEEK
    w.ticket("A1", at(d, 9), at(d + timedelta(1), 9), status="rated", resolved_at=at(d, 12), rating=5,
             rated_at=at(d, 13))  # fmt: skip
    w.ticket("A2", at(d, 9), at(d + timedelta(1), 9), status="rated", resolved_at=at(d + timedelta(2), 9),
             rating=3, rated_at=at(d + timedelta(2), 10))  # fmt: skip
    w.ticket("B1", at(d, 9), at(d + timedelta(3), 9), status="resolved", resolved_at=at(d + timedelta(6), 23))
    # resolved last week but rated this week: the rating counts, the closure does not
    w.ticket("B2", at(d - timedelta(3), 9), at(d, 9), status="rated", resolved_at=at(d - timedelta(1), 9),
             rating=4, rated_at=at(d + timedelta(1), 9))  # fmt: skip
    for name, pts in (("甲", 10), ("乙", 7), ("丙", 7), ("丁", 3), ("主任A", 1), ("书记", 20)):
        w.points(name, at(d + timedelta(3), 10), pts, f"w{name}")
    w.points("乙", at(d + timedelta(7), 10), 50, "next")  # next week
    w.session.commit()
    return w


def test_weekly_figures(crafted_week: World, services: Services) -> None:
    w = crafted_week
    f = collect_period(Store(w.session), services, WEEK, WEEK + timedelta(7), Scope.all())
    assert (f.overall.done, f.overall.total) == (7 + 3 + 0 + 6, 28)
    assert [(g.name, g.done, g.total) for g in f.grids] == [
        ("B1号楼", 0, 7), ("A2号楼", 3, 7), ("B2号楼", 6, 7), ("A1号楼", 7, 7),
    ]  # fmt: skip
    assert [(u.name, u.done, u.total) for u in f.by_comp_grid] == [("西区", 6, 14), ("东区", 10, 14)]
    assert (f.closed, f.closed_in_time) == (3, 1)
    assert (f.rating_count, f.rating_avg) == (3, 4.0)
    names = {pid: name for name, pid in ((n, w.pid(n)) for n in w.people)}
    assert [(names[c.person_id], c.points) for c in f.top] == [
        ("书记", 20), ("甲", 10), ("丙", 7), ("乙", 7), ("丁", 3),
    ]  # fmt: skip
    east = collect_period(Store(w.session), services, WEEK, WEEK + timedelta(7), scope_of(w, "A"))
    assert (east.overall.done, east.overall.total) == (10, 14)
    assert (east.closed, east.closed_in_time, east.rating_count) == (2, 1, 2)
    assert [c.name for c in east.top] == ["甲", "乙"]  # only people working in 东区's grids


def test_weekly_bulletin_messages(engine: Engine, crafted_week: World, services: Services) -> None:
    w = crafted_week
    monday = at(WEEK + timedelta(7), 9)
    assert weekly_bulletin(Store(w.session), services, WEEK, monday) == 4
    w.session.commit()
    assert weekly_bulletin(Store(w.session), services, WEEK, monday) == 0
    texts = messages(engine, "weekly_bulletin")
    community = texts["书记"]
    assert community.splitlines()[0] == "📊 网格周报 11月16日—11月22日 · 幸福社区"
    assert "巡查报告率 57%（16/28 网格·天）" in community
    assert "报告率最低：B1号楼 0%、A2号楼 43%、B2号楼 86%" in community
    assert "诉求办结 3，按时 1（33%）" in community
    assert "群众满意度 4.0 分（3 条评价）" in community
    east = texts["主任A"]
    assert "巡查报告率 71%（10/14 网格·天）" in east and "B1" not in east
    with Session(engine) as s:
        keys = {r.dedupe_key for r in s.exec(select(OutboxMessage))}
    assert f"weekly:{WEEK}:{w.pid('书记')}" in keys


def test_weekly_rate_counts_working_days_only(crafted_week: World) -> None:
    services = Services(VirtualClock(at(DAY, 9)), WorkflowPolicy(workdays_only=True), Templates())
    f = collect_period(Store(crafted_week.session), services, WEEK, WEEK + timedelta(7), Scope.all())
    assert f.due_days == 5  # 2026-11-16..20 are working days, the weekend is not
    # A1 5/5, A2 3/5, B1 0/5, B2 5/5 (its recalled report was on Sunday)
    assert (f.overall.done, f.overall.total) == (13, 20)


def test_monthly_bulletin(engine: Engine, crafted_week: World, services: Services) -> None:
    w = crafted_week
    sent = monthly_bulletin(Store(w.session), services, date(2026, 11, 1), at(date(2026, 12, 1), 9))
    w.session.commit()
    assert sent == 4
    texts = messages(engine, "monthly_bulletin")
    street = texts["街道"]
    assert street.splitlines()[0] == "📊 网格月报 2026年11月 · 下站街道"
    # 30 days × 4 grids; B1's report on the 23rd is in the month too
    assert "（17/120 网格·天）" in street
    assert monthly_bulletin(Store(w.session), services, date(2026, 11, 1), at(date(2026, 12, 1), 10)) == 0
    with Session(engine) as s:
        keys = {r.dedupe_key for r in s.exec(select(OutboxMessage))}
    assert f"monthly:2026-11:{w.pid('街道')}" in keys


def test_scope_of_supervisor_rows() -> None:
    assert Scope.of_supervisor(Supervisor(person_id=1, level=1, community_id=2, comp_grid_id=3)) == Scope(
        comp_grid_ids=frozenset({3})
    )
    assert Scope.of_supervisor(Supervisor(person_id=1, level=2, community_id=2)).community_ids == {2}
    assert Scope.of_supervisor(Supervisor(person_id=1, level=3)).everything
    assert Scope.of_supervisor(Supervisor(person_id=1, level=3, community_id=5)) == Scope(
        community_ids=frozenset({5})
    )
    both = Scope.of_supervisors(
        [Supervisor(person_id=1, level=1, comp_grid_id=3), Supervisor(person_id=1, level=1, comp_grid_id=4)]
    )
    assert both.comp_grid_ids == {3, 4}


# -- scope cuts and the split overdue query ---------------------------------------------------------


def test_overdue_counts_reopened_and_later_resolved_tickets_once(world: World, services: Services) -> None:
    """The overdue predicate runs as two halves (still open; resolved after `as_of`): a ticket
    reopened after a resolution matches both readings and must count once, and a grid's oldest
    three come from both halves."""
    w, d = world, DAY
    as_of = at(d, 21)
    late = at(d - timedelta(5), 9)
    w.ticket("A1", late - timedelta(1), late + timedelta(hours=3), status="open", resolved_at=at(d, 22))  # R1
    w.ticket("A1", late - timedelta(1), late + timedelta(hours=1), status="resolved", resolved_at=at(d, 22))
    w.ticket("A1", late - timedelta(1), late + timedelta(hours=2), status="accepted")  # R3
    w.ticket("A1", late - timedelta(1), late, status="rated", resolved_at=at(d, 23))  # R4: oldest
    w.ticket("A1", late - timedelta(1), late, status="resolved", resolved_at=at(d, 20))  # R5: done in time
    w.ticket("A1", late - timedelta(1), late, status="suspended")  # R6: paused
    w.ticket("A2", late - timedelta(1), late + timedelta(hours=4), status="resolved", resolved_at=at(d, 22))
    w.session.commit()
    f = collect_daily(Store(w.session), services, DAY, scope_of(w, "A"), as_of=as_of)
    assert f.overdue == 5
    assert [o.ref for o in f.oldest_overdue] == ["R4", "R2", "R3"]
    by_grid = collect_daily(Store(w.session), services, DAY, scope_of(w, "B"), as_of=as_of)
    assert by_grid.overdue == 0


def test_mixed_scope_cuts_follow_the_roster(world: World, services: Services) -> None:
    """A scope of one comprehensive grid of 幸福社区 plus the whole of a second community: units in
    roster order, the partial community holding only its covered comprehensive grid."""
    w = world
    other = Community(code="C2", name="和平社区", street="下站街道")
    w.add(other)
    assert other.id is not None
    comp = CompGrid(community_id=other.id, code="C", name="北区")
    w.add(comp)
    assert comp.id is not None
    c1 = MicroGrid(comp_grid_id=comp.id, code="C1", name="C1号楼", room_topic="C1")
    w.add(c1, MicroGrid(comp_grid_id=comp.id, code="C2", name="C2号楼", room_topic="C2", active=False))
    assert c1.id is not None
    w.report("B1", DAY, "zero")
    w.add(Incident(community_id=other.id, category="fire", created_at=at(DAY, 9)))  # no micro-grid
    w.add(Incident(community_id=w.community.id, category="gas", created_at=at(DAY, 10)))
    w.session.commit()
    comp_b = w.comps["B"].id
    assert comp_b is not None
    scope = Scope(comp_grid_ids=frozenset({comp_b}), community_ids=frozenset({other.id}))
    f = collect_daily(Store(w.session), services, DAY, scope, as_of=at(DAY, 21))
    assert f.scope_name == "西区、和平社区"
    assert [(u.name, u.grids, u.reported) for u in f.by_community] == [("幸福社区", 2, 1), ("和平社区", 1, 0)]
    assert [u.name for u in f.by_comp_grid] == ["西区", "北区"]
    assert f.total.missing == ("B2号楼", "C1号楼")  # inactive C2 is nowhere
    assert [i.category for i in f.incidents] == ["火情"]  # the other community's only
    everything = collect_daily(Store(w.session), services, DAY, Scope.all(), as_of=at(DAY, 21))
    assert [i.category for i in everything.incidents] == ["火情", "燃气"]
    assert everything.total.grids == 5


def test_points_counted_once_when_scope_holds_a_community_and_its_comp_grid(
    day_events: World, services: Services
) -> None:
    w = day_events
    comp_a = w.comps["A"].id
    assert comp_a is not None and w.community.id is not None
    both = Scope(comp_grid_ids=frozenset({comp_a}), community_ids=frozenset({w.community.id}))
    f = collect_daily(Store(w.session), services, DAY, both, as_of=at(DAY, 21))
    assert [(c.name, c.points) for c in f.top] == [("甲", 4), ("丙", 2), ("乙", 2)]
    p = collect_period(Store(w.session), services, DAY, DAY + timedelta(days=1), both)
    assert [(c.name, c.points) for c in p.top] == [("甲", 4), ("丙", 2), ("乙", 2)]


def test_ticket_aggregates_read_the_period_by_its_time_index(
    engine: Engine, day_events: World, services: Services
) -> None:
    """SQLite, planning without statistics, served `micro_grid_id IN (grids in scope)` from
    ix_ticket_micro_grid_id for the GROUP BY: a walk over every ticket the grids ever had,
    where a day or a week holds a few. The counts are the same either way; only the plan shows."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from its statistics")
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "FROM ticket" in statement and "GROUP BY ticket.micro_grid_id" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        w = day_events
        collect_daily(Store(w.session), services, DAY, Scope.all(), as_of=at(DAY, 21))
        collect_period(Store(w.session), services, WEEK, WEEK + timedelta(7), Scope.all())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) >= 4  # new, closed (daily and period), ratings
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for statement, parameters in seen:
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = " ".join(str(row[-1]) for row in rows)
            assert "ix_ticket_micro_grid_id" not in plan, (statement, plan)

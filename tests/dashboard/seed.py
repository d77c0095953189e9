"""Test data for the dashboard: two communities (A: 幸福里社区 on 解放街道, B: 和平社区 on 东风街道),
30 days of patrol reports, tickets in every state, incidents with alert chains, points, accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlmodel import Session

from bot.dashboard.auth import hash_password
from handlers.clock import SHANGHAI
from storage.models import (
    Community,
    CompGrid,
    DashboardUser,
    GridRole,
    InboundMessage,
    Incident,
    IncidentAlert,
    MicroGrid,
    PatrolReport,
    Person,
    PointsEntry,
    Ticket,
    TicketEvent,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()
PASSWORD = "Grid-pass-2026!"
EVIL_NAME = "<script>alert('x')</script>王五"
RESIDENT_PHONE = "13900001111"
LEADER_PHONE = "13812345678"
# a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@dataclass
class Seeded:
    community_a: int = 0
    community_b: int = 0
    grids_a: list[int] = field(default_factory=list)
    grid_b: int = 0
    tickets: dict[str, int] = field(default_factory=dict)
    incident_a: int = 0
    incident_b: int = 0
    photo: Path | None = None


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def _add(session: Session, obj: object) -> int:
    session.add(obj)
    session.flush()
    return obj.id  # type: ignore[attr-defined]


def seed(session: Session, data_dir: Path | None = None) -> Seeded:
    s = Seeded()
    a = Community(code="XFL", name="幸福里社区", street="解放街道")
    b = Community(code="HP", name="和平社区", street="东风街道")
    s.community_a, s.community_b = _add(session, a), _add(session, b)
    comp1 = _add(session, CompGrid(community_id=s.community_a, code="XFL-1", name="第一综合网格"))
    comp2 = _add(session, CompGrid(community_id=s.community_a, code="XFL-2", name="第二综合网格"))
    comp_b = _add(session, CompGrid(community_id=s.community_b, code="HP-1", name="和平第一综合网格"))
    names = [(comp1, "1号楼"), (comp1, "2号楼"), (comp1, "3号楼"), (comp2, "4号楼"), (comp2, "临街商户")]
    for i, (comp, name) in enumerate(names, start=1):
        kind = "merchant" if "商户" in name else "residential"
        s.grids_a.append(
            _add(session, MicroGrid(comp_grid_id=comp, code=f"XFL-G{i}", name=name, kind=kind, buildings=[i]))
        )
    s.grid_b = _add(session, MicroGrid(comp_grid_id=comp_b, code="HP-G1", name="和平1号楼"))

    leader = _add(session, Person(code="p-zhang", name="张伟", phone=LEADER_PHONE))
    member = _add(session, Person(code="p-li", name="李娜", phone="13700002222"))
    resident = _add(session, Person(code="res:evil", name=EVIL_NAME, phone=RESIDENT_PHONE, is_resident=True))
    sup = _add(session, Person(code="p-sup", name="赵书记", phone="13600003333"))
    street = _add(session, Person(code="p-street", name="钱主任", phone="13500004444"))
    b_leader = _add(session, Person(code="p-b", name="和平网格长", phone="13400005555"))
    for gid in s.grids_a[:3]:
        session.add(GridRole(person_id=leader, micro_grid_id=gid, role="leader"))
    for gid in s.grids_a[3:]:
        session.add(GridRole(person_id=member, micro_grid_id=gid, role="leader"))
    session.add(GridRole(person_id=b_leader, micro_grid_id=s.grid_b, role="leader"))

    # 30 days of patrol reports: grid 1 always zero, grid 2 basic every 3rd day else zero,
    # grid 3 misses weekends, grid 4 misses most days, merchants report every other day.
    for back in range(1, 31):
        day = TODAY - timedelta(days=back)
        plan = {
            s.grids_a[0]: "zero",
            s.grids_a[1]: "basic" if back % 3 == 0 else "zero",
            s.grids_a[2]: "missed" if day.weekday() >= 5 else ("major" if back == 7 else "zero"),
            s.grids_a[3]: "zero" if back % 4 == 0 else "missed",
            s.grids_a[4]: "zero" if back % 2 == 0 else None,
        }
        for gid, status in plan.items():
            if status is None:
                continue
            reporter = None if status == "missed" else (leader if gid in s.grids_a[:3] else member)
            session.add(
                PatrolReport(
                    micro_grid_id=gid,
                    day=day,
                    status=status,
                    reporter_id=reporter,
                    summary="" if status in ("zero", "missed") else f"{day:%m-%d} 楼道堆物已清理",
                    entries=0 if status == "missed" else 1,
                    first_at=None if status == "missed" else at(day, 8, 30),
                )
            )
        session.add(
            PatrolReport(
                micro_grid_id=s.grid_b, day=day, status="zero", reporter_id=b_leader, first_at=at(day, 9)
            )
        )
    # today: zero, basic, major, nothing, nothing
    session.add(
        PatrolReport(
            micro_grid_id=s.grids_a[0], day=TODAY, status="zero", reporter_id=leader, first_at=at(TODAY, 8, 5)
        )
    )
    session.add(
        PatrolReport(
            micro_grid_id=s.grids_a[1],
            day=TODAY,
            status="basic",
            reporter_id=leader,
            summary=f"2单元漏水，电话{RESIDENT_PHONE}",
            first_at=at(TODAY, 8, 40),
        )
    )
    session.add(
        PatrolReport(
            micro_grid_id=s.grids_a[2],
            day=TODAY,
            status="major",
            reporter_id=leader,
            summary="地下室冒烟",
            first_at=at(TODAY, 9, 10),
        )
    )
    session.add(
        PatrolReport(
            micro_grid_id=s.grid_b, day=TODAY, status="zero", reporter_id=b_leader, first_at=at(TODAY, 7)
        )
    )

    # tickets
    msg = _add(
        session,
        InboundMessage(
            platform_id="m1",
            chat="room",
            micro_grid_id=s.grids_a[0],
            sender_id="wx-evil",
            person_id=resident,
            text=f"3号楼2单元楼道灯坏了，电话{RESIDENT_PHONE}",
            masked_text="3号楼2单元楼道灯坏了，电话139****1111",
            kind="request",
            received_at=NOW - timedelta(days=2),
        ),
    )
    photo_path = None
    if data_dir is not None:
        images = data_dir / "images"
        images.mkdir(parents=True, exist_ok=True)
        s.photo = images / "abc123.png"
        s.photo.write_bytes(PNG)
        photo_path = str(s.photo)

    def ticket(key: str, **kw: object) -> int:
        tid = _add(session, Ticket(**kw))  # type: ignore[arg-type]
        s.tickets[key] = tid
        return tid

    created = NOW - timedelta(days=2)
    t1 = ticket(
        "overdue",
        micro_grid_id=s.grids_a[0],
        reporter_id=resident,
        message_id=msg,
        category="facility",
        grade="A",
        building=3,
        unit=2,
        masked_text="3号楼2单元楼道灯坏了，电话139****1111",
        status="accepted",
        created_at=created,
        deadline=created + timedelta(days=1),
        accepted_by=leader,
        accepted_at=created + timedelta(hours=1),
        photo_path=photo_path,
    )
    session.add(TicketEvent(ticket_id=t1, at=created, actor_id=resident, action="opened", note="楼道灯坏了"))
    session.add(
        TicketEvent(
            ticket_id=t1,
            at=created + timedelta(minutes=5),
            actor_id=resident,
            action="photo",
            note=photo_path or "x.png",
        )
    )
    session.add(
        TicketEvent(ticket_id=t1, at=created + timedelta(hours=1), actor_id=leader, action="accepted")
    )
    session.add(
        TicketEvent(
            ticket_id=t1,
            at=created + timedelta(days=1, hours=1),
            action="escalated",
            note="已超时，提醒综合网格长",
        )
    )
    c2 = NOW - timedelta(hours=5)
    t2 = ticket(
        "open_b",
        micro_grid_id=s.grids_a[1],
        reporter_id=resident,
        category="dispute",
        grade="B",
        masked_text="楼上噪音扰民",
        status="open",
        created_at=c2,
        deadline=c2 + timedelta(days=3),
    )
    session.add(TicketEvent(ticket_id=t2, at=c2, actor_id=resident, action="opened"))
    c3 = NOW - timedelta(days=6)
    t3 = ticket(
        "rated",
        micro_grid_id=s.grids_a[3],
        reporter_id=resident,
        category="sanitation",
        grade="A",
        masked_text="垃圾桶满了",
        status="rated",
        created_at=c3,
        deadline=c3 + timedelta(days=1),
        accepted_by=member,
        accepted_at=c3 + timedelta(hours=1),
        resolved_by=member,
        resolved_at=c3 + timedelta(hours=5),
        resolution="已清运",
        rating=5,
        rated_at=c3 + timedelta(hours=8),
    )
    for action, h in (("opened", 0), ("accepted", 1), ("resolved", 5), ("rated", 8)):
        session.add(TicketEvent(ticket_id=t3, at=c3 + timedelta(hours=h), actor_id=member, action=action))
    c4 = NOW - timedelta(days=10)
    ticket(
        "suspended",
        micro_grid_id=s.grids_a[4],
        reporter_id=resident,
        category="safety",
        grade="C",
        masked_text="临街招牌松动",
        status="suspended",
        created_at=c4,
        deadline=c4 + timedelta(days=7),
    )
    c5 = NOW - timedelta(days=1)
    t5 = ticket(
        "b_secret",
        micro_grid_id=s.grid_b,
        reporter_id=b_leader,
        category="facility",
        grade="A",
        masked_text="和平社区秘密诉求",
        status="open",
        created_at=c5,
        deadline=c5 + timedelta(hours=2),
    )
    session.add(TicketEvent(ticket_id=t5, at=c5, actor_id=b_leader, action="opened"))

    # incidents
    ci = NOW - timedelta(hours=1)
    s.incident_a = _add(
        session,
        Incident(
            micro_grid_id=s.grids_a[2],
            community_id=s.community_a,
            reporter_id=leader,
            category="fire",
            location="3号楼地下室",
            masked_text="地下室冒烟，已疏散",
            status="acked",
            level=2,
            rounds=2,
            created_at=ci,
            acked_by=sup,
            acked_at=ci + timedelta(minutes=7),
        ),
    )
    session.add(IncidentAlert(incident_id=s.incident_a, level=1, person_id=sup, action="alert", at=ci))
    session.add(
        IncidentAlert(
            incident_id=s.incident_a,
            level=2,
            person_id=street,
            action="escalation",
            at=ci + timedelta(minutes=5),
        )
    )
    session.add(
        IncidentAlert(
            incident_id=s.incident_a, level=2, person_id=sup, action="ack", at=ci + timedelta(minutes=7)
        )
    )
    s.incident_b = _add(
        session,
        Incident(
            micro_grid_id=s.grid_b,
            community_id=s.community_b,
            category="gas",
            masked_text="和平燃气泄漏",
            status="open",
            level=1,
            created_at=NOW - timedelta(minutes=20),
        ),
    )
    session.add(
        IncidentAlert(
            incident_id=s.incident_b,
            level=1,
            person_id=b_leader,
            action="alert",
            at=NOW - timedelta(minutes=20),
        )
    )

    # points this month and last
    for i in range(12):
        session.add(
            PointsEntry(
                person_id=leader,
                community_id=s.community_a,
                at=NOW - timedelta(days=i),
                rule="zero_report",
                points=1,
                ref=f"patrol:{s.grids_a[0]}:{i}",
            )
        )
    session.add(
        PointsEntry(
            person_id=member,
            community_id=s.community_a,
            at=c3 + timedelta(hours=5),
            rule="ticket_closed_in_time",
            points=3,
            ref=f"R{t3}",
        )
    )
    session.add(
        PointsEntry(
            person_id=resident,
            community_id=s.community_a,
            at=NOW - timedelta(days=3),
            rule="basic_report",
            points=2,
            ref="patrol:x",
        )
    )
    session.add(
        PointsEntry(
            person_id=b_leader,
            community_id=s.community_b,
            at=NOW - timedelta(days=1),
            rule="zero_report",
            points=50,
            ref="patrol:b",
        )
    )
    october = datetime(2026, 10, 5, 9, tzinfo=SHANGHAI)
    session.add(
        PointsEntry(
            person_id=leader,
            community_id=s.community_a,
            at=october,
            rule="basic_report",
            points=2,
            ref="october",
        )
    )

    # accounts (cheap scrypt cost: these are test passwords)
    cheap = hash_password(PASSWORD, n=2**10)
    session.add(DashboardUser(username="a_admin", password_hash=cheap, community_id=s.community_a))
    session.add(
        DashboardUser(username="a_pii", password_hash=cheap, community_id=s.community_a, can_see_pii=True)
    )
    session.add(DashboardUser(username="b_admin", password_hash=cheap, community_id=s.community_b))
    session.add(DashboardUser(username="street_jf", password_hash=cheap, street="解放街道"))
    session.commit()
    return s


CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = CSRF_RE.search(page)
    assert found, "no CSRF field on the page"
    return found.group(1)

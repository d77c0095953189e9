"""What the dashboard shows, read from the database for one account's scope.

Every function takes a `Viewer` and filters by its communities in SQL: an account never reads a
row of a community it may not see. Pages and the JSON API render the same dataclasses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from config.roster import mask_phone
from handlers.labels import LEVEL_NAMES, STATUS_NAMES, category_name
from handlers.parsing import mask_pii
from storage.models import (
    Community,
    CompGrid,
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

REPORT_NAMES = {"zero": "零报告", "basic": "基本情况", "major": "重大情况", "missed": "未报"}
REPORTED = ("zero", "basic", "major")
OPEN_STATES = ("open", "accepted")  # suspended work is paused: its deadline does not run
EVENT_NAMES = {
    "opened": "登记",
    "accepted": "接单",
    "resolved": "办结",
    "rated": "评价",
    "escalated": "升级督办",
    "suspended": "挂起",
    "resumed": "恢复办理",
    "recalled": "撤回",
    "photo": "补充照片",
    "refused": "退回",
    "reply": "回复",
}
ALERT_NAMES = {"alert": "首次提醒", "escalation": "升级提醒", "ack": "确认收到"}
RULE_NAMES = {
    "zero_report": "零报告",
    "basic_report": "基本情况上报",
    "major_report": "重大情况上报",
    "ticket_closed_in_time": "按时办结",
    "ticket_overdue": "超时办结",
}
GRADE_NAMES = {"A": "A级（微网格自办，1天）", "B": "B级（社区协调，3天）", "C": "C级（上报街道，7天）"}
MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the communities they may see and whether personal data is shown."""

    community_ids: frozenset[int]
    pii: bool = False
    username: str = ""

    def text(self, value: str) -> str:
        """A free text for display: masked unless the account may see personal data."""
        return value if self.pii else mask_pii(value)

    def phone(self, value: str) -> str:
        return value if self.pii else mask_phone(value)


def _ids(viewer: Viewer) -> list[int]:
    return sorted(viewer.community_ids)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_window(tz: ZoneInfo, first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, last+1 00:00) local time as aware datetimes."""
    return datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz)


# -- grids -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridRow:
    id: int
    code: str
    name: str
    kind: str
    active: bool
    comp_id: int
    comp_code: str
    comp_name: str
    community_id: int
    community_name: str


def grids(session: Session, viewer: Viewer, *, active_only: bool = False) -> list[GridRow]:
    """Micro-grids in scope in roster order (community, comprehensive grid, code)."""
    stmt = (
        select(MicroGrid, CompGrid, Community)
        .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
        .join(Community, col(Community.id) == col(CompGrid.community_id))
        .where(col(Community.id).in_(_ids(viewer)))
        .order_by(col(Community.code), col(CompGrid.code), col(MicroGrid.code))
    )
    if active_only:
        stmt = stmt.where(col(MicroGrid.active).is_(True))
    out = []
    for micro, comp, community in session.exec(stmt):
        assert micro.id is not None and comp.id is not None and community.id is not None
        out.append(
            GridRow(
                micro.id,
                micro.code,
                micro.name,
                micro.kind,
                micro.active,
                comp.id,
                comp.code,
                comp.name,
                community.id,
                community.name,
            )
        )
    return out


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    people = session.exec(select(Person).where(col(Person.id).in_(wanted))).all()
    return {p.id: p for p in people if p.id is not None}


def _person_name(people: dict[int, Person], pid: int | None) -> str:
    person = people.get(pid) if pid is not None else None
    return person.name if person is not None else ""


# -- today -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tile:
    grid: GridRow
    status: str  # zero | basic | major | missed
    reporter: str
    first_at: datetime | None
    summary: str

    @property
    def status_name(self) -> str:
        return REPORT_NAMES.get(self.status, "未报")


@dataclass(slots=True)
class CompGroup:
    comp_id: int
    comp_name: str
    community_name: str
    tiles: list[Tile] = field(default_factory=list)

    @property
    def reported(self) -> int:
        return sum(t.status in REPORTED for t in self.tiles)


@dataclass(frozen=True, slots=True)
class TodayView:
    day: date
    groups: list[CompGroup]

    def count(self, status: str) -> int:
        return sum(t.status == status for g in self.groups for t in g.tiles)

    @property
    def total(self) -> int:
        return sum(len(g.tiles) for g in self.groups)


def today(session: Session, viewer: Viewer, day: date) -> TodayView:
    rows = grids(session, viewer, active_only=True)
    reports: dict[int, PatrolReport] = {}
    if rows:
        found = session.exec(
            select(PatrolReport).where(
                col(PatrolReport.day) == day,
                col(PatrolReport.micro_grid_id).in_([g.id for g in rows]),
            )
        ).all()
        reports = {r.micro_grid_id: r for r in found}
    people = _names(session, (r.reporter_id for r in reports.values()))
    groups: dict[int, CompGroup] = {}
    for g in rows:
        group = groups.setdefault(g.comp_id, CompGroup(g.comp_id, g.comp_name, g.community_name))
        report = reports.get(g.id)
        if report is None or report.recalled or report.status not in REPORTED:
            group.tiles.append(Tile(g, "missed", "", None, ""))
        else:
            group.tiles.append(
                Tile(
                    g,
                    report.status,
                    _person_name(people, report.reporter_id),
                    report.first_at,
                    viewer.text(report.summary),
                )
            )
    return TodayView(day, list(groups.values()))


# -- compliance ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridCompliance:
    grid: GridRow
    statuses: list[str]  # one per day, oldest first; "missed" when nothing was reported

    @property
    def reported(self) -> int:
        return sum(s in REPORTED for s in self.statuses)

    @property
    def rate(self) -> float:
        return self.reported / len(self.statuses) if self.statuses else 0.0


@dataclass(frozen=True, slots=True)
class CompCompliance:
    comp_id: int
    comp_name: str
    community_name: str
    grids: list[GridCompliance]

    @property
    def reported(self) -> int:
        return sum(g.reported for g in self.grids)

    @property
    def due(self) -> int:
        return sum(len(g.statuses) for g in self.grids)

    @property
    def rate(self) -> float:
        return self.reported / self.due if self.due else 0.0


@dataclass(frozen=True, slots=True)
class ComplianceView:
    days: list[date]
    comps: list[CompCompliance]

    @property
    def rate(self) -> float:
        due = sum(c.due for c in self.comps)
        return sum(c.reported for c in self.comps) / due if due else 0.0


def compliance(session: Session, viewer: Viewer, last: date, days: int = 30) -> ComplianceView:
    """Each active grid's report status over `days` days ending with `last` (inclusive)."""
    first = last - timedelta(days=days - 1)
    day_list = [first + timedelta(days=i) for i in range(days)]
    rows = grids(session, viewer, active_only=True)
    status: dict[tuple[int, date], str] = {}
    if rows:
        stmt = select(col(PatrolReport.micro_grid_id), col(PatrolReport.day), col(PatrolReport.status)).where(
            col(PatrolReport.day) >= first,
            col(PatrolReport.day) <= last,
            col(PatrolReport.recalled).is_(False),
            col(PatrolReport.micro_grid_id).in_([g.id for g in rows]),
        )
        for gid, day, st in session.exec(stmt):
            status[(gid, day)] = st
    comps: dict[int, CompCompliance] = {}
    for g in rows:
        comp = comps.setdefault(g.comp_id, CompCompliance(g.comp_id, g.comp_name, g.community_name, []))
        statuses = [status.get((g.id, d), "missed") for d in day_list]
        comp.grids.append(GridCompliance(g, [s if s in REPORTED else "missed" for s in statuses]))
    return ComplianceView(day_list, list(comps.values()))


# -- tickets ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: str | None = None
    grade: str | None = None
    category: str | None = None
    grid_id: int | None = None
    overdue: bool | None = None


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: int
    grid_id: int | None
    grid_name: str
    comp_name: str
    category: str
    grade: str
    status: str
    text: str
    location: str
    created_at: datetime
    deadline: datetime
    resolved_at: datetime | None
    rating: int | None
    overdue: bool
    seconds_left: int | None  # None once closed or suspended; negative when overdue
    has_photo: bool

    @property
    def number(self) -> str:
        return f"R{self.id}"

    @property
    def category_name(self) -> str:
        return category_name(self.category)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)

    @property
    def in_time(self) -> bool | None:
        if self.resolved_at is None:
            return None
        return self.resolved_at <= self.deadline


def location_of(ticket: Ticket) -> str:
    parts = []
    if ticket.building is not None:
        parts.append(f"{ticket.building}号楼")
    if ticket.unit is not None:
        parts.append(f"{ticket.unit}单元")
    if ticket.floor is not None:
        parts.append(f"{ticket.floor}层")
    if ticket.room:
        parts.append(f"{ticket.room}室")
    return "".join(parts)


def _overdue_cond(now: datetime) -> ColumnElement[bool]:
    return and_(col(Ticket.status).in_(OPEN_STATES), col(Ticket.deadline) < now)


def _ticket_row(ticket: Ticket, grid: tuple[str, str] | None, viewer: Viewer, now: datetime) -> TicketRow:
    assert ticket.id is not None
    open_ = ticket.status in OPEN_STATES
    left = int((ticket.deadline - now).total_seconds()) if open_ else None
    return TicketRow(
        id=ticket.id,
        grid_id=ticket.micro_grid_id,
        grid_name=grid[0] if grid else "",
        comp_name=grid[1] if grid else "",
        category=ticket.category,
        grade=ticket.grade,
        status=ticket.status,
        text=mask_pii(ticket.masked_text),
        location=location_of(ticket),
        created_at=ticket.created_at,
        deadline=ticket.deadline,
        resolved_at=ticket.resolved_at,
        rating=ticket.rating,
        overdue=open_ and ticket.deadline < now,
        seconds_left=left,
        has_photo=bool(ticket.photo_path),
    )


def tickets(
    session: Session, viewer: Viewer, now: datetime, flt: TicketFilter, *, limit: int = MAX_ROWS
) -> list[TicketRow]:
    stmt = (
        select(Ticket, MicroGrid.name, CompGrid.name)
        .join(MicroGrid, col(MicroGrid.id) == col(Ticket.micro_grid_id))
        .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
        .where(col(CompGrid.community_id).in_(_ids(viewer)), col(Ticket.recalled).is_(False))
    )
    if flt.status:
        stmt = stmt.where(col(Ticket.status) == flt.status)
    if flt.grade:
        stmt = stmt.where(col(Ticket.grade) == flt.grade)
    if flt.category:
        stmt = stmt.where(col(Ticket.category) == flt.category)
    if flt.grid_id is not None:
        stmt = stmt.where(col(Ticket.micro_grid_id) == flt.grid_id)
    if flt.overdue is True:
        stmt = stmt.where(_overdue_cond(now))
    elif flt.overdue is False:
        stmt = stmt.where(or_(col(Ticket.status).not_in(OPEN_STATES), col(Ticket.deadline) >= now))
    stmt = stmt.order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc()).limit(limit)
    return [_ticket_row(t, (g, c), viewer, now) for t, g, c in session.exec(stmt)]


@dataclass(frozen=True, slots=True)
class EventRow:
    at: datetime
    actor: str
    action: str
    note: str

    @property
    def action_name(self) -> str:
        return EVENT_NAMES.get(self.action, self.action)


@dataclass(frozen=True, slots=True)
class TicketDetail:
    row: TicketRow
    reporter: str
    reporter_phone: str
    accepted_by: str
    resolved_by: str
    resolution: str
    original_text: str | None  # the unmasked message, for accounts allowed to see personal data
    events: list[EventRow]
    photo_path: str | None


def ticket(session: Session, viewer: Viewer, ticket_id: int, now: datetime) -> TicketDetail | None:
    """One ticket in scope with its history; None if missing or outside the account's scope."""
    found = session.exec(
        select(Ticket, MicroGrid.name, CompGrid.name)
        .join(MicroGrid, col(MicroGrid.id) == col(Ticket.micro_grid_id))
        .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
        .where(col(Ticket.id) == ticket_id, col(CompGrid.community_id).in_(_ids(viewer)))
    ).first()
    if found is None:
        return None
    t, gname, cname = found
    events = session.exec(
        select(TicketEvent)
        .where(col(TicketEvent.ticket_id) == ticket_id)
        .order_by(col(TicketEvent.at), col(TicketEvent.id))
    ).all()
    people = _names(session, [t.reporter_id, t.accepted_by, t.resolved_by, *(e.actor_id for e in events)])
    original = None
    if viewer.pii and t.message_id is not None:
        message = session.get(InboundMessage, t.message_id)
        original = message.text if message is not None else None
    reporter = people.get(t.reporter_id) if t.reporter_id is not None else None
    return TicketDetail(
        row=_ticket_row(t, (gname, cname), viewer, now),
        reporter=reporter.name if reporter else "",
        reporter_phone=viewer.phone(reporter.phone) if reporter else "",
        accepted_by=_person_name(people, t.accepted_by),
        resolved_by=_person_name(people, t.resolved_by),
        resolution=mask_pii(t.resolution),
        original_text=original,
        events=[
            EventRow(
                e.at,
                _person_name(people, e.actor_id),
                e.action,
                "" if e.action == "photo" else mask_pii(e.note),
            )
            for e in events
        ],
        photo_path=t.photo_path,
    )


# -- incidents -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRow:
    at: datetime
    level: int
    person: str
    action: str

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, str(self.level))

    @property
    def action_name(self) -> str:
        return ALERT_NAMES.get(self.action, self.action)


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    grid_name: str
    comp_name: str
    community_name: str
    category: str
    location: str
    text: str
    status: str
    level: int
    created_at: datetime
    acked_by: str
    acked_at: datetime | None
    alerts: list[AlertRow]

    @property
    def number(self) -> str:
        return f"M{self.id}"

    @property
    def category_name(self) -> str:
        return category_name(self.category)

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, str(self.level))

    @property
    def minutes_to_ack(self) -> float | None:
        if self.acked_at is None:
            return None
        return round((self.acked_at - self.created_at).total_seconds() / 60, 1)


def incident_scope(viewer: Viewer) -> ColumnElement[bool]:
    in_grids = (
        select(col(MicroGrid.id))
        .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
        .where(col(CompGrid.community_id).in_(_ids(viewer)))
    )
    return or_(
        col(Incident.community_id).in_(_ids(viewer)),
        and_(col(Incident.community_id).is_(None), col(Incident.micro_grid_id).in_(in_grids)),
    )


def incidents(
    session: Session,
    viewer: Viewer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    grid_ids: Sequence[int] | None = None,
    limit: int = MAX_ROWS,
) -> list[IncidentRow]:
    stmt = select(Incident).where(incident_scope(viewer), col(Incident.recalled).is_(False))
    if since is not None:
        stmt = stmt.where(col(Incident.created_at) >= since)
    if until is not None:
        stmt = stmt.where(col(Incident.created_at) < until)
    if grid_ids is not None:
        stmt = stmt.where(col(Incident.micro_grid_id).in_(list(grid_ids)))
    found = session.exec(stmt.order_by(col(Incident.created_at).desc()).limit(limit)).all()
    ids = [i.id for i in found if i.id is not None]
    alerts: dict[int, list[IncidentAlert]] = defaultdict(list)
    if ids:
        for a in session.exec(
            select(IncidentAlert)
            .where(col(IncidentAlert.incident_id).in_(ids))
            .order_by(col(IncidentAlert.at), col(IncidentAlert.id))
        ):
            alerts[a.incident_id].append(a)
    people = _names(
        session,
        [i.acked_by for i in found] + [a.person_id for rows in alerts.values() for a in rows],
    )
    grid_names: dict[int, tuple[str, str, str]] = {}
    gids = sorted({i.micro_grid_id for i in found if i.micro_grid_id is not None})
    if gids:
        for gid, gname, cname, comm in session.exec(
            select(col(MicroGrid.id), MicroGrid.name, CompGrid.name, Community.name)
            .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
            .join(Community, col(Community.id) == col(CompGrid.community_id))
            .where(col(MicroGrid.id).in_(gids))
        ):
            if gid is not None:
                grid_names[gid] = (gname, cname, comm)
    out = []
    for i in found:
        assert i.id is not None
        gname, cname, comm = grid_names.get(i.micro_grid_id or -1, ("", "", ""))
        out.append(
            IncidentRow(
                id=i.id,
                grid_name=gname,
                comp_name=cname,
                community_name=comm,
                category=i.category,
                location=mask_pii(i.location),
                text=mask_pii(i.masked_text),
                status=i.status,
                level=i.level,
                created_at=i.created_at,
                acked_by=_person_name(people, i.acked_by),
                acked_at=i.acked_at,
                alerts=[
                    AlertRow(a.at, a.level, _person_name(people, a.person_id), a.action)
                    for a in alerts.get(i.id, [])
                ],
            )
        )
    return out


# -- points ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointsRow:
    rank: int
    person_id: int
    name: str
    grids: str
    points: int
    entries: int


def month_window(tz: ZoneInfo, year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def points(session: Session, viewer: Viewer, tz: ZoneInfo, year: int, month: int) -> list[PointsRow]:
    start, end = month_window(tz, year, month)
    total = func.sum(PointsEntry.points)
    stmt = (
        select(col(PointsEntry.person_id), total, func.count())
        .where(
            col(PointsEntry.community_id).in_(_ids(viewer)),
            col(PointsEntry.at) >= start,
            col(PointsEntry.at) < end,
        )
        .group_by(col(PointsEntry.person_id))
        .order_by(total.desc(), col(PointsEntry.person_id))
    )
    found = list(session.exec(stmt))
    people = _names(session, (r[0] for r in found))
    roles: dict[int, list[str]] = defaultdict(list)
    pids = [r[0] for r in found]
    if pids:
        for pid, gname in session.exec(
            select(col(GridRole.person_id), MicroGrid.name)
            .join(MicroGrid, col(MicroGrid.id) == col(GridRole.micro_grid_id))
            .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
            .where(col(GridRole.person_id).in_(pids), col(CompGrid.community_id).in_(_ids(viewer)))
            .order_by(col(MicroGrid.code))
        ):
            roles[pid].append(gname)
    out: list[PointsRow] = []
    previous: int | None = None
    rank = 0
    for index, (pid, pts, n) in enumerate(found, start=1):
        if pts != previous:
            rank, previous = index, pts
        out.append(
            PointsRow(rank, pid, _person_name(people, pid), "、".join(roles.get(pid, [])), int(pts), int(n))
        )
    return out

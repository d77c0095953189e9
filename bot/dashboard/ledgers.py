"""台账: the ledgers supervisors file — patrols, tickets, major incidents, points — as .xlsx or CSV.

* .xlsx (openpyxl): one sheet per ledger, frozen header row, column widths, dates and times as real
  Excel date cells in local (Asia/Shanghai) time.
* CSV: UTF-8 with BOM (Excel opens it in the right encoding), one file per ledger; several ledgers
  come as one .zip.

Rows are read for a set of communities (an account's scope, or everything for the command line), a
local date range (inclusive) and optionally a subset of micro-grids. Personal data (phone numbers,
numbers inside texts) is masked unless `pii` is set.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from bot.dashboard.queries import (
    LEVEL_NAMES,
    REPORT_NAMES,
    RULE_NAMES,
    STATUS_NAMES,
    Viewer,
    day_window,
    grids,
    location_of,
)
from handlers.labels import category_name
from handlers.parsing import mask_pii
from storage.models import (
    Community,
    GridRole,
    InboundMessage,
    Incident,
    PatrolReport,
    Person,
    PointsEntry,
    Ticket,
)

Kind = Literal["text", "int", "float", "date", "datetime"]
Format = Literal["xlsx", "csv"]
LEDGER_KEYS = ("patrol", "tickets", "incidents", "points")
LEDGER_TITLES = {
    "patrol": "巡查台账",
    "tickets": "事项台账",
    "incidents": "重大情况台账",
    "points": "积分台账",
}
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    kind: Kind = "text"


@dataclass(slots=True)
class Ledger:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LedgerRequest:
    first: date
    last: date
    grid_ids: Sequence[int] | None = None  # None: every grid in scope
    kinds: Sequence[str] = LEDGER_KEYS


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Naive local time for a spreadsheet cell (Excel has no time zones)."""
    return None if moment is None else moment.astimezone(tz).replace(tzinfo=None, microsecond=0)


class _Builder:
    def __init__(self, session: Session, viewer: Viewer, req: LedgerRequest, tz: ZoneInfo) -> None:
        self.session = session
        self.viewer = viewer
        self.req = req
        self.tz = tz
        self.start, self.end = day_window(tz, req.first, req.last)
        rows = grids(session, viewer)
        if req.grid_ids is not None:
            wanted = set(req.grid_ids)
            rows = [g for g in rows if g.id in wanted]
        self.grids = {g.id: g for g in rows}
        self._people: dict[int, Person] = {}

    def people(self, ids: Sequence[int | None]) -> dict[int, Person]:
        missing = sorted({i for i in ids if i is not None and i not in self._people})
        if missing:
            for p in self.session.exec(select(Person).where(col(Person.id).in_(missing))):
                assert p.id is not None
                self._people[p.id] = p
        return self._people

    def name(self, pid: int | None) -> str:
        person = self._people.get(pid) if pid is not None else None
        return person.name if person else ""

    def phone(self, pid: int | None) -> str:
        person = self._people.get(pid) if pid is not None else None
        return self.viewer.phone(person.phone) if person else ""

    def grid(self, gid: int | None) -> tuple[str, str]:
        g = self.grids.get(gid) if gid is not None else None
        return (g.comp_name, g.name) if g else ("", "")

    def patrol(self) -> Ledger:
        ledger = Ledger(
            "patrol",
            LEDGER_TITLES["patrol"],
            [
                Column("日期", 12, "date"),
                Column("综合网格", 16),
                Column("微网格", 18),
                Column("报告人", 10),
                Column("联系电话", 15),
                Column("类型", 10),
                Column("摘要", 50),
                Column("首次上报时间", 18, "datetime"),
            ],
        )
        if not self.grids:
            return ledger
        reports = self.session.exec(
            select(PatrolReport)
            .where(
                col(PatrolReport.day) >= self.req.first,
                col(PatrolReport.day) <= self.req.last,
                col(PatrolReport.micro_grid_id).in_(list(self.grids)),
                col(PatrolReport.recalled).is_(False),
            )
            .order_by(col(PatrolReport.day), col(PatrolReport.micro_grid_id))
        ).all()
        self.people([r.reporter_id for r in reports])
        order = {gid: i for i, gid in enumerate(self.grids)}
        for r in sorted(reports, key=lambda r: (r.day, order.get(r.micro_grid_id, 0))):
            comp, micro = self.grid(r.micro_grid_id)
            ledger.rows.append(
                [
                    r.day,
                    comp,
                    micro,
                    self.name(r.reporter_id),
                    self.phone(r.reporter_id),
                    REPORT_NAMES.get(r.status, r.status) if r.status != "missed" else "漏报",
                    mask_pii(r.summary),
                    _local(r.first_at, self.tz),
                ]
            )
        return ledger

    def tickets(self) -> Ledger:
        ledger = Ledger(
            "tickets",
            LEDGER_TITLES["tickets"],
            [
                Column("编号", 8),
                Column("综合网格", 16),
                Column("微网格", 18),
                Column("位置", 16),
                Column("类别", 12),
                Column("等级", 6),
                Column("状态", 8),
                Column("反映人", 10),
                Column("联系电话", 15),
                Column("内容", 50),
                Column("上报时间", 18, "datetime"),
                Column("办结时限", 18, "datetime"),
                Column("办结时间", 18, "datetime"),
                Column("是否按时", 8),
                Column("评价", 6, "int"),
            ],
        )
        if not self.grids:
            return ledger
        found = self.session.exec(
            select(Ticket)
            .where(
                col(Ticket.created_at) >= self.start,
                col(Ticket.created_at) < self.end,
                col(Ticket.micro_grid_id).in_(list(self.grids)),
                col(Ticket.recalled).is_(False),
            )
            .order_by(col(Ticket.id))
        ).all()
        self.people([t.reporter_id for t in found])
        originals: dict[int, str] = {}
        if self.viewer.pii:
            mids = [t.message_id for t in found if t.message_id is not None]
            if mids:
                for m in self.session.exec(select(InboundMessage).where(col(InboundMessage.id).in_(mids))):
                    assert m.id is not None
                    originals[m.id] = m.text
        for t in found:
            comp, micro = self.grid(t.micro_grid_id)
            in_time = "" if t.resolved_at is None else ("是" if t.resolved_at <= t.deadline else "否")
            text = originals.get(t.message_id or -1) or mask_pii(t.masked_text)
            ledger.rows.append(
                [
                    f"R{t.id}",
                    comp,
                    micro,
                    location_of(t),
                    category_name(t.category),
                    t.grade,
                    STATUS_NAMES.get(t.status, t.status),
                    self.name(t.reporter_id),
                    self.phone(t.reporter_id),
                    text,
                    _local(t.created_at, self.tz),
                    _local(t.deadline, self.tz),
                    _local(t.resolved_at, self.tz),
                    in_time,
                    t.rating,
                ]
            )
        return ledger

    def incidents(self) -> Ledger:
        ledger = Ledger(
            "incidents",
            LEDGER_TITLES["incidents"],
            [
                Column("编号", 8),
                Column("综合网格", 16),
                Column("微网格", 18),
                Column("类别", 14),
                Column("位置", 16),
                Column("上报时间", 18, "datetime"),
                Column("最高督办层级", 12),
                Column("确认人", 10),
                Column("确认时间", 18, "datetime"),
                Column("确认用时（分钟）", 14, "float"),
            ],
        )
        if not self.grids:
            return ledger
        found = self.session.exec(
            select(Incident)
            .where(
                col(Incident.created_at) >= self.start,
                col(Incident.created_at) < self.end,
                col(Incident.micro_grid_id).in_(list(self.grids)),
                col(Incident.recalled).is_(False),
            )
            .order_by(col(Incident.id))
        ).all()
        self.people([i.acked_by for i in found])
        for i in found:
            comp, micro = self.grid(i.micro_grid_id)
            minutes = None
            if i.acked_at is not None:
                minutes = round((i.acked_at - i.created_at).total_seconds() / 60, 1)
            ledger.rows.append(
                [
                    f"M{i.id}",
                    comp,
                    micro,
                    category_name(i.category),
                    mask_pii(i.location),
                    _local(i.created_at, self.tz),
                    LEVEL_NAMES.get(i.level, str(i.level)),
                    self.name(i.acked_by),
                    _local(i.acked_at, self.tz),
                    minutes,
                ]
            )
        return ledger

    def points(self) -> Ledger:
        ledger = Ledger(
            "points",
            LEDGER_TITLES["points"],
            [
                Column("日期", 18, "datetime"),
                Column("姓名", 10),
                Column("联系电话", 15),
                Column("规则", 14),
                Column("积分", 6, "int"),
                Column("关联事项", 24),
            ],
        )
        stmt = select(PointsEntry).where(
            col(PointsEntry.community_id).in_(sorted(self.viewer.community_ids)),
            col(PointsEntry.at) >= self.start,
            col(PointsEntry.at) < self.end,
        )
        if self.req.grid_ids is not None:
            # Points carry no grid: a grid subset keeps the points of the people who serve in it.
            stmt = stmt.where(
                col(PointsEntry.person_id).in_(
                    select(col(GridRole.person_id)).where(col(GridRole.micro_grid_id).in_(list(self.grids)))
                )
            )
        found = self.session.exec(stmt.order_by(col(PointsEntry.at), col(PointsEntry.id))).all()
        self.people([p.person_id for p in found])
        for p in found:
            ledger.rows.append(
                [
                    _local(p.at, self.tz),
                    self.name(p.person_id),
                    self.phone(p.person_id),
                    RULE_NAMES.get(p.rule, p.rule),
                    p.points,
                    p.ref,
                ]
            )
        return ledger


def build_ledgers(session: Session, viewer: Viewer, req: LedgerRequest, tz: ZoneInfo) -> list[Ledger]:
    builder = _Builder(session, viewer, req, tz)
    makers = {
        "patrol": builder.patrol,
        "tickets": builder.tickets,
        "incidents": builder.incidents,
        "points": builder.points,
    }
    return [makers[k]() for k in LEDGER_KEYS if k in req.kinds]


def all_communities(session: Session) -> frozenset[int]:
    return frozenset(i for i in session.exec(select(col(Community.id))).all() if i is not None)


# -- writers ---------------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F5FAD")


def write_xlsx(ledgers: Sequence[Ledger]) -> bytes:
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    for ledger in ledgers:
        ws = wb.create_sheet(ledger.title)
        ws.append([c.title for c in ledger.columns])
        for cell in ws[1]:
            cell.font = _HEADER_FONT
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center")
        for row in ledger.rows:
            ws.append(row)
        for index, column in enumerate(ledger.columns, start=1):
            letter = get_column_letter(index)
            ws.column_dimensions[letter].width = column.width
            fmt = {"date": DATE_FORMAT, "datetime": DATETIME_FORMAT}.get(column.kind)
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
        ws.freeze_panes = "A2"
        if ledger.rows:
            ws.auto_filter.ref = ws.dimensions
    if not ledgers:
        wb.create_sheet("台账")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv_value(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "datetime" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(ledger: Ledger) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.title for c in ledger.columns])
    for row in ledger.rows:
        writer.writerow([_csv_value(v, c.kind) for v, c in zip(row, ledger.columns, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_name(req: LedgerRequest, ledgers: Sequence[Ledger], fmt: Format) -> str:
    span = f"{req.first:%Y%m%d}-{req.last:%Y%m%d}"
    if fmt == "xlsx":
        title = ledgers[0].title if len(ledgers) == 1 else "台账"
        return f"{title}_{span}.xlsx"
    if len(ledgers) == 1:
        return f"{ledgers[0].title}_{span}.csv"
    return f"台账_{span}.zip"


def render(ledgers: Sequence[Ledger], req: LedgerRequest, fmt: Format) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of a download."""
    name = export_name(req, ledgers, fmt)
    if fmt == "xlsx":
        return name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", write_xlsx(ledgers)
    if len(ledgers) == 1:
        return name, "text/csv; charset=utf-8", write_csv(ledgers[0])
    buffer = io.BytesIO()
    span = f"{req.first:%Y%m%d}-{req.last:%Y%m%d}"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for ledger in ledgers:
            archive.writestr(f"{ledger.title}_{span}.csv", write_csv(ledger))
    return name, "application/zip", buffer.getvalue()


def export(
    session: Session, viewer: Viewer, req: LedgerRequest, fmt: Format, tz: ZoneInfo
) -> tuple[str, str, bytes]:
    return render(build_ledgers(session, viewer, req, tz), req, fmt)


__all__ = [
    "LEDGER_KEYS",
    "LEDGER_TITLES",
    "Column",
    "Ledger",
    "LedgerRequest",
    "all_communities",
    "build_ledgers",
    "export",
    "render",
    "write_csv",
    "write_xlsx",
]

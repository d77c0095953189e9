"""Small helpers shared by the flows: formatting, refs, points."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.parsing import ParseResult
from handlers.policy import WorkflowPolicy
from storage.models import MicroGrid
from storage.store import Store

REF_RE = re.compile(r"^([RM])(\d{1,9})$")


def fmt_time(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def fmt_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def split_ref(ref: str) -> tuple[str, int] | None:
    """ "R12" -> ("R", 12); anything else -> None."""
    m = REF_RE.match(ref.strip().upper())
    return (m.group(1), int(m.group(2))) if m else None


def location_text(building: int | None, unit: int | None, floor: int | None, room: str | None) -> str:
    """ "7号楼2单元3层402室" from whichever parts are known."""
    parts = []
    if building is not None:
        parts.append(f"{building}号楼")
    if unit is not None:
        parts.append(f"{unit}单元")
    if floor is not None:
        parts.append(f"{floor}层")
    if room:
        parts.append(f"{room}室")
    return "".join(parts)


def location_of(parsed: ParseResult) -> str:
    return location_text(parsed.building, parsed.unit, parsed.floor, parsed.room)


def grid_label(grid: MicroGrid | None) -> str:
    return grid.name if grid is not None else "未绑定网格"


def award(
    store: Store,
    policy: WorkflowPolicy,
    person_id: int | None,
    community_id: int | None,
    rule: str,
    ref: str,
    at: datetime,
) -> None:
    """Credit the points a rule gives (once per rule and ref); unknown rules give nothing."""
    if person_id is None:
        return
    points = policy.points.get(rule, 0)
    store.add_points(person_id, community_id, rule, points, ref, at)

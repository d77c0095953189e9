"""Working days on China's official calendar (with 调休), for ticket deadlines and patrol days.

`chinesecalendar` covers 2004–2026 and raises NotImplementedError beyond. For a year it does not
cover, an administrator's holiday file is used; failing that, Monday–Friday with one logged warning
per year. The service never crashes on a new year.

Holiday file (YAML), one or more years:

    2027:
      holidays: [2027-01-01, 2027-02-06, ...]   # official days off
      workdays: [2027-02-14, ...]               # make-up working days (调休上班)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import yaml

log = logging.getLogger(__name__)


class HolidayFileError(ValueError):
    pass


def load_holiday_file(path: Path) -> dict[int, tuple[set[date], set[date]]]:
    """Parse the administrator's holiday file into {year: (holidays, workdays)}."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HolidayFileError(f"节假日文件 {path} 无法读取：{exc}") from exc
    if not isinstance(raw, dict):
        raise HolidayFileError(f"节假日文件 {path}：顶层应为「年份: {{holidays, workdays}}」")
    years: dict[int, tuple[set[date], set[date]]] = {}
    for year, spec in raw.items():
        if not isinstance(year, int) or not isinstance(spec, dict):
            raise HolidayFileError(f"节假日文件 {path}：年份 {year!r} 的格式不对")
        sets = []
        for key in ("holidays", "workdays"):
            days = spec.get(key) or []
            if not all(isinstance(d, date) for d in days):
                raise HolidayFileError(f"节假日文件 {path}：{year}.{key} 中有不是日期的值")
            sets.append(set(days))
        years[year] = (sets[0], sets[1])
    return years


class WorkCalendar:
    def __init__(self, holiday_file: Path | None = None) -> None:
        self._extra = load_holiday_file(holiday_file) if holiday_file else {}
        self._warned: set[int] = set()

    def is_workday(self, day: date) -> bool:
        extra = self._extra.get(day.year)
        if extra is not None:  # the administrator's word wins, also over the package
            holidays, workdays = extra
            if day in workdays:
                return True
            return day not in holidays and day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "no official calendar for %s: counting Monday-Friday as working days; add a "
                    "holiday file (policy.grading.holiday_file) / 缺少%s年节假日数据，暂按周一至周五计算",
                    day.year,
                    day.year,
                )
            return day.weekday() < 5

    def add_workdays(self, start: datetime, days: int) -> datetime:
        """The same time of day on the `days`-th working day after `start`'s date."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_workday(current.date()):
                remaining -= 1
        return current


def deadline_for(created: datetime, days: int, unit: str, calendar: WorkCalendar | None = None) -> datetime:
    """Deadline for a grade's time limit: calendar days, or working days on the official calendar."""
    if unit == "working":
        return (calendar or WorkCalendar()).add_workdays(created, days)
    return created + timedelta(days=days)


DeadlineFn = Callable[[datetime, int], datetime]

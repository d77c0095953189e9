"""Deadlines in working days on China's official calendar, with 调休 and the 2027 fallback."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest

from handlers.clock import SHANGHAI
from handlers.workdays import HolidayFileError, WorkCalendar, deadline_for


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_three_working_days_across_national_day_lands_on_the_makeup_saturday() -> None:
    # 2026-09-30 (Wed) + 3 working days: Oct 1–7 are off, Oct 8 Thu, Oct 9 Fri, Oct 10 Sat (调休上班).
    assert deadline_for(at(2026, 9, 30, 10, 0), 3, "working") == at(2026, 10, 10, 10, 0)


def test_calendar_days_ignore_holidays() -> None:
    assert deadline_for(at(2026, 9, 30, 10, 0), 3, "calendar") == at(2026, 10, 3, 10, 0)


def test_year_without_official_data_falls_back_to_weekdays_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING):
        # 2027-01-01 is a Friday: +1 working day on the weekday fallback is Monday 01-04.
        assert cal.add_workdays(at(2027, 1, 1, 9, 0), 1) == at(2027, 1, 4, 9, 0)
        cal.add_workdays(at(2027, 1, 4, 9, 0), 1)
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1  # once per year, not once per call


def test_holiday_file_covers_a_new_year(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "2027:\n  holidays: [2027-01-01, 2027-01-04]\n  workdays: [2027-01-09]\n", encoding="utf-8"
    )
    cal = WorkCalendar(path)
    assert not cal.is_workday(at(2027, 1, 4, 0, 0).date())
    assert cal.is_workday(at(2027, 1, 9, 0, 0).date())  # a Saturday made a working day
    assert cal.add_workdays(at(2026, 12, 31, 9, 0), 1) == at(2027, 1, 5, 9, 0)


def test_broken_holiday_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("2027:\n  holidays: [not-a-date]\n", encoding="utf-8")
    with pytest.raises(HolidayFileError, match="不是日期"):
        WorkCalendar(path)

"""The clock handlers and the scheduler share: real time live, virtual time in tests and simulate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    tz: ZoneInfo

    def now(self) -> datetime: ...


class SystemClock:
    def __init__(self, tz: ZoneInfo = SHANGHAI) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class VirtualClock:
    """Time that only moves when told to; `advance`/`set` are used by simulate and the tests."""

    def __init__(self, start: datetime, tz: ZoneInfo = SHANGHAI) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
        self.tz = tz
        self._now = start.astimezone(tz)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        if when < self._now:
            raise ValueError(f"virtual clock cannot go back: {when} < {self._now}")
        self._now = when.astimezone(self.tz)

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

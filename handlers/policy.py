"""What the workflow needs to know of a community's rules; built from the roster's policy section.

Handlers depend on this small value object, not on the roster file format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

from handlers.clock import SHANGHAI

DEFAULT_POINTS = {
    "zero_report": 1,
    "basic_report": 2,
    "major_report": 2,
    "ticket_closed_in_time": 3,
    "ticket_overdue": -2,
}


@dataclass(frozen=True, slots=True)
class WorkflowPolicy:
    tz: ZoneInfo = SHANGHAI
    grade_days: dict[str, int] = field(default_factory=lambda: {"A": 1, "B": 3, "C": 7})
    deadline_unit: str = "calendar"  # calendar | working
    escalation_timeout_minutes: int = 10
    escalation_max_rounds: int = 3  # alerts in all, first included
    max_level: int = 3
    points: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    patrol_reminder: time = time(9, 0)
    patrol_chase: time = time(16, 0)
    patrol_deadline: time = time(18, 0)
    workdays_only: bool = False
    digest_time: time = time(21, 0)
    weekly_bulletin: tuple[int, time] = (0, time(9, 0))  # (weekday, 0 = Monday; time)
    monthly_bulletin: tuple[int, time] = (1, time(9, 0))  # (day of month; time)
    due_soon_hours: int = 4
    overdue_chase: time = time(10, 0)
    max_text_chars: int = 4000  # longer messages are stored whole but summarised to this length
    # Identity (roster section `identity`): False = a roster person whose contact id is not known
    # is bound only with their claim code (`#认领 123456`, see handlers/identity.py); True = the
    # old convenience for demos and trials: bound by WeChat display name on first sight.
    claim_by_name: bool = False

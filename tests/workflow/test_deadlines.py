"""Ticket deadlines in working days, through the real pipeline: National Day and a 调休 Saturday."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine

from handlers.clock import SHANGHAI
from handlers.policy import WorkflowPolicy
from storage.models import Ticket
from tests.workflow.harness import Chat

SEPT_30 = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)  # a Wednesday, the eve of National Day


async def test_grade_b_ticket_opened_before_national_day_is_due_on_the_makeup_saturday(
    roster_loaded: Engine,
) -> None:
    chat = Chat(roster_loaded, replace(WorkflowPolicy(), deadline_unit="working"), start=SEPT_30)
    await chat.group("3号楼微网格群", "李大爷", "楼上邻居天天半夜装修，吵得睡不着")  # a dispute: grade B
    ticket = chat.one(Ticket)
    assert ticket.grade == "B"
    # Oct 1–7 are the holiday; Oct 8 (Thu), Oct 9 (Fri), Oct 10 (Sat, a make-up working day).
    assert ticket.deadline.astimezone(SHANGHAI) == datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)
    [opened] = chat.outbox("ticket_opened")
    assert "10月10日 10:00" in opened.text


async def test_calendar_days_by_default(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, start=SEPT_30)
    await chat.group("3号楼微网格群", "李大爷", "楼上邻居天天半夜装修，吵得睡不着")
    assert chat.one(Ticket).deadline.astimezone(SHANGHAI) == datetime(2026, 10, 3, 10, 0, tzinfo=SHANGHAI)

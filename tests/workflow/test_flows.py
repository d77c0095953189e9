"""The report / ticket / incident workflow end to end through the real pipeline and database."""

from __future__ import annotations

from sqlmodel import col, select

from handlers.incidents import escalate_due
from storage.models import (
    InboundMessage,
    Incident,
    IncidentAlert,
    MicroGrid,
    PatrolEntry,
    PatrolReport,
    Person,
    PointsEntry,
    Ticket,
    TicketEvent,
)
from storage.store import Store
from tests.workflow.harness import Chat

GROUP = "3号楼微网格群"
LEADER = "张丽"
RESIDENT = "李大爷"


def grid3(chat: Chat) -> MicroGrid:
    with chat.session() as s:
        grid = s.exec(select(MicroGrid).where(MicroGrid.room_topic == GROUP)).one()
    return grid


def supervisors(chat: Chat, level: int) -> list[Person]:
    with chat.session() as s:
        store = Store(s)
        grid = grid3(chat)
        return store.supervisors_at(level, grid, store.community_of_grid(grid))


async def test_zero_report_records_once_per_day_and_acks(chat: Chat) -> None:
    out = await chat.group(GROUP, LEADER, "今日巡查无异常，零报告")
    assert out.kind == "zero_report"
    acks = chat.outbox("report_ack")
    assert len(acks) == 1 and "零报告" in acks[0].text and acks[0].chat == "group"
    chat.advance(hours=2)
    await chat.group(GROUP, LEADER, "下午复查一遍，无情况")
    with chat.session() as s:
        reports = list(s.exec(select(PatrolReport)))
        entries = list(s.exec(select(PatrolEntry)))
        points = list(s.exec(select(PointsEntry).where(PointsEntry.rule == "zero_report")))
    assert len(reports) == 1 and reports[0].status == "zero" and reports[0].entries == 2
    assert len(entries) == 2
    assert len(points) == 1 and points[0].points == 1  # once per grid and day
    assert "已更新" in chat.outbox("report_ack")[-1].text


async def test_zero_report_from_resident_is_just_chat(chat: Chat) -> None:
    out = await chat.group(GROUP, RESIDENT, "今天小区一切正常，无异常")
    assert chat.outbox() == []
    with chat.session() as s:
        assert list(s.exec(select(PatrolReport))) == []
        assert s.get(InboundMessage, out.inbound_id) is not None  # stored all the same


async def test_handled_basic_from_staff_goes_into_patrol_record(chat: Chat) -> None:
    await chat.group(GROUP, LEADER, "3号楼2单元楼道堆放的纸箱已清理")
    with chat.session() as s:
        report = s.exec(select(PatrolReport)).one()
        assert report.status == "basic"
        assert list(s.exec(select(Ticket))) == []
    assert len(chat.outbox("report_ack")) == 1


async def test_resident_request_opens_graded_ticket_mentioning_leader(chat: Chat) -> None:
    out = await chat.group(GROUP, RESIDENT, "3号楼2单元电梯又坏了，我家住18层，电话13812345678")
    assert out.kind == "basic"
    [msg] = chat.outbox("ticket_opened")
    with chat.session() as s:
        ticket = s.exec(select(Ticket)).one()
        events = list(s.exec(select(TicketEvent)))
    assert ticket.building == 3 and ticket.unit == 2 and ticket.status == "open"
    assert ticket.grade in ("A", "B", "C")
    assert f"R{ticket.id}" in msg.text and f"{ticket.grade}类" in msg.text
    assert msg.mention_names == [LEADER]
    assert "13812345678" not in ticket.masked_text and "138****5678" in ticket.masked_text
    assert [e.action for e in events] == ["opened"]


async def test_duplicate_inbound_id_is_processed_once(chat: Chat) -> None:
    first = await chat.group(GROUP, RESIDENT, "楼下路灯坏了好几天了", msg_id="dup-1")
    second = await chat.group(GROUP, RESIDENT, "楼下路灯坏了好几天了", msg_id="dup-1")
    assert not first.duplicate and second.duplicate
    with chat.session() as s:
        assert len(list(s.exec(select(Ticket)))) == 1
        assert len(list(s.exec(select(InboundMessage)))) == 1
    assert len(chat.outbox()) == 1


async def test_duplicate_from_a_new_sender_leaves_no_phantom_person(chat: Chat) -> None:
    """A replayed id under another, new sender: the resident made for them is rolled back with
    the duplicate, so their next message must not point at a row that was never kept."""
    await chat.group(GROUP, RESIDENT, "楼下路灯坏了好几天了", msg_id="dup-2")
    replay = await chat.group(GROUP, "新来的邻居", "楼下路灯坏了好几天了", msg_id="dup-2")
    assert replay.duplicate
    later = await chat.group(GROUP, "新来的邻居", "3号楼楼道灯不亮了")
    assert not later.duplicate and later.error is None
    with chat.session() as s:
        inbound = s.exec(select(InboundMessage).where(InboundMessage.id == later.inbound_id)).one()
        person = s.get(Person, inbound.person_id)
        assert person is not None and person.wechat_name == "新来的邻居"


async def test_ticket_lifecycle_accept_close_rate(chat: Chat) -> None:
    await chat.group(GROUP, RESIDENT, "5楼楼道灯不亮了")
    ref = f"R{chat.one(Ticket).id}"
    refused = await chat.group(GROUP, RESIDENT, f"#办结 {ref}")
    assert "无权限" in refused.outbound[0].text
    await chat.group(GROUP, LEADER, f"#接单 {ref}")
    assert "已由 张丽 接单" in chat.outbox("ticket_update")[-1].text
    chat.advance(hours=3)
    await chat.group(GROUP, LEADER, f"#办结 {ref} 已更换灯泡")
    [closed] = chat.outbox("ticket_closed")
    assert "已更换灯泡" in closed.text and "#评价" in closed.text and closed.mention_names == [RESIDENT]
    early = await chat.group(GROUP, LEADER, f"#评价 {ref} 5")
    assert "诉求人本人" in early.outbound[0].text
    await chat.group(GROUP, RESIDENT, f"#评价 {ref} 5")
    with chat.session() as s:
        ticket = s.exec(select(Ticket)).one()
        actions = [e.action for e in s.exec(select(TicketEvent).order_by(col(TicketEvent.id)))]
        points = list(s.exec(select(PointsEntry).where(PointsEntry.rule == "ticket_closed_in_time")))
    assert ticket.status == "rated" and ticket.rating == 5
    assert actions == ["opened", "accepted", "resolved", "rated"]
    assert len(points) == 1


async def test_escalate_ticket_regrades_and_notifies_next_level(chat: Chat) -> None:
    await chat.group(GROUP, RESIDENT, "楼上邻居天天半夜装修，吵得睡不着")
    ticket_id = chat.one(Ticket).id
    await chat.group(GROUP, LEADER, f"#转办 R{ticket_id} C")
    with chat.session() as s:
        ticket = s.get(Ticket, ticket_id)
    assert ticket is not None and ticket.grade == "C" and ticket.escalation_level == 1
    notices = [m for m in chat.outbox("ticket_update") if m.chat == "private"]
    assert {m.to_name for m in notices} == {p.name for p in supervisors(chat, 1)}
    bad = await chat.group(GROUP, LEADER, f"#转办 R{ticket_id}")
    assert "A、B 或 C" in bad.outbound[0].text


async def test_major_alerts_privately_and_never_echoes_details(chat: Chat) -> None:
    text = "3号楼5楼着火了，冒黑烟，联系人13912345678"
    out = await chat.group(GROUP, RESIDENT, text)
    assert out.kind == "major"
    [notice] = chat.outbox("major_group_notice")
    assert notice.chat == "group" and "着火" not in notice.text and "5楼" not in notice.text
    alerts = chat.outbox("major_alert")
    level1 = supervisors(chat, 1)
    assert level1 and {a.to_name for a in alerts} == {p.name for p in level1}
    assert all(
        a.chat == "private" and "139****5678" in a.text and "13912345678" not in a.text for a in alerts
    )
    with chat.session() as s:
        incident = s.exec(select(Incident)).one()
    assert incident.status == "open" and incident.level == 1


async def test_unacknowledged_major_escalates_then_ack_stops_it(chat: Chat) -> None:
    await chat.private(RESIDENT, "我家老人出门一下午没回来，电话打不通，他有老年痴呆")
    with chat.session() as s:
        incident = s.exec(select(Incident)).one()
    chat.advance(minutes=9)
    with chat.session() as s:
        assert escalate_due(Store(s), chat.services, chat.clock.now()) == []
    chat.advance(minutes=2)
    with chat.session() as s:
        assert escalate_due(Store(s), chat.services, chat.clock.now()) == [incident.id]
        s.commit()
    escalations = chat.outbox("major_escalation")
    assert escalations and {m.to_name for m in escalations} == {p.name for p in supervisors(chat, 2)}
    ack = await chat.private("王书记", f"#收到 M{incident.id}")
    by_name = {m.to_name: m.text for m in ack.outbound}
    assert "已确认" in by_name["王书记"] and "确认接报" in by_name[RESIDENT]
    chat.advance(minutes=30)
    with chat.session() as s:
        assert escalate_due(Store(s), chat.services, chat.clock.now()) == []
        incident_now = s.get(Incident, incident.id)
        actions = [a.action for a in s.exec(select(IncidentAlert))]
    assert incident_now is not None and incident_now.status == "acked"
    assert "ack" in actions and "escalation" in actions


async def test_resident_cannot_ack_and_unknown_command_gets_help(chat: Chat) -> None:
    await chat.group(GROUP, RESIDENT, "单元门口有人晕倒了，快来人")
    incident_id = chat.one(Incident).id
    refused = await chat.group(GROUP, RESIDENT, f"#收到 M{incident_id}")
    assert "无权限" in refused.outbound[0].text
    unknown = await chat.group(GROUP, RESIDENT, "#跳舞")
    assert "跳舞" in unknown.outbound[0].text and "#零报告" in unknown.outbound[0].text
    help_ = await chat.private(LEADER, "#帮助")
    assert "#接单" in help_.outbound[0].text and help_.outbound[0].chat == "private"


async def test_stats_for_supervisor(chat: Chat) -> None:
    await chat.group(GROUP, LEADER, "今日无情况，零报告")
    out = await chat.private("王书记", "#统计")
    assert "已报 1" in out.outbound[0].text


async def test_recalled_message_marks_its_ticket(chat: Chat) -> None:
    from handlers.events import MessageRecalled

    await chat.group(GROUP, RESIDENT, "垃圾桶满了没人清", msg_id="r-1")
    await chat.pipeline.handle(MessageRecalled(message_id="r-1", at=chat.clock.now()))
    with chat.session() as s:
        ticket = s.exec(select(Ticket)).one()
        actions = [e.action for e in s.exec(select(TicketEvent))]
    assert ticket.recalled and "recalled" in actions


async def test_failing_handler_keeps_the_message(chat: Chat) -> None:
    from handlers.router import Router

    broken = Router()

    @broken.message()
    async def boom(ctx: object) -> None:
        raise RuntimeError("bug")

    chat.pipeline.router = broken
    out = await chat.group(GROUP, RESIDENT, "随便说点什么 13812345678")
    assert out.kind == "error"
    with chat.session() as s:
        record = s.exec(select(InboundMessage)).one()
    assert record.kind == "error" and "138****5678" in record.masked_text

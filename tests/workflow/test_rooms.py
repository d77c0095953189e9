"""Groups are matched to micro-grids by topic on first sight, then followed by room id."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers.events import ChatKind, MessageReceived, RoomRenamed
from storage.models import MicroGrid, PatrolReport
from tests.workflow.harness import Chat


async def test_a_renamed_group_stays_bound_to_its_grid(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded)
    await chat.group("3号楼微网格群", "张丽", "今日巡查无异常，零报告")  # binds room:3号楼微网格群
    await chat.pipeline.handle(
        RoomRenamed(
            room_id="room:3号楼微网格群",
            old_topic="3号楼微网格群",
            new_topic="3号楼幸福家园",
            at=chat.clock.now(),
        )
    )
    renamed = MessageReceived(
        message_id="after-rename",
        chat=ChatKind.GROUP,
        sender_id="wx:张丽",
        sender_name="张丽",
        text="下午复查无异常",
        at=chat.clock.now(),
        room_id="room:3号楼微网格群",
        room_topic="3号楼幸福家园",
    )
    await chat.pipeline.handle(renamed)
    with Session(roster_loaded) as s:
        grid = s.exec(select(MicroGrid).where(MicroGrid.code == "xfl-b3")).one()
        report = s.exec(select(PatrolReport).where(PatrolReport.micro_grid_id == grid.id)).one()
    assert grid.room_topic == "3号楼幸福家园" and grid.room_id == "room:3号楼微网格群"
    assert report.entries == 2  # the message under the new topic counted for the same grid


async def test_an_unknown_group_gets_no_grid_until_bound(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded)
    out = await chat.group("不认识的群", "张丽", "今日巡查无异常，零报告")
    assert "尚未绑定" in out.outbound[0].text
    bind = await chat.group("不认识的群", "王书记", "#绑定 xfl-b3")
    assert bind.outbound and "已绑定到 3号楼微网格" in bind.outbound[0].text
    again = await chat.group("不认识的群", "张丽", "今日巡查无异常，零报告")
    assert again.outbound[0].kind == "report_ack"

"""Claiming a roster identity with a claim code (`#认领 123456`) instead of by display name.

The production default (roster `identity.claim_by_name: false`): a contact the bot has not seen,
speaking under the name of a roster person whose contact id is unknown, stays a resident, is told
how to claim, and the supervisors are alerted; the code binds the contact. Real pipeline, SQLite
and PostgreSQL, virtual clock.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot.cli import main as gridbot
from config.roster import RosterError, load_roster, validate_roster
from handlers.events import MessageReceived
from handlers.identity import claim_code, claim_secret
from handlers.policy import WorkflowPolicy
from storage.models import Person, Ticket
from tests.hardening.helpers import outbox_leaks
from tests.workflow.harness import DEMO_POLICY, DEMO_ROSTER, Chat

SECRET = "claim-test-secret"
TOPIC = "3号楼微网格群"
LEADER = "张丽"
LEADER_CODE = "张丽-0103"
CHIEF = "刘建国"  # 第一综合网格长: level-1 supervisor of 3号楼微网格
CODE_REQUIRED = WorkflowPolicy()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDBOT_SECRET", SECRET)


def as_contact(chat: Chat, contact: str, name: str, text: str, topic: str | None = TOPIC) -> MessageReceived:
    """A message from platform contact `contact` showing display name `name`."""
    return dataclasses.replace(chat.event(name, text, topic), sender_id=contact)


def code_of(chat: Chat, code: str = LEADER_CODE) -> str:
    with chat.session() as s:
        person = s.exec(select(Person).where(Person.code == code)).one()
    return claim_code(SECRET.encode(), person)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def roster_person(chat: Chat, code: str = LEADER_CODE) -> Person:
    with chat.session() as s:
        return s.exec(select(Person).where(Person.code == code)).one()


async def open_ticket(chat: Chat) -> None:
    out = await chat.group(TOPIC, "居民甲", "3号楼2单元电梯坏了")
    assert any("R1" in o.text for o in out.outbound), [o.text for o in out.outbound]


def ticket_status(chat: Chat) -> str:
    return chat.one(Ticket).status


async def test_impostor_first_stays_resident_is_told_and_supervisors_alerted(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await open_ticket(chat)
    for text in ("大家好，我是网格长", "#接单 R1", "#办结 R1 已修复"):
        outcome = await chat.pipeline.handle(as_contact(chat, "wx:fake", LEADER, text))
        assert outcome.error is None
    assert ticket_status(chat) == "open"
    assert roster_person(chat).wechat_id is None
    with chat.session() as s:
        assert s.exec(select(Person).where(Person.wechat_id == "wx:fake")).one().is_resident
    [hint] = chat.outbox("claim_hint")
    assert hint.chat == "private" and hint.to_id == "wx:fake"
    assert "「张丽」（3号楼微网格 微网格长）" in hint.text and "#认领" in hint.text
    [alert] = chat.outbox("claim_alert")
    assert alert.chat == "private" and alert.to_name == CHIEF
    assert "张丽" in alert.text and "3号楼微网格群" in alert.text
    assert "13903710103" not in alert.text and "0103" not in alert.text
    with chat.session() as s:
        assert not outbox_leaks(s)


async def test_hint_once_per_contact_alert_once_per_person_per_day(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await chat.pipeline.handle(as_contact(chat, "wx:fake1", LEADER, "大家好"))
    await chat.pipeline.handle(as_contact(chat, "wx:fake1", LEADER, "在吗"))
    await chat.pipeline.handle(as_contact(chat, "wx:fake2", LEADER, "我才是张丽", topic=None))
    assert sorted(m.to_id for m in chat.outbox("claim_hint")) == ["wx:fake1", "wx:fake2"]
    assert len(chat.outbox("claim_alert")) == 1  # one roster person, one day
    chat.advance(days=1)
    await chat.pipeline.handle(as_contact(chat, "wx:fake3", LEADER, "大家好"))
    assert len(chat.outbox("claim_hint")) == 3 and len(chat.outbox("claim_alert")) == 2


async def test_namesake_in_another_grid_is_neither_told_nor_reported(roster_loaded: Engine) -> None:
    """张丽 is a common name: a resident of 5号楼 called 张丽 is not a claim on the 3号楼 leader."""
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await chat.pipeline.handle(as_contact(chat, "wx:other", LEADER, "大家好", topic="5号楼微网格群"))
    assert chat.outbox("claim_hint") == [] and chat.outbox("claim_alert") == []


async def test_real_leader_claims_in_private_and_has_rights(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await open_ticket(chat)
    await chat.pipeline.handle(as_contact(chat, "wx:fake", LEADER, "大家好"))  # the impostor first
    await chat.group(TOPIC, LEADER, "收到")  # the real one (wx:张丽), before she has her code
    refused = await chat.group(TOPIC, LEADER, "#接单 R1")
    assert ticket_status(chat) == "open", [o.text for o in refused.outbound]
    code = code_of(chat)
    outcome = await chat.private(LEADER, f"#认领 {code}")
    assert [o.text for o in outcome.outbound if o.kind == "reply"] == [
        "✅ 认领成功：您已确认为「张丽」（3号楼微网格 微网格长），今后以本微信号为准。"
    ]
    assert roster_person(chat).wechat_id == "wx:张丽"
    with chat.session() as s:  # her resident row keeps its history, without the contact id
        old = s.exec(select(Person).where(Person.code == "res:wx:张丽")).one()
        assert old.wechat_id is None and old.is_resident
    notices = [m for m in chat.outbox("claim_alert") if "已用认领码" in m.text]
    assert [m.to_name for m in notices] == [CHIEF]
    accepted = await chat.group(TOPIC, LEADER, "#接单 R1")
    assert any("已由" in o.text for o in accepted.outbound), [o.text for o in accepted.outbound]
    await chat.pipeline.handle(as_contact(chat, "wx:fake", LEADER, "#办结 R1 已修复"))
    assert ticket_status(chat) == "accepted"  # the impostor still gains nothing
    await chat.group(TOPIC, LEADER, "#办结 R1 已修复电梯")
    assert ticket_status(chat) in ("resolved", "closed")


async def test_claim_in_group_never_shows_the_code(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    code = code_of(chat)
    await chat.group(TOPIC, LEADER, f"#认领 {wrong(code)}")  # wrong: answered in private only
    outcome = await chat.group(TOPIC, LEADER, f"#认领 {code}")  # her first words: right
    assert outcome.error is None
    assert roster_person(chat).wechat_id == "wx:张丽"
    group = [m for m in chat.outbox() if m.chat == "group"]
    assert any("已完成身份认领" in m.text for m in group)
    rows = chat.outbox()
    assert all(code not in m.text and wrong(code) not in m.text for m in rows)
    assert [m.chat for m in rows if "认领码不正确" in m.text] == ["private"]


async def test_full_width_digits_and_traditional_command(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    code = code_of(chat, "李强-0203")  # 李强 speaks as 强子 in WeChat
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    await chat.private("强子", f"＃認領　{full_width[:3]} {full_width[3:]}")
    assert roster_person(chat, "李强-0203").wechat_id == "wx:强子"


async def test_a_code_binds_whoever_holds_it_even_under_another_name(roster_loaded: Engine) -> None:
    """The code is the proof, not the name: a leader whose WeChat name differs from the roster."""
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await chat.private("丽丽", f"#认领 {code_of(chat)}")
    assert roster_person(chat).wechat_id == "wx:丽丽"


async def test_wrong_code_is_rejected(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    outcome = await chat.private(LEADER, f"#认领 {wrong(code_of(chat))}")
    assert [o.text for o in outcome.outbound] == [
        "认领码不正确，请核对后重试（今天还可尝试 4 次）。认领码请向社区督办人员索取。"
    ]
    assert roster_person(chat).wechat_id is None
    with chat.session() as s:
        assert all(p.is_resident for p in s.exec(select(Person).where(Person.wechat_id == "wx:张丽")))
    malformed = await chat.private(LEADER, "#认领 12345")
    assert "6 位数字" in malformed.outbound[0].text
    again = await chat.private(LEADER, f"#认领 {wrong(code_of(chat))}")
    assert "还可尝试 3 次" in again.outbound[0].text  # the second try: a malformed code is none


async def test_five_wrong_codes_lock_claims_for_the_day(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    code = code_of(chat)
    guesses = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code][:5]
    for n, guess in enumerate(guesses, 1):
        outcome = await chat.private("小王", f"#认领 {guess}")
        assert outcome.error is None
        expected = f"还可尝试 {5 - n} 次" if n < 5 else "失败次数过多"
        assert expected in outcome.outbound[0].text, outcome.outbound[0].text
    locked = await chat.private("小王", f"#认领 {code}")  # even the right code: not today
    assert "失败次数过多" in locked.outbound[0].text
    silent = await chat.private("小王", f"#认领 {code}")
    assert silent.outbound == []  # told once; a flood of tries gets no flood of replies
    assert roster_person(chat).wechat_id is None
    chat.advance(days=1)
    await chat.private("小王", f"#认领 {code}")
    assert roster_person(chat).wechat_id == "wx:小王"


async def test_claims_in_a_batch(roster_loaded: Engine) -> None:
    """Group commit (deferred writes): hints, alerts and the failure count are right there too."""
    chat = Chat(roster_loaded, CODE_REQUIRED)
    code = code_of(chat)
    events = [
        as_contact(chat, "wx:fake1", LEADER, "大家好"),
        as_contact(chat, "wx:fake2", LEADER, "我是张丽"),
        as_contact(chat, "wx:fake1", LEADER, f"#认领 {wrong(code)}", topic=None),
        as_contact(chat, "wx:fake1", LEADER, f"#认领 {wrong(wrong(code))}", topic=None),
        as_contact(chat, "wx:real", LEADER, f"#认领 {code}", topic=None),
        as_contact(chat, "wx:real", LEADER, "今日巡查无异常，零报告"),
    ]
    outcomes = await chat.pipeline.handle_batch(events)
    assert not any(o.error for o in outcomes)
    assert roster_person(chat).wechat_id == "wx:real"
    assert len(chat.outbox("claim_hint")) == 3  # wx:fake1, wx:fake2, wx:real (first words a claim)
    assert any("巡查零报告已记录" in o.text for o in outcomes[-1].outbound)  # as the leader
    fails = [m.text for m in chat.outbox() if "认领码不正确" in m.text]
    assert ["4 次" in t for t in fails] == [True, False] and "3 次" in fails[1]


async def test_a_claim_changes_the_role_of_the_next_message_in_its_batch(roster_loaded: Engine) -> None:
    """The batch is parsed ahead with the roles the roster cache holds: 张丽's contact is a
    resident there when the batch starts, so her report after the claim must be parsed again,
    as the leader's, not taken from the parse ahead."""
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await chat.pipeline.handle_batch(
        [as_contact(chat, "wx:real", LEADER, "大家好"), as_contact(chat, "wx:other", "王小明", "收到")]
    )
    chat.advance(minutes=1)
    # Only staff report "nothing": from a resident these words are chat.
    report = as_contact(chat, "wx:real", LEADER, "今天巡查一圈，都正常")
    again = as_contact(chat, "wx:real", LEADER, report.text)
    outcomes = await chat.pipeline.handle_batch(
        [report, as_contact(chat, "wx:real", LEADER, f"#认领 {code_of(chat)}", topic=None), again]
    )
    assert [o.kind for o in outcomes] == ["other", "command", "zero_report"]
    assert any("巡查零报告已记录" in o.text for o in outcomes[-1].outbound)


async def test_already_bound_person(roster_loaded: Engine) -> None:
    chat = Chat(roster_loaded, CODE_REQUIRED)
    await chat.private(LEADER, f"#认领 {code_of(chat)}")
    outcome = await chat.private(LEADER, f"#认领 {code_of(chat)}")
    assert [o.text for o in outcome.outbound] == ["您已确认为「张丽」，无需再认领。"]


async def test_claim_by_name_keeps_the_old_behaviour(roster_loaded: Engine) -> None:
    """The demo's switch: first sight by display name binds; no claim hints, no alerts."""
    assert DEMO_POLICY.claim_by_name and load_roster(DEMO_ROSTER).workflow_policy().claim_by_name
    chat = Chat(roster_loaded, dataclasses.replace(CODE_REQUIRED, claim_by_name=True))
    await open_ticket(chat)
    await chat.pipeline.handle(as_contact(chat, "wx:first", LEADER, "大家好"))
    assert roster_person(chat).wechat_id == "wx:first"
    outcome = await chat.pipeline.handle(as_contact(chat, "wx:first", LEADER, "#接单 R1"))
    assert any("已由" in o.text for o in outcome.outbound)
    assert chat.outbox("claim_hint") == [] and chat.outbox("claim_alert") == []


def test_roster_identity_section() -> None:
    data = {
        "people": [{"name": "张丽"}],
        "communities": [
            {
                "code": "c",
                "name": "社区",
                "grids": [
                    {
                        "code": "g",
                        "name": "网格",
                        "micro_grids": [{"code": "m", "name": "微", "leader": "张丽"}],
                    }
                ],
            }
        ],
    }
    assert validate_roster(data).workflow_policy().claim_by_name is False  # production default
    assert validate_roster({**data, "identity": {"claim_by_name": True}}).workflow_policy().claim_by_name
    with pytest.raises(RosterError, match="claim_by_name"):
        validate_roster({**data, "identity": {"claim_by_nmae": True}})


def test_codes_are_stable_six_digits_and_depend_on_the_secret() -> None:
    person = Person(id=7, code=LEADER_CODE, name=LEADER)
    code = claim_code(b"one", person)
    assert len(code) == 6 and code.isdigit() and code == claim_code(b"one", person)
    assert code != claim_code(b"two", person)
    assert code != claim_code(b"one", Person(id=8, code=LEADER_CODE, name=LEADER))


def test_secret_file_next_to_sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDBOT_SECRET")
    url = make_url(f"sqlite:///{tmp_path / 'data' / 'gridbot.sqlite3'}")
    first = claim_secret(url)
    path = tmp_path / "data" / "secret.key"
    assert path.read_text(encoding="utf-8").strip().encode() == first and len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert claim_secret(url) == first  # kept: a restart gives the same codes
    monkeypatch.setenv("GRIDBOT_SECRET", "from-env")
    assert claim_secret(url) == b"from-env"


def test_cli_lists_unbound_people_with_codes(
    roster_loaded: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(roster_loaded) as s:
        leader = s.exec(select(Person).where(Person.code == LEADER_CODE)).one()
        code = claim_code(SECRET.encode(), leader)
        bound = s.exec(select(Person).where(Person.code == "陈秀英-0101")).one()
        bound.wechat_id = "wx:陈秀英"
        s.add(bound)
        s.commit()
    assert gridbot(["roster", "codes", "--url", db_url]) == 0
    out = capsys.readouterr().out
    assert f"张丽\t3号楼微网格 微网格长\t139****0103\t{code}" in out
    assert "李强（微信名 强子）\t3号楼微网格 微网格员" in out
    assert "陈秀英" not in out and "未认领微信号的花名册人员 29 人" in out
    assert "13903710" not in out and "环境变量 GRIDBOT_SECRET" in out
    assert gridbot(["roster", "codes", "--url", db_url, "强子"]) == 0
    assert "1 人" in capsys.readouterr().out
    assert os.environ["GRIDBOT_SECRET"] == SECRET


def test_no_template_can_show_a_code() -> None:
    from handlers.templates import Templates

    texts = Templates()
    assert all(texts.has(k) for k in ("claim_hint", "claim_alert", "claim_done", "claim_done_group"))
    assert "{code}" not in Path(texts.path).read_text(encoding="utf-8")

"""Loading YAML rosters: the demo, and a clear Chinese message naming the key path for each mistake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from config.roster import Policy, RosterError, load_roster, mask_phone, validate_roster
from tests.storage.rosters import DEMO_YAML, demo_data, micro, write_yaml


def test_demo_roster_loads() -> None:
    roster = load_roster(DEMO_YAML)
    stats = roster.stats()
    assert (stats["communities"], stats["comp_grids"], stats["micro_grids"]) == (1, 3, 12)
    assert (stats["residential"], stats["merchant"]) == (10, 2)
    grid3 = next(m for _, _, m in roster.micro_grids() if m.room_topic == "3号楼微网格群")
    assert roster.person(grid3.leader).name == "张丽" and grid3.buildings == [3]
    community = roster.communities[0]
    assert (community.name, community.street) == ("幸福里社区", "下站街道")
    assert {roster.person(s.person).name: s.level for s in community.supervisors} == {
        "王书记": 2,
        "陈志强": 3,
    }
    assert all(len(g.supervisors) == 1 and g.supervisors[0].level == 1 for g in community.grids)
    assert [roster.person(a).name for a in roster.admins] == ["王书记"]
    assert roster.policy == Policy()  # the demo spells out the defaults


def test_policy_defaults_and_workflow_values() -> None:
    policy = Policy()
    assert (policy.patrol.reminder, policy.patrol.chase, policy.patrol.deadline) == (
        time(9),
        time(16),
        time(18),
    )
    assert policy.weekly_at() == (0, time(9)) and policy.monthly_at() == (1, time(9))
    assert policy.grading.days() == {"A": 1, "B": 3, "C": 7} and policy.grading.unit == "calendar"
    workflow = policy.to_workflow()
    assert workflow.tz == ZoneInfo("Asia/Shanghai") and workflow.digest_time == time(21)
    assert workflow.points["ticket_overdue"] == -2 and workflow.escalation_max_rounds == 3
    assert workflow.weekly_bulletin == (0, time(9)) and workflow.monthly_bulletin == (1, time(9))
    assert policy.model_dump(mode="json")["patrol"]["chase"] == "16:00"


def test_unquoted_times_and_chinese_aliases(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    text = DEMO_YAML.read_text(encoding="utf-8")
    text = text.replace('chase: "16:00"', "chase: 16:30").replace('weekly: "MON 09:00"', "weekly: 周五 17:00")
    text = text.replace("unit: calendar", "unit: 工作日").replace("kind: merchant", "kind: 商户")
    path.write_text(text, encoding="utf-8")
    policy = load_roster(path).policy
    assert policy.patrol.chase == time(16, 30)  # YAML 1.1 would have read 16:30 as 990
    assert policy.weekly_at() == (4, time(17)) and policy.grading.unit == "working"


def test_person_codes_and_phone_masking() -> None:
    roster = load_roster(DEMO_YAML)
    assert roster.person("张丽").key == "张丽-0103"
    assert roster.find_person("张丽-0103") is roster.person("张丽")
    assert mask_phone("13903710103") == "139****0103"
    assert mask_phone("139-0371-0103") == "139****0103"
    assert "0371" not in mask_phone("0371-6688")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[int(last) if last.isdigit() else last] = value

    return change


def _rename_leader(data: dict[str, Any]) -> None:
    m = micro(data, 0, 2)
    m["leder"] = m.pop("leader")


def _drop_grid_name(data: dict[str, Any]) -> None:
    del data["communities"][0]["grids"][1]["name"]


def _namesake(data: dict[str, Any]) -> None:
    data["people"].append({"name": "张丽", "phone": "13900000000"})


BAD_CASES: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("unknown key", _rename_leader,
     ["communities[0].grids[0].micro_grids[2].leder：未知的键「leder」（是不是「leader」？）",
      "communities[0].grids[0].micro_grids[2].leader：缺少必填项「leader」"]),
    ("missing field", _drop_grid_name, ["communities[0].grids[1].name：缺少必填项「name」"]),
    ("bad time", _set("policy.patrol.chase", "25:00"), ["policy.patrol.chase：时间「25:00」无效"]),
    ("time order", _set("policy.patrol.reminder", "17:00"), ["policy.patrol：巡查时间顺序不对"]),
    ("bad weekly", _set("policy.weekly", "XYZ 09:00"), ["policy.weekly：每周时间「XYZ 09:00」无效"]),
    ("bad monthly", _set("policy.monthly", "31 09:00"), ["policy.monthly：每月时间「31 09:00」无效"]),
    ("bad zone", _set("policy.timezone", "Beijing"), ["policy.timezone：时区「Beijing」无法识别"]),
    ("zero timeout", _set("policy.escalation.timeout_minutes", 0),
     ["policy.escalation.timeout_minutes：应不小于 1"]),
    ("bad unit", _set("policy.grading.unit", "weeks"),
     ["policy.grading.unit：只能是 'calendar' 或 'working'"]),
    ("unknown points rule", _set("policy.points.zero", 1), ["policy.points.zero：未知的键「zero」"]),
    ("duplicate micro code", _set("communities.0.grids.1.micro_grids.0.code", "xfl-b1"),
     ["communities[0].grids[1].micro_grids[0].code：微网格编码「xfl-b1」重复",
      "（已用于 communities[0].grids[0].micro_grids[0].code）"]),
    ("duplicate topic", _set("communities.0.grids.2.micro_grids.3.room_topic", "3号楼微网格群"),
     ["communities[0].grids[2].micro_grids[3].room_topic：群名称「3号楼微网格群」重复"]),
    ("leader not a person", _set("communities.0.grids.2.micro_grids.1.leader", "张三"),
     ["communities[0].grids[2].micro_grids[1].leader：「张三」不在 people 名单中"]),
    ("member not a person", _set("communities.0.grids.0.micro_grids.0.members", ["周志明", "路人甲"]),
     ["communities[0].grids[0].micro_grids[0].members[1]：「路人甲」不在 people 名单中"]),
    ("leader also member", _set("communities.0.grids.0.micro_grids.2.members", ["张丽"]),
     ["communities[0].grids[0].micro_grids[2].members[0]：「张丽」已在",
      "已在 communities[0].grids[0].micro_grids[2].leader 中出现"]),
    ("building not int", _set("communities.0.grids.0.micro_grids.2.buildings", ["3号楼"]),
     ["communities[0].grids[0].micro_grids[2].buildings[0]：应为整数，实际是「3号楼」"]),
    ("bad kind", _set("communities.0.grids.2.micro_grids.2.kind", "写字楼"),
     ["communities[0].grids[2].micro_grids[2].kind：只能是 'residential' 或 'merchant'，",
      "实际是「写字楼」"]),
    ("level 2 under a grid", _set("communities.0.grids.0.supervisors", [{"person": "刘建国", "level": 2}]),
     ["communities[0].grids[0].supervisors[0].level：综合网格下只能写一级"]),
    ("level 1 under community", _set("communities.0.supervisors", [{"person": "王书记", "level": 1}]),
     ["communities[0].supervisors[0].level：社区下只能写二级"]),
    ("admin not a person", _set("admins", ["王书计"]), ["admins[0]：「王书计」不在 people 名单中"]),
    ("namesakes", _namesake, ["「张丽」同名 2 人，请改写编码：张丽-0103、张丽-0000"]),
    ("people not a list", _set("people", {"name": "x"}), ["people：应为列表"]),
    ("bad phone", _set("people.0.phone", "call me"), ["people[0].phone：手机号格式不对"]),
    ("resident code", _set("people.0.code", "res:wx1"), ["people[0].code：编码不能以「res:」开头"]),
    ("duplicate person code", _set("people.1.code", "王书记-0001"),
     ["people[1]：人员编码「王书记-0001」与 people[0] 重复"]),
    ("no communities", _set("communities", []), ["communities：不能为空"]),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_roster_names_the_key_path(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    path = write_yaml(tmp_path, change)
    with pytest.raises(RosterError) as err:
        load_roster(path)
    message = str(err.value)
    assert str(path) in message
    for item in expected:
        assert item in message, message
    assert "Traceback" not in message and "Field required" not in message


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    def many(data: dict[str, Any]) -> None:
        micro(data, 0, 0)["leader"] = "甲"
        micro(data, 1, 0)["leader"] = "乙"
        data["policy"] = {"digest": "24:00"}

    def many_without_policy(data: dict[str, Any]) -> None:
        many(data)
        del data["policy"]

    with pytest.raises(RosterError) as err:
        load_roster(write_yaml(tmp_path, many))
    # pydantic problems come first; cross-references are checked once the shape is right
    assert len(err.value.problems) == 1 and "policy.digest" in str(err.value)
    with pytest.raises(RosterError) as err:
        load_roster(write_yaml(tmp_path, many_without_policy))
    assert len(err.value.problems) == 2 and "有 2 处错误" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people: []\npeople: []\n", "第 2 行第 1 列：YAML 格式错误：重复的键「people」"),
        ("people: [\n", "YAML 格式错误"),
        ("", "顶层应为键值对"),
        ("- a\n- b\n", "顶层应为键值对"),
    ],
)
def test_yaml_syntax_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError, match=expected):
        load_roster(path)


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="找不到该文件"):
        load_roster(tmp_path / "nope.yaml")
    (tmp_path / "r.txt").write_text("x", encoding="utf-8")
    with pytest.raises(RosterError, match="不支持的文件类型"):
        load_roster(tmp_path / "r.txt")
    (tmp_path / "gbk.yaml").write_bytes("people: [张丽]".encode("gbk"))
    with pytest.raises(RosterError, match="UTF-8"):
        load_roster(tmp_path / "gbk.yaml")


def test_holiday_file_resolved_relative_to_roster(tmp_path: Path) -> None:
    (tmp_path / "holidays-2027.yaml").write_text("2027:\n  holidays: [2027-01-01]\n", encoding="utf-8")
    path = write_yaml(tmp_path, _set("policy.grading.holiday_file", "holidays-2027.yaml"))
    assert load_roster(path).policy.grading.holiday_file == (tmp_path / "holidays-2027.yaml").resolve()
    missing = write_yaml(tmp_path, _set("policy.grading.holiday_file", "nope.yaml"), name="m.yaml")
    with pytest.raises(RosterError, match=r"policy\.grading\.holiday_file：找不到节假日文件"):
        load_roster(missing)
    (tmp_path / "broken.yaml").write_text("2027: [1]\n", encoding="utf-8")
    broken = write_yaml(tmp_path, _set("policy.grading.holiday_file", "broken.yaml"), name="b.yaml")
    with pytest.raises(RosterError, match="节假日文件"):
        load_roster(broken)


def test_supervisor_shorthand_and_minimal_roster() -> None:
    roster = validate_roster(
        {
            "people": [{"name": "甲"}, {"name": "乙", "code": "p2"}],
            "communities": [
                {
                    "code": "c",
                    "name": "社区",
                    "supervisors": ["甲"],
                    "grids": [
                        {
                            "code": "g",
                            "name": "综合网格",
                            "supervisors": ["p2"],
                            "micro_grids": [{"code": "m", "name": "微网格", "leader": "乙"}],
                        }
                    ],
                }
            ],
        }
    )
    assert roster.communities[0].supervisors[0].level == 2
    assert roster.communities[0].grids[0].supervisors[0].level == 1
    assert roster.person("甲").key == "甲" and roster.person("乙").display_name == "乙"
    assert demo_data()["communities"][0]["code"] == "xfl"

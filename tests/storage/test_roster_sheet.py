"""The 花名册 spreadsheet (.csv / .xlsx): same roster as the YAML demo, row-numbered errors, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from config.roster import Roster, RosterError, load_roster, parse_buildings
from tests.storage.rosters import DEMO_CSV, DEMO_XLSX, DEMO_YAML, demo_rows, write_csv

HEADER = ["社区", "综合网格", "微网格", "类型", "群名称", "角色", "姓名", "微信名", "手机号", "楼栋"]


def shape(roster: Roster) -> dict[str, Any]:
    """What a roster says, independent of how people are keyed."""
    name = lambda ref: roster.person(ref).name  # noqa: E731
    return {
        "micro": sorted(
            (
                m.code,
                m.name,
                m.kind,
                m.room_topic,
                tuple(m.buildings),
                name(m.leader),
                tuple(sorted(map(name, m.members))),
            )
            for _, _, m in roster.micro_grids()
        ),
        "supervisors": sorted(
            [(c.code, name(s.person), s.level) for c in roster.communities for s in c.supervisors]
            + [
                (g.code, name(s.person), 1)
                for c in roster.communities
                for g in c.grids
                for s in g.supervisors
            ]
        ),
        "people": sorted((p.key, p.name, p.display_name, p.phone) for p in roster.people),
        "admins": sorted(map(name, roster.admins)),
        "community": [(c.code, c.name, c.street) for c in roster.communities],
    }


@pytest.mark.parametrize("path", [DEMO_CSV, DEMO_XLSX], ids=["csv", "xlsx"])
def test_example_spreadsheets_match_the_demo_yaml(path: Path) -> None:
    assert shape(load_roster(path)) == shape(load_roster(DEMO_YAML))


def test_codes_derived_from_names_without_code_columns(tmp_path: Path) -> None:
    rows = [r[:12] for r in demo_rows()]  # drop 社区编码 / 综合网格编码 / 微网格编码
    roster = load_roster(write_csv(tmp_path / "r.csv", rows))
    codes = {m.code for _, _, m in roster.micro_grids()}
    assert "幸福里社区/3号楼微网格" in codes and roster.communities[0].code == "幸福里社区"
    assert {g.code for g in roster.communities[0].grids} >= {"幸福里社区/第一综合网格"}
    assert roster.person("张丽").key == "张丽-0103"  # same person key as the YAML demo


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    roster = load_roster(write_csv(tmp_path / "r.csv", demo_rows(), encoding=encoding))
    assert roster.stats()["micro_grids"] == 12


def test_header_synonyms_title_row_and_phone_fallback(tmp_path: Path) -> None:
    rows = [
        ["某社区花名册"],
        [
            "所属社区",
            "综合网格名称",
            "微网格名称",
            "网格类型",
            "微信群名称",
            "职务",
            "名字",
            "微信昵称",
            "联系电话",
            "负责楼栋",
            "备注",
        ],
        [
            "甲社区",
            "一网格",
            "1号楼",
            "住宅",
            "1号楼群",
            "微网格长",
            "赵一",
            "",
            "138-0000-1111",
            "1、2号楼",
            "x",
        ],
        ["甲社区", "一网格", "1号楼", "", "", "楼栋长", "钱二", "钱二哥", "", "3-4", ""],
        ["甲社区", "一网格", "", "", "", "综合网格长", "赵一", "", "", "", ""],
        ["", "", "", "", "", "", "", "", "", "", ""],
        ["甲社区", "", "", "", "", "社区书记", "孙三", "", "13900002222", "", ""],
    ]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows))
    [(_, grid, m)] = list(roster.micro_grids())
    assert m.buildings == [1, 2, 3, 4] and m.room_topic == "1号楼群" and m.kind == "residential"
    assert roster.person(m.leader).key == "赵一-1111"
    assert roster.person(grid.supervisors[0].person).key == "赵一-1111"  # phone given on another row
    assert roster.person(m.members[0]).display_name == "钱二哥"
    assert [roster.person(a).name for a in roster.admins] == ["孙三"]  # default: the community secretary


def test_street_row_without_community_applies_to_every_community(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["甲社区", "一网格", "1号楼", "", "", "微网格长", "赵一", "", "", ""],
        ["乙社区", "一网格", "1号楼", "", "", "微网格长", "钱二", "", "", ""],
        ["", "", "", "", "", "街道", "孙三", "", "", ""],
    ]
    roster = load_roster(write_csv(tmp_path / "r.csv", rows))
    assert [[(s.person, s.level) for s in c.supervisors] for c in roster.communities] == [[("孙三", 3)]] * 2


def test_bad_rows_are_all_listed_with_row_numbers(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["甲社区", "一网格", "1号楼", "住宅", "1号楼群", "微网格长", "赵一", "", "13800001111", "1"],  # 2 ok
        ["甲社区", "一网格", "1号楼", "", "", "微网格员", "", "", "", ""],  # 3 no name
        ["甲社区", "一网格", "1号楼", "", "", "微网格员", "钱二", "", "", "A座"],  # 4 bad building
        ["甲社区", "一网格", "1号楼", "", "", "组长", "孙三", "", "", ""],  # 5 unknown role
        ["甲社区", "一网格", "2号楼", "写字楼", "", "微网格长", "李四", "", "", ""],  # 6 bad kind
        ["甲社区", "一网格", "2号楼", "", "", "微网格长", "周五", "", "", ""],  # 7 second leader
        [
            "甲社区",
            "一网格",
            "3号楼",
            "",
            "1号楼群",
            "楼栋长",
            "吴六",
            "",
            "",
            "",
        ],  # 8 topic clash, no leader
        ["甲社区", "二网格", "1号楼", "", "", "志愿者", "郑七", "", "", ""],  # 9 grid in two comp grids
        ["甲社区", "", "4号楼", "", "", "微网格长", "王八", "", "", ""],  # 10 no comp grid
        ["甲社区", "一网格", "1号楼", "", "", "志愿者", "赵一", "", "13800001111", ""],  # 11 leader again
        ["甲社区", "一网格", "1号楼", "", "", "志愿者", "冯九", "", "1380000abcd", ""],  # 12 bad phone
    ]
    before = list(rows)
    with pytest.raises(RosterError) as err:
        load_roster(write_csv(tmp_path / "r.csv", rows))
    message = str(err.value)
    expected = [
        "第 3 行：缺少姓名",
        "第 4 行：楼栋「A座」不是整数",
        "第 5 行：角色「组长」无法识别",
        "第 6 行：类型「写字楼」无法识别",
        "第 12 行：手机号格式不对（***000）",
        "第 8 行：群名称「1号楼群」与微网格「1号楼」（第 2 行）重复",
        "第 9 行：微网格「1号楼」在第 2 行属于「一网格」，此处为「二网格」",
        "第 10 行：角色「微网格长」需要填写「综合网格」",
        "第 11 行：「赵一」在微网格「1号楼」中已出现（第 2 行）",
        "微网格「2号楼」有 2 位微网格长：第 6 行「李四」、第 7 行「周五」",
        "微网格「3号楼」没有微网格长",
    ]
    for item in expected:
        assert item in message, message
    assert "1380000abcd" not in message  # phones are never echoed in full
    numbers = [int(line.split("第 ")[1].split(" 行")[0]) for line in message.splitlines()[1:]]
    assert numbers == sorted(numbers) and len(numbers) == len(expected)
    assert rows == before


def test_header_problems(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="找不到表头"):
        load_roster(write_csv(tmp_path / "a.csv", [["甲", "乙"], ["1", "2"]]))
    with pytest.raises(RosterError, match="表头缺少必需的列：社区"):
        load_roster(write_csv(tmp_path / "b.csv", [["姓名", "角色"], ["赵一", "微网格长"]]))
    with pytest.raises(RosterError, match="没有人员数据"):
        load_roster(write_csv(tmp_path / "c.csv", [HEADER]))
    (tmp_path / "d.xlsx").write_bytes(b"not a zip")
    with pytest.raises(RosterError, match="无法打开 Excel 文件"):
        load_roster(tmp_path / "d.xlsx")


def test_xlsx_numbers_and_named_sheet(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["其他表"])
    sheet = book.create_sheet("花名册")
    sheet.append(HEADER)
    sheet.append(["甲社区", "一网格", "1号楼", "商户", "商户群", "微网格长", "赵一", None, 13800001111, 5.0])
    book.save(tmp_path / "r.xlsx")
    roster = load_roster(tmp_path / "r.xlsx")
    [(_, _, m)] = list(roster.micro_grids())
    assert m.kind == "merchant" and m.buildings == [5] and roster.person(m.leader).phone == "13800001111"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", [3]),
        ("3,4", [3, 4]),
        ("3，4号楼", [3, 4]),
        ("3号楼", [3]),
        ("3-5", [3, 4, 5]),
        ("12栋 7幢", [7, 12]),
    ],
)
def test_parse_buildings(text: str, expected: list[int]) -> None:
    assert parse_buildings(text) == expected


def test_parse_buildings_rejects_words() -> None:
    with pytest.raises(ValueError, match="A座"):
        parse_buildings("3,A座")

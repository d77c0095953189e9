"""Unit tests for each extraction rule: normalisation, numerals, addresses, PII, times, commands."""

from __future__ import annotations

from datetime import datetime

import pytest

from handlers.clock import SHANGHAI
from handlers.parsing import mask_pii, parse
from handlers.parsing.normalize import normalize
from handlers.parsing.numerals import cn_to_digits, cn_to_int
from handlers.parsing.pii import id_checksum_ok

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


# --- normalisation -------------------------------------------------------------------------


def test_full_width_and_traditional() -> None:
    assert normalize("＃辦結 Ｒ１２") == "#办结 R12"
    assert normalize("３號樓著火了") == "3号楼着火了"


def test_financial_numerals_of_an_address() -> None:
    """大写 numerals, as a form writes them, where an address marker follows; not in words."""
    r = parse("貳拾叁棟叁單元陸樓有人吵架")
    assert (r.building, r.unit, r.floor) == (23, 3, 6)
    assert parse("拾贰号楼门口井盖不见了").building == 12
    assert parse("柒号楼壹单元伍零贰室漏水").room == "502"
    assert normalize("帮忙收拾楼道，队伍楼下排着，陆续有人来") == "帮忙收拾楼道,队伍楼下排着,陆续有人来"


def test_quote_block_keeps_only_reply() -> None:
    text = "「李姐：5栋楼道冒烟了！」\n- - - - - - - - - - - - - - -\n收到，马上过去"
    assert normalize(text) == "收到,马上过去"
    assert parse(text).kind == "other"


def test_leading_mentions_stripped() -> None:
    assert normalize("@网格助手\u20055号楼今日无情况") == "5号楼今日无情况"
    assert normalize("@王网格长 @李书记 9栋无异常") == "9栋无异常"


def test_surrogates_and_controls_do_not_break() -> None:
    assert normalize("a\ud800b\x00c\u200b") == "a\ufffdbc"


# --- numerals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "value"),
    [("十二", 12), ("二十三", 23), ("十", 10), ("两", 2), ("一百零二", 102), ("二〇三", 203), ("7", 7)],
)
def test_cn_to_int(span: str, value: int) -> None:
    assert cn_to_int(span) == value


def test_cn_to_digits_room() -> None:
    assert cn_to_digits("二〇三") == "203"
    assert cn_to_digits("三百零二") == "302"
    assert cn_to_int("abc") is None


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "building", "unit", "floor", "room"),
    [
        ("十二号楼三单元二〇三室门口堆了纸箱", 12, 3, None, "203"),
        ("7-2-402楼上噪音", 7, 2, None, "402"),
        ("7#楼楼道灯坏了", 7, None, None, None),
        ("7幢门口有垃圾", 7, None, None, None),
        ("七栋三楼楼道堆放杂物", 7, None, 3, None),
        ("二十三号楼5层电梯坏了", 23, None, 5, None),
        ("十二栋一楼消防栓被挡", 12, None, 1, None),
        ("12#楼3单元飞线充电", 12, 3, None, None),
        ("8栋1单元602家漏水到我家", 8, 1, None, "602"),
        ("七棟２單元有人打架", 7, 2, None, None),
        # the other ways people write a door: unit-room after the building, 门 for 单元,
        # 号 or 楼 right before the unit meaning the building
        ("7栋2-402漏水", 7, 2, None, "402"),
        ("7号楼2门402漏水", 7, 2, None, "402"),
        ("7号2单元402漏水", 7, 2, None, "402"),
        ("7楼2单元楼道灯坏了", 7, 2, None, None),
        ("7号楼二单元4楼漏水", 7, 2, 4, None),
        ("住7楼,2单元的王姐", None, 2, 7, None),
        # a floor right after the building's # (8#四楼: building 8, floor 4), not a lone #4楼
        ("８#四樓出租屋门锁了", 8, None, 4, None),
        ("17#3楼楼梯口有人晕倒", 17, None, 3, None),
        ("#4楼楼道灯坏了", None, None, None, None),
    ],
)
def test_address(text: str, building: int, unit: int | None, floor: int | None, room: str | None) -> None:
    r = parse(text, now=NOW)
    assert (r.building, r.unit, r.floor, r.room) == (building, unit, floor, room)


@pytest.mark.parametrize(
    "text",
    [
        "11月23日 零报告",
        "晚上8点巡查无异常",
        "8:30 到社区开会",
        "【日报】11月26日 第3网格 零报告",
        "11.23 零报告",
        "扣了我1000块押金",
        "已经打了120",
        "11月3号2单元开会",
    ],
)
def test_dates_times_and_grids_are_not_buildings(text: str) -> None:
    r = parse(text, now=NOW)
    assert r.building is None
    assert r.room is None


def test_a_building_named_after_a_list_of_those_gone_round() -> None:
    assert parse("巡了12、13、14栋，13栋1单元电梯异响，已报修", role="member").building == 13
    assert parse("12、13、14栋都巡了，正常", role="member").building == 14


def test_a_count_of_buildings_is_no_building() -> None:
    assert parse("两栋楼中间那条路的路灯全黑了").building is None
    assert parse("二栋楼下有人吵架").building == 2


def test_range_of_units_is_not_a_unit() -> None:
    assert parse("2栋1-3单元巡查无异常").unit is None
    assert parse("2栋二到四单元停水").unit is None
    # 到 ending a verb starts no range: the unit is where the writer went or smelt something
    assert parse("有没有人闻到4单元有股焦糊味？").unit == 4
    assert parse("刚巡到三单元，一股煤气味冲鼻子").unit == 3


# --- PII -----------------------------------------------------------------------------------

VALID_ID = "11010519491231002X"


def test_id_checksum() -> None:
    assert id_checksum_ok(VALID_ID)
    assert not id_checksum_ok("110105194912310021")


def test_mobile_masked_in_forms() -> None:
    for raw in ("13812345678", "138-1234-5678", "138 1234 5678"):
        r = parse(f"我的电话{raw}，请联系")
        assert "138****5678" in r.masked_text
        assert [s.kind for s in r.pii] == ["mobile"]
        assert r.text[r.pii[0].start : r.pii[0].end] == raw


def test_landline_and_id_masked() -> None:
    r = parse(f"座机010-12345678，身份证{VALID_ID}")
    assert "010-****5678" in r.masked_text
    assert "110105********002X" in r.masked_text
    assert sorted(s.kind for s in r.pii) == ["id_card", "landline"]


def test_invalid_id_and_rooms_not_masked() -> None:
    text = "订单110105194912310021，8栋1201室，11月23日"
    assert mask_pii(text) == text
    assert parse(text).pii == []


def test_mask_pii_full_width_and_never_raises() -> None:
    assert mask_pii("电话１３８１２３４５６７８") == "电话138****5678"
    assert mask_pii("\ud800" * 3) == "\ud800" * 3


# --- times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "when", "deadline"),
    [
        ("明天下午三点来修", at(24, 15), False),
        ("今晚8点前清理完", at(23, 20), True),
        ("后天上午十点调解", at(25, 10), False),
        ("下周一上门", at(30, 9), False),
        ("周五前交台账", at(27, 18), True),
        ("11月25日开会", at(25, 9), False),
        ("3点半到", at(23, 15, 30), False),
        ("下午2:30在社区", at(23, 14, 30), False),
        ("今天之前处理", at(23, 18), True),
        ("明晚7点集合", at(24, 19), False),
        # midnight belongs to the night before: 今夜12点 is 00:00 of the next day, not noon
        ("今夜12点前把车挪走", at(24, 0), True),
        ("晚上12点半还在吵", at(24, 0, 30), False),
        ("今天24点前交", at(24, 0), True),
        ("明晚十二点", at(25, 0), False),
        ("中午12点送饭", at(23, 12), False),
        # within a day set as before it; a stretch from the message's time
        ("今天之内清走", at(23, 18), True),
        ("3天内整改完", at(26, 10), True),
        ("一周之内答复", at(30, 10), True),
        ("半小时后到", at(23, 10, 30), False),
        ("两个半小时以后再来", at(23, 12, 30), False),
    ],
)
def test_times(text: str, when: datetime, deadline: bool) -> None:
    times = parse(text, now=NOW).times
    assert times, text
    assert times[0].at == when
    assert times[0].deadline is deadline
    assert times[0].at.tzinfo is not None


def test_no_time_in_plain_text() -> None:
    assert parse("有点冷，多穿一点", now=NOW).times == []
    assert parse("12栋楼道灯坏了", now=NOW).times == []
    assert parse("内容见后面那栋楼的公告，明天内部开会", now=NOW).times[0].deadline is False
    assert parse("5天前漏的水，3天后面又漏", now=NOW).times == []


# --- commands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command", "refs", "grade", "rating"),
    [
        ("#接单 R7", "accept", ["R7"], None, None),
        ("＃接单 Ｒ７", "accept", ["R7"], None, None),
        ("/办结 r12 已修好", "close", ["R12"], None, None),
        ("#上报 R 4 B 需街道协调", "escalate", ["R4"], "B", None),
        ("#轉辦 R6 A", "escalate", ["R6"], "A", None),
        ("#评价 R12 5", "rate", ["R12"], None, 5),
        ("#评价 R12 五星", "rate", ["R12"], None, 5),
        ("#评价 R3 4分", "rate", ["R3"], None, 4),
        ("#评价 R12 满意", "rate", ["R12"], None, 5),
        ("#评价 R3 不满意，太慢", "rate", ["R3"], None, 2),
        ("#收到 M3", "ack", ["M3"], None, None),
        ("#零报告", "zero", [], None, None),
        ("#统计 本周", "stats", [], None, None),
        ("#绑定 阳光花园7栋", "bind", [], None, None),
        ("#查询 R3", "status", ["R3"], None, None),
        ("/帮助", "help", [], None, None),
    ],
)
def test_commands(text: str, command: str, refs: list[str], grade: str | None, rating: int | None) -> None:
    r = parse(text)
    assert r.kind == "command"
    assert r.command == command
    assert r.args is not None
    assert (r.args.refs, r.args.grade, r.args.rating) == (refs, grade, rating)


def test_unknown_command_keeps_word() -> None:
    r = parse("#天气 明天")
    assert r.kind == "command"
    assert r.command is None
    assert r.args is not None and r.args.text == "天气 明天"


def test_command_after_quote_and_mention() -> None:
    quoted = "「网格助手：【重大】M3 5栋3楼疑似起火」\n- - - - - - - - - - - - - - -\n#收到 M3"
    assert parse(quoted).command == "ack"
    assert parse("@网格助手\u2005#零报告").command == "zero"


def test_wechat_slash_emoticon_is_not_a_command() -> None:
    assert parse("/:)").kind == "other"


def test_a_post_under_a_topic_tag_is_not_a_command() -> None:
    """#话题# as WeChat and Weibo write it: the post is read as any message; a tag that is a
    command word stays a command."""
    post = parse("#小区管理# 1号楼南边那个窨井盖松了，踩上去直晃荡", role="resident")
    assert (post.kind, post.category, post.building) == ("basic", "facility", 1)
    assert parse("＃垃圾分类打卡＃ 第5天✅ 今天分得干干净净😄", role="resident").kind == "other"
    assert parse("#紧急求助# 5栋3单元着火了，浓烟很大", role="resident").kind == "major"
    tagged = parse("#收到# M3", role="supervisor")
    assert (tagged.command, tagged.args and tagged.args.refs) == ("ack", ["M3"])
    assert parse("#帮助邻里# 3栋王奶奶需要人帮忙拿快递").kind != "command"
    assert parse("#帮助").command == "help"


def test_a_list_items_number_is_not_read_as_a_decimal() -> None:
    result = parse("今日巡查：1.消防通道畅通；2.7栋有住户反映楼上漏水，已联系物业", role="leader")
    assert result.building == 7
    assert parse("体重2.5公斤，13栋的", role="resident").building == 13


def test_items_numbered_on_one_line() -> None:
    """1. … 2. … 3. … on one line are items as ;-separated ones are: the address is the item's
    that reads as the whole, not the first one named."""
    result = parse("1. 3栋楼道畅通 2. 5栋消防栓完好 3. 10栋有住户飞线充电，已劝导拆除", role="leader")
    assert (result.kind, result.building, result.handled) == ("basic", 10, True)
    major = parse(
        "今日巡查情况：1.6号楼楼道灯已换好 2.垃圾桶已清运 3.巡到9号楼2单元401，人倒在门后叫不醒",
        role="leader",
    )
    assert (major.kind, major.building) == ("major", 9)


def test_a_room_read_digit_by_digit_after_the_unit() -> None:
    result = parse("五号楼三单元六零二家里的燃气报警器一直在响", role="resident")
    assert (result.building, result.unit, result.room) == (5, 3, "602")
    assert parse("七栋一二三楼都停电了", role="resident").room is None  # floors, not a room


@pytest.mark.parametrize(
    ("text", "room"),
    [
        ("502那家男的又动手打媳妇了", "502"),  # a household named by its door number
        ("1101家的狗天天叫", "1101"),
        ("我家2000块钱丢了", None),  # money, not a door
        ("他说120家的电话打不通", None),  # a hotline is no room
    ],
)
def test_a_household_named_by_its_door(text: str, room: str | None) -> None:
    assert parse(text).room == room


@pytest.mark.parametrize(
    ("text", "kind", "building"),
    [
        # the item that carries the finding gives the address, not the first check passed
        (
            "今日巡查情况：1.4栋消防通道畅通；2.6栋地下车库发现一名流浪汉躺在角落，呼之不应，已报120；3.其余正常",
            "major",
            6,
        ),
        ("今日巡查：1.3栋楼道畅通；2.8栋楼道灯坏了，已报修；3.其余正常", "basic", 8),
        # no address in the item that matters: the heading's, or none (not the check passed)
        ("7栋：楼道灯坏了；门禁也坏了", "basic", 7),
        ("7栋今日巡查：1.正常；2.楼道灯坏了", "basic", 7),
        ("今日巡查：1.5栋正常；2.地下车库有人躺着，叫不醒", "major", None),
    ],
)
def test_a_report_of_several_items_takes_the_address_of_its_finding(
    text: str, kind: str, building: int | None
) -> None:
    result = parse(text, role="leader")
    assert (result.kind, result.building) == (kind, building)


@pytest.mark.parametrize(
    ("text", "room"),
    [
        # read out digit by digit, with no marker: 零 or 幺 (1) makes it a door number
        ("是楼上七零三家漏的", "703"),
        ("好像是从对门二零一飘出来的", "201"),
        ("我们是十一号楼一单元六零幺，快来人", "601"),
        ("我们是十一号楼一单元六零么，快来人", "601"),  # 幺 as a converter may write it
        ("二零二六年一月要交物业费", None),  # a year
        ("电话幺三八零零零", None),  # part of a phone number
        ("楼上三百多斤的东西", None),  # a count
    ],
)
def test_a_room_read_out_without_a_marker(text: str, room: str | None) -> None:
    assert parse(text, role="resident").room == room


@pytest.mark.parametrize(
    ("text", "room"),
    [
        ("隔壁1202又在打老婆了，哭喊声很大", "1202"),  # next door: a door number
        ("502的小伙子跟女朋友吵完架说要割腕", "502"),  # the young man of 502
        ("一共花了1202块钱", None),
    ],
)
def test_a_door_named_by_a_neighbour(text: str, room: str | None) -> None:
    assert parse(text, role="resident").room == room


@pytest.mark.parametrize(
    ("text", "building"),
    [
        ("刚才说错了，不是3栋是5栋，5栋1单元有人从楼梯上摔下来", 5),  # the corrected place
        ("刚才报的不是12栋，是13栋，13栋2单元楼道的消防栓玻璃碎了", 13),
        ("不是12栋的问题吗", 12),  # a question, no correction
    ],
)
def test_a_place_corrected(text: str, building: int) -> None:
    assert parse(text, role="resident").building == building


@pytest.mark.parametrize(
    ("text", "building", "floor"),
    [
        ("3号院2号楼门口两个人打起来了", 2, None),  # the compound is no building
        ("地下车库B1层一辆电动车起火了", None, -1),  # a basement level as the lift labels it
        ("车库B2有积水", None, -2),
        ("B1栋门口有垃圾", 1, None),  # a block's name, not a level
    ],
)
def test_compounds_and_basement_levels(text: str, building: int | None, floor: int | None) -> None:
    result = parse(text, role="resident")
    assert (result.building, result.floor) == (building, floor)


def test_a_quote_of_a_quote_reads_the_last_quote() -> None:
    """The sender's name of an earlier quote (「住户17幢502：」) is no address of the matter."""
    from handlers.parsing.normalize import quoted

    sep = "\n- - - - - - - - - - - - - - -\n"
    text = f"「王阿姨：大家早上好」{sep}「住户17幢502：楼下那辆车天天堵我车位」{sep}已经联系车主调解过了"
    assert quoted(text) == "楼下那辆车天天堵我车位"
    assert parse(text).building is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # one item a line: the address is the major item's, not the first line's
        (
            "今日巡查情况：\n1. 9号楼楼道纸箱已清理\n2. 东门路灯不亮已报物业\n3. 11号楼后头彩钢房冒烟有明火",
            (11, None),
        ),
        # an item naming only a unit or a room goes on in the building named before it
        (
            "今日巡查：5号楼消防通道畅通，电梯运行正常；另外巡到2单元1203门口，门缝里往外冒烟，已打119",
            (5, "1203"),
        ),
    ],
)
def test_list_report_address_is_the_items(text: str, where: tuple[int, str | None]) -> None:
    r = parse(text, role="leader")
    assert r.kind == "major"
    assert (r.building, r.room) == where


def test_a_false_alarm_explained_by_staff_is_no_zero_report() -> None:
    assert parse("大家别担心 昨晚9栋报警器响是有人煮糖水煮糊了 虚惊一场 没事", role="member").kind == "other"
    assert parse("9栋今天巡查没事", role="member").kind == "zero_report"


@pytest.mark.parametrize("line", ["——————————", "─────────", "– – – – – –", "- - - - - - - -"])
def test_a_quote_separated_by_dashes_of_any_kind(line: str) -> None:
    """Phones write the quote's separator with hyphens or dashes: either way the reply that
    says no (不是的) is read alone, not with the question it answers."""
    from handlers.parsing.normalize import quoted

    text = f"「张大爷：后坡是不是又垮了哦？我听到响」\n{line}\n不是的张大爷，是物业在用挖机清淤，莫得事😄"
    assert quoted(text) == "后坡是不是又垮了哦?我听到响"
    assert parse(text, role="member").kind != "major"


@pytest.mark.parametrize(
    ("text", "room"),
    [
        ("18楼楼道全是黑烟，好像是1802门缝里冒出来的", "1802"),
        ("网格员你好，2302又在打老婆了，女的在喊救命", "2302"),
        ("2026年的物业费什么时候交", None),  # a year
        ("一共1200块", None),  # a price
        ("0571的号码打来的", None),  # an area code
    ],
)
def test_a_high_rise_door_needs_no_building(text: str, room: str | None) -> None:
    assert parse(text, role="resident").room == room

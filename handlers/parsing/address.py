"""Where: building (楼栋), unit (单元), floor (楼层) and room (室) from normalised text.

Numbers only count next to an address marker (号楼, 栋, 幢, 座, #, 单元, 楼/层, 室) or in the
`7-2-402` form, so dates (11月23日), clock times (晚上8点) and grid names (第3网格) never
become building numbers. Chinese numerals are converted with `numerals`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.parsing.numerals import CN_NUM_CHARS, cn_to_digits, cn_to_int

_CN = f"[{CN_NUM_CHARS}]"
_NUM = rf"(?:[0-9]{{1,3}}|{_CN}{{1,4}})"

# 7-2-402: building-unit-room. The lookarounds keep dates (2026-11-23) and phones out.
_TRIPLE = re.compile(r"(?<![0-9./-])([0-9]{1,3})-([0-9]{1,2})-([0-9]{3,4})(?![0-9.:/-])")


def _numeral(not_after: str, not_after_pair: str = "") -> str:
    """`_NUM` as a capture group that may not follow a character of the class `not_after`, nor
    the two characters `not_after_pair` matches (a regex of exactly two characters).

    The checks are lookbehinds placed after the numeral's first character, not in front of it:
    a regex that begins with a character class lets `re` skip to the numerals in C, while one
    that begins with a lookbehind is tried at every position."""
    behind = rf"(?<![{not_after}].)" + (rf"(?<!{not_after_pair}.)" if not_after_pair else "")
    return rf"([0-9]{behind}[0-9]{{0,2}}|{_CN}{behind}{_CN}{{0,3}})"


_NOT_BEFORE_BUILDING = f"0-9{CN_NUM_CHARS}./-"
# (not 号院: 3号院2号楼 is building 2 of compound 3)
_BUILDING_MARK = r"\s*(?:号楼|号栋|栋|幢|#)"
# 7号楼 7栋 7幢 7#楼 7# 第5栋 二十三号楼; `座` only after digits (一座桥 is not a building).
# The number is group 1 after 第, else group 2, or group 3 before 座.
_BUILDING = re.compile(
    rf"第(?<![{_NOT_BEFORE_BUILDING}]第)({_NUM}){_BUILDING_MARK}"
    rf"|{_numeral(_NOT_BEFORE_BUILDING)}{_BUILDING_MARK}"
    rf"|([0-9](?<![0-9./-].)[0-9]{{0,2}})\s*座"
)
# 2单元; also 2门 where a room number follows (7号楼2门402: Beijing says 门 for 单元). Not the
# end of a range (2到4单元: the first unit counts), but 到 as a verb's ending is no range (闻到4单元).
_UNIT = re.compile(
    rf"{_numeral(f'0-9{CN_NUM_CHARS}', f'[0-9{CN_NUM_CHARS}][~至到-]')}"
    r"\s*(?:单元|门(?=\s*[0-9]{3,4}(?![0-9])))"
)
# A number with 号 or 楼 right before a unit is the building (7号2单元, 7楼2单元), not a floor.
_UNIT_NEXT = rf"\s*(?:[0-9]{{1,2}}|[{CN_NUM_CHARS}]{{1,3}})\s*(?:单元|门\s*[0-9]{{3}})"
_UNIT_AHEAD, _UNIT_AHEAD_NOT = f"(?={_UNIT_NEXT})", f"(?!{_UNIT_NEXT})"
_BUILDING_BEFORE_UNIT = re.compile(rf"{_numeral(_NOT_BEFORE_BUILDING)}\s*[号楼]{_UNIT_AHEAD}")
# 7栋2-402: unit-room after a building marker
_UNIT_ROOM = re.compile(r"(?:栋|号楼|幢|#|座)\s*([0-9]{1,2})-([0-9]{3,4})(?![0-9])")
# 三楼 5层 11F 负一层; a number directly before 楼 (号楼 has 号 in between).
_FLOOR = re.compile(
    rf"(?<![0-9{CN_NUM_CHARS}-])(?<!(?<![0-9{CN_NUM_CHARS}])#)(负|地下)?\s*([0-9]{{1,2}}|[{CN_NUM_CHARS}]{{1,3}})\s*(?:楼(?![栋号盘]){_UNIT_AHEAD_NOT}|层|[Ff](?![A-Za-z]))"
)
# B1层, 车库B2: a basement level as lifts and car parks label it (not B1栋, a building)
_BASEMENT = re.compile(
    r"(?<![A-Za-z0-9])[Bb]([1-5])(?:层|楼层|(?=车库|停车场))|(?<=车库|地下)[Bb]([1-5])(?![0-9栋座号])"
)
# 203室, 二〇三室, 502房; a 3-4 digit number right after a building/unit marker.
_ROOM_MARKED = re.compile(rf"({_CN}{{2,5}}|[0-9]{{2,4}})\s*(?:室|房间|号房)")
_ROOM_AFTER = re.compile(r"(?:单元|栋|幢|号楼|#楼?|门)\s*([0-9]{3,4})(?![0-9])")
# The same read digit by digit (三单元六零二): three or four of 零〇○一…九, not followed by
# another numeral (十, 百) or by 楼/层 (一二三楼 are floors).
_ROOM_AFTER_CN = re.compile(
    r"(?:单元|栋|幢|号楼)\s*([零〇○一二三四五六七八九幺么]{3,4})(?![零〇○一二三四五六七八九幺么十百楼层])"
)
# A room read out with no marker at all (楼上七零三家, 对门二零一): a run of spelled digits with a
# 零 or 幺 in it (a count is written 三百, not 三零零), checked as a bare number is.
_SPOKEN_ZERO = re.compile("[零〇○幺]")
_ROOM_SPOKEN = re.compile("[零〇○一二三四五六七八九幺么]{3,}")
# A bare 3-4 digit number in a message that names a place; filtered by `_plausible_room`.
_ROOM_BARE = re.compile(r"(?<![0-9A-Za-z.:/¥$·-])([0-9]{3,4})(?![0-9A-Za-z.:/%-])")
# A number that names a household (502那家, 1101家的) is a room even with no building written.
_ROOM_HOUSEHOLD = re.compile(
    r"(?<![0-9A-Za-z.:/¥$·-])([0-9]{3,4})(?=那家|那户|家的|家里|住户|的住户|的(?:小伙子|姑娘|老人|大爷|大妈|阿姨|奶奶|"
    r"爷爷|男的|女的|孩子|业主|租户|人家|老太太|老头))"
)
# Words that place a bare number next door (隔壁1202, 楼上502): it is a door, not a count.
_NEIGHBOUR = re.compile("楼上|楼下|隔壁|对门|对面|住")
_NOT_ROOM_AFTER = frozenset("年月日号点时分秒元块米斤岁人户个条名天次辆只台度毛角克吨斤公千万百栋幢座楼层单")
# Each regex above needs a numeral right before its marker (whitespace between), or a
# three-digit number: these cheap scans (`re` skips to the numerals itself) skip the regex.
_BUILDING_MARKS = re.compile(rf"[0-9{CN_NUM_CHARS}]\s*[号栋幢#座]")
_FLOOR_MARKS = re.compile(rf"[0-9{CN_NUM_CHARS}]\s*[楼层Ff]")
_THREE_DIGITS = re.compile("[0-9][0-9][0-9]")
# Every rule above needs a numeral right before one of its markers (whitespace between), or three
# digits in a row (7-2-402, the room after a marker, a bare room). Text without either has
# no address at all: one scan settles most messages. The lookbehinds look at the character
# the class consumed; a single leading class lets `re` skip to candidate positions itself.
_ANY_ADDRESS = re.compile(rf"[0-9{CN_NUM_CHARS}](?:(?=\s*[号栋幢#座单楼层Ff室房])|(?<=[0-9])(?=[0-9][0-9]))")
# A list item's number at the start of a clause ("2.7栋有住户…" in a report): blanked before
# the address rules, which otherwise read "2.7" as a decimal and the 7 as no building.
_ENUMERATOR = re.compile(rf"(?:^|(?<=[,;。:\n ]))[0-9]{{1,2}}\.(?=[0-9{CN_NUM_CHARS}])")
# A place taken back in a correction (刚才说错了，不是3栋是5栋): blanked, so the right one is read.
_DENIED = re.compile(rf"(?:不是|并非)\s*{_NUM}\s*(?:号楼|号|栋|幢|#)?(?=\s*,?\s*(?:而)?是)")
_HOTLINES = frozenset({"110", "119", "120", "122", "114", "12345", "95598"})
_DIAL_BEFORE = ("打", "拨", "叫", "电话", "热线")


@dataclass(slots=True)
class Address:
    building: int | None = None
    unit: int | None = None
    floor: int | None = None
    room: str | None = None


def _building(text: str) -> int | None:
    if _BUILDING_MARKS.search(text) is None:
        return _building_before_unit(text)
    listed: int | None = None
    for match in _BUILDING.finditer(text):
        start = match.start()
        # 11月3号楼下… is a date followed by 楼下, not building 3.
        if start > 0 and text[start - 1] == "月" and "号" in match.group(0):
            continue
        span = match.group(1) or match.group(2) or match.group(3)
        if span[0] == "两":  # 两栋楼中间: a count of buildings (building 2 is 二栋 or 2栋)
            continue
        value = cn_to_int(span)
        if value is not None and 0 < value < 1000:
            if start > 0 and text[start - 1] == "、" and listed is None:
                # 巡了12、13、14栋，13栋1单元电梯异响: the last of a list of buildings gone
                # round; a building named on its own after it is where the matter is
                listed = value
                continue
            return value
    return listed if listed is not None else _building_before_unit(text)


def _building_before_unit(text: str) -> int | None:
    """7号2单元, 7楼2单元: with no building marker, the number before the unit."""
    if "单元" not in text and "门" not in text:
        return None
    match = _BUILDING_BEFORE_UNIT.search(text)
    if match is None or text[match.start() - 1 : match.start()] == "月":
        return None  # 11月3号2单元… is a date
    value = cn_to_int(match.group(1))
    return value if value is not None and 0 < value < 1000 else None


def _unit(text: str) -> int | None:
    if "单元" not in text and "门" not in text:
        return None
    for match in _UNIT.finditer(text):
        value = cn_to_int(match.group(1))
        if value is not None and 0 < value < 100:
            return value
    return None


def _floor(text: str) -> int | None:
    if "B" in text or "b" in text:
        basement = _BASEMENT.search(text)
        if basement is not None:
            return -int(basement.group(1) or basement.group(2))
    if _FLOOR_MARKS.search(text) is None:
        return None
    for match in _FLOOR.finditer(text):
        value = cn_to_int(match.group(2))
        if value is None or not 0 < value < 200:
            continue
        return -value if match.group(1) else value
    return None


def _plausible_room(text: str, match: re.Match[str], digits: str | None = None) -> bool:
    """`match` (group 1, or `digits` when given: its digits) reads as a room number."""
    digits = digits or match.group(1)
    if digits in _HOTLINES:
        return False
    end = match.end()
    # (not 1502天天…: 天天 is "every day", not 1502 days)
    if end < len(text) and text[end] in _NOT_ROOM_AFTER and text[end : end + 2] != "天天":
        return False
    before = text[max(0, match.start() - 3) : match.start()]
    if any(word in before for word in _DIAL_BEFORE):
        return False
    number = int(digits)
    # floor 1-60, door 01-40: 1000 元, 2026, 150 are not rooms.
    return 1 <= number // 100 <= 60 and 1 <= number % 100 <= 40


def _room(text: str, has_place: bool) -> str | None:
    if "室" in text or "房" in text:
        match = _ROOM_MARKED.search(text)
        if match is not None:
            room = cn_to_digits(match.group(1))
            if room:
                return room
    match = _ROOM_AFTER.search(text)  # `re` skips to its markers itself: no pre-check needed
    if match is not None:
        return match.group(1)
    match = _ROOM_AFTER_CN.search(text)
    if match is not None:
        return cn_to_digits(match.group(1))
    if _SPOKEN_ZERO.search(text) is not None:
        spoken = _spoken_room(text)
        if spoken is not None:
            return spoken
    if _THREE_DIGITS.search(text) is None:
        return None
    if not has_place:
        household = _ROOM_HOUSEHOLD.search(text)
        if household is not None and _plausible_room(text, household):
            return household.group(1)
    for bare in _ROOM_BARE.finditer(text):
        digits = bare.group(1)
        # With no place named, only a high-rise door of four digits (1802门缝里冒烟, 2302又在打老婆):
        # a floor of 10 or more and a door of 01-40, which a year, a price or a count rarely is.
        if (has_place or (len(digits) == 4 and digits[0] != "0")) and _plausible_room(text, bare):
            return digits
    return None


def _spoken_room(text: str) -> str | None:
    for match in _ROOM_SPOKEN.finditer(text):
        run = match.group(0)
        if len(run) > 4 or _SPOKEN_ZERO.search(run) is None:
            continue  # a phone number read out, or a count (三十一): no room
        if match.start() > 0 and text[match.start() - 1] in "十百千":
            continue
        digits = cn_to_digits(run)
        if digits is not None and _plausible_room(text, match, digits):
            return digits
    return None


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def may_hold_address(text: str) -> bool:
    """False only for text in which no rule here can find anything: one scan settles most."""
    if _ANY_ADDRESS.search(text) is not None or _SPOKEN_ZERO.search(text) is not None:
        return True
    return ("B" in text or "b" in text) and _BASEMENT.search(text) is not None


def extract_address(text: str) -> Address:
    """First building, unit, floor and room mentioned; None for what is not written."""
    addr = Address()
    if not may_hold_address(text):
        return addr
    if "." in text:
        text = _ENUMERATOR.sub(_blank, text)
    if "不是" in text or "并非" in text:
        text = _DENIED.sub(_blank, text)
    triple = _TRIPLE.search(text) if "-" in text else None
    if triple is not None:
        addr.building = int(triple.group(1))
        addr.unit = int(triple.group(2))
        addr.room = triple.group(3)
    if addr.building is None:
        addr.building = _building(text)
    if triple is None and "-" in text:
        pair = _UNIT_ROOM.search(text)
        if pair is not None:
            addr.unit, addr.room = int(pair.group(1)), pair.group(2)
    if addr.unit is None:
        addr.unit = _unit(text)
    addr.floor = _floor(text)
    if addr.room is None:
        has_place = addr.building is not None or addr.unit is not None or _NEIGHBOUR.search(text) is not None
        addr.room = _room(text, has_place)
    return addr

"""Appointment and deadline times (明天下午三点, 今晚8点前, 周五前, 11月25日) → aware datetimes.

Resolved in Asia/Shanghai relative to the message time. Defaults where the text is vague:
  * date only: 18:00 (end of the working day) for a deadline ("周五前"), 09:00 otherwise;
  * period only (明天下午): 早上 08:00, 上午 09:00, 中午 12:00, 下午 14:00, 傍晚 18:00,
    晚上/今晚 19:00, 凌晨 05:00 — or 18:00 / 23:59 for a deadline ("下午前", "今晚前");
  * a bare clock time 1-6 点 without 上午/凌晨 is read as the afternoon (3点半 → 15:30);
  * 12 点 at night (晚上12点, 今夜12点) and 24点 are midnight: 00:00 of the next day;
  * no date: the message's own day; 11月25日 without a year: this year, unless that is more
    than 180 days ago (then next year); 周五 without 下: this week's, or next week's once
    this week's has passed; 下周一: Monday of next week;
  * 之内/以内/内 sets a deadline as 前 does (今天之内: 18:00); a stretch from the message's time
    (3天内, 半小时后, 两个半小时以后) is that time on: a deadline with 内, an appointment with 后.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from handlers.clock import SHANGHAI
from handlers.parsing.numerals import CN_NUM_CHARS, cn_to_int
from handlers.parsing.result import TimeMention

_N = rf"(?:[0-9]{{1,2}}|[{CN_NUM_CHARS}]{{1,3}})"
_WEEKDAY = "一二三四五六日天1234567"
_RELATIVE_DAY = "大后天|后天|明天|明日|今天|今日|昨天|前天|明早|明晚|今早|今晚|今夜|明夜"
_PERIOD = "凌晨|清晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|早|晚"
# Every time expression starts with one of these characters; the look-ahead lets the regex
# engine skip all other positions in C instead of yielding an empty match at each.
_STARTS = f"0-9{CN_NUM_CHARS}今明后大昨前周星礼下本这月年凌清早上中傍晚夜半"
_TIME = re.compile(
    rf"(?=[{_STARTS}])"
    rf"(?:(?P<month>{_N})月(?P<day>{_N})[日号]"
    rf"|(?P<rel>{_RELATIVE_DAY})"
    rf"|(?P<week>下下|下|本|这|这个|下个)?(?:周|星期|礼拜)(?P<wd>[{_WEEKDAY}])"
    rf"|(?P<eom>月底|年底))?"
    rf"\s*(?P<period>{_PERIOD})?"
    rf"\s*(?:(?P<hour>{_N})(?:点|时)(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<minute>[0-9]{{1,2}}|{_N})分?)?"
    rf"|(?P<hh>[0-9]{{1,2}}):(?P<mm>[0-9]{{2}}))?"
    rf"(?P<deadline>\s*(?:之前|以前|前|之内|以内|内(?![容部外])))?"
    # Fail instead of matching the empty string: every part is optional, so without this the
    # regex "matches" at each candidate position and Python loops over the empty matches.
    # Only the empty path reaches this point with no group set, so other matches are equal.
    r"(?(month)|(?(rel)|(?(wd)|(?(eom)|(?(period)|(?(hour)|(?(hh)|(?(deadline)|(?!)))))))))"
)
_HINT = re.compile(r"[点时:月天日周期拜晚早底钟]")
# A stretch from the message's time (3天内, 半小时后, 两个小时以内, 一周之内): 内 sets a deadline,
# 后 an appointment.
_SPAN = re.compile(
    rf"(?P<n>[0-9]{{1,3}}|[{CN_NUM_CHARS}]{{1,3}}|半)\s*(?:个)?(?P<half>半)?"
    r"(?P<unit>小时|钟头|分钟|天|日|周|星期|礼拜)"
    r"(?:(?P<within>之内|以内|内(?![容部外]))|(?P<after>之后|以后|后(?![面边头来])))"
)
_SPAN_UNIT = {
    "小时": timedelta(hours=1), "钟头": timedelta(hours=1), "分钟": timedelta(minutes=1),
    "天": timedelta(days=1), "日": timedelta(days=1), "周": timedelta(weeks=1),
    "星期": timedelta(weeks=1), "礼拜": timedelta(weeks=1),
}  # fmt: skip
# What every accepted mention contains (`_accept` wants a date or a clock time): a numeral
# before 月/点/时, a digit before ":", a relative day (今天 明晚 后天 昨天 前天 …), 周/星期/礼拜
# + day, or 月底/年底. Far fewer messages have one of these than a `_HINT` character. One
# leading class so that `re` skips to candidate positions itself; the lookbehinds look at
# the character it consumed.
_ANCHOR = re.compile(
    rf"[0-9{CN_NUM_CHARS}今明后昨前周星礼月年]"
    rf"(?:(?<=[0-9{CN_NUM_CHARS}])(?=[点时月])|(?<=[0-9])(?=:)|(?<=[今明])(?=[天日早晚夜])"
    r"|(?<=[后昨前])(?=天)|(?<=周)|(?<=星)(?=期)|(?<=礼)(?=拜)|(?<=[月年])(?=底))"
)
_PERIOD_DEFAULT = {
    "凌晨": 5, "清晨": 7, "早上": 8, "早晨": 8, "早": 8, "上午": 9, "中午": 12, "下午": 14,
    "傍晚": 18, "晚上": 19, "夜里": 21, "夜间": 21, "半夜": 0, "晚": 19,
}  # fmt: skip
_PM_PERIODS = frozenset({"下午", "傍晚", "晚上", "夜里", "夜间", "晚"})
_NIGHT_PERIODS = frozenset({"晚上", "夜里", "夜间", "晚", "半夜"})
_EVENING_DAYS = frozenset({"今晚", "明晚", "今夜", "明夜"})
_REL_OFFSET = {
    "今天": 0, "今日": 0, "今早": 0, "今晚": 0, "今夜": 0, "明天": 1, "明日": 1, "明早": 1,
    "明晚": 1, "明夜": 1, "后天": 2, "大后天": 3, "昨天": -1, "前天": -2,
}  # fmt: skip
_WD_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def _date_part(m: re.Match[str], now: datetime) -> date | None:
    today = now.date()
    if m.group("month"):
        month, day = cn_to_int(m.group("month")), cn_to_int(m.group("day"))
        if month is None or day is None:
            return None
        try:
            when = date(today.year, month, day)
        except ValueError:
            return None
        if (today - when).days > 180:
            when = date(today.year + 1, month, day)
        return when
    if m.group("rel"):
        return today + timedelta(days=_REL_OFFSET[m.group("rel")])
    if m.group("wd"):
        wd_char = m.group("wd")
        target = _WD_INDEX.get(wd_char, int(wd_char) - 1 if wd_char.isdigit() else 0)
        monday = today - timedelta(days=today.weekday())
        week = m.group("week") or ""
        if week.startswith("下下"):
            return monday + timedelta(days=14 + target)
        if week.startswith("下"):
            return monday + timedelta(days=7 + target)
        when = monday + timedelta(days=target)
        if not week and when < today:
            when += timedelta(days=7)
        return when
    if m.group("eom"):
        if m.group("eom") == "年底":
            return date(today.year, 12, 31)
        first_next = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return first_next - timedelta(days=1)
    return None


def _clock(m: re.Match[str], period: str | None) -> tuple[int, int] | None:
    if m.group("hh"):
        hour, minute = int(m.group("hh")), int(m.group("mm"))
    elif m.group("hour"):
        value = cn_to_int(m.group("hour"))
        if value is None:
            return None
        hour, minute = value, 0
        if m.group("half"):
            minute = 30
        elif m.group("quarter"):
            minute = 15 if m.group("quarter") == "一刻" else 45
        elif m.group("minute"):
            minute = cn_to_int(m.group("minute")) or 0
    else:
        return None
    afternoon = (period in _PM_PERIODS and 1 <= hour < 12) or (period == "中午" and 1 <= hour <= 3)
    # 3点半 without 上午/凌晨 in a working chat means the afternoon
    if afternoon or (period is None and 1 <= hour <= 6):
        hour += 12
    if hour == 12 and period in _NIGHT_PERIODS:
        hour = 24  # 晚上12点 / 今夜12点 is midnight at the end of that day, not noon
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        return None
    return hour, minute  # hour 24: that time after midnight, on the next day (今天24点前)


def _accept(m: re.Match[str], text: str) -> bool:
    """Drop matches that are not times: empty ones and a lone 一点/早/晚 (= a little / early)."""
    has_date = bool(m.group("month") or m.group("rel") or m.group("wd") or m.group("eom"))
    has_clock = bool(m.group("hour") or m.group("hh"))
    period = m.group("period")
    if not (has_date or has_clock or period):
        return False
    if period in ("早", "晚") and not has_clock and not has_date:
        return False
    if not has_date and not has_clock:
        return False  # 早上巡了一遍: a period alone is a narrative, not an appointment
    if m.group("hour") and not has_date and not period:
        # 一点 alone is usually "a little"; 几点 is never matched (几 is not a numeral).
        if m.group("hour") in ("一", "两") and not (m.group("half") or m.group("minute")):
            return False
        end = m.end()
        if end < len(text) and text[end] in "钟多":
            return True
    if m.group("hh"):
        # 8:30 yes; 1:5000 scale or 3:2 score are excluded by requiring 2 minute digits < 60.
        return int(m.group("mm")) < 60
    return True


def extract_times(text: str, now: datetime | None = None) -> list[TimeMention]:
    """Every time expression, in order; never raises."""
    if _HINT.search(text) is None:
        return []  # most messages name no time: the one-class hint rules out over half
    anchored = _ANCHOR.search(text) is not None
    # a stretch ends in 内 or 后: two substring tests spare most texts the regex
    spans = _SPAN.search(text) if "内" in text or "后" in text else None
    if not anchored and spans is None:
        return []  # (the anchor before the all-optional regex: it skips most of the rest)
    if now is None:
        now = datetime.now(SHANGHAI)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=SHANGHAI)
    else:
        now = now.astimezone(SHANGHAI)
    found: list[tuple[int, TimeMention]] = []
    if anchored:
        for m in _TIME.finditer(text):
            if m.start() == m.end() or not _accept(m, text):
                continue
            mention = _resolve(m, now)
            if mention is not None:
                found.append((m.start(), mention))
    if spans is not None:
        taken = [(start, start + len(mention.phrase)) for start, mention in found]
        for m in _SPAN.finditer(text, spans.start()):
            span = _span(m, now)
            if span is not None and not any(a <= m.start() < b for a, b in taken):
                found.append((m.start(), span))
        found.sort(key=lambda pair: pair[0])
    return [mention for _, mention in found]


def _span(m: re.Match[str], now: datetime) -> TimeMention | None:
    """3天内 → now + 3 days, a deadline; 半小时后 → now + 30 minutes, an appointment."""
    n = m.group("n")
    count = 0.5 if n == "半" else cn_to_int(n)
    if count is None or count <= 0 or count > 400:
        return None
    if m.group("half"):
        count += 0.5
    at = now + _SPAN_UNIT[m.group("unit")] * count
    return TimeMention(
        phrase=m.group(0), at=at.replace(second=0, microsecond=0), deadline=bool(m.group("within"))
    )


def _resolve(m: re.Match[str], now: datetime) -> TimeMention | None:
    day = _date_part(m, now)
    period = m.group("period")
    if period is None and m.group("rel") in _EVENING_DAYS:
        period = "晚上"
    deadline = bool(m.group("deadline"))
    clock = _clock(m, period)
    if clock is None and (m.group("hour") or m.group("hh")):
        return None
    if clock is None and period:
        clock = _period_default(period, deadline)
    elif clock is None:
        clock = (18, 0) if deadline else (9, 0)
    if day is None:
        day = now.date()
    if clock[0] == 24:
        day, clock = day + timedelta(days=1), (0, clock[1])
    at = datetime.combine(day, time(clock[0], clock[1]), tzinfo=SHANGHAI)
    phrase = m.group(0)
    if deadline:
        phrase = phrase.rstrip()
    return TimeMention(phrase=phrase.strip(), at=at, deadline=deadline)


def _period_default(period: str, deadline: bool) -> tuple[int, int]:
    if deadline:
        if period in _PM_PERIODS:
            return (23, 59) if period in ("晚上", "晚", "夜里", "夜间") else (18, 0)
        return (12, 0)
    return (_PERIOD_DEFAULT.get(period, 9), 0)

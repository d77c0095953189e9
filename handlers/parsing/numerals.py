"""Chinese numerals → integers, for spans an address/time regex has already captured.

Deliberately tiny: converting whole messages corrupts text (零报告 → 0报告), so callers only
pass the numeral itself (十二, 二〇三, 两, 二十三, 一百零二, or ASCII digits).
"""

from __future__ import annotations

DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "幺": 1, "么": 1,
}  # fmt: skip
# (幺 is 1 as read out in numbers: 六零幺 is room 601; 么 is how converters may write it)
UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}

# Character class for regexes that capture a numeral span.
CN_NUM_CHARS = "零〇○一二两三四五六七八九十百千"


def cn_to_int(span: str) -> int | None:
    """`十二` → 12, `二〇三` → 203, `7` → 7; None when the span is not a numeral."""
    span = span.strip()
    if not span:
        return None
    if span.isascii() and span.isdigit():
        return int(span)
    if not any(ch in UNITS for ch in span):
        return _digit_sequence(span)
    total = 0
    current = 0
    for ch in span:
        if ch in DIGITS:
            current = DIGITS[ch]
        elif ch in UNITS:
            # 十 alone means 10: a unit with no digit before it multiplies 1.
            total += (current or 1) * UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def _digit_sequence(span: str) -> int | None:
    """`二〇三` read digit by digit (room numbers are written this way)."""
    out = 0
    for ch in span:
        if ch in DIGITS:
            out = out * 10 + DIGITS[ch]
        elif ch.isdigit() and ch.isascii():
            out = out * 10 + int(ch)
        else:
            return None
    return out


def cn_to_digits(span: str) -> str | None:
    """A room number as a digit string: `二〇三` → "203", `三百零二` → "302", `0402` kept."""
    span = span.strip()
    if span.isascii() and span.isdigit():
        return span
    if span and not any(ch in UNITS for ch in span):
        digits = [str(DIGITS[ch]) if ch in DIGITS else ch for ch in span]
        joined = "".join(digits)
        return joined if joined.isascii() and joined.isdigit() else None
    value = cn_to_int(span)
    return None if value is None else str(value)

"""Message normalisation, run before anything else: the rules only ever see this form.

Steps: lone surrogates and invisible characters out, NFKC (full-width → half-width,
U+2005 after @mentions → space), traditional → simplified (zhconv-rs), WeChat quote block
dropped (only the reply counts), financial numerals of an address as everyday ones (拾贰号楼 →
十二号楼), leading @mentions dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import zhconv_rs

from handlers.parsing.numerals import CN_NUM_CHARS

# Lone surrogates (from broken UTF-16 upstream) would make zhconv-rs raise.
# (escaped for `re`, not in the literal: a compiled build cannot hold lone surrogates)
_SURROGATE_CHARS = r"\ud800-\udfff"
_SURROGATES = re.compile(f"[{_SURROGATE_CHARS}]")
# Zero-width characters and C0/C1 controls except tab and newline: they split keywords.
_INVISIBLE_CHARS = "\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
# Everything `clean_unicode` removes or rewrites (the two classes above and \r): a text with
# none of these comes back unchanged, so one search replaces two substitutions.
_UNCLEAN = re.compile(f"[\r{_SURROGATE_CHARS}{_INVISIBLE_CHARS}]")
# WeChat quote: 「name：quoted」 then a line of "- - - ..." then the reply.
# (hyphens, or dashes: ——————, ─────, as phones and keyboards give them)
_QUOTE_SEP = re.compile(r"\n[ \t]*[-—–─](?:[ \t]*[-—–─]){4,}[ \t]*(?:\n|$)")
# @name followed by U+2005 (NFKC turns it into a plain space) or a space.
_LEADING_MENTIONS = re.compile(r"^(?:\s*@[^\s@]{1,30}(?:\s+|$))+")
# The common compatibility characters of chat text (full-width ASCII ，！？（）：０-９Ａ-Ｚ,
# the ideographic space, U+2005 and the other typographic spaces), each mapped to its NFKD
# form. Replacing a character by its own compatibility decomposition leaves NFKD (and so
# NFKC) of the whole text unchanged, and replacing is much faster than normalize().
_COMPAT = {
    c: unicodedata.normalize("NFKD", chr(c))
    for c in (*range(0xFF01, 0xFF5F), 0x3000, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x00A0)
}
# Circled list numbers (①7栋…) are the one exception: NFKC makes ① a bare 1, which would run
# into the number after it (17栋); as (1) the list number stays apart, as with ⑴.
_COMPAT.update({0x2460 + i: f"({i + 1})" for i in range(20)})
# The characters of `_COMPAT`. `str.translate` looks up every character of the text in the
# table (a raised and caught KeyError for each miss), which costs more than finding the few
# compatibility characters a message has and replacing each distinct one.
_COMPAT_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_COMPAT)) + "]")


# The financial (大写) numerals of a formal notice or a form (拾贰号楼, 叁单元): written as the
# everyday ones where an address marker follows, and only there, for 拾 of 收拾, 陆 of 陆续
# and 伍 of 队伍 are words of their own.
_FINANCIAL_DIGITS = str.maketrans("壹贰叁肆伍陆柒捌玖拾佰仟", "一二三四五六七八九十百千")
_FINANCIAL_CHAR = re.compile("[壹贰叁肆伍陆柒捌玖拾佰仟]")
_FINANCIAL_NUMERAL = re.compile(
    f"(?<![收队大])[{CN_NUM_CHARS}壹贰叁肆伍陆柒捌玖拾佰仟]+(?=号楼|号|栋|幢|单元|楼|层|室)"
)


def _everyday_numerals(text: str) -> str:
    if _FINANCIAL_CHAR.search(text) is None:
        return text
    return _FINANCIAL_NUMERAL.sub(lambda m: m.group(0).translate(_FINANCIAL_DIGITS), text)


def clean_unicode(text: str) -> str:
    """Remove what no rule should see: surrogates, controls, zero-width characters."""
    # Every character removed or rewritten below is unprintable: most messages skip it all.
    if text.isprintable() or _UNCLEAN.search(text) is None:
        return text
    if not text.isascii():
        text = _SURROGATES.sub("\ufffd", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub("", text)


def nfkc(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)`, with fast paths for ASCII and for text whose
    only compatibility characters are full-width ASCII and typographic spaces; circled list
    numbers (①) become (1), not NFKC's bare 1."""
    if text.isascii():
        return text  # ASCII is always in NFKC
    for char in set(_COMPAT_CHARS.findall(text)):
        text = text.replace(char, _COMPAT[ord(char)])
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


_converter: Callable[[str], str] | None = None
# The converter leaves 著 where its word list does not know the phrase (漂著, 車著了, 聞著),
# though in simplified text it is 着 but in the zhù words (著名, 显著, 土著, 论著 …), and the
# rules are written with 着. (著 is rare in simplified text, so this runs on few messages.)
_ZHE = re.compile("(?<![显土论名原专巨编卓昭遗合译拙新撰])著(?![名作称述书])")


def _zh_cn() -> Callable[[str], str]:
    """The zh-cn converter, built on first use (~12 ms). Calling one converter costs about a
    microsecond less a message than `zhconv_rs.zhconv(text, "zh-cn")`, which finds its
    ruleset on every call; the output is the same."""
    global _converter
    if _converter is None:
        _converter = zhconv_rs.make_converter("zh-cn", [])
    return _converter


def to_simplified(text: str) -> str:
    """Traditional → simplified; keeps ASCII untouched and never raises."""
    if text.isascii():
        return text
    try:
        converted: str = (_converter or _zh_cn())(text)
    except Exception:  # defensive: a converter bug must not drop a message
        return text
    if "著" in converted:
        converted = _ZHE.sub("着", converted)
    return converted


def strip_quote(text: str) -> str:
    """Keep only the reply of a WeChat quote block; other text is returned unchanged."""
    sep = _last_quote_separator(text)
    return text if sep is None else text[sep.end() :]


def _last_quote_separator(text: str) -> re.Match[str] | None:
    """The separator line of a WeChat quote block: the reply follows the LAST one (quotes of
    quotes nest). None when the text is no quote block."""
    if not text.lstrip().startswith("「"):
        return None
    return _last_separator(text)


def _last_separator(text: str) -> re.Match[str] | None:
    last = None
    for last in _QUOTE_SEP.finditer(text):  # noqa: B007 (the loop keeps the last)
        pass
    return last


_QUOTE_HEAD = re.compile(r"^\s*「(?:[^:：」\n]{1,16}[:：])?")


def quoted(text: str) -> str:
    """The message a WeChat quote block quotes, normalised like the reply ("" without one).

    Only the sender's name ("「李师傅：") and the closing 」 are dropped. Of quotes of quotes,
    the last one is the message replied to: the ones before it, with their senders' names,
    are dropped too (a name such as 「住户17幢502：」 is no address of the matter)."""
    text = nfkc(clean_unicode(text))
    sep = _last_quote_separator(text)
    if sep is None:
        return ""
    head = text[: sep.start()]
    inner = _last_separator(head)
    if inner is not None and head[inner.end() :].lstrip().startswith("「"):
        head = head[inner.end() :]
    body = _QUOTE_HEAD.sub("", head).rstrip().removesuffix("」")
    return to_simplified(body).strip()


def split_mentions(text: str) -> tuple[str, str]:
    """(leading @mentions, rest): the mentions are dropped but `@所有人` still marks a broadcast."""
    if "@" not in text:
        return "", text
    match = _LEADING_MENTIONS.match(text)
    if match is None:
        return "", text
    return match.group(0), text[match.end() :]


def normalize_parts(text: str) -> tuple[str, str]:
    """(leading mentions, normalised text) — see `normalize`."""
    text = clean_unicode(text)
    text = nfkc(text)
    # Quote first: zhconv-rs turns the 「」 that mark a WeChat quote into “”.
    text = strip_quote(text)
    text = _everyday_numerals(to_simplified(text).strip())
    mentions, rest = split_mentions(text)
    return mentions, rest.strip()


def normalize(text: str) -> str:
    """The normalised text every other step works on (also ParseResult.text)."""
    return normalize_parts(text)[1]

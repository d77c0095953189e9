"""Message normalisation, run before anything else: the rules only ever see this form.

Steps: lone surrogates and invisible characters out, NFKC (full-width → half-width,
U+2005 after @mentions → space), traditional → simplified (zhconv-rs), WeChat quote block
dropped (only the reply counts), leading @mentions dropped.
"""

from __future__ import annotations

import re
import unicodedata

import zhconv_rs

# Lone surrogates (from broken UTF-16 upstream) would make zhconv-rs raise.
_SURROGATES = re.compile("[\ud800-\udfff]")
# Zero-width characters and C0/C1 controls except tab and newline: they split keywords.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]")
# WeChat quote: 「name：quoted」 then a line of "- - - ..." then the reply.
_QUOTE_SEP = re.compile(r"\n[ \t]*-(?:[ \t]*-){4,}[ \t]*(?:\n|$)")
# @name followed by U+2005 (NFKC turns it into a plain space) or a space.
_LEADING_MENTIONS = re.compile(r"^(?:\s*@[^\s@]{1,30}(?:\s+|$))+")


def clean_unicode(text: str) -> str:
    """Remove what no rule should see: surrogates, controls, zero-width characters."""
    if not text.isascii():
        text = _SURROGATES.sub("\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub("", text)


def to_simplified(text: str) -> str:
    """Traditional → simplified; keeps ASCII untouched and never raises."""
    if text.isascii():
        return text
    try:
        converted: str = zhconv_rs.zhconv(text, "zh-cn")
    except Exception:  # defensive: a converter bug must not drop a message
        return text
    return converted


def strip_quote(text: str) -> str:
    """Keep only the reply of a WeChat quote block; other text is returned unchanged."""
    if not text.lstrip().startswith("「"):
        return text
    last_end = -1
    for sep in _QUOTE_SEP.finditer(text):
        last_end = sep.end()  # the reply follows the LAST separator (quotes of quotes nest)
    return text if last_end < 0 else text[last_end:]


def split_mentions(text: str) -> tuple[str, str]:
    """(leading @mentions, rest): the mentions are dropped but `@所有人` still marks a broadcast."""
    match = _LEADING_MENTIONS.match(text)
    if match is None:
        return "", text
    return match.group(0), text[match.end() :]


def normalize_parts(text: str) -> tuple[str, str]:
    """(leading mentions, normalised text) — see `normalize`."""
    text = clean_unicode(text)
    text = unicodedata.normalize("NFKC", text)
    # Quote first: zhconv-rs turns the 「」 that mark a WeChat quote into “”.
    text = strip_quote(text)
    text = to_simplified(text).strip()
    mentions, rest = split_mentions(text)
    return mentions, rest.strip()


def normalize(text: str) -> str:
    """The normalised text every other step works on (also ParseResult.text)."""
    return normalize_parts(text)[1]

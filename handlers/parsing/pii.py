"""Personal data: mainland mobile numbers, landlines and 18-digit ID numbers.

One combined regex, one linear pass: safe on megabyte inputs. ID numbers must pass the
ISO 7064 MOD 11-2 checksum, so an 18-digit order number is left alone; room numbers and
dates are too short to match at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from handlers.parsing.result import PiiSpan

# Order matters: an ID (18 chars) is tried before a mobile number at the same position.
# Separators inside phone numbers may be a space or a dash (138-1234-5678, 138 1234 5678).
# The leading look-ahead only names the characters a match can start with ("+86..." or a
# digit): `re` then rejects every other position in C instead of trying each branch there.
_PII = re.compile(
    r"(?=[0-9+])(?<![0-9A-Za-z])"
    r"(?:(?P<id>[0-9]{17}[0-9Xx])(?![0-9A-Za-z])"
    r"|(?:\+?86[ -]?)?(?P<mobile>1[3-9][0-9](?:[ -]?[0-9]{4}){2})(?![0-9])"
    r"|(?P<landline>0(?:[12][0-9]|[3-9][0-9]{2})[ -]?[1-9][0-9]{6,7})(?![0-9]))"
)
# Every number above has seven digits with at most one space or dash among them (a mobile's
# 1[3-9][0-9] then four digits, a landline's local number, an ID). Room numbers, dates and
# most messages have no such run: one cheap scan settles them. The first digit is written
# out rather than repeated so that `re` can skip to candidate positions itself.
_DIGIT_RUN = re.compile("[0-9][0-9]{2}[ -]?[0-9]{4}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


PiiKind = Literal["mobile", "landline", "id_card"]
# Full-width digits in raw (not yet normalised) text, same length after translation.
_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ－　", "0123456789Xx- ")


@dataclass(slots=True)
class _Hit:
    kind: PiiKind
    start: int
    end: int
    masked: str


def id_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 over the first 17 digits, the 18th is the check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17].upper()


def _mask_mobile(raw: str) -> str:
    digits = re.sub(r"[^0-9]", "", raw)
    return f"{digits[:3]}****{digits[-4:]}"


def _mask_landline(raw: str) -> str:
    digits = re.sub(r"[^0-9]", "", raw)
    area = 3 if digits[1] in "12" else 4
    return f"{digits[:area]}-****{digits[-4:]}"


def _mask_id(raw: str) -> str:
    return f"{raw[:6]}{'*' * 8}{raw[-4:]}"


def _find(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    if len(text) < 7 or _DIGIT_RUN.search(text) is None:
        return hits
    for match in _PII.finditer(text):
        group = match.lastgroup
        if group == "id":
            raw = match.group("id")
            if id_checksum_ok(raw):
                hits.append(_Hit("id_card", match.start("id"), match.end("id"), _mask_id(raw)))
        elif group == "mobile":
            raw = match.group("mobile")
            hits.append(_Hit("mobile", match.start("mobile"), match.end("mobile"), _mask_mobile(raw)))
        elif group == "landline":
            raw = match.group("landline")
            hits.append(_Hit("landline", match.start(), match.end(), _mask_landline(raw)))
    return hits


def find_pii(text: str) -> tuple[list[PiiSpan], str]:
    """(spans into `text`, `text` with every span masked)."""
    hits = _find(text)
    if not hits:
        return [], text
    spans = [PiiSpan(kind=h.kind, start=h.start, end=h.end) for h in hits]
    parts: list[str] = []
    pos = 0
    for hit in hits:
        parts.append(text[pos : hit.start])
        parts.append(hit.masked)
        pos = hit.end
    parts.append(text[pos:])
    return spans, "".join(parts)


def blank_pii(text: str, spans: list[PiiSpan]) -> str:
    """Same-length text with PII digits replaced, so address rules cannot read them."""
    if not spans:
        return text
    chars = list(text)
    for span in spans:
        chars[span.start : span.end] = "_" * (span.end - span.start)
    return "".join(chars)


def mask_pii(text: str) -> str:
    """Mask phone and ID numbers in any text (for logs and outgoing messages). Never raises."""
    try:
        if not isinstance(text, str):
            text = str(text)
        return find_pii(text.translate(_FULLWIDTH))[1]
    except Exception:  # a logging helper must not crash its caller; mask everything digit-like
        return re.sub(r"[0-9]", "*", str(text))

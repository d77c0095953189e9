"""Message parsing: one chat message → ParseResult (kind, category, where, when, PII).

from handlers.parsing import parse
result = parse("7栋2单元楼道堆放纸箱", chat="group", role="leader")
"""

from __future__ import annotations

from handlers.parsing.parser import Parser, default_parser, parse
from handlers.parsing.pii import mask_pii
from handlers.parsing.result import CommandArgs, ParseResult, PiiSpan, TimeMention

__all__ = [
    "CommandArgs",
    "ParseResult",
    "Parser",
    "PiiSpan",
    "TimeMention",
    "default_parser",
    "mask_pii",
    "parse",
]

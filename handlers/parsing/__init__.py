"""Message parsing: one chat message → ParseResult (kind, category, where, when, PII).

from handlers.parsing import parse
result = parse("7栋2单元楼道堆放纸箱", chat="group", role="leader")
"""

from __future__ import annotations

from handlers.parsing import accel

# Before any submodule is imported: they then come from the compiled build when it is current.
NATIVE = accel.enable(__path__)

from handlers.parsing.parser import Parser, default_parser, parse  # noqa: E402
from handlers.parsing.pii import mask_pii  # noqa: E402
from handlers.parsing.result import CommandArgs, ParseResult, PiiSpan, TimeMention  # noqa: E402

__all__ = [
    "NATIVE",
    "CommandArgs",
    "ParseResult",
    "Parser",
    "PiiSpan",
    "TimeMention",
    "default_parser",
    "mask_pii",
    "parse",
]

"""The parser's output: one structured reading of one chat message.

Field meanings follow ../shared/corpus/README.md; everything not applicable is None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["zero_report", "basic", "major", "command", "other"]
KINDS: tuple[Kind, ...] = ("zero_report", "basic", "major", "command", "other")

BASIC_CATEGORIES = ("safety", "dispute", "sanitation", "facility", "security", "livelihood", "care", "other")
MAJOR_CATEGORIES = (
    "fire",
    "gas",
    "casualty",
    "violence",
    "missing",
    "self_harm",
    "mass_incident",
    "disaster",
    "other",
)
COMMANDS = ("help", "accept", "close", "escalate", "status", "stats", "bind", "ack", "rate", "zero")


@dataclass(slots=True)
class CommandArgs:
    """Arguments of a `#command`: ticket/incident refs, a grade, a rating, the rest as free text."""

    refs: list[str] = field(default_factory=list)  # normalised "R12", "M3"
    grade: str | None = None  # "A" | "B" | "C"
    rating: int | None = None  # 1..5 for #评价
    text: str = ""  # what is left after the command word, refs and grade


@dataclass(slots=True)
class PiiSpan:
    kind: Literal["mobile", "landline", "id_card"]
    start: int  # offsets into ParseResult.text (the normalised text)
    end: int


@dataclass(slots=True)
class TimeMention:
    phrase: str  # as written, e.g. "明天下午三点"
    at: datetime  # absolute, Asia/Shanghai
    deadline: bool  # "前"/"之前"/"以前" follows: a deadline rather than an appointment


@dataclass(slots=True)
class ParseResult:
    kind: Kind
    text: str  # normalised text (NFKC, simplified, quote block and leading mentions removed)
    masked_text: str  # `text` with phone / ID numbers masked: the only form that may leave the record
    category: str | None = None
    building: int | None = None
    unit: int | None = None
    floor: int | None = None
    room: str | None = None
    handled: bool | None = None
    command: str | None = None
    args: CommandArgs | None = None
    grade_hint: str | None = None  # "A" | "B" | "C" suggestion for basic situations
    times: list[TimeMention] = field(default_factory=list)
    pii: list[PiiSpan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON object `gridbot parse` prints (datetimes as ISO strings)."""
        data = asdict(self)
        data["times"] = [
            {"phrase": t.phrase, "at": t.at.isoformat(), "deadline": t.deadline} for t in self.times
        ]
        return data

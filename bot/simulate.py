"""`gridbot simulate`: the real handlers and scheduled jobs on a virtual clock and a temporary store.

Prints one JSON line per message the bot sends:
    {"at": "...+08:00", "chat": "group"|"private", "to": "<topic or name>", "kind": "<tag>",
     "text": "...", "mentions": ["name", ...]}

Scenario (YAML):
    roster: roster.yaml          # path relative to the scenario, or an inline roster mapping
    start: "2026-11-23 08:00"
    events:
      - at: "08:30"              # time of day today, "YYYY-MM-DD HH:MM", or "+15m"/"+2h"/"+1d"
        room: "3号楼微网格群"     # a group chat topic; or `private: "王书记"` for a private chat
        from: "张丽"              # a roster person; unknown names are residents
        text: "今日无情况，零报告"
        id: "m1"                  # optional message id (repeat one to test deduplication)
      - recall: "m1"             # optional: recall an earlier message by id
      - until: "2026-11-24 22:00" # let the clock run; scheduled jobs fire on the way
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

from handlers.clock import VirtualClock
from handlers.events import ChatKind, MessageRecalled, MessageReceived
from storage.models import OutboxMessage


class ScenarioError(ValueError):
    """A malformed scenario: the message names the file, the event number and the reason."""


@dataclass(frozen=True)
class Step:
    index: int  # 1-based event number, for error messages
    at: datetime
    kind: str  # message | recall | until
    room: str | None = None
    sender: str | None = None
    text: str = ""
    msg_id: str | None = None


OFFSET_RE = re.compile(r"^\+(\d+)\s*([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_when(value: object, now: datetime, where: str) -> datetime:
    """ "08:30" (today), "2026-11-24 22:00", or "+15m"; never earlier than `now`."""
    text = str(value).strip()
    tz = now.tzinfo
    try:
        if m := OFFSET_RE.match(text):
            return now + timedelta(**{UNITS[m.group(2)]: int(m.group(1))})
        if re.fullmatch(r"\d{1,2}:\d{2}", text):
            hour, minute = (int(x) for x in text.split(":"))
            return now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return datetime.fromisoformat(text).replace(tzinfo=tz)
    except ValueError as exc:
        raise ScenarioError(f"{where}：时间「{text}」无法识别（可用 08:30、2026-11-24 22:00、+15m）") from exc


def load_scenario(path: Path, tz: Any) -> tuple[dict[str, Any] | Path, datetime, list[Step]]:
    """Read and check a scenario; returns (roster mapping or path, start time, steps)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}：无法读取场景文件：{exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}：场景文件应包含 roster、start、events")
    unknown = set(data) - {"roster", "start", "events", "description"}
    if unknown:
        raise ScenarioError(f"{path}：未知的键 {sorted(unknown)}")
    roster = data.get("roster")
    if isinstance(roster, str):
        roster_ref: dict[str, Any] | Path = (path.parent / roster).resolve()
    elif isinstance(roster, dict):
        roster_ref = roster
    else:
        raise ScenarioError(f"{path}：roster 应为花名册文件路径或内联花名册")
    if "start" not in data:
        raise ScenarioError(f'{path}：缺少 start（如 "2026-11-23 08:00"）')
    start = parse_when(data["start"], datetime(2000, 1, 1, tzinfo=tz), f"{path}: start")
    events = data.get("events") or []
    if not isinstance(events, list):
        raise ScenarioError(f"{path}：events 应为列表")
    return roster_ref, start, list(_steps(path, events, start))


def _steps(path: Path, events: list[Any], start: datetime) -> Iterator[Step]:
    now = start
    for i, raw in enumerate(events, 1):
        where = f"{path}：第 {i} 个事件"
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}：应为键值对")
        allowed = {"at", "room", "private", "from", "text", "id", "until", "recall"}
        if unknown := set(raw) - allowed:
            raise ScenarioError(f"{where}：未知的键 {sorted(unknown)}")
        if "until" in raw:
            now = _later(parse_when(raw["until"], now, where), now, where)
            yield Step(i, now, "until")
            continue
        if "at" in raw:
            now = _later(parse_when(raw["at"], now, where), now, where)
        if "recall" in raw:
            yield Step(i, now, "recall", msg_id=str(raw["recall"]))
            continue
        yield _message_step(i, raw, now, where)


def _later(when: datetime, now: datetime, where: str) -> datetime:
    if when < now:
        raise ScenarioError(f"{where}：时间 {when:%Y-%m-%d %H:%M} 早于前一个事件 {now:%Y-%m-%d %H:%M}")
    return when


def _message_step(i: int, raw: dict[str, Any], now: datetime, where: str) -> Step:
    text = raw.get("text")
    if not isinstance(text, str) or not text:
        raise ScenarioError(f"{where}：缺少 text")
    if "private" in raw:
        sender = raw["private"]
        room = None
    elif "room" in raw:
        sender = raw.get("from")
        room = str(raw["room"])
    else:
        raise ScenarioError(f"{where}：需要 room（群名称）或 private（私聊的人）")
    if not isinstance(sender, str) or not sender:
        raise ScenarioError(f"{where}：缺少发送人（from）")
    msg_id = str(raw["id"]) if "id" in raw else f"sim-{i}"
    return Step(i, now, "message", room=room, sender=sender, text=text, msg_id=msg_id)


def contact_id(name: str) -> str:
    return f"sim:{name}"


def room_id(topic: str) -> str:
    return f"sim-room:{topic}"


def to_event(step: Step) -> MessageReceived | MessageRecalled:
    assert step.msg_id is not None
    if step.kind == "recall":
        return MessageRecalled(message_id=step.msg_id, at=step.at)
    assert step.sender is not None
    return MessageReceived(
        message_id=step.msg_id,
        chat=ChatKind.GROUP if step.room else ChatKind.PRIVATE,
        sender_id=contact_id(step.sender),
        sender_name=step.sender,
        text=step.text,
        at=step.at,
        room_id=room_id(step.room) if step.room else None,
        room_topic=step.room,
    )


def print_sent(rows: list[OutboxMessage], clock: VirtualClock, out: TextIO) -> None:
    for row in rows:
        line = {
            "at": row.created_at.astimezone(clock.tz).isoformat(),
            "chat": row.chat,
            "to": row.to_name,
            "kind": row.kind,
            "text": row.text,
            "mentions": row.mention_names,
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


async def run_scenario(path: Path, out: TextIO, url: str | None = None) -> int:
    """Run a scenario and print the bot's messages; returns the number printed."""
    # Imported here: `gridbot --help` and `gridbot parse` should not pay for the whole stack.
    import tempfile

    from bot.runtime import open_runtime
    from bot.scheduler import JobQueue
    from config.roster import load_roster, validate_roster
    from handlers.clock import SHANGHAI
    from handlers.pipeline import Pipeline

    roster_ref, start, steps = load_scenario(path, SHANGHAI)
    roster = load_roster(roster_ref) if isinstance(roster_ref, Path) else validate_roster(roster_ref, path)
    with tempfile.TemporaryDirectory(prefix="gridbot-sim-") as tmp:
        clock = VirtualClock(start)
        runtime = open_runtime(url or f"sqlite:///{tmp}/simulate.sqlite3", roster, clock)
        pipeline = Pipeline(runtime.session_factory, runtime.services)
        queue = JobQueue(runtime.session_factory, runtime.services)
        delivered = SimDelivery(runtime.session_factory, clock, out)
        try:
            for step in steps:
                queue.run_until(step.at)
                delivered.flush()
                if step.kind != "until":
                    await pipeline.handle(to_event(step))
                    delivered.flush()
        finally:
            runtime.engine.dispose()
        return delivered.count


class SimDelivery:
    """The simulator's connector side: every pending outbox row is 'sent' by printing it."""

    def __init__(self, session_factory: Any, clock: VirtualClock, out: TextIO) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.out = out
        self.count = 0

    def flush(self) -> None:
        from sqlmodel import col, select

        with self.session_factory() as session:
            rows = list(
                session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                    .order_by(col(OutboxMessage.id))
                )
            )
            print_sent(rows, self.clock, self.out)
            for row in rows:
                row.status = "sent"
                row.sent_at = self.clock.now()
                row.attempts += 1
                session.add(row)
            session.commit()
        self.count += len(rows)

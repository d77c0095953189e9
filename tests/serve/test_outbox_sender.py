"""The outbox sender on a real database: order per chat, retries with backoff, failures kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.connectors.base import EventSink, SendError
from bot.outbox_sender import OutboxSender, Pacing
from handlers.clock import SHANGHAI, VirtualClock
from handlers.events import ChatKind, Outbound
from storage.models import OutboxMessage
from storage.store import Store

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


class Platform:
    """A stand-in platform that records deliveries and fails on demand."""

    name = "test"
    account = "default"

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.fail: dict[str, list[SendError]] = {}

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        errors = self.fail.get(message.text)
        if errors:
            raise errors.pop(0)
        self.delivered.append(message.text)
        return f"pid-{len(self.delivered)}"


def enqueue(engine: Engine, to: str, text: str) -> None:
    with Session(engine) as s:
        Store(s).enqueue(
            Outbound(chat=ChatKind.GROUP, to_id=to, to_name=to, kind="reply", text=text, dedupe_key=text), T0
        )
        s.commit()


def rows(engine: Engine) -> dict[str, OutboxMessage]:
    with Session(engine) as s:
        return {r.text: r for r in s.exec(select(OutboxMessage))}


async def drain(sender: OutboxSender, clock: VirtualClock, rounds: int = 20) -> None:
    for _ in range(rounds):
        if not await sender.send_one():
            clock.advance(timedelta(seconds=30))


def sender_for(engine: Engine, platform: Platform, clock: VirtualClock) -> OutboxSender:
    return OutboxSender(
        lambda: Session(engine, expire_on_commit=False), platform, clock, Pacing(per_minute=0)
    )


async def test_sent_rows_are_marked_with_the_platform_id(engine: Engine) -> None:
    platform, clock = Platform(), VirtualClock(T0)
    enqueue(engine, "room-a", "a1")
    await drain(sender_for(engine, platform, clock), clock)
    row = rows(engine)["a1"]
    assert platform.delivered == ["a1"] and row.status == "sent" and row.platform_msg_id == "pid-1"


async def test_a_failing_message_holds_back_its_chat_but_not_others(engine: Engine) -> None:
    platform, clock = Platform(), VirtualClock(T0)
    for to, text in (("room-a", "a1"), ("room-a", "a2"), ("room-b", "b1")):
        enqueue(engine, to, text)
    platform.fail["a1"] = [SendError("network down")]
    sender = sender_for(engine, platform, clock)
    await sender.send_one()  # a1 fails, backs off
    await sender.send_one()  # a2 must wait behind a1; b1 goes
    assert platform.delivered == ["b1"]
    assert rows(engine)["a1"].status == "pending" and rows(engine)["a1"].last_error == "network down"
    await drain(sender, clock)
    assert platform.delivered == ["b1", "a1", "a2"]  # room-a kept its order


async def test_permanent_failure_is_kept_not_dropped(engine: Engine) -> None:
    platform, clock = Platform(), VirtualClock(T0)
    enqueue(engine, "room-a", "x")
    platform.fail["x"] = [SendError("no such room", retryable=False)]
    await drain(sender_for(engine, platform, clock), clock)
    row = rows(engine)["x"]
    assert row.status == "failed" and row.attempts == 1 and "no such room" in row.last_error


async def test_gives_up_after_max_attempts_with_growing_backoff(engine: Engine) -> None:
    platform, clock = Platform(), VirtualClock(T0)
    enqueue(engine, "room-a", "y")
    platform.fail["y"] = [SendError("busy")] * 20
    sender = sender_for(engine, platform, clock)
    sender.pacing = Pacing(per_minute=0, max_attempts=3)
    waits = [sender.backoff(n).total_seconds() for n in (1, 2, 3)]
    assert waits[0] < waits[1] < waits[2]
    for _ in range(12):
        await sender.send_one()
        clock.advance(timedelta(minutes=10))
    assert rows(engine)["y"].status == "failed" and rows(engine)["y"].attempts == 3


async def test_rows_left_sending_by_a_crash_are_sent_again(engine: Engine) -> None:
    platform, clock = Platform(), VirtualClock(T0)
    enqueue(engine, "room-a", "z")
    crashed = sender_for(engine, platform, clock)
    assert crashed.pick() is not None  # marked sending, then the process dies before sending
    await drain(sender_for(engine, platform, clock), clock)
    assert platform.delivered == ["z"] and rows(engine)["z"].attempts == 2


async def test_a_row_being_sent_by_another_worker_is_left_alone_until_its_lease_runs_out(
    engine: Engine,
) -> None:
    platform, clock = Platform(), VirtualClock(T0)
    enqueue(engine, "room-a", "w")
    factory = lambda: Session(engine, expire_on_commit=False)  # noqa: E731
    first = OutboxSender(factory, platform, clock, Pacing(per_minute=0), worker="w1")
    second = OutboxSender(factory, platform, clock, Pacing(per_minute=0), worker="w2")
    assert first.pick() is not None  # w1 claims it, then dies without sending
    assert second.pick() is None  # w1's lease still runs: w2 must not send it too
    clock.advance(timedelta(seconds=61))
    assert await second.send_one()  # the lease ran out: w2 takes over
    assert platform.delivered == ["w"] and rows(engine)["w"].status == "sent"

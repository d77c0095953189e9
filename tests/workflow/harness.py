"""A chat harness over the real pipeline, a real database and a virtual clock (workflow tests)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from config.roster import apply_roster, load_roster
from handlers.clock import SHANGHAI, VirtualClock
from handlers.context import Services
from handlers.events import ChatKind, MessageReceived
from handlers.pipeline import Outcome, Pipeline
from handlers.policy import WorkflowPolicy
from handlers.templates import Templates
from storage.models import OutboxMessage, Person
from storage.store import Store

T = TypeVar("T", bound=SQLModel)

DEMO_ROSTER = Path(__file__).resolve().parents[2] / "config" / "demo_roster.yaml"
START = datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)  # a Monday
# The demo roster's identity rule (`identity.claim_by_name: true`): roster people are recognised
# by display name on first sight. Pass a policy without it to test claim codes.
DEMO_POLICY = WorkflowPolicy(claim_by_name=True)


class Chat:
    """Speak as roster people or residents; read what the bot put in the outbox."""

    def __init__(self, engine: Engine, policy: WorkflowPolicy | None = None, start: datetime = START) -> None:
        self.engine = engine
        self.clock = VirtualClock(start)
        self.services = Services(clock=self.clock, policy=policy or DEMO_POLICY, texts=Templates())
        self.pipeline = Pipeline(self.session, self.services)
        self._ids = itertools.count(1)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def advance(self, **kwargs: float) -> None:
        self.clock.advance(timedelta(**kwargs))

    def event(self, who: str, text: str, topic: str | None, msg_id: str | None = None) -> MessageReceived:
        return MessageReceived(
            message_id=msg_id or f"m{next(self._ids)}",
            chat=ChatKind.GROUP if topic else ChatKind.PRIVATE,
            sender_id=f"wx:{who}",
            sender_name=who,
            text=text,
            at=self.clock.now(),
            room_id=f"room:{topic}" if topic else None,
            room_topic=topic,
        )

    async def group(self, topic: str, who: str, text: str, msg_id: str | None = None) -> Outcome:
        return await self.pipeline.handle(self.event(who, text, topic, msg_id))

    async def private(self, who: str, text: str, msg_id: str | None = None) -> Outcome:
        return await self.pipeline.handle(self.event(who, text, None, msg_id))

    def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        with self.session() as s:
            rows = Store(s).outbox()
        return [r for r in rows if kind is None or r.kind == kind]

    def person(self, name: str) -> Person:
        with self.session() as s:
            person = s.exec(select(Person).where(Person.name == name)).first()
        assert person is not None, name
        return person

    def one(self, model: type[T]) -> T:
        """The single row of a table (asserting there is exactly one)."""
        with self.session() as s:
            return s.exec(select(model)).one()


@pytest.fixture
def roster_loaded(engine: Engine) -> Engine:
    """The demo roster applied to the (SQLite or PostgreSQL) test database."""
    with Session(engine) as session:
        apply_roster(session, load_roster(DEMO_ROSTER))
        session.commit()
    return engine

"""Wiring shared by `gridbot simulate`, `gridbot serve` and the tests: database, roster, services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

from config.roster import Roster, apply_roster
from handlers.clock import Clock
from handlers.context import Services
from handlers.policy import WorkflowPolicy
from handlers.templates import Templates
from handlers.workdays import WorkCalendar
from storage.db import make_engine
from storage.migrate import upgrade

ROSTER_LOCK = 0x67726964  # "grid": the advisory lock key for applying a roster


def policy_from_roster(roster: Roster) -> WorkflowPolicy:
    return roster.workflow_policy()


@dataclass
class Runtime:
    engine: Engine
    services: Services

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @property
    def session_factory(self) -> Callable[[], Session]:
        return self.session


def open_runtime(
    url: str | None, roster: Roster | None, clock: Clock, holiday_file: Path | None = None
) -> Runtime:
    """Upgrade the database to head, apply the roster (if given) and build the services."""
    upgrade(url)
    # BEGIN IMMEDIATE on SQLite: the pipeline, the outbox sender and the scheduler write from
    # different threads; a read transaction upgrading to a write would fail at once with
    # "database is locked" instead of waiting its turn on busy_timeout.
    engine = make_engine(url, sqlite_immediate=True, sqlite_checkpointer=True)
    policy = policy_from_roster(roster) if roster is not None else WorkflowPolicy()
    if roster is not None:
        with Session(engine) as session:
            if engine.dialect.name == "postgresql":
                # Workers starting together apply the same roster one after another, not racing
                # on the same unique codes (released at commit).
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROSTER_LOCK})
            apply_roster(session, roster)
            session.commit()
    if holiday_file is None and roster is not None:
        holiday_file = roster.policy.grading.holiday_file
    services = Services(clock=clock, policy=policy, texts=Templates(), calendar=WorkCalendar(holiday_file))
    return Runtime(engine=engine, services=services)

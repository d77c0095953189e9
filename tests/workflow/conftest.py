"""Fixtures: the demo roster loaded into the (SQLite or PostgreSQL) test database, and a chat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from config.roster import apply_roster, load_roster
from tests.workflow.harness import DEMO_ROSTER, Chat


@pytest.fixture
def roster_loaded(engine: Engine) -> Engine:
    with Session(engine) as session:
        apply_roster(session, load_roster(DEMO_ROSTER))
        session.commit()
    return engine


@pytest.fixture
def chat(roster_loaded: Engine) -> Iterator[Chat]:
    yield Chat(roster_loaded)

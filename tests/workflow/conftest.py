"""Fixtures: the demo roster loaded into the (SQLite or PostgreSQL) test database, and a chat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.workflow.harness import Chat, roster_loaded

__all__ = ["chat", "roster_loaded"]


@pytest.fixture
def chat(roster_loaded: Engine) -> Iterator[Chat]:
    yield Chat(roster_loaded)

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine
from sqlmodel import Session

from bot.dashboard import mount_dashboard
from handlers.clock import VirtualClock
from tests.dashboard.seed import NOW, PASSWORD, Seeded, csrf_of, seed

SECRET = b"test-secret-0123456789abcdef"


@pytest.fixture
def seeded(session: Session, tmp_path: Path) -> Seeded:
    return seed(session, tmp_path / "data")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW)


def build_app(engine: Engine, clock: VirtualClock, data_dir: Path) -> web.Application:
    app = web.Application()
    mount_dashboard(app, lambda: Session(engine, expire_on_commit=False), clock, SECRET, data_dir=data_dir)
    return app


@pytest.fixture
async def client(
    engine: Engine, seeded: Seeded, clock: VirtualClock, tmp_path: Path
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = build_app(engine, clock, tmp_path / "data")
    async with TestClient(TestServer(app)) as c:
        yield c


Login = Callable[[TestClient[web.Request, web.Application], str], Awaitable[None]]


async def login(c: TestClient[web.Request, web.Application], username: str, password: str = PASSWORD) -> int:
    page = await (await c.get("/admin/login")).text()
    resp = await c.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf": csrf_of(page), "next": "/admin"},
        allow_redirects=False,
    )
    return resp.status

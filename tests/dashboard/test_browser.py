"""The dashboard in a real browser (Debian's Chromium through Playwright; never `playwright install`).

Serves the app from an in-process aiohttp server on 127.0.0.1 with seeded data, logs in, reads
today's status, filters tickets, opens one, downloads the .xlsx ledger and reads it back, and saves
screenshots of every page at desktop and phone size into artifacts/dashboard/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from aiohttp import web
from sqlmodel import Session

from handlers.clock import VirtualClock
from storage.db import make_engine
from storage.migrate import upgrade
from tests.dashboard.conftest import build_app
from tests.dashboard.seed import NOW, PASSWORD, Seeded, seed

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "dashboard"

sync_api = pytest.importorskip("playwright.sync_api")


def _require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} missing (CI is set: the browser tests must run)", pytrace=False)
    pytest.skip(f"{CHROMIUM} not installed")


class _Server:
    """The dashboard on an ephemeral port, in a thread with its own event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    def start(self) -> str:
        self.thread.start()
        assert self.ready.wait(10), "server did not start"
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    _require_chromium()
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'gridbot.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        seeded = seed(s, folder / "data")
    server = _Server(build_app(engine, VirtualClock(NOW), folder / "data"))
    base = server.start()
    try:
        yield base, seeded
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser(served: tuple[str, Seeded]) -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _login(page: object, base: str, username: str = "a_admin", password: str = PASSWORD) -> None:
    page.goto(f"{base}/admin/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]


def test_refused_without_session_or_with_wrong_password(served: tuple[str, Seeded], browser: object) -> None:
    base, _ = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{base}/admin/tickets")
    assert "/admin/login?next=" in page.url and page.url.endswith("tickets")
    assert page.request.get(f"{base}/admin/api/tickets").status == 401
    _login(page, base, password="wrong-password")
    assert "/admin/login" in page.url
    assert "用户名或密码错误" in page.locator(".alert").inner_text()
    page.screenshot(path=str(SHOTS / "login-error-phone.png"), full_page=True)
    assert page.request.get(f"{base}/admin/api/me").status == 401
    context.close()


def test_supervisor_flow_and_screenshots(served: tuple[str, Seeded], browser: object, tmp_path: Path) -> None:
    base, seeded = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{base}/admin/login")
    page.screenshot(path=str(SHOTS / "login-desktop.png"), full_page=True)
    _login(page, base)
    page.wait_for_url(f"{base}/admin")
    # today
    assert page.locator(".tile").count() == 5
    assert page.locator(".tile.t-major .gname").inner_text() == "3号楼"
    assert page.locator(".tile.t-missed").count() == 2
    # tickets: filter overdue, open the one found
    page.click("nav.tabs >> text=诉求")
    page.select_option("select[name=overdue]", "1")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/admin/tickets?*overdue=1*")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1
    number = f"R{seeded.tickets['overdue']}"
    page.click(f"text={number}")
    page.wait_for_url(f"**/admin/tickets/{seeded.tickets['overdue']}")
    assert "已超时" in page.locator(".sla-text").inner_text()
    assert page.locator("ol.timeline li").count() == 4
    assert page.locator(".photo img").evaluate("img => img.naturalWidth") == 1
    assert "<script>" in page.locator("dl.facts").inner_text()  # the name shows as text, not markup
    # export: download the .xlsx and read it back
    page.goto(f"{base}/admin/export")
    page.fill("input[name=from]", "2026-11-01")
    page.fill("input[name=to]", "2026-11-20")
    with page.expect_download() as info:
        page.click("#download")
    target = tmp_path / "ledger.xlsx"
    info.value.save_as(str(target))
    assert info.value.suggested_filename == "台账_20261101-20261120.xlsx"
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["巡查台账", "事项台账", "重大情况台账", "积分台账"]
    assert wb["事项台账"].max_row == 5

    pages = {
        "today": "/admin",
        "compliance": "/admin/compliance",
        "tickets": "/admin/tickets",
        "ticket": f"/admin/tickets/{seeded.tickets['overdue']}",
        "incidents": "/admin/incidents",
        "people": "/admin/people",
        "export": "/admin/export",
        "roster": "/admin/roster",
    }
    cookies = context.cookies()
    phone = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone.add_cookies(cookies)
    phone_page = phone.new_page()
    for name, path in pages.items():
        for size, p in (("desktop", page), ("phone", phone_page)):
            p.goto(f"{base}{path}")
            p.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
        # nothing wider than the phone screen except inside scroll boxes
        overflow = phone_page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, (name, overflow)
    phone_page.goto(f"{base}/admin/login")
    phone.close()
    context.close()

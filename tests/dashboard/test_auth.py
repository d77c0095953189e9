"""Dashboard tests that change the database or the clock (login counters, lockout, roster import,
photo paths, session expiry): each gets freshly seeded tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import Session, col, select

from bot.dashboard.auth import hash_password, verify_password
from handlers.clock import VirtualClock
from storage.models import DashboardUser, MicroGrid, Ticket
from tests.dashboard.conftest import login
from tests.dashboard.seed import PASSWORD, Seeded, csrf_of

Client = TestClient[web.Request, web.Application]


def test_password_hash_roundtrip() -> None:
    stored = hash_password("秘密 pass", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("秘密 pass", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("x", "md5$abc")
    assert hash_password("same", n=2**10) != hash_password("same", n=2**10)  # per-user salt


async def test_login_ok_and_logout(client: Client) -> None:
    assert await login(client, "a_admin") == 302
    page = await client.get("/admin")
    assert page.status == 200
    text = await page.text()
    assert "今日巡查" in text and "1号楼" in text
    cookie = next(c for c in client.session.cookie_jar if c.key == "gridbot_admin")
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
    logout = await client.post("/admin/logout", data={"csrf": csrf_of(text)}, allow_redirects=False)
    assert logout.status == 302 and logout.headers["Location"] == "/admin/login"
    again = await client.get("/admin", allow_redirects=False)
    assert again.status == 302


async def test_login_wrong_password_refused(client: Client) -> None:
    assert await login(client, "a_admin", "nope") == 401
    assert await login(client, "nobody", "nope") == 401
    resp = await client.get("/admin/api/me")
    assert resp.status == 401


async def test_lockout_after_five_failures(client: Client, engine: object, clock: VirtualClock) -> None:
    for _ in range(4):
        assert await login(client, "a_admin", "bad") == 401
    page = await (await client.get("/admin/login")).text()
    resp = await client.post(
        "/admin/login", data={"username": "a_admin", "password": "bad", "csrf": csrf_of(page)}
    )
    assert resp.status == 401 and "锁定" in await resp.text()
    with Session(engine) as s:  # type: ignore[arg-type]
        user = s.exec(select(DashboardUser).where(col(DashboardUser.username) == "a_admin")).one()
        assert user.locked_until is not None and user.locked_until > clock.now()
    # even the right password is refused while locked
    page = await (await client.get("/admin/login")).text()
    resp = await client.post(
        "/admin/login", data={"username": "a_admin", "password": PASSWORD, "csrf": csrf_of(page)}
    )
    assert resp.status == 401 and "锁定" in await resp.text()
    clock.advance(timedelta(minutes=16))
    assert await login(client, "a_admin") == 302
    with Session(engine) as s:  # type: ignore[arg-type]
        user = s.exec(select(DashboardUser).where(col(DashboardUser.username) == "a_admin")).one()
        assert user.failed_logins == 0 and user.locked_until is None


async def test_bearer_token_and_expiry(client: Client, clock: VirtualClock) -> None:
    await login(client, "a_admin")
    token = next(c.value for c in client.session.cookie_jar if c.key == "gridbot_admin")
    client.session.cookie_jar.clear()
    resp = await client.get("/admin/api/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and (await resp.json())["username"] == "a_admin"
    clock.advance(timedelta(hours=9))
    resp = await client.get("/admin/api/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 401


async def test_photo_served_safely(client: Client, seeded: Seeded, engine: object) -> None:
    await login(client, "a_admin")
    tid = seeded.tickets["overdue"]
    resp = await client.get(f"/admin/tickets/{tid}/photo")
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    with Session(engine) as s:  # type: ignore[arg-type]
        ticket = s.get(Ticket, tid)
        assert ticket is not None
        ticket.photo_path = "../../../../etc/passwd"
        s.add(ticket)
        s.commit()
    assert (await client.get(f"/admin/tickets/{tid}/photo")).status == 404
    assert (await client.get(f"/admin/tickets/{seeded.tickets['open_b']}/photo")).status == 404
    assert (await client.get("/admin/tickets/..%2F..%2Fetc/photo")).status == 404


ROSTER_HEADER = "社区,街道,综合网格,微网格,类型,角色,姓名,手机号,楼栋,社区编码,综合网格编码,微网格编码\n"


async def _upload(client: Client, name: str, body: str) -> tuple[int, str]:
    page = await (await client.get("/admin/roster")).text()
    from aiohttp import FormData

    form = FormData()
    form.add_field("csrf", csrf_of(page))
    form.add_field("file", body.encode("utf-8"), filename=name, content_type="text/csv")
    resp = await client.post("/admin/roster", data=form)
    return resp.status, await resp.text()


async def test_roster_import_validates_then_confirms(client: Client, engine: object) -> None:
    await login(client, "a_admin")
    bad = ROSTER_HEADER + (
        "幸福里社区,解放街道,第一综合网格,9号楼,住宅,组长,某人,13900009999,9,XFL,XFL-1,XFL-G9\n"
        "幸福里社区,解放街道,第一综合网格,9号楼,住宅,微网格长,孙七,13900008888,A座,XFL,XFL-1,XFL-G9\n"
    )
    status, text = await _upload(client, "花名册.csv", bad)
    assert status == 422
    assert "第 2 行" in text and "第 3 行" in text and "未导入任何数据" in text
    other = (
        ROSTER_HEADER
        + "和平社区,东风街道,和平第一综合网格,和平9号楼,住宅,微网格长,孙七,13900008888,9,HP,HP-1,HP-G9\n"
    )
    status, text = await _upload(client, "和平.csv", other)
    assert status == 422 and "不在您的管理范围内" in text
    with Session(engine) as s:  # type: ignore[arg-type]
        assert s.exec(select(MicroGrid).where(col(MicroGrid.code) == "HP-G9")).first() is None
    good = (
        ROSTER_HEADER
        + "幸福里社区,解放街道,第一综合网格,9号楼,住宅,微网格长,孙七,13900008888,9,XFL,XFL-1,XFL-G9\n"
    )
    status, text = await _upload(client, "花名册.csv", good)
    assert status == 200 and "校验通过" in text
    with Session(engine) as s:  # type: ignore[arg-type]
        assert s.exec(select(MicroGrid).where(col(MicroGrid.code) == "XFL-G9")).first() is None  # not yet
    token = re.search(r'name="token" value="([^"]+)"', text)
    assert token
    resp = await client.post("/admin/roster/confirm", data={"csrf": csrf_of(text), "token": token.group(1)})
    done = await resp.text()
    assert resp.status == 200 and "导入完成" in done
    with Session(engine) as s:  # type: ignore[arg-type]
        grid = s.exec(select(MicroGrid).where(col(MicroGrid.code) == "XFL-G9")).one()
        assert grid.name == "9号楼" and grid.active
    # the token is single-use
    again = await client.post("/admin/roster/confirm", data={"csrf": csrf_of(done), "token": token.group(1)})
    assert again.status == 400

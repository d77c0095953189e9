"""Read-only dashboard tests on SQLite and PostgreSQL: one seeded database per backend for the whole
module (wiping and seeding per test would cost most of the time budget on PostgreSQL)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine
from sqlmodel import Session

from bot.dashboard.api import openapi_document
from handlers.clock import VirtualClock
from tests.conftest import BACKENDS
from tests.dashboard.conftest import build_app, login
from tests.dashboard.seed import (
    EVIL_NAME,
    LEADER_PHONE,
    PASSWORD,
    RESIDENT_PHONE,
    TODAY,
    Seeded,
    csrf_of,
    seed,
)

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, _databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Engine, Seeded, Path]:
    """One seeded database per backend for this module: these tests only read."""
    db = _databases.get(request.param)
    db.wipe()
    data = tmp_path_factory.mktemp("dashboard") / "data"
    with Session(db.engine, expire_on_commit=False) as s:
        seeded = seed(s, data)
    return db.engine, seeded, data


@pytest.fixture
def seeded(shared: tuple[Engine, Seeded, Path]) -> Seeded:
    return shared[1]


@pytest.fixture
async def client(shared: tuple[Engine, Seeded, Path], clock: VirtualClock) -> AsyncIterator[Client]:
    engine, _, data = shared
    async with TestClient(TestServer(build_app(engine, clock, data))) as c:
        yield c


async def test_csrf_required(client: Client) -> None:
    # login form: no token, or a token that does not match the cookie
    resp = await client.post("/admin/login", data={"username": "a_admin", "password": PASSWORD})
    assert resp.status == 403
    await client.get("/admin/login")
    resp = await client.post(
        "/admin/login", data={"username": "a_admin", "password": PASSWORD, "csrf": "forged"}
    )
    assert resp.status == 403
    assert await login(client, "a_admin") == 302
    for path in ("/admin/logout", "/admin/roster", "/admin/roster/confirm"):
        resp = await client.post(path, data={"token": "x"}, allow_redirects=False)
        assert resp.status == 403, path
        resp = await client.post(path, data={"csrf": "forged"}, allow_redirects=False)
        assert resp.status == 403, path
    assert (await client.get("/admin/api/me")).status == 200  # still logged in


async def test_no_session_redirects_or_401(client: Client) -> None:
    for path in ("/admin", "/admin/tickets", "/admin/tickets/1", "/admin/export/download", "/admin/roster"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302, path
        assert resp.headers["Location"].startswith("/admin/login?next="), path
    for path in ("/admin/api/today", "/admin/api/tickets", "/admin/api/tickets/1", "/admin/api/points"):
        resp = await client.get(path)
        assert resp.status == 401, path
        assert "error" in await resp.json()
    forged = await client.get("/admin/api/me", headers={"Authorization": "Bearer 1.9999999999.abc.def"})
    assert forged.status == 401


async def test_next_parameter_is_local_only(client: Client) -> None:
    page = await (await client.get("/admin/login?next=//evil.example/x")).text()
    resp = await client.post(
        "/admin/login",
        data={
            "username": "a_admin",
            "password": PASSWORD,
            "csrf": csrf_of(page),
            "next": "https://evil.example",
        },
        allow_redirects=False,
    )
    assert resp.status == 302 and resp.headers["Location"] == "/admin"


async def test_community_scope_pages_and_api(client: Client, seeded: Seeded) -> None:
    await login(client, "a_admin")
    for path in (
        "/admin",
        "/admin/compliance",
        "/admin/tickets",
        "/admin/incidents",
        "/admin/people",
        "/admin/export",
    ):
        text = await (await client.get(path)).text()
        assert "和平" not in text, path
    assert (await client.get(f"/admin/tickets/{seeded.tickets['b_secret']}")).status == 404
    assert (await client.get(f"/admin/api/tickets/{seeded.tickets['b_secret']}")).status == 404
    tickets = (await (await client.get("/admin/api/tickets")).json())["tickets"]
    assert {t["id"] for t in tickets} == {v for k, v in seeded.tickets.items() if k != "b_secret"}
    incidents = (await (await client.get("/admin/api/incidents")).json())["incidents"]
    assert [i["id"] for i in incidents] == [seeded.incident_a]
    grids = (await (await client.get("/admin/api/grids")).json())["grids"]
    assert sorted(g["id"] for g in grids) == sorted(seeded.grids_a)
    today = await (await client.get("/admin/api/today")).json()
    assert today["total"] == 5 and "和平" not in str(today)
    comp = await (await client.get("/admin/api/compliance")).json()
    assert "和平" not in str(comp)
    points = await (await client.get("/admin/api/points?month=2026-11")).json()
    assert "和平" not in str(points) and all(r["points"] < 50 for r in points["ranking"])


async def test_other_community_sees_only_its_own(client: Client, seeded: Seeded) -> None:
    await login(client, "b_admin")
    tickets = (await (await client.get("/admin/api/tickets")).json())["tickets"]
    assert [t["id"] for t in tickets] == [seeded.tickets["b_secret"]]
    assert (await client.get(f"/admin/api/tickets/{seeded.tickets['overdue']}")).status == 404
    assert (await client.get(f"/admin/tickets/{seeded.tickets['overdue']}/photo")).status == 404
    text = await (await client.get("/admin")).text()
    assert "和平1号楼" in text and "幸福里" not in text
    incidents = (await (await client.get("/admin/api/incidents")).json())["incidents"]
    assert [i["id"] for i in incidents] == [seeded.incident_b]


async def test_street_account_sees_its_street(client: Client, seeded: Seeded) -> None:
    await login(client, "street_jf")
    me = await (await client.get("/admin/api/me")).json()
    assert me["community_ids"] == [seeded.community_a]
    tickets = (await (await client.get("/admin/api/tickets")).json())["tickets"]
    assert seeded.tickets["b_secret"] not in {t["id"] for t in tickets}


async def test_today_status(client: Client) -> None:
    await login(client, "a_admin")
    data = await (await client.get("/admin/api/today")).json()
    assert data["day"] == TODAY.isoformat()
    status = {g["name"]: g["status"] for c in data["comp_grids"] for g in c["grids"]}
    assert status == {
        "1号楼": "zero",
        "2号楼": "basic",
        "3号楼": "major",
        "4号楼": "missed",
        "临街商户": "missed",
    }
    assert data["counts"] == {"zero": 1, "basic": 1, "major": 1, "missed": 2}
    html = await (await client.get("/admin")).text()
    assert html.count('class="tile t-missed"') == 2 and "第二综合网格" in html
    assert (await client.get("/admin/api/today?day=bad")).status == 400


async def test_compliance(client: Client) -> None:
    await login(client, "a_admin")
    data = await (await client.get("/admin/api/compliance")).json()
    assert len(data["days"]) == 30 and data["days"][-1] == (TODAY - timedelta(days=1)).isoformat()
    grids = {g["name"]: g for c in data["comp_grids"] for g in c["grids"]}
    assert grids["1号楼"]["rate"] == 1.0
    assert grids["临街商户"]["reported"] == 15
    html = await (await client.get("/admin/compliance")).text()
    assert "<svg" in html and "100%" in html


async def test_ticket_filters(client: Client, seeded: Seeded) -> None:
    await login(client, "a_admin")

    async def ids(query: str) -> set[int]:
        resp = await client.get(f"/admin/api/tickets?{query}")
        assert resp.status == 200, query
        return {t["id"] for t in (await resp.json())["tickets"]}

    t = seeded.tickets
    assert await ids("status=accepted") == {t["overdue"]}
    assert await ids("grade=B") == {t["open_b"]}
    assert await ids("category=sanitation") == {t["rated"]}
    assert await ids(f"grid={seeded.grids_a[4]}") == {t["suspended"]}
    assert await ids("overdue=1") == {t["overdue"]}
    assert t["overdue"] not in await ids("overdue=0")
    assert await ids("grade=A&status=rated") == {t["rated"]}
    assert (await client.get("/admin/api/tickets?grade=Z")).status == 400
    html = await (await client.get("/admin/tickets?overdue=1")).text()
    assert f"R{t['overdue']}" in html and f"R{t['open_b']}</a>" not in html


async def test_ticket_history_and_sla(client: Client, seeded: Seeded) -> None:
    await login(client, "a_admin")
    tid = seeded.tickets["overdue"]
    data = await (await client.get(f"/admin/api/tickets/{tid}")).json()
    assert [e["action"] for e in data["events"]] == ["opened", "photo", "accepted", "escalated"]
    assert data["overdue"] is True and data["seconds_left"] == -24 * 3600
    assert data["photo_url"] == f"/admin/tickets/{tid}/photo"
    assert all("images" not in e["note"] for e in data["events"])  # no file paths leak
    html = await (await client.get(f"/admin/tickets/{tid}")).text()
    assert "已超时 1天0小时" in html and "接单" in html and "升级督办" in html
    ok = await (await client.get(f"/admin/api/tickets/{seeded.tickets['open_b']}")).json()
    assert ok["seconds_left"] == 3 * 86400 - 5 * 3600
    rated = await (await client.get(f"/admin/api/tickets/{seeded.tickets['rated']}")).json()
    assert rated["in_time"] is True and rated["rating"] == 5 and rated["seconds_left"] is None


async def test_incident_chain(client: Client) -> None:
    await login(client, "a_admin")
    [incident] = (await (await client.get("/admin/api/incidents")).json())["incidents"]
    assert incident["minutes_to_ack"] == 7.0 and incident["acked_by"] == "赵书记"
    assert [a["action"] for a in incident["alerts"]] == ["alert", "escalation", "ack"]
    html = await (await client.get("/admin/incidents")).text()
    assert "用时 7.0 分钟" in html and "升级提醒" in html and "钱主任" in html


async def test_points_ranking_by_month(client: Client) -> None:
    await login(client, "a_admin")
    nov = await (await client.get("/admin/api/points?month=2026-11")).json()
    assert [(r["rank"], r["name"], r["points"]) for r in nov["ranking"]][:2] == [
        (1, "张伟", 12),
        (2, "李娜", 3),
    ]
    oct_ = await (await client.get("/admin/api/points?month=2026-10")).json()
    assert [(r["name"], r["points"]) for r in oct_["ranking"]] == [("张伟", 2)]
    assert (await client.get("/admin/api/points?month=2026-13")).status == 400
    html = await (await client.get("/admin/people?month=2026-11")).text()
    assert "张伟" in html and "2026年11月" in html


async def test_pii_masked_unless_allowed(client: Client, seeded: Seeded) -> None:
    tid = seeded.tickets["overdue"]
    await login(client, "a_admin")
    masked = await (await client.get(f"/admin/api/tickets/{tid}")).json()
    assert masked["reporter_phone"] == "139****1111" and masked["original_text"] is None
    html = await (await client.get(f"/admin/tickets/{tid}")).text()
    today = await (await client.get("/admin")).text()
    assert RESIDENT_PHONE not in html and RESIDENT_PHONE not in today and "139****1111" in today
    client.session.cookie_jar.clear()
    await login(client, "a_pii")
    full = await (await client.get(f"/admin/api/tickets/{tid}")).json()
    assert full["reporter_phone"] == RESIDENT_PHONE and RESIDENT_PHONE in full["original_text"]
    assert RESIDENT_PHONE in await (await client.get("/admin")).text()
    assert LEADER_PHONE not in await (await client.get("/admin")).text()


async def test_markup_in_names_is_escaped(client: Client, seeded: Seeded) -> None:
    await login(client, "a_admin")
    html = await (await client.get(f"/admin/tickets/{seeded.tickets['overdue']}")).text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;王五" in html
    assert "<script>alert" not in html
    people = await (await client.get("/admin/people")).text()
    assert "<script>alert" not in people and "&lt;script&gt;" in people
    data = await (await client.get(f"/admin/api/tickets/{seeded.tickets['overdue']}")).json()
    assert data["reporter"] == EVIL_NAME  # JSON carries the text as is; it is data, not markup


async def test_security_headers(client: Client) -> None:
    await login(client, "a_admin")
    resp = await client.get("/admin")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    css = await client.get("/admin/static/dashboard.css")
    assert css.status == 200 and "text/css" in css.headers["Content-Type"]
    assert (await client.get("/admin/static/..%2Fweb.py")).status == 404


async def test_openapi_lists_served_paths(client: Client) -> None:
    resp = await client.get("/admin/api/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.") and doc == openapi_document()
    served = set()
    for resource in client.app.router.resources():
        path = resource.canonical
        if path.startswith("/admin/api/"):
            served.add(re.sub(r"\{[^}]+\}", "{ticket_id}", path))
    assert served == set(doc["paths"])
    for item in doc["paths"].values():
        for op in item.values():
            for ref in re.findall(r"#/components/schemas/(\w+)", str(op)):
                assert ref in doc["components"]["schemas"]


async def test_export_download(client: Client, seeded: Seeded) -> None:
    await login(client, "a_admin")
    resp = await client.get(
        f"/admin/export/download?from=2026-11-01&to=2026-11-20&format=xlsx&grid={seeded.grids_a[0]}"
    )
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(await resp.read()))
    assert wb.sheetnames == ["巡查台账", "事项台账", "重大情况台账", "积分台账"]
    patrol = wb["巡查台账"]
    assert {row[2] for row in patrol.iter_rows(min_row=2, values_only=True)} == {"1号楼"}
    tickets = [row[0] for row in wb["事项台账"].iter_rows(min_row=2, values_only=True)]
    assert tickets == [f"R{seeded.tickets['overdue']}"]
    zipped = await client.get("/admin/export/download?from=2026-11-01&to=2026-11-20&format=csv")
    assert zipped.headers["Content-Type"] == "application/zip"
    bad = await client.get("/admin/export/download?from=2026-11-20&to=2026-11-01")
    assert bad.status == 400 and "结束日期" in await bad.text()

"""台账 files: read the .xlsx back with openpyxl, check CSV encoding, masking and the CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session, col, select

from bot.dashboard.ledgers import LedgerRequest, all_communities, build_ledgers, render
from bot.dashboard.queries import Viewer
from handlers.clock import SHANGHAI
from storage.models import DashboardUser
from tests.dashboard.seed import LEADER_PHONE, RESIDENT_PHONE, Seeded

ROOT = Path(__file__).resolve().parents[2]
NOV = LedgerRequest(date(2026, 11, 1), date(2026, 11, 20))


def test_xlsx_sheets_header_dates_and_masking(session: Session, seeded: Seeded) -> None:
    viewer = Viewer(frozenset({seeded.community_a}))
    name, ctype, data = render(build_ledgers(session, viewer, NOV, SHANGHAI), NOV, "xlsx")
    assert name == "台账_20261101-20261120.xlsx" and ctype.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["巡查台账", "事项台账", "重大情况台账", "积分台账"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width > 5
    patrol = wb["巡查台账"]
    assert [c.value for c in patrol[1]][:6] == ["日期", "综合网格", "微网格", "报告人", "联系电话", "类型"]
    first = patrol[2]
    assert isinstance(first[0].value, datetime) and first[0].number_format == "yyyy-mm-dd"
    assert first[0].value == datetime(2026, 11, 1)
    kinds = {r[5] for r in patrol.iter_rows(min_row=2, values_only=True)}
    assert kinds == {"零报告", "基本情况", "重大情况", "漏报"}
    phones = {r[4] for r in patrol.iter_rows(min_row=2, values_only=True)}
    assert "138****5678" in phones and LEADER_PHONE not in phones
    tickets = wb["事项台账"]
    header = [c.value for c in tickets[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in tickets.iter_rows(min_row=2, values_only=True)}
    overdue = rows[f"R{seeded.tickets['overdue']}"]
    # 2026-11-18 10:00 Shanghai, as a real date cell in local time
    assert overdue["上报时间"] == datetime(2026, 11, 18, 10, 0)
    assert overdue["联系电话"] == "139****1111" and RESIDENT_PHONE not in overdue["内容"]
    assert overdue["位置"] == "3号楼2单元" and overdue["等级"] == "A"
    rated = rows[f"R{seeded.tickets['rated']}"]
    assert rated["是否按时"] == "是" and rated["评价"] == 5 and isinstance(rated["办结时间"], datetime)
    assert f"R{seeded.tickets['b_secret']}" not in rows  # other community
    incidents = list(wb["重大情况台账"].iter_rows(min_row=2, values_only=True))
    assert incidents == [
        (f"M{seeded.incident_a}", "第一综合网格", "3号楼", "火情", "3号楼地下室",
         datetime(2026, 11, 20, 9, 0), "社区", "赵书记", datetime(2026, 11, 20, 9, 7), 7.0)
    ]  # fmt: skip
    points = wb["积分台账"]
    assert isinstance(points["A2"].value, datetime) and points["A2"].number_format == "yyyy-mm-dd hh:mm"
    assert sum(r[4] for r in points.iter_rows(min_row=2, values_only=True)) == 12 + 3 + 2


def test_pii_and_grid_subset(session: Session, seeded: Seeded) -> None:
    req = LedgerRequest(date(2026, 11, 1), date(2026, 11, 20), [seeded.grids_a[0]], ["tickets", "points"])
    ledgers = build_ledgers(session, Viewer(frozenset({seeded.community_a}), pii=True), req, SHANGHAI)
    assert [ledger.title for ledger in ledgers] == ["事项台账", "积分台账"]
    [ticket] = ledgers[0].rows
    assert ticket[8] == RESIDENT_PHONE and RESIDENT_PHONE in ticket[9]
    assert {row[1] for row in ledgers[1].rows} == {"张伟"}  # only people serving in that grid


def test_csv_has_bom_and_zip(session: Session, seeded: Seeded) -> None:
    viewer = Viewer(frozenset({seeded.community_a}))
    one = LedgerRequest(NOV.first, NOV.last, kinds=["tickets"])
    name, ctype, data = render(build_ledgers(session, viewer, one, SHANGHAI), one, "csv")
    assert name == "事项台账_20261101-20261120.csv" and ctype.startswith("text/csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and len(rows) == 5
    assert any(r[10] == "2026-11-18 10:00" for r in rows[1:])
    name, ctype, data = render(build_ledgers(session, viewer, NOV, SHANGHAI), NOV, "csv")
    assert name.endswith(".zip") and ctype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(names) == 4 and all(archive.read(n).startswith(b"\xef\xbb\xbf") for n in names)


def test_empty_scope_gives_empty_ledgers(session: Session, seeded: Seeded) -> None:
    ledgers = build_ledgers(session, Viewer(frozenset()), NOV, SHANGHAI)
    assert all(not ledger.rows for ledger in ledgers)
    assert all_communities(session) == {seeded.community_a, seeded.community_b}


def _gridbot(args: list[str], url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("db_backend", ["sqlite"])  # subprocesses are slow; the SQL is tested above
def test_cli_user_and_export(db_url: str, session: Session, seeded: Seeded, tmp_path: Path) -> None:
    done = _gridbot(
        ["user", "add", "jd_admin", "--street", "解放街道", "--password-stdin"], db_url, "Str0ng-pass\n"
    )
    assert done.returncode == 0, done.stderr
    bad = _gridbot(["user", "add", "x", "--community", "NOPE", "--password-stdin"], db_url, "Str0ng-pass\n")
    assert bad.returncode == 2 and "NOPE" in bad.stderr
    listed = _gridbot(["user", "list"], db_url)
    assert listed.returncode == 0 and "jd_admin\t街道 解放街道" in listed.stdout
    assert "a_pii\t社区 XFL\t个人信息可见" in listed.stdout
    session.expire_all()
    user = session.exec(select(DashboardUser).where(col(DashboardUser.username) == "jd_admin")).one()
    assert user.password_hash.startswith("scrypt$") and "Str0ng" not in user.password_hash

    out = tmp_path / "out" / "ledger.xlsx"
    args = ["export", "--from", "2026-11-01", "--to", "2026-11-20", "--community", "XFL", "--format", "xlsx"]
    done = _gridbot([*args, "--grid", "XFL-G1", "--out", str(out)], db_url)
    assert done.returncode == 0, done.stderr
    wb = openpyxl.load_workbook(out)
    assert {r[2] for r in wb["巡查台账"].iter_rows(min_row=2, values_only=True)} == {"1号楼"}
    zipped = tmp_path / "ledger.zip"
    done = _gridbot(["export", "--from", "2026-11-01", "--to", "2026-11-20", "--format", "csv", "--out",
                     str(zipped), "--pii"], db_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(zipped) as archive:
        text = "".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    assert "和平" in text and RESIDENT_PHONE in text  # every community, unmasked
    wrong = _gridbot([*args, "--grid", "HP-G1", "--out", str(out)], db_url)
    assert wrong.returncode == 2 and "HP-G1" in wrong.stderr

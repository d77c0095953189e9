"""`gridbot db …` and `gridbot roster …` as a user runs them (subprocess, real exit codes and output)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlmodel import Session, select

from config.roster import apply_roster, load_roster
from storage.db import make_engine
from storage.migrate import current, head, upgrade
from storage.models import MicroGrid, Person
from tests.storage.rosters import DEMO_CSV, DEMO_YAML, ROOT, micro, write_yaml

GRIDBOT = [str(ROOT / ".venv" / "bin" / "gridbot")]


def gridbot(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GRIDBOT_DATABASE_URL"}
    env["PYTHONIOENCODING"] = "utf-8"
    if data_dir is not None:
        env["GRIDBOT_DATA_DIR"] = str(data_dir)
    return subprocess.run([*GRIDBOT, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def test_roster_check_prints_counts_and_masks_phones() -> None:
    result = gridbot("roster", "check", str(DEMO_YAML.relative_to(ROOT)), "--verbose")
    assert result.returncode == 0, result.stderr
    assert "微网格 12 个（住宅 10、商户 2）" in result.stdout and "人员 30 人" in result.stdout
    assert "张丽 139****0103" in result.stdout
    assert "13903710103" not in result.stdout


def test_roster_check_invalid_exits_2_with_chinese_message(tmp_path: Path) -> None:
    bad = write_yaml(tmp_path, lambda d: micro(d, 2, 1).update(leader="张三"))
    result = gridbot("roster", "check", str(bad))
    assert result.returncode == 2
    assert "communities[0].grids[2].micro_grids[1].leader：「张三」不在 people 名单中" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_import_upgrades_the_default_database_then_is_idempotent(tmp_path: Path) -> None:
    first = gridbot("roster", "import", str(DEMO_CSV), data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "微网格：新增 12" in first.stdout and "13903710" not in first.stdout
    assert current(f"sqlite:///{tmp_path / 'gridbot.sqlite3'}") == head()
    second = gridbot("roster", "import", str(DEMO_YAML), data_dir=tmp_path)
    assert second.returncode == 0 and "没有变化" in second.stdout


def test_failed_import_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        apply_roster(s, load_roster(DEMO_YAML))
        s.commit()
    rows = DEMO_CSV.read_text(encoding="utf-8-sig").splitlines()
    rows[5] = rows[5].replace("楼栋长", "组长")
    rows[6] = rows[6].replace("2号楼微网格,住宅", "2号楼微网格,写字楼")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(rows), encoding="utf-8")
    result = gridbot("roster", "import", str(bad), "--url", url)
    assert result.returncode == 2
    assert (
        "第 6 行：角色「组长」无法识别" in result.stderr
        and "第 7 行：类型「写字楼」无法识别" in result.stderr
    )
    with Session(engine) as s:
        assert len(s.exec(select(MicroGrid)).all()) == 12 and len(s.exec(select(Person)).all()) == 30
    engine.dispose()


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    empty = gridbot("db", "current", "--url", url)
    assert empty.returncode == 1 and "尚未初始化" in empty.stdout
    up = gridbot("db", "upgrade", "--url", url)
    assert up.returncode == 0 and f"{head()} (head)" in up.stdout
    assert current(url) == head()


def test_db_upgrade_postgres_hides_password_and_fails_cleanly() -> None:
    result = gridbot("db", "upgrade", "--url", "postgresql://bot:s3cret@127.0.0.1:1/none")
    assert result.returncode == 1
    assert "s3cret" not in result.stderr and "***" in result.stderr and "Traceback" not in result.stderr


def test_help_is_bilingual() -> None:
    result = gridbot("db", "--help")
    assert result.returncode == 0 and "升级" in result.stdout and "upgrade" in result.stdout

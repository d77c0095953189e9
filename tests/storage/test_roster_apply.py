"""apply_roster on SQLite and PostgreSQL: upsert by codes, idempotent, removals, all-or-nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, col, select

from config import roster as roster_module
from config.roster import ApplySummary, Roster, apply_roster, load_roster
from storage.models import Community, CompGrid, GridRole, MicroGrid, PatrolReport, Person, Supervisor
from tests.storage.rosters import DEMO_CSV, DEMO_XLSX, DEMO_YAML, micro, write_yaml

TABLES: list[type[SQLModel]] = [Community, CompGrid, MicroGrid, Person, GridRole, Supervisor]


def apply(engine: Engine, roster: Roster) -> ApplySummary:
    with Session(engine) as s:
        summary = apply_roster(s, roster)
        s.commit()
    return summary


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with Session(engine) as s:
        return {
            # Rows by id, each row's fields by name: model_dump's field order may differ between
            # loads, and sorting whole rows would compare None with numbers.
            t.__name__: [
                tuple(sorted(row.model_dump().items()))
                for row in s.exec(select(t).order_by(t.id))  # type: ignore[attr-defined]
            ]
            for t in TABLES
        }


def role_of(s: Session, topic: str) -> dict[str, str]:
    stmt = (
        select(Person.name, GridRole.role)
        .join(GridRole, col(GridRole.person_id) == Person.id)
        .join(MicroGrid, col(MicroGrid.id) == GridRole.micro_grid_id)
        .where(MicroGrid.room_topic == topic)
    )
    return dict(s.exec(stmt).all())


def test_demo_applies(engine: Engine) -> None:
    summary = apply(engine, load_roster(DEMO_YAML))
    assert summary.created == {
        "community": 1, "comp_grid": 3, "micro_grid": 12, "person": 30, "role": 25, "supervisor": 5
    }  # fmt: skip
    with Session(engine) as s:
        assert role_of(s, "3号楼微网格群") == {"张丽": "leader", "李强": "member", "孙红梅": "member"}
        levels = s.exec(
            select(Person.name, Supervisor.level).join(Supervisor, col(Supervisor.person_id) == Person.id)
        )
        assert {"王书记": 2, "陈志强": 3, "刘建国": 1}.items() <= dict(levels.all()).items()
        wang = s.exec(select(Person).where(Person.name == "王书记")).one()
        assert wang.is_admin and not wang.is_resident and wang.phone == "13903710001"
        li = s.exec(select(Person).where(Person.name == "李强")).one()
        assert (li.code, li.wechat_name, li.wechat_id) == ("李强-0203", "强子", None)
        grid = s.exec(select(MicroGrid).where(MicroGrid.code == "xfl-m1")).one()
        assert grid.kind == "merchant" and grid.buildings == [] and grid.active
        level1 = s.exec(select(Supervisor).where(Supervisor.level == 1)).all()
        assert all(r.comp_grid_id is not None and r.community_id is not None for r in level1)


def test_reimport_is_idempotent(engine: Engine) -> None:
    roster = load_roster(DEMO_YAML)
    apply(engine, roster)
    before = snapshot(engine)
    again = apply(engine, roster)
    assert not again.changed and again.lines() == ["数据库已是最新，没有变化"]
    assert snapshot(engine) == before


@pytest.mark.parametrize("sheet", [DEMO_CSV, DEMO_XLSX], ids=["csv", "xlsx"])
def test_spreadsheet_after_yaml_changes_nothing(engine: Engine, sheet: Path) -> None:
    apply(engine, load_roster(DEMO_YAML))
    before = snapshot(engine)
    assert not apply(engine, load_roster(sheet)).changed
    assert snapshot(engine) == before


def test_changes_and_removals(engine: Engine, tmp_path: Path) -> None:
    apply(engine, load_roster(DEMO_YAML))
    with Session(engine) as s:  # history that must survive
        b10 = s.exec(select(MicroGrid).where(MicroGrid.code == "xfl-b10")).one()
        assert b10.id is not None
        s.add(PatrolReport(micro_grid_id=b10.id, day=date(2026, 11, 23), status="zero"))
        s.commit()

    def change(data: dict[str, Any]) -> None:
        grid3 = micro(data, 0, 2)
        grid3["leader"], grid3["members"] = "李强", ["张丽", "孙红梅"]  # swap roles
        grid3["buildings"] = [3, 13]
        del data["communities"][0]["grids"][2]["micro_grids"][1]  # 10号楼 leaves the roster
        data["people"] = [p for p in data["people"] if p["name"] not in ("韩明", "唐丽华")]
        data["communities"][0]["grids"][0]["supervisors"] = ["马晓燕"]  # 刘建国 replaced
        data["admins"] = ["王书记", "张丽"]

    summary = apply(engine, load_roster(write_yaml(tmp_path, change)))
    assert summary.removed == {"micro_grid": 1, "role": 2, "supervisor": 1}
    assert summary.updated["role"] == 2 and summary.updated["micro_grid"] == 1
    assert summary.created == {"supervisor": 1}
    with Session(engine) as s:
        assert role_of(s, "3号楼微网格群") == {"张丽": "member", "李强": "leader", "孙红梅": "member"}
        b10 = s.exec(select(MicroGrid).where(MicroGrid.code == "xfl-b10")).one()
        assert not b10.active and role_of(s, "10号楼微网格群") == {}
        assert s.exec(select(func.count()).select_from(PatrolReport)).one() == 1
        han = s.exec(select(Person).where(Person.name == "韩明")).one()  # kept: history may refer to him
        assert han.id is not None
        assert s.exec(select(GridRole).where(GridRole.person_id == han.id)).all() == []
        liu = s.exec(select(Person).where(Person.name == "刘建国")).one()
        assert s.exec(select(Supervisor).where(Supervisor.person_id == liu.id)).all() == []
        assert s.exec(select(Person).where(Person.name == "张丽")).one().is_admin
        grid3 = s.exec(select(MicroGrid).where(MicroGrid.code == "xfl-b3")).one()
        assert grid3.buildings == [3, 13]
    assert not apply(engine, load_roster(write_yaml(tmp_path, change))).changed


def test_dropped_admin_without_posts_loses_admin(engine: Engine, tmp_path: Path) -> None:
    apply(engine, load_roster(DEMO_YAML))

    def drop_wang(data: dict[str, Any]) -> None:
        data["people"] = [p for p in data["people"] if p["name"] != "王书记"]
        data["communities"][0]["supervisors"] = [
            s for s in data["communities"][0]["supervisors"] if s["person"] != "王书记"
        ]
        data["admins"] = []

    apply(engine, load_roster(write_yaml(tmp_path, drop_wang)))
    with Session(engine) as s:
        wang = s.exec(select(Person).where(Person.name == "王书记")).one()
        assert not wang.is_admin and wang.phone == "13903710001"


def test_roster_contact_id_takes_over_resident_row(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        s.add(Person(code="res:wx-zl", name="张丽", wechat_name="张丽", wechat_id="wx-zl", is_resident=True))
        s.commit()
    roster = load_roster(write_yaml(tmp_path, lambda d: d["people"][7].update(wechat_id="wx-zl")))
    summary = apply(engine, roster)
    assert any("wx-zl" in w for w in summary.warnings)
    with Session(engine) as s:
        holder = s.exec(select(Person).where(Person.wechat_id == "wx-zl")).one()
        assert holder.code == "张丽-0103" and not holder.is_resident


def test_other_communities_are_left_alone(engine: Engine, tmp_path: Path) -> None:
    apply(engine, load_roster(DEMO_YAML))

    def other(data: dict[str, Any]) -> None:
        community = data["communities"][0]
        community["code"], community["name"] = "hp", "和平社区"
        community["supervisors"] = []
        for gi, grid in enumerate(community["grids"]):
            grid["code"] = f"hp-g{gi}"
            grid["supervisors"] = []
            for m in grid["micro_grids"]:
                m["code"] = "hp-" + m["code"]
                m["room_topic"] = "和平" + m["room_topic"]

    summary = apply(engine, load_roster(write_yaml(tmp_path, other)))
    assert summary.removed == {} and summary.created["micro_grid"] == 12
    with Session(engine) as s:
        assert role_of(s, "3号楼微网格群")["张丽"] == "leader"  # still her role in 幸福里
        assert len(s.exec(select(MicroGrid).where(col(MicroGrid.active).is_(True))).all()) == 24


def test_failed_apply_leaves_database_unchanged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    roster = load_roster(DEMO_YAML)
    apply(engine, roster)
    before = snapshot(engine)

    def boom(self: object) -> None:
        raise RuntimeError("disk full")

    changed = load_roster(DEMO_YAML)
    changed.communities[0].name = "改名社区"
    changed.communities[0].grids[0].micro_grids[2].members = []
    monkeypatch.setattr(roster_module._Applier, "_supervisors", boom)
    with Session(engine) as s, pytest.raises(RuntimeError):
        apply_roster(s, changed)  # the people and grids were already flushed when it failed
    assert snapshot(engine) == before

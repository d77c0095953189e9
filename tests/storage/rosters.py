"""Helpers for roster tests: the demo roster as data, written back out with changes."""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO_YAML = ROOT / "config" / "demo_roster.yaml"
DEMO_CSV = ROOT / "examples" / "huamingce.csv"
DEMO_XLSX = ROOT / "examples" / "huamingce.xlsx"


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_YAML.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def write_yaml(
    tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None, name: str = "r.yaml"
) -> Path:
    data = demo_data()
    if change is not None:
        change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def micro(data: dict[str, Any], grid: int, index: int) -> dict[str, Any]:
    found: dict[str, Any] = data["communities"][0]["grids"][grid]["micro_grids"][index]
    return found


def demo_rows() -> list[list[str]]:
    with DEMO_CSV.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path

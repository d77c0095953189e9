"""`gridbot parse` end to end, in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _command() -> list[str]:
    """The installed `gridbot` script; `python -m bot.cli.parse_cmd` when it is not on PATH."""
    script = Path(sys.executable).parent / "gridbot"
    if script.exists():
        return [str(script), "parse"]
    found = shutil.which("gridbot")
    if found:
        return [found, "parse"]
    return [sys.executable, "-m", "bot.cli.parse_cmd"]


def _run(stdin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *extra], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


def test_jsonl_stream_with_malformed_lines() -> None:
    lines = [
        json.dumps({"text": "7栋2单元楼道堆放纸箱", "chat": "group", "role": "leader"}, ensure_ascii=False),
        "{not json 13812345678",
        "[1, 2]",
        json.dumps({"text": 5}),
        "",
        json.dumps({"text": "明天下午三点前清理", "at": "2026-11-23T10:00:00+08:00"}, ensure_ascii=False),
        json.dumps({"text": "#接单 R7"}),
        json.dumps({"text": "电话13812345678"}, ensure_ascii=False),
    ]
    proc = _run("\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["kind"] == "basic" and out[0]["building"] == 7 and out[0]["unit"] == 2
    for bad in out[1:5]:
        assert set(bad) == {"error"}
    assert all("13812345678" not in json.dumps(bad) for bad in out[1:5])  # errors never echo input
    assert out[5]["times"][0] == {
        "phrase": "明天下午三点前",
        "at": "2026-11-24T15:00:00+08:00",
        "deadline": True,
    }
    assert out[6]["command"] == "accept" and out[6]["args"]["refs"] == ["R7"]
    assert out[7]["masked_text"] == "电话138****5678"
    for key in ("kind", "category", "building", "unit", "floor", "room", "handled", "command", "grade_hint"):
        assert key in out[0]


def test_single_text_pretty() -> None:
    proc = _run("", "--text", "３號樓著火了")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["kind"], data["category"], data["building"]) == ("major", "fire", 3)
    assert "\n  " in proc.stdout  # indented
    assert "著" not in proc.stdout or "着火" in proc.stdout


def test_help_is_bilingual() -> None:
    proc = _run("", "--help")
    assert proc.returncode == 0
    assert "解析" in proc.stdout and "Parse" in proc.stdout

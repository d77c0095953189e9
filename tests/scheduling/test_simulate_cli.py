"""`gridbot simulate` end to end as a user runs it: a subprocess, a scenario file, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def simulate(scenario: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "simulate", str(scenario)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_the_example_week() -> None:
    proc = simulate(ROOT / "examples" / "week.yaml")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert all(set(r) == {"at", "chat", "to", "kind", "text", "mentions"} for r in rows)
    kinds = Counter(r["kind"] for r in rows)
    for tag in (
        "patrol_reminder",
        "patrol_chase",
        "missed_reports",
        "report_ack",
        "ticket_opened",
        "ticket_update",
        "ticket_due_soon",
        "ticket_overdue",
        "ticket_closed",
        "major_alert",
        "major_escalation",
        "major_group_notice",
        "digest",
        "weekly_bulletin",
        "reply",
    ):
        assert kinds[tag] > 0, tag
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)  # in time order
    notice = next(r for r in rows if r["kind"] == "major_group_notice")
    assert "着火" not in notice["text"]  # a major situation is never described in the group
    opened = next(r for r in rows if r["kind"] == "ticket_opened")
    assert opened["mentions"] == ["张丽"] and "R1" in opened["text"]


def test_a_malformed_scenario_names_the_file_event_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"roster: {ROOT / 'config' / 'demo_roster.yaml'}\nstart: '2026-11-23 08:00'\nevents:\n"
        "  - at: '08:30'\n    room: 3号楼微网格群\n    from: 张丽\n    text: 零报告\n"
        "  - at: '25:99'\n    room: 3号楼微网格群\n    from: 张丽\n    text: hi\n",
        encoding="utf-8",
    )
    proc = simulate(bad)
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "第 2 个事件" in proc.stderr and "25:99" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_time_going_backwards_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "back.yaml"
    bad.write_text(
        f"roster: {ROOT / 'config' / 'demo_roster.yaml'}\nstart: '2026-11-23 08:00'\nevents:\n"
        "  - until: '2026-11-23 12:00'\n  - at: '09:00'\n    private: 王书记\n    text: '#统计'\n",
        encoding="utf-8",
    )
    proc = simulate(bad)
    assert proc.returncode == 2 and "第 2 个事件" in proc.stderr and "早于" in proc.stderr

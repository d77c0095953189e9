"""bench/run_all.py reads what bench/workflow_bench.py prints: every run of `--repeat`, and the
line that counts the runs meeting the issue's bar. Run for real, small, on SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.opsdroid_bench import parse_workflow_runs, parse_workflow_table
from bench.run_all import RELIABILITY

ROOT = Path(__file__).resolve().parents[2]


# 1,000/s either named, or as SQLite's target (5,000/s) scaled to a host a fifth as fast.
@pytest.mark.parametrize("offered", [["--rate", "1000"], ["--host-factor", "0.2"]])
def test_repeated_rate_runs_are_each_printed_and_counted(offered: list[str]) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / "workflow_bench.py"), "--backend", "sqlite", *offered]
    cmd += ["--messages", "300", "--modes", "rate", "--cap", "8", "--repeat", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=True).stdout
    runs = parse_workflow_runs(out)
    assert list(runs) == [("sqlite", "rate 1000/s")]
    figures = runs[("sqlite", "rate 1000/s")]
    assert len(figures) == 2
    assert all(900 <= f.msg_per_s <= 1100 and 0 < f.p50_ms <= f.p99_ms for f in figures)
    assert parse_workflow_table(out)[("sqlite", "rate 1000/s")] == figures[-1]
    (counted,) = RELIABILITY.finditer(out)
    met = sum(f.msg_per_s >= 980 and f.p99_ms <= 10 for f in figures)  # the SQLite bar, at this rate
    assert (counted["backend"], counted["mode"], int(counted["met"]), int(counted["runs"])) == (
        "sqlite",
        "rate 1000/s",
        met,
        2,
    )

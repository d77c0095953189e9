"""storage/sqlite_library.py: SQLite's memory statistics off for the process, set before the
first connection opens. Each check runs in a fresh interpreter: the library can be configured
only while no connection is open, and this test process has opened many."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage import sqlite_library

ROOT = Path(__file__).resolve().parents[2]

# Opens a connection, does some work, and prints what the library says it has allocated: with
# the statistics off it does not count, and says 0.
USE = """
import ctypes, sqlite3
db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE t (x TEXT)")
db.executemany("INSERT INTO t VALUES (?)", [(str(i),) for i in range(1000)])
assert db.execute("SELECT count(*) FROM t").fetchone() == (1000,)
lib = ctypes.CDLL(sqlite_library._loaded_library())
lib.sqlite3_memory_used.restype = ctypes.c_int64
print(lib.sqlite3_memory_used())
"""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(sqlite_library._loaded_library() is None, reason="no shared libsqlite3 here")
def test_memory_statistics_stop_counting_and_sqlite_still_works() -> None:
    counted = _python("from storage import sqlite_library\n" + USE)
    assert int(counted) > 0  # on by default
    out = _python("from storage import sqlite_library\nprint(sqlite_library.tune())\n" + USE)
    assert out.splitlines() == ["memory statistics off", "0"]


def test_the_gridbot_program_tunes_before_its_command_runs() -> None:
    code = (
        "from bot import cli\nfrom storage import sqlite_library\n"
        "cli.main = lambda argv=None: print(sqlite_library.state) or 0\n"
        "raise SystemExit(cli.run())"
    )
    assert _python(code) == sqlite_library.state  # the same outcome as in this process


def test_a_second_call_changes_nothing() -> None:
    before = sqlite_library.state
    assert before != "not run"  # tests/conftest.py ran it, as the program does
    assert sqlite_library.tune() == before

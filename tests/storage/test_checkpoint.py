"""The background WAL checkpointer of the service's SQLite engine (storage.checkpoint)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

from storage.checkpoint import BACKSTOP_PAGES, Checkpointer
from storage.db import checkpointer_of, make_engine


def _write_pages(engine: Engine, rows: int = 3000) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO filler (body) VALUES (:b)"), [{"b": "格" * 500}] * rows)


def _wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_commits_leave_checkpoints_to_the_background_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}", sqlite_checkpointer=True)
    try:
        with engine.connect() as conn:  # the writer's own checkpoint is only a backstop
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
        _write_pages(engine)
        checkpointer = checkpointer_of(engine)
        assert checkpointer is not None and checkpointer.alive

        def copied_all() -> bool:
            last = checkpointer.last
            return last is not None and last[0] == 0 and last[1] > 1000 and last[2] == last[1]

        assert _wait_for(copied_all), checkpointer.last  # every frame of the commit copied back
    finally:
        engine.dispose()
    assert not checkpointer.alive and checkpointer_of(engine) is None
    wal = tmp_path / "g.sqlite3-wal"
    # The thread closed its connection, the file's last: SQLite then folds the log in and removes it.
    assert not wal.exists()


def test_other_engines_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert checkpointer_of(engine) is None
    finally:
        engine.dispose()


def test_an_unopenable_file_leaves_the_thread_harmless(tmp_path: Path) -> None:
    checkpointer = Checkpointer(tmp_path, interval=0.01).start()  # a directory, not a database
    time.sleep(0.1)
    checkpointer.stop()
    assert not checkpointer.alive and checkpointer.last is None


def test_rounds_come_often_while_the_log_is_near_the_writers_backstop(tmp_path: Path) -> None:
    """Near the backstop the thread rounds every NEAR_INTERVAL_S, so the writer's own checkpoint
    finds little left to copy; further from it, every `interval`."""
    path = tmp_path / "g.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the log keeps its frames: no writer rewinds it
        writer.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)")
        writer.executemany("INSERT INTO filler (body) VALUES (?)", [("格" * 500,)] * 200)
        rounds = {}
        for near_backstop in (100, 10**9):  # the log holds some 200-400 frames
            checkpointer = Checkpointer(path, interval=0.25, near_backstop=near_backstop).start()
            time.sleep(0.6)
            checkpointer.stop()
            assert checkpointer.last is not None and 100 <= checkpointer.last[1] < 10**9
            rounds[near_backstop] = checkpointer.rounds
    finally:
        writer.close()
    assert rounds[100] >= 20, rounds  # every 5 ms (plus the round itself), not every 0.25 s
    assert rounds[10**9] <= 4, rounds

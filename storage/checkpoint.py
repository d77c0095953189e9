"""WAL checkpoints off the writer's path, for the embedded SQLite database.

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into the
database file and fsyncs it. By default SQLite runs that checkpoint inside whichever COMMIT takes
the log past 1,000 pages — for the pipeline's group commit, every third or fourth batch. Measured
on the workflow benchmark (64 messages a batch, 10,000 messages of history): a commit averaged
4.5 ms with the automatic checkpoint and 1.2 ms without it, a quarter of the batch's time, and the
message that lands on the checkpointing commit waits for an fsync.

So an engine that writes a lot (the service's, see `bot.runtime`) gets a `Checkpointer`: a daemon
thread with its own connection that runs `PRAGMA wal_checkpoint(PASSIVE)` every `INTERVAL_S`.
PASSIVE never blocks readers or the writer, and sqlite3 releases the GIL while it runs, so on a
second core the copy and the fsync cost the pipeline nothing. The writer keeps an automatic
checkpoint as a backstop, at `BACKSTOP_PAGES`: should this thread stall or die, the log still
stops growing at about 64 MB instead of filling the disk.

Under steady writes the backstop is also where the log starts over. SQLite rewinds the log only
when a write transaction begins with every frame copied back, and with a commit every few
milliseconds that moment almost never falls between two background rounds: the log grows to the
backstop, and the writer's checkpoint there copies whatever the last round left. At 5,000 msg/s
(workflow bench, rate mode) that came every 0.5 s and left 50 ms of log: a 5-9 ms commit, and a
backlog behind it that set the p99. So the thread rounds every `NEAR_INTERVAL_S` once the log
passes `NEAR_BACKSTOP_PAGES`: the writer's checkpoint then finds a few milliseconds of log to copy
(commits of 2-3.5 ms). (A bigger log is no cure: past 16,384 pages every commit got slower, p50
3.9 → 6.9 ms, and the restarts only came later.)

Durability is unchanged: a commit is in the WAL (synchronous=NORMAL) whoever checkpoints it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 16_384  # the writer's own wal_autocheckpoint when a Checkpointer runs (64 MB)
# Short, because a checkpoint still slows the writer while it runs: its writes and fsync hold up
# the commit's writes to the log file (the filesystem's doing, not a lock of SQLite's). The stall
# grows with what one checkpoint copies: with checkpoints every 1 s, commits stalled 80–160 ms;
# every 0.25 s, 20–50 ms; every 0.05 s, at most ~20 ms (workflow bench, 2,000 msg/s offered).
# A round with nothing to copy returns at once, so an idle service pays nothing for waking often.
INTERVAL_S = 0.05
# The last quarter before the backstop, about 0.1 s at 5,000 msg/s: rounds this often there.
NEAR_BACKSTOP_PAGES = BACKSTOP_PAGES * 3 // 4
NEAR_INTERVAL_S = 0.005


class Checkpointer:
    """Checkpoints one SQLite file's WAL in the background until `stop()`."""

    def __init__(
        self, path: Path | str, interval: float = INTERVAL_S, near_backstop: int = NEAR_BACKSTOP_PAGES
    ) -> None:
        self.path = str(path)
        self.interval = interval
        self.near_backstop = near_backstop
        self.rounds = 0  # checkpoints run, for tests
        # The last PRAGMA's answer: (busy, frames in the log, frames checkpointed), -1s when the
        # file is not in WAL mode; for tests and /metrics.
        self.last: tuple[int, int, int] | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sqlite-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # the writer's backstop still bounds the log
            log.warning("WAL checkpointer for %s could not start: %s", self.path, exc)
            return
        try:
            while not self._stopped.wait(self.next_wait()):
                self.checkpoint(connection)
            self.checkpoint(connection)  # what the last batches wrote, before the engine goes
        finally:
            connection.close()

    def next_wait(self) -> float:
        """Seconds to the next round: short while the log is near the writer's backstop."""
        if self.last is not None and self.last[1] >= self.near_backstop:
            return min(self.interval, NEAR_INTERVAL_S)
        return self.interval

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        self.rounds += 1
        try:
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # a locked or vanished file: try again next round
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
            return
        self.last = (int(busy), int(frames), int(copied))

"""Instructions a message through the durable pipeline, counted by callgrind: a figure the host's
speed does not move, for changes too small to see in msg/s on a shared machine.

    .venv/bin/python bench/instructions.py [--messages 2000] [--cap 16] [--runs 1]

Runs `workflow_bench.py`'s saturated mode on SQLite under `valgrind --tool=callgrind` with
collection off, switches it on (`callgrind_control -i on`) for the timed loop only, and prints
the loop's instructions and their share per message. `PYTHONHASHSEED=0` fixes dict and set
orders, and the roster cache does not expire (see `_child`); two runs of the same code differ
by about 0.3%. Needs valgrind (Debian's package);
about a minute a run. As `gridbot` does, the SQLite library is tuned first (storage/sqlite_library.py).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(messages: int, cap: int) -> None:
    """Inside valgrind: the saturated loop, with collection on around it."""
    sys.path.insert(0, str(ROOT))
    from bench import workflow_bench as wb
    from storage import sqlite_library

    sqlite_library.tune()
    # Under callgrind the loop runs some fifty times slower, so the roster cache's 30-second
    # expiry (wall time) would strike many times more often than in a real run of the same
    # messages, and a different number of times in each run: counts of the same code moved
    # by 2% between a run alone and one beside another. The cache here never expires.
    from handlers import pipeline
    from storage.cache import RosterCache

    class Unexpiring(RosterCache):
        def __init__(self) -> None:
            super().__init__(ttl=math.inf)

    pipeline.RosterCache = Unexpiring  # type: ignore[misc,assignment]
    timed = wb.saturated

    async def counted(pipeline: wb.Pipeline, events: list[wb.MessageReceived], cap: int) -> dict[str, float]:
        control = ["callgrind_control", "-i"]
        subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
        try:
            return await timed(pipeline, events, cap)
        finally:
            subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)

    wb.saturated = counted  # same signature, counted
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(wb.run(f"sqlite:///{tmp}/bench.sqlite3", messages, "saturated", cap, 0.0))


def count(messages: int, cap: int) -> int:
    """The timed loop's instructions, from one run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/cg.out"]
        cmd += [sys.executable, __file__, "--child", "--messages", str(messages), "--cap", str(cap)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"callgrind run failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--cap", type=int, default=16, help="messages a batch (transaction)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.messages, args.cap)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    print(f"workflow pipeline on SQLite, saturated, {args.messages} messages in batches of {args.cap}")
    for _ in range(args.runs):
        total = count(args.messages, args.cap)
        print(f"instructions {total:,}  per message {total / args.messages:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

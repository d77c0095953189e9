"""Messages per second through parse → handler → store → outbox, committed, on SQLite and PostgreSQL.

A message counts when its inbound record, its effects and its reply are committed. Single process,
one message at a time (the latency a person in the group sees), on the demo roster.

    .venv/bin/python bench/workflow_bench.py [--messages 20000] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bot.runtime import open_runtime  # noqa: E402
from config.roster import load_roster  # noqa: E402
from handlers.clock import VirtualClock  # noqa: E402
from handlers.events import ChatKind, MessageReceived  # noqa: E402
from handlers.pipeline import Pipeline  # noqa: E402
from tests.workflow.harness import START  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# (weight, sender kind, text): the mix a building group sees in a day.
MIX = [
    (30, "resident", "哈哈，谢谢网格长"),
    (10, "resident", "收到"),
    (15, "leader", "今日巡查无异常，零报告"),
    (15, "resident", "{b}号楼{u}单元楼道灯坏了，晚上黑乎乎的"),
    (8, "resident", "楼上{b}0{u}天天半夜装修，吵得睡不着，电话13812345678"),
    (8, "leader", "{b}号楼{u}单元楼道堆放的纸箱已清理"),
    (6, "leader", "#查询 R1"),
    (4, "resident", "#帮助"),
    (4, "resident", "想问下社区老年卡怎么办理？"),
]


def messages(n: int, topics: list[tuple[str, str]], seed: int = 7) -> list[MessageReceived]:
    rng = random.Random(seed)
    weights = [w for w, _, _ in MIX]
    out = []
    at = START
    for i in range(n):
        _, who, template = rng.choices(MIX, weights)[0]
        topic, leader = rng.choice(topics)
        sender = leader if who == "leader" else f"居民{rng.randint(1, 400)}"
        at += timedelta(seconds=rng.randint(1, 4))
        body = template.format(b=rng.randint(1, 30), u=rng.randint(1, 6))
        out.append(
            MessageReceived(
                message_id=f"bench-{i}",
                chat=ChatKind.GROUP,
                sender_id=f"wx:{sender}",
                sender_name=sender,
                text=body,
                at=at,
                room_id=f"room:{topic}",
                room_topic=topic,
            )
        )
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, n: int) -> dict[str, float]:
    roster = load_roster(ROOT / "config" / "demo_roster.yaml")
    clock = VirtualClock(START)
    runtime = open_runtime(url, roster, clock)
    topics = [(g.room_topic, g.leader) for _, _, g in roster.micro_grids()]
    batch = messages(n, topics)
    pipeline = Pipeline(runtime.session_factory, runtime.services)
    for event in messages(200, topics, seed=1):  # warm up caches and the connection pool
        await pipeline.handle(dataclasses.replace(event, message_id="warm-" + event.message_id))
    lat = []
    started = time.perf_counter()
    for event in batch:
        t0 = time.perf_counter()
        await pipeline.handle(event)
        lat.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    runtime.engine.dispose()
    return {
        "msg_per_s": n / wall,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "max_ms": max(lat) * 1000,
    }


def pg_database() -> tuple[str, str]:
    name = f"gridbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_pg(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = ap.parse_args()
    results = {}
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = asyncio.run(run(f"sqlite:///{tmp}/bench.sqlite3", args.messages))
    if args.backend in ("postgres", "both"):
        name, url = pg_database()
        try:
            results["postgres"] = asyncio.run(run(url, args.messages))
        finally:
            drop_pg(name)
    print(f"workflow pipeline, {args.messages} messages, one at a time, committed each")
    print(f"{'backend':10s} {'msg/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for backend, r in results.items():
        print(f"{backend:10s} {r['msg_per_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['max_ms']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

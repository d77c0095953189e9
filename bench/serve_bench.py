"""Messages per second and latency through the running service (WebSocket simulator connector).

Starts a real `gridbot serve` process, opens a WebSocket like the chat page does and sends the
workflow mix with up to `--window` messages in flight. Latency is from sending a message to its
`ack`, which the service sends once the message, its effects and its reply (the outbox row) are
committed. Run on SQLite (default data folder in a temp dir) and on PostgreSQL (a fresh database
on the local server).

    .venv/bin/python bench/serve_bench.py [--messages 5000] [--window 64] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workflow_bench import MIX, drop_pg, pg_database  # noqa: E402
from tests.serve_process import free_port, wait_healthy  # noqa: E402

TOPICS = {
    f"{n}号楼微网格群": leader
    for n, leader in zip(
        range(1, 11),
        ["陈秀英", "杨建华", "张丽", "黄志刚", "朱国庆", "郭海燕", "何建军", "罗春华", "谢秀兰", "韩明"],
        strict=True,
    )
}


def frames(n: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    weights = [w for w, _, _ in MIX]
    out = []
    for i in range(n):
        _, who, template = rng.choices(MIX, weights)[0]
        topic = rng.choice(list(TOPICS))
        sender = TOPICS[topic] if who == "leader" else f"居民{rng.randint(1, 400)}"
        text = template.format(b=rng.randint(1, 30), u=rng.randint(1, 6))
        out.append(
            {"type": "send", "id": f"b{i}-{uuid.uuid4().hex[:6]}", "room": topic, "as": sender, "text": text}
        )
    return out


async def drive(port: int, batch: list[dict[str, Any]], window: int) -> tuple[float, list[float]]:
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    free = asyncio.Semaphore(window)
    done = asyncio.Event()
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=0) as ws,
    ):

        async def reader() -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if data.get("type") == "ack" and data["id"] in sent_at:
                    latencies.append(time.perf_counter() - sent_at.pop(data["id"]))
                    free.release()
                    if len(latencies) == len(batch):
                        done.set()
                        return

        task = asyncio.create_task(reader())
        started = time.perf_counter()
        for frame in batch:
            await free.acquire()
            sent_at[frame["id"]] = time.perf_counter()
            await ws.send_str(json.dumps(frame, ensure_ascii=False))
        await asyncio.wait_for(done.wait(), 600)
        wall = time.perf_counter() - started
        task.cancel()
    return wall, latencies


def run_backend(url: str | None, n: int, window: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cmd = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--data-dir", tmp]
        if url:
            cmd += ["--url", url]
        env = {**os.environ}
        env.pop("GRIDBOT_DATABASE_URL", None)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            asyncio.run(wait_healthy(port))
            asyncio.run(drive(port, frames(300, seed=1), window))  # warm up
            wall, lat = asyncio.run(drive(port, frames(n), window))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    ordered = sorted(lat)
    return {
        "msg_per_s": n / wall,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--window", type=int, default=64, help="messages in flight")
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = ap.parse_args()
    results = {}
    if args.backend in ("sqlite", "both"):
        results["sqlite"] = run_backend(None, args.messages, args.window)
    if args.backend in ("postgres", "both"):
        name, url = pg_database()
        try:
            results["postgres"] = run_backend(url, args.messages, args.window)
        finally:
            drop_pg(name)
    print(
        f"gridbot serve (web simulator), {args.messages} messages, {args.window} in flight; "
        "latency = send → ack (committed with its reply)"
    )
    print(f"{'backend':10s} {'msg/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for backend, r in results.items():
        print(f"{backend:10s} {r['msg_per_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

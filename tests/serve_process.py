"""A real `gridbot serve` process for tests and benches: start, wait for /healthz, stop or kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`gridbot serve --port <free> --data-dir DATA_DIR EXTRA...`, its stderr in DATA_DIR/serve.log."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.env = {**os.environ, **(env or {})}
        self.env.pop("GRIDBOT_DATABASE_URL", None)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = (data_dir / "serve.log").open("ab")  # closed in stop()

    async def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        self.proc = subprocess.Popen(
            [*command, *self.extra], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        await wait_healthy(self.port, self.data_dir / "serve.log")

    def log_text(self) -> str:
        return (self.data_dir / "serve.log").read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


async def wait_healthy(port: int, log: Path | None = None, tries: int = 300) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(tries):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"gridbot serve on port {port} did not come up\n{tail}")


async def listen(port: int, bots: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
    """A chat window left open until cancelled: the history it loads, then every bot message live."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "bot":
                bots.append(data)
            elif data["type"] == "history":
                history.extend(item for item in data["items"] if item["type"] == "bot")


async def send_all(port: int, frames: list[dict[str, Any]], acked: set[str], stop_after: int | None) -> None:
    """Send `frames`; return after `stop_after` new acks, or once every frame is acknowledged."""
    wanted = {f["id"] for f in frames}
    async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        for frame in frames:
            await ws.send_str(json.dumps(frame, ensure_ascii=False))
        new = 0
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "ack" and data["id"] in wanted:
                new += data["id"] not in acked
                acked.add(data["id"])
            if (stop_after is not None and new >= stop_after) or wanted <= acked:
                return

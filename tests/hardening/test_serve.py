"""A real `gridbot serve`: the database going away for a few seconds under a stream of messages
(PostgreSQL through a TCP proxy we cut), /healthz, /metrics and --log-json."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text

import handlers.parsing
from handlers.parsing import accel
from tests.conftest import _PgServer
from tests.serve_process import ServeProcess, free_port

PARSING_DIR = Path(handlers.parsing.__file__).parent

TOPICS = ("1号楼微网格群", "2号楼微网格群", "3号楼微网格群", "4号楼微网格群")


class TcpProxy:
    """127.0.0.1:<port> → 127.0.0.1:5432. `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_port: int = 5432) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.writers -= {writer, up_writer}

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()  # a reset, as when the server or the network goes away
        await self.server.wait_closed()
        self.server = None

    async def stop(self) -> None:
        if self.server is not None:
            await self.cut()


def frames(prefix: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        text = f"{i % 9 + 1}号楼{i % 5 + 1}单元楼道灯坏了" if i % 3 == 0 else f"谢谢网格长 {i}"
        out.append(
            {"type": "send", "id": f"{prefix}-{i}", "room": TOPICS[i % 4], "as": f"居民{i}", "text": text}
        )
    return out


async def send_and_wait_acks(port: int, raw_frames: list[str], ids: set[str], pause: float = 0.0) -> set[str]:
    acked: set[str] = set()
    async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:

        async def send() -> None:
            for raw in raw_frames:
                await ws.send_str(raw)
                if pause:
                    await asyncio.sleep(pause)

        sender = asyncio.create_task(send())
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "ack" and data["id"] in ids:
                acked.add(data["id"])
            elif data["type"] in ("failed", "error") and data.get("id") in ids:
                raise AssertionError(data)
            if acked == ids:
                break
        await sender
    return acked


# -- the database away for ~3 s -------------------------------------------------------------------


@pytest.fixture
def pg_db(_pg_server: _PgServer) -> Any:
    if not _pg_server.reachable():
        pytest.skip(f"PostgreSQL unreachable: {_pg_server.error}")
    url = _pg_server.create_database()
    yield url
    _pg_server.drop_database(url)


async def test_database_outage_loses_and_repeats_nothing(pg_db: str, tmp_path: Path) -> None:
    direct = create_engine(pg_db)
    proxy = TcpProxy()
    await proxy.start()
    proxied = re.sub(r"@127\.0\.0\.1(:\d+)?/", f"@127.0.0.1:{proxy.port}/", pg_db)
    assert proxied != pg_db
    server = ServeProcess(tmp_path, "--url", proxied)
    await server.start()
    sent = frames("outage", 60)
    ids = {f["id"] for f in sent}
    try:

        async def outage() -> None:
            await asyncio.sleep(1.0)  # some messages in
            await proxy.cut()
            await asyncio.sleep(3.0)
            await proxy.start()

        cutter = asyncio.create_task(outage())
        raws = [json.dumps(f, ensure_ascii=False) for f in sent]
        acked = await asyncio.wait_for(send_and_wait_acks(server.port, raws, ids, pause=0.08), 60)
        await cutter
        assert acked == ids
        with direct.connect() as conn:
            for _ in range(300):  # the outbox drains once the database is back
                if not conn.execute(
                    text("select count(*) from outboxmessage where status != 'sent'")
                ).scalar():
                    break
                await asyncio.sleep(0.1)
                conn.rollback()
            platform_ids = [r[0] for r in conn.execute(text("select platform_id from inboundmessage"))]
            statuses = conn.execute(text("select status, count(*) from outboxmessage group by status")).all()
            tickets = conn.execute(text("select count(*) from ticket")).scalar()
    finally:
        server.stop()
        await proxy.stop()
        direct.dispose()
    assert sorted(platform_ids) == sorted(f"web-{i}" for i in ids)  # each exactly once
    assert tickets == sum("灯坏了" in f["text"] for f in sent)
    assert dict(statuses).keys() == {"sent"}, statuses
    log = server.log_text()
    assert "could not be stored; retrying" in log, log[-3000:]  # the outage is visible in the log


# -- /healthz, /metrics, --log-json -------------------------------------------------------------

METRICS = (
    "gridbot_messages_in_total",
    "gridbot_replies_out_total",
    "gridbot_outbox_pending",
    "gridbot_scheduler_lag_seconds",
    "gridbot_process_seconds_per_message",
)


async def scrape(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        body = await resp.text()
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            values[name] = float(value)
    for name in METRICS:
        assert f"# TYPE {name} " in body and name in values, name
    return values


async def test_health_metrics_and_json_logs(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path, "--log-json")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{server.port}/healthz") as resp:
                assert resp.status == 200 and resp.content_type == "application/json"
                assert (await resp.json())["status"] == "ok"
            before = await scrape(http, server.port)
            sent = frames("obs", 12)
            raws = [json.dumps(f, ensure_ascii=False) for f in sent]
            # a NUL must not wedge the inbound queue (bot/app.py storable())
            raws.append(
                '{"type": "send", "id": "obs-bad", "room": "1号楼微网格群", "as": "居民\\u0000x", '
                '"text": "电梯坏了\\u0000"}'
            )
            ids = {f["id"] for f in sent} | {"obs-bad"}
            await asyncio.wait_for(send_and_wait_acks(server.port, raws, ids), 30)
            for _ in range(100):
                after = await scrape(http, server.port)
                if after["gridbot_outbox_pending"] == 0 and after["gridbot_replies_out_total"] > 0:
                    break
                await asyncio.sleep(0.1)
            # SQLite: the background checkpointer runs and copies what the messages wrote to the log
            for _ in range(100):
                wal = await scrape(http, server.port)
                if wal["gridbot_sqlite_wal_frames"] > 0 and wal["gridbot_sqlite_wal_pending_frames"] == 0:
                    break
                await asyncio.sleep(0.05)
        assert wal["gridbot_sqlite_checkpointer_up"] == 1
        assert wal["gridbot_sqlite_wal_frames"] > 0 and wal["gridbot_sqlite_wal_pending_frames"] == 0, wal
        assert after["gridbot_messages_in_total"] - before["gridbot_messages_in_total"] == len(ids)
        assert after["gridbot_replies_out_total"] > before["gridbot_replies_out_total"]
        assert after["gridbot_process_seconds_per_message"] > 0
        # what start-up made (the compiled lexicon, above all) is frozen out of the collector
        assert after["gridbot_gc_frozen_objects"] > 10_000, after
        # the service runs the parser compiled, as bootstrap builds it (plain Python only without it)
        assert after["gridbot_parser_native"] == (accel.build_state(PARSING_DIR) == "current")
        assert after["gridbot_outbox_pending"] == 0
    finally:
        server.stop()
    lines = [line for line in server.log_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)  # every stderr line is one JSON object
        assert {"ts", "level", "logger", "msg"} <= record.keys()


async def test_lone_surrogate_frame_is_acked(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path)
    await server.start()
    try:
        raw = (
            '{"type": "send", "id": "sur", "room": "1号楼微网格群", "as": "居民y", "text": "电梯坏了\\ud800"}'
        )
        ok = json.dumps(frames("after", 1)[0], ensure_ascii=False)
        await asyncio.wait_for(send_and_wait_acks(server.port, [raw, ok], {"sur", "after-0"}), 4)
    finally:
        server.stop()

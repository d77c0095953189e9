"""The Application: owns the connector, the inbound pipeline, the job queue and the outbox sender.

    connector ──event──▶ inbound queue ──batch──▶ Pipeline (parse → handler → store → outbox, commit)
                                                            │
    connector ◀──send── OutboxSender ◀──────── outbox rows ◀┘        JobQueue (APScheduler) ──▶ outbox

A connector's sink returns only after the event is committed, so a connector acknowledges (or
advances its cursor) only for what is safely stored; a crash loses nothing the connector was told
was taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import func
from sqlmodel import col, select

from bot.connectors.base import Connector
from bot.connectors.wecom import WeComRobot
from bot.outbox_sender import OutboxSender, Pacing
from bot.runtime import Runtime
from bot.scheduler import JobQueue
from bot.wecom_mirror import mirror_once
from handlers import parsing
from handlers.events import InboundEvent, storable
from handlers.parsing.parser import warm_parser
from handlers.pipeline import Pipeline
from storage.db import checkpointer_of
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_BATCH = 64


@dataclass
class Metrics:
    """Counters for /metrics (Prometheus text format)."""

    messages_in: int = 0
    duplicates: int = 0
    errors: int = 0
    batches: int = 0
    process_seconds: list[float] = field(default_factory=list)


def _gc_lines() -> list[str]:
    """The cyclic collector: what `gridbot serve` froze at start (left out of every collection)
    and how many full collections ran since (each walks every other object, while messages wait)."""
    full = gc.get_stats()[2]["collections"]
    return [
        "# TYPE gridbot_gc_frozen_objects gauge",
        f"gridbot_gc_frozen_objects {gc.get_freeze_count()}",
        "# TYPE gridbot_gc_full_collections_total counter",
        f"gridbot_gc_full_collections_total {full}",
        # 1 when the parser runs from its compiled build (scripts/build_native.py), 0 as .py files
        "# TYPE gridbot_parser_native gauge",
        f"gridbot_parser_native {int(parsing.NATIVE)}",
    ]


class Application:
    def __init__(
        self,
        runtime: Runtime,
        connector: Connector,
        web_app: web.Application,
        pacing: Pacing,
        worker: str = "main",
    ) -> None:
        self.runtime = runtime
        self.connector = connector
        self.web_app = web_app
        # Every keyword regex compiled now (~0.5 s, once a process), not by the first messages.
        self.pipeline = Pipeline(runtime.session_factory, runtime.services, warm_parser())
        self.jobs = JobQueue(runtime.session_factory, runtime.services, worker=worker)
        self.sender = OutboxSender(
            runtime.session_factory, connector, runtime.services.clock, pacing, worker=worker
        )
        self.metrics = Metrics()
        self.wecom = WeComRobot.from_env()
        self.wecom_sender = (
            OutboxSender(
                runtime.session_factory,
                self.wecom,
                runtime.services.clock,
                Pacing(per_minute=20),
                worker=worker,
            )
            if self.wecom is not None
            else None
        )
        self._queue: asyncio.Queue[tuple[InboundEvent, asyncio.Future[None]]] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task[None]] = []
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/metrics", self.metrics_page)

    # -- inbound ------------------------------------------------------------------------------

    async def sink(self, event: InboundEvent) -> None:
        """What connectors call: returns when the event is committed (or kept as failed)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((storable(event), done))
        await done

    async def _process_loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._process(batch)

    async def _process(self, batch: list[tuple[InboundEvent, asyncio.Future[None]]]) -> None:
        started = time.perf_counter()
        events = [event for event, _ in batch]
        while True:
            try:
                outcomes = await self.pipeline.handle_batch(events)
                break
            except Exception:  # the database is away (restart, network): wait, nothing is lost
                log.exception("inbound batch of %d could not be stored; retrying in 1 s", len(events))
                await asyncio.sleep(1.0)
        self.metrics.batches += 1
        for outcome in outcomes:
            self.metrics.messages_in += 1
            self.metrics.duplicates += outcome.duplicate
            self.metrics.errors += outcome.error is not None
        elapsed = time.perf_counter() - started
        self.metrics.process_seconds.append(elapsed / max(1, len(events)))
        del self.metrics.process_seconds[:-1000]
        for _, done in batch:
            if not done.done():
                done.set_result(None)
        self.sender.wake.set()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._process_loop(), name="inbound"))
        await self.connector.start(self.sink)
        await self.jobs.start()
        self._tasks.append(asyncio.create_task(self.sender.run(), name="outbox"))
        self._tasks.append(asyncio.create_task(self._wake_sender_periodically(), name="outbox-wake"))
        if self.wecom is not None and self.wecom_sender is not None:
            await self.wecom.start(self.sink)
            self._tasks.append(asyncio.create_task(self.wecom_sender.run(), name="wecom"))
            self._tasks.append(asyncio.create_task(self._mirror_to_wecom(), name="wecom-mirror"))

    async def _mirror_to_wecom(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(mirror_once, self.runtime.session_factory) and self.wecom_sender:
                    self.wecom_sender.wake.set()
            except Exception:
                log.exception("WeCom mirror pass failed; retrying")
            await asyncio.sleep(2.0)

    async def _wake_sender_periodically(self) -> None:
        # Scheduled jobs write outbox rows from their own thread; nudge the sender now and then.
        while True:
            await asyncio.sleep(0.5)
            self.sender.wake.set()

    async def stop(self) -> None:
        self.jobs.stop()
        self.sender.stop()
        if self.wecom_sender is not None and self.wecom is not None:
            self.wecom_sender.stop()
            await self.wecom.stop()
        await self.connector.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.runtime.engine.dispose()

    # -- HTTP ---------------------------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "connector": self.connector.name, "queue": self._queue.qsize()}
        )

    def _outbox_depth(self) -> int:
        with self.runtime.session() as session:
            stmt = select(func.count()).where(col(OutboxMessage.status).in_(("pending", "sending")))
            return int(session.exec(stmt).one())

    def _mean_process_seconds(self) -> float:
        recent = self.metrics.process_seconds[-200:]
        return sum(recent) / len(recent) if recent else 0.0

    async def metrics_page(self, request: web.Request) -> web.Response:
        m = self.metrics
        lines = [
            "# TYPE gridbot_messages_in_total counter",
            f"gridbot_messages_in_total {m.messages_in}",
            "# TYPE gridbot_duplicates_total counter",
            f"gridbot_duplicates_total {m.duplicates}",
            "# TYPE gridbot_errors_total counter",
            f"gridbot_errors_total {m.errors}",
            "# TYPE gridbot_replies_out_total counter",
            f"gridbot_replies_out_total {self.sender.sent}",
            "# TYPE gridbot_outbox_failed_total counter",
            f"gridbot_outbox_failed_total {self.sender.failed}",
            "# TYPE gridbot_inbound_queue gauge",
            f"gridbot_inbound_queue {self._queue.qsize()}",
            "# TYPE gridbot_outbox_pending gauge",
            f"gridbot_outbox_pending {await asyncio.to_thread(self._outbox_depth)}",
            "# TYPE gridbot_scheduler_lag_seconds gauge",
            f"gridbot_scheduler_lag_seconds {self.jobs.lag_seconds:.3f}",
            "# TYPE gridbot_process_seconds_per_message gauge",
            f"gridbot_process_seconds_per_message {self._mean_process_seconds():.6f}",
            *self._checkpoint_lines(),
            *_gc_lines(),
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    def _checkpoint_lines(self) -> list[str]:
        """SQLite: whether the WAL checkpointer runs and how much of the log it has still to copy
        (a log that keeps growing means commits will soon checkpoint themselves again)."""
        checkpointer = checkpointer_of(self.runtime.engine)
        if checkpointer is None:
            return []
        _busy, frames, copied = checkpointer.last or (0, 0, 0)
        return [
            "# TYPE gridbot_sqlite_checkpointer_up gauge",
            f"gridbot_sqlite_checkpointer_up {int(checkpointer.alive)}",
            "# TYPE gridbot_sqlite_wal_frames gauge",
            f"gridbot_sqlite_wal_frames {max(frames, 0)}",
            "# TYPE gridbot_sqlite_wal_pending_frames gauge",
            f"gridbot_sqlite_wal_pending_frames {max(frames - copied, 0)}",
        ]

"""The sender loop: delivers outbox rows through a connector, paced, in order per chat, retried.

Delivery is at-least-once with a dedupe key:
- a row is claimed — `sending`, the worker's name, a lease (attempts + 1, committed) — before the
  connector is called, and marked `sent` with the platform's message id after;
- after a crash, rows left `sending` are sent again: at once by the same worker when it restarts,
  by any other worker of the account once the lease has run out (the connector may have delivered
  them just before the crash); each carries its `dedupe_key`, which a receiver that can (the web simulator,
  a WeCom robot relay) uses to drop the repeat. For WeChat the window is the few milliseconds
  between the send RPC returning and the commit;
- a failed send is retried with exponential backoff; later rows to the same chat wait for it, so
  a chat never sees messages out of order; other chats are not held up;
- a permanent failure (or too many attempts) marks the row `failed` with the error, for the
  dashboard; it is never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from bot.connectors.base import Connector, SendError
from handlers.clock import Clock
from handlers.events import ChatKind, Outbound
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

SCAN = 100  # rows looked at per pick: enough to find another chat's message behind a blocked one


@dataclass(frozen=True)
class Pacing:
    per_minute: float = 20.0  # WeChat accounts get limited beyond ~20 messages a minute
    jitter: float = 0.5  # ± this fraction of the interval, so sends don't look machine-timed
    max_attempts: int = 8
    backoff_base: float = 2.0  # seconds; doubles per attempt, capped at backoff_cap
    backoff_cap: float = 300.0

    @property
    def interval(self) -> float:
        return 0.0 if self.per_minute <= 0 else 60.0 / self.per_minute


UNPACED = Pacing(per_minute=0)


def to_outbound(row: OutboxMessage) -> Outbound:
    return Outbound(
        chat=ChatKind(row.chat),
        to_id=row.to_id,
        to_name=row.to_name,
        kind=row.kind,
        text=row.text,
        mentions=tuple(row.mentions),
        mention_names=tuple(row.mention_names),
        dedupe_key=row.dedupe_key,
        account=row.account,
    )


class OutboxSender:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        connector: Connector,
        clock: Clock,
        pacing: Pacing = Pacing(),
        rng: random.Random | None = None,
        worker: str = "main",
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.session_factory = session_factory
        self.connector = connector
        self.clock = clock
        self.pacing = pacing
        self.rng = rng or random.Random()
        self.worker = worker
        self.lease = lease  # how long a claimed row is left alone before others may take it over
        self.wake = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self._stopping = False

    # -- database steps (each its own short transaction) ----------------------------------------

    def pick(self) -> OutboxMessage | None:
        """Claim the next row to send: oldest first, one chat's rows strictly in order.

        A row is free when `pending` (and past its retry time), or `sending` under a lease that
        ran out (its claimant died mid-send) or that this worker itself left behind in a crash.
        A chat whose earlier row waits for a retry or is being sent elsewhere is skipped whole.
        """
        now = self.clock.now()
        with self.session_factory() as session:
            stmt = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.account == self.connector.account,
                    or_(col(OutboxMessage.status) == "pending", col(OutboxMessage.status) == "sending"),
                )
                .order_by(col(OutboxMessage.id))
                .limit(SCAN)
                # PostgreSQL: two workers never claim the same row at once (SQLite: no-op, its
                # writers are serialised anyway).
                .with_for_update(skip_locked=True)
            )
            blocked: set[str] = set()
            for row in session.exec(stmt):
                if row.to_id in blocked:
                    continue
                if not self._free(row, now):
                    blocked.add(row.to_id)  # keep this chat's order: nothing overtakes it
                    continue
                row.status = "sending"
                row.claimed_by = self.worker
                row.not_before = now + self.lease
                row.attempts += 1
                session.add(row)
                session.commit()
                return row
        return None

    def _free(self, row: OutboxMessage, now: datetime) -> bool:
        lease_over = row.not_before is None or row.not_before <= now
        if row.status == "sending":
            return row.claimed_by == self.worker or lease_over
        return lease_over

    def mark_sent(self, row_id: int, platform_id: str) -> None:
        with self.session_factory() as session:
            row = session.get(OutboxMessage, row_id)
            if row is not None:
                row.status = "sent"
                row.claimed_by = None
                row.not_before = None
                row.sent_at = self.clock.now()
                row.platform_msg_id = platform_id[:128]
                row.last_error = ""
                session.add(row)
                session.commit()

    def mark_failed(self, row_id: int, error: SendError) -> None:
        with self.session_factory() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.last_error = str(error)[:500]
            row.claimed_by = None
            if not error.retryable or row.attempts >= self.pacing.max_attempts:
                row.status = "failed"
                self.failed += 1
                log.error("outbox %s to %s failed for good: %s", row.id, row.to_name, error)
            else:
                row.status = "pending"
                row.not_before = self.clock.now() + self.backoff(row.attempts)
                log.warning(
                    "outbox %s to %s failed (attempt %d), retrying: %s",
                    row.id,
                    row.to_name,
                    row.attempts,
                    error,
                )
            session.add(row)
            session.commit()

    def backoff(self, attempts: int) -> timedelta:
        seconds = min(self.pacing.backoff_cap, self.pacing.backoff_base * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds * (0.8 + 0.4 * self.rng.random()))

    # -- the loop -------------------------------------------------------------------------------

    async def send_one(self) -> bool:
        """Send the next row if there is one; True when a row was attempted."""
        row = await asyncio.to_thread(self.pick)
        if row is None:
            return False
        assert row.id is not None
        try:
            platform_id = await self.connector.send(to_outbound(row))
        except SendError as exc:
            await asyncio.to_thread(self.mark_failed, row.id, exc)
            return True
        except Exception as exc:  # a connector bug must not kill the loop; treat as retryable
            log.exception("connector %s raised while sending outbox %s", self.connector.name, row.id)
            await asyncio.to_thread(self.mark_failed, row.id, SendError(f"{type(exc).__name__}: {exc}"))
            return True
        await asyncio.to_thread(self.mark_sent, row.id, platform_id)
        self.sent += 1
        return True

    async def run(self) -> None:
        while not self._stopping:
            try:
                attempted = await self.send_one()
            except Exception:  # the database may be briefly away: wait and go on
                log.exception("outbox sender: database error, retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            if attempted:
                await self.pause()
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=1.0)

    async def pause(self) -> None:
        interval = self.pacing.interval
        if interval > 0:
            spread = interval * self.pacing.jitter
            await asyncio.sleep(max(0.0, interval + self.rng.uniform(-spread, spread)))

    def stop(self) -> None:
        self._stopping = True
        self.wake.set()

"""The JobQueue: scheduled work on APScheduler triggers, exactly once across restarts.

Every run of a once-only job (reminders, chases, the missed-report check, digests, bulletins)
claims a JobRun row keyed by job name and due time in the same transaction as its effects. So:
- a restart at 16:05 finds `patrol_chase:…T16:00` claimed and does not chase again;
- downtime across 18:00 is caught up at start: the last due time within the job's catch-up
  window is run if nobody claimed it;
- several workers may fire the same job; one claim wins.
Polling jobs (escalation, ticket follow-up) are idempotent through their outbox dedupe keys.

Live, APScheduler's AsyncIOScheduler fires the jobs on real time. In tests and `gridbot simulate`,
`run_until` walks the same triggers on a virtual clock, firing every due job in time order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from handlers import digests, scheduled
from handlers.clock import VirtualClock
from handlers.context import Services
from handlers.incidents import escalate_due
from storage.store import Store

log = logging.getLogger(__name__)

JobFunc = Callable[[Store, Services, datetime], object]
TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class JobSpec:
    name: str
    trigger: BaseTrigger
    func: JobFunc
    claim: bool = True  # once-only: claim a JobRun per due time
    catch_up: timedelta = timedelta(hours=2)  # how late a run missed during downtime still runs


def _daily(at: time, services: Services) -> CronTrigger:
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=services.policy.tz)


def _weekday(spec: tuple[int, time], services: Services) -> CronTrigger:
    weekday, at = spec
    return CronTrigger(day_of_week=weekday, hour=at.hour, minute=at.minute, timezone=services.policy.tz)


def _monthday(spec: tuple[int, time], services: Services) -> CronTrigger:
    day, at = spec
    return CronTrigger(day=day, hour=at.hour, minute=at.minute, timezone=services.policy.tz)


def _escalation(store: Store, services: Services, due: datetime) -> object:
    return escalate_due(store, services, due)


def _local_day(services: Services, due: datetime) -> date:
    return due.astimezone(services.policy.tz).date()


def _daily_digest(store: Store, services: Services, due: datetime) -> object:
    return digests.daily_digest(store, services, _local_day(services, due), due)


def _weekly_bulletin(store: Store, services: Services, due: datetime) -> object:
    """The previous Monday-to-Sunday week."""
    day = _local_day(services, due)
    this_monday = day - timedelta(days=day.weekday())
    return digests.weekly_bulletin(store, services, this_monday - timedelta(days=7), due)


def _monthly_bulletin(store: Store, services: Services, due: datetime) -> object:
    """The previous calendar month."""
    first = _local_day(services, due).replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return digests.monthly_bulletin(store, services, previous, due)


def default_jobs(services: Services, extra: Sequence[JobSpec] = ()) -> list[JobSpec]:
    policy = services.policy
    epoch = datetime(2020, 1, 6, tzinfo=policy.tz)  # a Monday at 00:00: minute jobs align to :00
    jobs = [
        JobSpec("patrol_reminder", _daily(policy.patrol_reminder, services), scheduled.patrol_reminder),
        JobSpec("patrol_chase", _daily(policy.patrol_chase, services), scheduled.patrol_chase),
        JobSpec(
            "missed_reports",
            _daily(policy.patrol_deadline, services),
            scheduled.missed_reports,
            catch_up=timedelta(hours=5),
        ),
        JobSpec(
            "overdue_chase",
            _daily(policy.overdue_chase, services),
            scheduled.overdue_chase,
            catch_up=timedelta(hours=8),
        ),
        JobSpec(
            "daily_digest", _daily(policy.digest_time, services), _daily_digest, catch_up=timedelta(hours=3)
        ),
        JobSpec(
            "weekly_bulletin",
            _weekday(policy.weekly_bulletin, services),
            _weekly_bulletin,
            catch_up=timedelta(days=1),
        ),
        JobSpec(
            "monthly_bulletin",
            _monthday(policy.monthly_bulletin, services),
            _monthly_bulletin,
            catch_up=timedelta(days=1),
        ),
        JobSpec(
            "escalation",
            IntervalTrigger(minutes=1, start_date=epoch, timezone=policy.tz),
            _escalation,
            claim=False,
        ),
        JobSpec(
            "ticket_followup",
            IntervalTrigger(minutes=5, start_date=epoch, timezone=policy.tz),
            scheduled.ticket_followup,
            claim=False,
        ),
    ]
    jobs.extend(extra)
    return jobs


class JobQueue:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        services: Services,
        jobs: Sequence[JobSpec] | None = None,
        worker: str = "main",
    ) -> None:
        self.session_factory = session_factory
        self.services = services
        self.jobs = list(jobs) if jobs is not None else default_jobs(services)
        self.worker = worker
        self._scheduler: AsyncIOScheduler | None = None
        self.ran: list[tuple[str, datetime]] = []  # what this process ran, for logs and tests
        self.lag_seconds = 0.0  # how late the last live run started after its due time (metrics)

    # -- one run -------------------------------------------------------------------------------

    def run_job(self, spec: JobSpec, due: datetime) -> bool:
        """Run `spec` for its due time unless that run was claimed before; True when it ran."""
        with self.session_factory() as session:
            store = Store(session)
            now = self.services.clock.now()
            if spec.claim and not store.claim_job(f"{spec.name}:{due.isoformat()}", now, self.worker):
                return False
            spec.func(store, self.services, due)
            session.commit()
        self.ran.append((spec.name, due))
        return True

    def last_due(self, spec: JobSpec, now: datetime) -> datetime | None:
        """The latest fire time of `spec` in (now - catch_up, now]."""
        found = None
        t = spec.trigger.get_next_fire_time(None, now - spec.catch_up)
        while t is not None and t <= now:
            found = t
            t = spec.trigger.get_next_fire_time(t, t + TINY)
        return found

    def catch_up(self) -> list[tuple[str, datetime]]:
        """At start: run once-only jobs whose last due time passed while we were down."""
        now = self.services.clock.now()
        done = []
        for spec in self.jobs:
            due = self.last_due(spec, now) if spec.claim else None
            if due is not None and self.run_job(spec, due):
                log.info("caught up %s due %s", spec.name, due.isoformat())
                done.append((spec.name, due))
        return done

    # -- virtual time --------------------------------------------------------------------------

    def run_until(self, target: datetime) -> None:
        """Advance the virtual clock to `target`, firing every job due on the way, in time order."""
        clock = self.services.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("run_until needs a VirtualClock")
        upcoming = {
            spec.name: spec.trigger.get_next_fire_time(None, clock.now() + TINY) for spec in self.jobs
        }
        order = {spec.name: i for i, spec in enumerate(self.jobs)}
        specs = {spec.name: spec for spec in self.jobs}
        while True:
            pending = [(t, order[n], n) for n, t in upcoming.items() if t is not None and t <= target]
            if not pending:
                break
            due, _, name = min(pending)
            clock.set(max(due, clock.now()))
            self.run_job(specs[name], due)
            upcoming[name] = specs[name].trigger.get_next_fire_time(due, due + TINY)
        clock.set(max(target, clock.now()))

    # -- real time -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Catch up on what was missed, then fire jobs on APScheduler in this event loop."""
        await asyncio.to_thread(self.catch_up)
        scheduler = AsyncIOScheduler(timezone=self.services.policy.tz)
        for spec in self.jobs:
            scheduler.add_job(
                self._fire,
                spec.trigger,
                args=[spec],
                id=spec.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(spec.catch_up.total_seconds()) or 60,
            )
        scheduler.start()
        self._scheduler = scheduler

    async def _fire(self, spec: JobSpec) -> None:
        now = self.services.clock.now()
        due = self.last_due(spec, now) or now
        delay = 1.0
        while True:
            try:
                await asyncio.to_thread(self.run_job, spec, due)
                self.lag_seconds = max(0.0, (self.services.clock.now() - due).total_seconds())
                return
            except Exception:
                # The database may be restarting: retry within the job's catch-up window (a
                # once-only job's claim rolled back with the failure, so a retry cannot repeat it).
                if not spec.claim or self.services.clock.now() - due > spec.catch_up:
                    log.exception("scheduled job %s due %s failed; giving up", spec.name, due)
                    return
                log.exception("scheduled job %s due %s failed; retrying in %.0f s", spec.name, due, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

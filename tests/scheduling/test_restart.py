"""Scheduled work survives restarts: nothing repeated, nothing lost (real SQLite file, real scheduler)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.runtime import Runtime, open_runtime
from bot.scheduler import JobQueue, JobSpec
from config.roster import load_roster
from handlers.clock import SHANGHAI, VirtualClock
from storage.models import JobRun, OutboxMessage, PatrolReport
from tests.workflow.harness import DEMO_ROSTER


def at(hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, 23, hour, minute, tzinfo=SHANGHAI)


def start_process(url: str, now: str) -> tuple[Runtime, JobQueue]:
    """What `gridbot serve` does at start: open the database, build the queue, catch up."""
    runtime = open_runtime(url, load_roster(DEMO_ROSTER), VirtualClock(at(now)))
    return runtime, JobQueue(runtime.session_factory, runtime.services)


def count(runtime: Runtime, kind: str) -> int:
    with Session(runtime.engine) as s:
        return len(list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == kind))))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gridbot.sqlite3'}"


def test_restart_after_the_chase_does_not_chase_again(url: str) -> None:
    runtime, jobs = start_process(url, "08:00")
    jobs.run_until(at("16:01"))
    chases = count(runtime, "patrol_chase")
    assert chases == 12
    runtime.engine.dispose()  # the process stops at 16:01

    runtime, jobs = start_process(url, "16:05")  # ... and starts again at 16:05
    assert jobs.catch_up() == []
    assert count(runtime, "patrol_chase") == chases
    runtime.engine.dispose()


def test_downtime_across_the_deadline_still_checks_missed_reports_once(url: str) -> None:
    runtime, jobs = start_process(url, "08:00")
    jobs.run_until(at("17:30"))
    runtime.engine.dispose()  # down from 17:30 to 18:30

    runtime, jobs = start_process(url, "18:30")
    assert [name for name, _ in jobs.catch_up()] == ["missed_reports"]
    with Session(runtime.engine) as s:
        assert len(list(s.exec(select(PatrolReport).where(PatrolReport.status == "missed")))) == 12
    sent = count(runtime, "missed_reports")
    runtime.engine.dispose()

    runtime, jobs = start_process(url, "18:40")  # another restart: not again
    assert jobs.catch_up() == []
    assert count(runtime, "missed_reports") == sent
    runtime.engine.dispose()


def test_a_job_that_crashes_midway_runs_again_after_restart(url: str) -> None:
    runtime, _ = start_process(url, "09:30")
    calls: list[datetime] = []

    def flaky(store: object, services: object, due: datetime) -> None:
        calls.append(due)
        if len(calls) == 1:
            raise RuntimeError("power cut")

    from apscheduler.triggers.cron import CronTrigger

    spec = JobSpec("flaky", CronTrigger(hour=9, minute=0, timezone=SHANGHAI), flaky)
    jobs = JobQueue(runtime.session_factory, runtime.services, [spec])
    with pytest.raises(RuntimeError):
        jobs.catch_up()
    with Session(runtime.engine) as s:
        assert list(s.exec(select(JobRun))) == []  # the claim rolled back with the work
    assert jobs.catch_up() == [("flaky", at("09:00"))]
    assert jobs.catch_up() == []
    assert calls == [at("09:00"), at("09:00")]
    runtime.engine.dispose()


async def test_the_real_scheduler_catches_up_on_start(url: str) -> None:
    runtime, jobs = start_process(url, "09:05")
    await jobs.start()  # APScheduler in this loop; catch-up first
    try:
        assert ("patrol_reminder", at("09:00")) in jobs.ran
        assert count(runtime, "patrol_reminder") == 12
    finally:
        jobs.stop()
    runtime2, jobs2 = start_process(url, "09:10")
    await jobs2.start()
    try:
        assert count(runtime2, "patrol_reminder") == 12  # not sent again
    finally:
        jobs2.stop()
        runtime.engine.dispose()
        runtime2.engine.dispose()

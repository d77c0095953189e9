"""Major situations (重大情况单独报): alert supervisors privately at once, escalate until acknowledged.

The group never sees the details: it gets one short, calm notice asking the reporter to continue
in private. Alerts carry the masked text and the location. Unacknowledged after the policy's
timeout, the incident goes to the next level (comprehensive grid → community → street), then
keeps re-alerting the top level until the round cap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.common import award, fmt_time, grid_label, location_of, split_ref
from handlers.context import MessageContext, Services
from handlers.labels import category_name
from handlers.outbox import Mailer
from handlers.reports import record_patrol
from handlers.router import Router
from storage.models import Incident, MicroGrid, Person
from storage.store import Store

router = Router("incidents")


def supervisors_from(
    store: Store, level: int, max_level: int, grid: MicroGrid | None, community_id: int | None
) -> tuple[int, list[Person]]:
    """The first level at or above `level` that has anyone to alert (an empty level is skipped)."""
    for lvl in range(level, max_level + 1):
        people = store.supervisors_at(lvl, grid, community_id)
        if people:
            return lvl, people
    return min(level, max_level), []


def alert_text(services: Services, store: Store, incident: Incident, key: str, minutes: int = 0) -> str:
    grid = store.grid(incident.micro_grid_id)
    reporter = store.person(incident.reporter_id)
    return services.texts.render(
        key,
        ref=f"M{incident.id}",
        category=category_name(incident.category),
        grid=grid_label(grid),
        location=incident.location or "未注明",
        reporter=reporter.name if reporter else "未知",
        time=fmt_time(incident.created_at, services.policy.tz),
        text=incident.masked_text[:500],
        minutes=minutes,
    )


@router.message(kind="major")
async def major(ctx: MessageContext) -> None:
    community = ctx.store.community_of_grid(ctx.grid) if ctx.grid else None
    location = location_of(ctx.parsed)
    if ctx.grid is not None and not location:
        location = ctx.grid.name
    incident = Incident(
        micro_grid_id=ctx.grid.id if ctx.grid else None,
        community_id=community,
        reporter_id=ctx.sender.id,
        message_id=ctx.inbound_id,
        category=ctx.parsed.category or "other",
        location=location,
        masked_text=ctx.parsed.masked_text[:2000],
        created_at=ctx.now,
        next_escalation_at=ctx.now + timedelta(minutes=ctx.policy.escalation_timeout_minutes),
    )
    ctx.store.add(incident)
    level, people = supervisors_from(ctx.store, 1, ctx.policy.max_level, ctx.grid, community)
    incident.level = level
    if ctx.policy.escalation_max_rounds <= 1:
        incident.next_escalation_at = None
    ctx.store.add(incident)
    text = alert_text(ctx.services, ctx.store, incident, "major_alert")
    for person in people:
        ctx.mailer.to_person(person, "major_alert", text)
        ctx.store.add_alert(incident, level, person.id, "alert", ctx.now)
    ctx.notes.append(f"incident M{incident.id} alerted {len(people)} at level {level}")
    if ctx.sender.is_staff and ctx.grid is not None:
        record_patrol(ctx, "major", ctx.parsed.category)
    else:
        award(ctx.store, ctx.policy, ctx.sender.id, community, "major_report", f"M{incident.id}", ctx.now)
    if ctx.in_group and ctx.grid is not None:
        notice = ctx.render("major_group_notice", reporter=ctx.sender.person.name)
        ctx.mailer.to_group(ctx.grid, "major_group_notice", notice, [ctx.sender.person])
    else:
        ctx.reply_private("reply", ctx.render("major_private_ack", ref=f"M{incident.id}"))


@router.message(kind="command", command="ack")
async def ack(ctx: MessageContext) -> None:
    args = ctx.parsed.args
    refs = [split_ref(r) for r in (args.refs if args else [])]
    ref = next((r for r in refs if r and r[0] == "M"), None)
    if ref is None:
        # "#收到" alone from a supervisor with exactly one open alert to them: that one.
        ctx.reply("reply", ctx.render("need_ref", example="#收到 M3"))
        return
    if not (ctx.sender.is_supervisor or ctx.sender.person.is_admin):
        ctx.reply("reply", ctx.render("refused", action="确认重大情况", who="上级网格长或社区负责人"))
        return
    incident = ctx.store.incident(ref[1])
    if incident is None:
        ctx.reply("reply", ctx.render("not_found", ref=f"M{ref[1]}"))
        return
    ref_text = f"M{incident.id}"
    if incident.status == "open":
        incident.status = "acked"
        incident.acked_by = ctx.sender.id
        incident.acked_at = ctx.now
        incident.next_escalation_at = None
        ctx.store.add(incident)
        ctx.store.add_alert(incident, incident.level, ctx.sender.id, "ack", ctx.now)
        reporter = ctx.store.person(incident.reporter_id)
        if reporter is not None and reporter.id != ctx.sender.id:
            ctx.mailer.to_person(reporter, "reply", ctx.render("major_acked_reporter", ref=ref_text))
    ctx.reply_private("reply", ctx.render("major_acked", ref=ref_text))


def escalate_due(store: Store, services: Services, now: datetime, account: str = "default") -> list[int]:
    """Escalate every open incident whose timer ran out; returns the ids escalated.

    Idempotent per round: the dedupe key names the incident and its round, so a job that runs
    twice (restart, second worker) writes each escalation once.
    """
    policy = services.policy
    done = []
    for incident in store.incidents_due(now):
        assert incident.id is not None
        grid = store.grid(incident.micro_grid_id)
        level, people = supervisors_from(
            store, min(incident.level + 1, policy.max_level), policy.max_level, grid, incident.community_id
        )
        incident.level = level
        incident.rounds += 1
        waited = int((now - incident.created_at).total_seconds() // 60)
        text = alert_text(services, store, incident, "major_escalation", minutes=waited)
        mailer = Mailer(store, now, f"esc:M{incident.id}:{incident.rounds}", account)
        for person in people:
            mailer.to_person(person, "major_escalation", text)
            store.add_alert(incident, level, person.id, "escalation", now)
        incident.next_escalation_at = (
            now + timedelta(minutes=policy.escalation_timeout_minutes)
            if incident.rounds < policy.escalation_max_rounds
            else None
        )
        store.add(incident)
        done.append(incident.id)
    return done

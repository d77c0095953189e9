"""Time-driven work: patrol reminders and chases, missed reports, ticket follow-up (跟踪督办).

Each job is a plain function over a store, the services and its due time. Jobs write outbox rows
with dedupe keys derived from the due time, so running one twice (restart, a second worker) writes
each message once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select

from handlers.common import fmt_day, fmt_time
from handlers.context import Services
from handlers.labels import category_name
from handlers.outbox import Mailer
from storage.models import MicroGrid, PatrolReport, Person, Ticket
from storage.store import Store

OPEN = ("open", "accepted", "suspended")


def local_day(services: Services, at: datetime) -> date:
    return at.astimezone(services.policy.tz).date()


def patrol_day(services: Services, day: date) -> bool:
    """Is a patrol expected today? Every day, or only official working days (with 调休)."""
    return not services.policy.workdays_only or services.calendar.is_workday(day)


def deadline_label(services: Services) -> str:
    return f"{services.policy.patrol_deadline:%H:%M}"


def reported_grid_ids(store: Store, day: date) -> set[int]:
    stmt = select(PatrolReport.micro_grid_id).where(PatrolReport.day == day, PatrolReport.status != "missed")
    return set(store.session.exec(stmt))


def patrol_reminder(store: Store, services: Services, due: datetime) -> int:
    day = local_day(services, due)
    if not patrol_day(services, day):
        return 0
    text = services.texts.render("patrol_reminder", day=fmt_day(day), deadline=deadline_label(services))
    mailer = Mailer(store, due, f"patrol_reminder:{day}")
    for grid in store.grids():
        mailer.to_group(grid, "patrol_reminder", text, key=f"{grid.id}")
    return len(mailer.sent)


def patrol_chase(store: Store, services: Services, due: datetime) -> int:
    """@-mention only the staff of grids that have not reported today."""
    day = local_day(services, due)
    if not patrol_day(services, day):
        return 0
    done = reported_grid_ids(store, day)
    silent = [g for g in store.grids() if g.id is not None and g.id not in done]
    staff_by_grid = store.staff_of_grids([g.id for g in silent if g.id is not None])
    mailer = Mailer(store, due, f"patrol_chase:{day}")
    for grid in silent:
        assert grid.id is not None
        staff = [p for p, _ in staff_by_grid[grid.id]]
        text = services.texts.render("patrol_chase", grid=grid.name, deadline=deadline_label(services))
        mailer.to_group(grid, "patrol_chase", text, mentions=staff, key=f"{grid.id}")
    return len(mailer.sent)


def missed_reports(store: Store, services: Services, due: datetime) -> int:
    """At the deadline: record each silent grid as missed, tell its leader, and send each
    comprehensive-grid and community supervisor ONE list of the missing grids in their area."""
    day = local_day(services, due)
    if not patrol_day(services, day):
        return 0
    done = reported_grid_ids(store, day)
    missing = [g for g in store.grids() if g.id is not None and g.id not in done]
    mailer = Mailer(store, due, f"missed:{day}")
    staff_by_grid = store.staff_of_grids([g.id for g in missing if g.id is not None])
    for grid in missing:
        assert grid.id is not None
        if store.patrol(grid.id, day) is None:
            store.add(PatrolReport(micro_grid_id=grid.id, day=day, status="missed", updated_at=due))
        staff = staff_by_grid[grid.id]
        leader = next((p for p, role in staff if role == "leader"), staff[0][0] if staff else None)
        if leader is not None:
            text = services.texts.render(
                "missed_leader", grid=grid.name, day=fmt_day(day), deadline=deadline_label(services)
            )
            mailer.to_person(leader, "missed_reports", text, key=f"leader:{grid.id}")
    for person, grids in supervisors_of(store, missing):
        names = "、".join(g.name for g in grids)
        text = services.texts.render(
            "missed_list", day=fmt_day(day), deadline=deadline_label(services), count=len(grids), grids=names
        )
        mailer.to_person(person, "missed_reports", text, key=f"sup:{person.id}")
    return len(mailer.sent)


def supervisors_of(store: Store, grids: list[MicroGrid]) -> list[tuple[Person, list[MicroGrid]]]:
    """Level 1 and 2 supervisors responsible for each grid, inverted: supervisor -> their grids."""
    out: dict[int, tuple[Person, list[MicroGrid]]] = {}
    for grid in grids:
        community = store.community_of_grid(grid)
        for level in (1, 2):
            for person in store.supervisors_at(level, grid, community):
                assert person.id is not None
                out.setdefault(person.id, (person, []))[1].append(grid)
    return list(out.values())


def ticket_followup(store: Store, services: Services, due: datetime) -> int:
    """Warn before a ticket is due and once when it becomes overdue (runs every minute)."""
    policy = services.policy
    soon = due.timestamp() + policy.due_soon_hours * 3600
    stmt = select(Ticket).where(col(Ticket.status).in_(OPEN), col(Ticket.recalled).is_(False))
    sent = 0
    for ticket in store.session.exec(stmt.order_by(col(Ticket.id))):
        if ticket.deadline <= due:
            sent += notify_ticket(store, services, ticket, due, "ticket_overdue", f"overdue:R{ticket.id}")
        elif ticket.deadline.timestamp() <= soon:
            sent += notify_ticket(store, services, ticket, due, "ticket_due_soon", f"due_soon:R{ticket.id}")
    return sent


def overdue_chase(store: Store, services: Services, due: datetime) -> int:
    """The daily chase (督办) for every ticket that stays overdue."""
    day = local_day(services, due)
    stmt = select(Ticket).where(
        col(Ticket.status).in_(OPEN), col(Ticket.deadline) < due, col(Ticket.recalled).is_(False)
    )
    sent = 0
    for ticket in store.session.exec(stmt.order_by(col(Ticket.id))):
        days = max(1, (due - ticket.deadline).days + (1 if (due - ticket.deadline).seconds else 0))
        sent += notify_ticket(
            store,
            services,
            ticket,
            due,
            "ticket_overdue_chase",
            f"chase:R{ticket.id}:{day}",
            days=days,
            kind="ticket_overdue",
        )
    return sent


def notify_ticket(
    store: Store,
    services: Services,
    ticket: Ticket,
    due: datetime,
    template: str,
    key: str,
    kind: str | None = None,
    days: int = 0,
) -> int:
    """Tell the ticket's grid group, @-mentioning whoever holds it (the accepter, else the leader)."""
    grid = store.grid(ticket.micro_grid_id)
    holder = store.person(ticket.accepted_by) or (store.grid_leader(grid.id) if grid and grid.id else None)
    text = services.texts.render(
        template,
        ref=f"R{ticket.id}",
        category=category_name(ticket.category),
        deadline=fmt_time(ticket.deadline, services.policy.tz),
        days=days,
    )
    mailer = Mailer(store, due, key)
    if grid is not None:
        mailer.to_group(grid, kind or template, text, mentions=[holder] if holder else [], key="g")
    elif holder is not None:
        mailer.to_person(holder, kind or template, text, key="p")
    return len(mailer.sent)

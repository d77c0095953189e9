"""Tickets (诉求/事项): the five-step closed loop — found, graded, resolved, followed up, rated.

States: open → accepted → resolved → rated, plus suspended. Every change is a TicketEvent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.common import award, fmt_time, location_text, split_ref
from handlers.context import MessageContext, Sender
from handlers.labels import LEVEL_NAMES, STATUS_NAMES, category_name
from handlers.outbox import Mailer
from handlers.reports import ack_report, record_patrol
from handlers.router import Router
from handlers.workdays import deadline_for
from storage.models import Person, Ticket

router = Router("tickets")

CLOSABLE = ("open", "accepted", "suspended")


def compute_deadline(ctx: MessageContext, grade: str, start: datetime) -> datetime:
    days = ctx.policy.grade_days.get(grade, 1)
    return deadline_for(start, days, ctx.policy.deadline_unit, ctx.services.calendar)


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What the announcement of a just-opened ticket needs (no ORM object is built for it)."""

    id: int
    grade: str
    category: str
    deadline: datetime
    masked_text: str


def open_ticket(ctx: MessageContext) -> NewTicket:
    parsed = ctx.parsed
    grade = parsed.grade_hint if parsed.grade_hint in ("A", "B", "C") else "A"
    category = parsed.category or "other"
    deadline = compute_deadline(ctx, grade, ctx.now)
    masked_text = parsed.masked_text[:2000]
    ticket_id = ctx.store.open_ticket(
        micro_grid_id=ctx.grid.id if ctx.grid else None,
        reporter_id=ctx.sender.id,
        message_id=ctx.inbound_id,
        category=category,
        grade=grade,
        building=parsed.building,
        unit=parsed.unit,
        floor=parsed.floor,
        room=parsed.room,
        masked_text=masked_text,
        status="open",
        created_at=ctx.now,
        deadline=deadline,
        photo_path=ctx.event.image_path,
    )
    ctx.store.add_ticket_event(ticket_id, ctx.now, ctx.sender.id, "opened", f"{grade}类")
    ctx.notes.append(f"ticket R{ticket_id}")
    ticket = NewTicket(ticket_id, grade, category, deadline, masked_text)
    announce_ticket(ctx, ticket)
    return ticket


def announce_ticket(ctx: MessageContext, ticket: NewTicket) -> None:
    leader = ctx.store.grid_leader(ctx.grid.id) if ctx.grid and ctx.grid.id else None
    values = {
        "ref": f"R{ticket.id}",
        "grade": ticket.grade,
        "category": category_name(ticket.category),
        "deadline": fmt_time(ticket.deadline, ctx.policy.tz),
        "leader": leader.name if leader else "",
    }
    if ctx.in_group and ctx.grid is not None:
        if leader is not None and leader.id != ctx.sender.id:
            ctx.reply("ticket_opened", ctx.render("ticket_opened", **values), mentions=[leader])
        else:
            ctx.reply("ticket_opened", ctx.render("ticket_opened_no_leader", **values))
        return
    ctx.reply_private("ticket_opened", ctx.render("ticket_opened_private", **values))
    if leader is not None and leader.id != ctx.sender.id:
        text = ctx.render("ticket_opened", **values) + f"\n内容：{ticket.masked_text[:300]}"
        ctx.mailer.to_person(leader, "ticket_opened", text)


@router.message(kind="basic")
async def basic(ctx: MessageContext) -> None:
    parsed = ctx.parsed
    if ctx.sender.is_staff and ctx.grid is not None:
        report = record_patrol(ctx, "basic", parsed.category)
        if parsed.handled:
            ack_report(ctx, report, "report_kind_basic")
            return
    elif parsed.handled:
        return  # someone outside the team saying a thing was dealt with: stored, no ticket
    if not repeated_request(ctx):
        open_ticket(ctx)


REPEAT_WINDOW = timedelta(hours=24)


def repeated_request(ctx: MessageContext) -> bool:
    """The same reporter posting the same request again (impatience, or a flood): no new ticket,
    and at most one reminder an hour pointing at the ticket they already have."""
    masked = ctx.parsed.masked_text[:2000]
    existing = ctx.store.same_open_request(ctx.sender.id, masked, ctx.now - REPEAT_WINDOW)
    if existing is None:
        return False
    hour = ctx.now.astimezone(ctx.policy.tz).strftime("%Y%m%d%H")
    reminder = Mailer(ctx.store, ctx.now, f"repeat:R{existing}:{hour}", ctx.event.account, once=True)
    text = ctx.render("ticket_repeat", ref=f"R{existing}")
    if ctx.in_group and ctx.grid is not None:
        reminder.to_group(ctx.grid, "reply", text, key="1")
    else:
        reminder.to_person(ctx.sender.person, "reply", text, key="1")
    ctx.notes.append(f"repeat of R{existing}")
    return True


# -- commands on tickets --------------------------------------------------------------------------


def ticket_from_args(ctx: MessageContext, example: str) -> Ticket | None:
    """The ticket a command names, or None after telling the sender what is wrong."""
    args = ctx.parsed.args
    refs = [split_ref(r) for r in (args.refs if args else [])]
    ref = next((r for r in refs if r and r[0] == "R"), None)
    if ref is None:
        ctx.reply("reply", ctx.render("need_ref", example=example))
        return None
    ticket = ctx.store.ticket(ref[1])
    if ticket is None:
        ctx.reply("reply", ctx.render("not_found", ref=f"R{ref[1]}"))
    return ticket


def may_handle(ctx: MessageContext, ticket: Ticket) -> bool:
    """Staff of the ticket's grid or any supervisor may accept, close or escalate it."""
    sender: Sender = ctx.sender
    if sender.is_supervisor or sender.person.is_admin:
        return True
    if ticket.micro_grid_id is None:
        return sender.is_staff
    roles = ctx.store.grid_roles(sender.id)
    return any(r.micro_grid_id == ticket.micro_grid_id and r.role in ("leader", "member") for r in roles)


def refuse(ctx: MessageContext, action: str, who: str = "本网格网格员或上级网格长") -> None:
    ctx.reply("reply", ctx.render("refused", action=action, who=who))


@router.message(kind="command", command="accept")
async def accept(ctx: MessageContext) -> None:
    ticket = ticket_from_args(ctx, "#接单 R12")
    if ticket is None:
        return
    if not may_handle(ctx, ticket):
        refuse(ctx, "接单")
        return
    if ticket.status not in CLOSABLE:  # accepting again (someone else taking over) is allowed
        ctx.reply("reply", ctx.render("already_closed", ref=f"R{ticket.id}"))
        return
    ticket.status = "accepted"
    ticket.accepted_by = ctx.sender.id
    ticket.accepted_at = ctx.now
    ctx.store.add(ticket)
    ctx.store.add_ticket_event(ticket, ctx.now, ctx.sender.id, "accepted")
    text = ctx.render(
        "ticket_accepted",
        ref=f"R{ticket.id}",
        who=ctx.sender.person.name,
        deadline=fmt_time(ticket.deadline, ctx.policy.tz),
    )
    ctx.reply("ticket_update", text)


@router.message(kind="command", command="close")
async def close(ctx: MessageContext) -> None:
    ticket = ticket_from_args(ctx, "#办结 R12 已处理")
    if ticket is None:
        return
    if not may_handle(ctx, ticket):
        refuse(ctx, "办结")
        return
    if ticket.status not in CLOSABLE:
        ctx.reply("reply", ctx.render("already_closed", ref=f"R{ticket.id}"))
        return
    args = ctx.parsed.args
    ticket.status = "resolved"
    ticket.resolved_by = ctx.sender.id
    ticket.resolved_at = ctx.now
    ticket.resolution = (args.text if args and args.text else "已处理")[:500]
    ctx.store.add(ticket)
    ctx.store.add_ticket_event(ticket, ctx.now, ctx.sender.id, "resolved", ticket.resolution)
    grid = ctx.store.grid(ticket.micro_grid_id)
    community = ctx.store.community_of_grid(grid) if grid else None
    in_time = ctx.now <= ticket.deadline
    rule = "ticket_closed_in_time" if in_time else "ticket_overdue"
    award(ctx.store, ctx.policy, ctx.sender.id, community, rule, f"R{ticket.id}", ctx.now)
    announce_closed(ctx, ticket)


def announce_closed(ctx: MessageContext, ticket: Ticket) -> None:
    """公开问效: the result goes to the ticket's group, inviting the reporter to rate it."""
    reporter = ctx.store.person(ticket.reporter_id)
    grid = ctx.store.grid(ticket.micro_grid_id)
    ref = f"R{ticket.id}"
    if reporter is not None and reporter.id != ctx.sender.id:
        text = ctx.render("ticket_closed", ref=ref, resolution=ticket.resolution, reporter=reporter.name)
        mentions = [reporter]
    else:
        text = ctx.render("ticket_closed_no_reporter", ref=ref, resolution=ticket.resolution)
        mentions = []
    if grid is not None:
        ctx.mailer.to_group(grid, "ticket_closed", text, mentions)
        if not ctx.in_group or ctx.grid is None or ctx.grid.id != grid.id:
            ctx.reply_private(
                "ticket_update",
                ctx.render("ticket_closed_no_reporter", ref=ref, resolution=ticket.resolution),
            )
    else:
        ctx.reply("ticket_closed", text)
        if reporter is not None and reporter.id != ctx.sender.id:
            ctx.mailer.to_person(reporter, "ticket_closed", text)


@router.message(kind="command", command="escalate")
async def escalate(ctx: MessageContext) -> None:
    ticket = ticket_from_args(ctx, "#转办 R12 B")
    if ticket is None:
        return
    if not may_handle(ctx, ticket):
        refuse(ctx, "转办")
        return
    args = ctx.parsed.args
    grade = args.grade if args else None
    if grade not in ("A", "B", "C"):
        ctx.reply("reply", ctx.render("bad_grade"))
        return
    if ticket.status not in CLOSABLE:
        ctx.reply("reply", ctx.render("already_closed", ref=f"R{ticket.id}"))
        return
    ticket.grade = grade
    ticket.deadline = compute_deadline(ctx, grade, ctx.now)
    ticket.escalation_level = min(ticket.escalation_level + 1, ctx.policy.max_level)
    ctx.store.add(ticket)
    ctx.store.add_ticket_event(
        ticket, ctx.now, ctx.sender.id, "escalated", f"{grade}类 → {LEVEL_NAMES[ticket.escalation_level]}"
    )
    notify_escalation(ctx, ticket)


def notify_escalation(ctx: MessageContext, ticket: Ticket) -> None:
    grid = ctx.store.grid(ticket.micro_grid_id)
    community = ctx.store.community_of_grid(grid) if grid else None
    level = ticket.escalation_level
    people: list[Person] = []
    while level <= ctx.policy.max_level and not people:
        people = ctx.store.supervisors_at(level, grid, community)
        level += 1 if not people else 0
    deadline = fmt_time(ticket.deadline, ctx.policy.tz)
    values = {"ref": f"R{ticket.id}", "grade": ticket.grade, "deadline": deadline}
    notice = ctx.render(
        "ticket_escalated_notice",
        grid=grid.name if grid else "未绑定网格",
        category=category_name(ticket.category),
        text=ticket.masked_text[:300],
        **values,
    )
    for person in people:
        if person.id != ctx.sender.id:
            ctx.mailer.to_person(person, "ticket_update", notice)
    level_name = LEVEL_NAMES.get(min(level, ctx.policy.max_level), "上级")
    ctx.reply("ticket_update", ctx.render("ticket_escalated", level_name=level_name, **values))


@router.message(kind="command", command="status")
async def status(ctx: MessageContext) -> None:
    args = ctx.parsed.args
    if args and args.refs:
        ticket = ticket_from_args(ctx, "#查询 R12")
        if ticket is None:
            return
        if ticket.reporter_id != ctx.sender.id and not may_handle(ctx, ticket):
            refuse(ctx, "查询他人的诉求", "诉求人本人或网格员")
            return
        ctx.reply("reply", describe(ctx, ticket))
        return
    tickets = ctx.store.open_tickets_of(ctx.sender.id)
    if not tickets:
        ctx.reply("reply", ctx.render("ticket_status_none"))
        return
    lines = [ctx.render("ticket_list_header")] + [describe(ctx, t) for t in tickets[:10]]
    ctx.reply("reply", "\n".join(lines))


def describe(ctx: MessageContext, ticket: Ticket) -> str:
    overdue = "（已超期）" if ticket.status in CLOSABLE and ctx.now > ticket.deadline else ""
    where = location_of_ticket(ticket)
    return ctx.render(
        "ticket_status",
        ref=f"R{ticket.id}",
        status=STATUS_NAMES.get(ticket.status, ticket.status),
        grade=ticket.grade,
        category=category_name(ticket.category) + (f"，{where}" if where else ""),
        deadline=fmt_time(ticket.deadline, ctx.policy.tz),
        overdue=overdue,
    )


def location_of_ticket(ticket: Ticket) -> str:
    return location_text(ticket.building, ticket.unit, ticket.floor, ticket.room)


@router.message(kind="command", command="rate")
async def rate(ctx: MessageContext) -> None:
    ticket = ticket_from_args(ctx, "#评价 R12 5")
    if ticket is None:
        return
    if ticket.reporter_id != ctx.sender.id:
        refuse(ctx, "评价", "诉求人本人")
        return
    if ticket.status not in ("resolved", "rated"):
        ctx.reply("reply", ctx.render("rate_not_ready", ref=f"R{ticket.id}"))
        return
    rating = ctx.parsed.args.rating if ctx.parsed.args else None
    if rating is None or not 1 <= rating <= 5:
        ctx.reply("reply", ctx.render("bad_rating"))
        return
    ticket.rating = rating
    ticket.rated_at = ctx.now
    ticket.status = "rated"
    ctx.store.add(ticket)
    ctx.store.add_ticket_event(ticket, ctx.now, ctx.sender.id, "rated", str(rating))
    ctx.reply("ticket_update", ctx.render("ticket_rated", ref=f"R{ticket.id}", rating=rating))

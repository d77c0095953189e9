"""Commands that are not about one ticket or incident: help, stats, bind, claim, and unknown words."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from handlers import identity
from handlers.context import MessageContext
from handlers.outbox import Mailer
from handlers.router import Router
from storage.models import CompGrid, MicroGrid, PatrolReport, Ticket

router = Router("commands")

CLAIM_CODE = re.compile(rf"[0-9]{{{identity.CLAIM_DIGITS}}}")
CLAIM_SEPARATORS = re.compile(r"[\s\-‐-―－]+")
MAX_CLAIM_FAILURES = 5  # wrong codes per contact and day; then no more tries until tomorrow


@router.message(kind="command", command="help")
async def help_(ctx: MessageContext) -> None:
    ctx.reply("reply", ctx.render("help"))


@router.message(kind="command", command="bind")
async def bind(ctx: MessageContext) -> None:
    """An administrator binds this group chat to a micro-grid: `#绑定 3号楼微网格`."""
    if not ctx.sender.person.is_admin:
        ctx.reply("reply", ctx.render("refused", action="绑定群聊", who="管理员"))
        return
    if not ctx.in_group or not ctx.event.room_id:
        ctx.reply("reply", ctx.render("refused", action="绑定", who="在要绑定的群里由管理员"))
        return
    name = ctx.parsed.args.text if ctx.parsed.args else ""
    grid = ctx.store.find_grid(name)
    if grid is None:
        ctx.reply_private("reply", ctx.render("bind_unknown", name=name[:40]))
        return
    ctx.store.bind_room(grid, ctx.event.room_id, ctx.event.room_topic)
    ctx.grid = grid
    ctx.reply("reply", ctx.render("bound", grid=grid.name))


@router.message(kind="command", command="claim")
async def claim(ctx: MessageContext) -> None:
    """`#认领 123456`: a roster person whose contact id is not known proves who they are with the
    claim code their supervisor gave them (handlers/identity.py). The code is never repeated."""
    person = ctx.sender.person
    if not person.is_resident:
        ctx.reply_private("reply", ctx.render("claim_already", name=person.name))
        return
    contact = ctx.event.sender_id
    prefix = f"claim-fail:{identity.contact_tag(contact)}:{ctx.today():%Y%m%d}"
    fail_keys = [f"{prefix}:{n}" for n in range(1, MAX_CLAIM_FAILURES + 1)]
    locked_key = f"{prefix}:locked"
    taken = identity.outbox_keys_taken(ctx.store, [*fail_keys, locked_key])
    failures = sum(key in taken for key in fail_keys)
    keyed = Mailer(ctx.store, ctx.now, prefix, ctx.event.account)
    if failures >= MAX_CLAIM_FAILURES:  # checked before the code: a locked contact learns nothing
        if locked_key not in taken:
            keyed.to_person(person, "reply", ctx.render("claim_locked"), key="locked")
        ctx.mailer.sent += keyed.sent
        ctx.notes.append("claim locked")
        return
    raw = ctx.parsed.args.text if ctx.parsed.args else ""
    code = CLAIM_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if not CLAIM_CODE.fullmatch(code):
        ctx.reply_private("reply", ctx.render("claim_format"))
        return
    claimed = identity.person_for_code(ctx.store, code, ctx.event.sender_name)
    if claimed is None:
        failures += 1
        left = MAX_CLAIM_FAILURES - failures
        text = ctx.render("claim_wrong", left=left) if left else ctx.render("claim_locked")
        keyed.to_person(person, "reply", text, key=str(failures))
        ctx.mailer.sent += keyed.sent
        ctx.notes.append("claim failed")
        return
    identity.bind_claimed(ctx.store, claimed, contact)
    label = identity.role_label(ctx.store, claimed, ctx.grid)
    key = "claim_done_group" if ctx.in_group and ctx.grid is not None else "claim_done"
    ctx.reply("reply", ctx.render(key, name=claimed.name, role=label))
    notice = ctx.render("claim_done_notice", name=claimed.name, role=label)
    for supervisor in identity.supervisors_to_alert(ctx.store, claimed, ctx.grid):
        ctx.mailer.to_person(supervisor, "claim_alert", notice)
    ctx.notes.append(f"claimed {claimed.code}")


def scope_grids(ctx: MessageContext) -> tuple[str, list[MicroGrid]]:
    """The grids a sender may see statistics for: a supervisor's area, else their own grid."""
    store = ctx.store
    rows = store.supervisor_rows(ctx.sender.id)
    if rows:
        top = max(rows, key=lambda r: r.level)
        stmt = select(MicroGrid).where(col(MicroGrid.active).is_(True))
        if top.level == 1 and top.comp_grid_id is not None:
            stmt = stmt.where(MicroGrid.comp_grid_id == top.comp_grid_id)
            comp = store.comp_grid(top.comp_grid_id)
            label = comp.name if comp else "本综合网格"
        elif top.community_id is not None:
            stmt = stmt.join(CompGrid, col(CompGrid.id) == MicroGrid.comp_grid_id).where(
                CompGrid.community_id == top.community_id
            )
            label = "本社区"
        else:
            label = "全街道"
        return label, list(store.session.exec(stmt))
    if ctx.grid is not None:
        return ctx.grid.name, [ctx.grid]
    return "", []


@router.message(kind="command", command="stats")
async def stats(ctx: MessageContext) -> None:
    if not (ctx.sender.is_staff or ctx.sender.is_supervisor):
        ctx.reply("reply", ctx.render("refused", action="查看统计", who="网格员或上级网格长"))
        return
    label, grids = scope_grids(ctx)
    ids = [g.id for g in grids if g.id is not None]
    day = ctx.today()
    ctx.store.flush_writes()  # patrol reports and tickets earlier in this batch count too
    session = ctx.store.session
    statuses = dict.fromkeys(("zero", "basic", "major", "missed"), 0)
    for status, n in session.exec(
        select(PatrolReport.status, func.count())
        .where(PatrolReport.day == day, col(PatrolReport.micro_grid_id).in_(ids))
        .group_by(PatrolReport.status)
    ):
        statuses[status] = int(n)
    start = datetime.combine(day, time(0), ctx.policy.tz)
    end = start + timedelta(days=1)
    in_scope = col(Ticket.micro_grid_id).in_(ids)
    new = session.exec(
        select(func.count()).where(in_scope, col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
    ).one()
    closed = session.exec(
        select(func.count()).where(in_scope, col(Ticket.resolved_at) >= start, col(Ticket.resolved_at) < end)
    ).one()
    overdue = session.exec(
        select(func.count()).where(
            in_scope,
            col(Ticket.status).in_(("open", "accepted", "suspended")),
            col(Ticket.deadline) < ctx.now,
        )
    ).one()
    reported = statuses["zero"] + statuses["basic"] + statuses["major"]
    text = ctx.render(
        "stats",
        scope=label,
        day=f"{day.month}月{day.day}日",
        total=len(ids),
        reported=reported,
        zero=statuses["zero"],
        basic=statuses["basic"],
        major=statuses["major"],
        missing=len(ids) - reported,
        new_tickets=new,
        closed=closed,
        overdue=overdue,
    )
    ctx.reply("reply", text)


@router.message(any_command=True)
async def unknown(ctx: MessageContext) -> None:
    """A `#word` the bot does not know: say so and show what it does know."""
    args = ctx.parsed.args
    word = (args.text.split()[0] if args and args.text.strip() else "")[:20]
    prefix = ctx.render("unknown_command", word=word) + "\n" if word else ""
    ctx.reply("reply", prefix + ctx.render("help"))

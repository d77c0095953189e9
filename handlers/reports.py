"""有重大情况单独报、基本情况群内报、无情况零报告 — the daily patrol record (一日一记录).

A grid has one PatrolReport a day; its status is the most serious thing reported that day
(zero < basic < major). A second report the same day updates the record, never duplicates it.
A report after the deadline was recorded as missed stays counted as missed (补报), with the entry.
"""

from __future__ import annotations

from handlers.common import award, fmt_day
from handlers.context import MessageContext
from handlers.router import Router
from storage.store import PatrolMark

router = Router("reports")

SEVERITY = {"missed": 0, "zero": 1, "basic": 2, "major": 3}


def record_patrol(ctx: MessageContext, status: str, category: str | None = None) -> PatrolMark:
    """Add this message to today's patrol record of the grid (one upsert: the record is created by
    the first report, raised to the most serious status after); returns the record as it now is."""
    assert ctx.grid is not None and ctx.grid.id is not None
    day = ctx.today()
    report = ctx.store.add_patrol_report(
        ctx.grid.id,
        day,
        status,
        reporter_id=ctx.sender.id,
        at=ctx.now,
        summary=ctx.parsed.masked_text[:200],
        severity=SEVERITY,
    )
    ctx.store.add_patrol_entry(
        report_id=report.id,
        message_id=ctx.inbound_id,
        person_id=ctx.sender.id,
        kind=status,
        category=category,
        masked_text=ctx.parsed.masked_text[:1000],
        at=ctx.now,
    )
    if ctx.grid is not None:
        rule = {"zero": "zero_report", "basic": "basic_report", "major": "major_report"}[status]
        community = ctx.store.community_of_grid(ctx.grid)
        # Points once per grid and day for the daily report itself; basic items count each.
        ref = f"patrol:{ctx.grid.id}:{day}" if status == "zero" else f"msg:{ctx.inbound_id}"
        award(ctx.store, ctx.policy, ctx.sender.id, community, rule, ref, ctx.now)
    return report


def ack_report(ctx: MessageContext, report: PatrolMark, what_key: str) -> None:
    assert ctx.grid is not None
    what = ctx.render(what_key)
    if report.status == "missed":
        text = ctx.render(
            "report_ack_update",
            grid=ctx.grid.name,
            day=fmt_day(report.day),
            what=what + "，已过截止时间，记为补报",
        )
    elif report.first:
        text = ctx.render("report_ack_new", grid=ctx.grid.name, day=fmt_day(report.day), what=what)
    else:
        text = ctx.render("report_ack_update", grid=ctx.grid.name, day=fmt_day(report.day), what=what)
    ctx.reply("report_ack", text)


async def zero_report(ctx: MessageContext) -> None:
    """A zero report (message or #零报告) from the grid's own staff."""
    if not ctx.sender.is_staff:
        if ctx.parsed.kind == "command":
            ctx.reply("reply", ctx.render("refused", action="零报告", who="本网格网格员"))
        return  # a resident saying "all fine" is chat, stored without reply
    if ctx.grid is None:
        ctx.reply("reply", ctx.render("no_grid"))
        return
    report = record_patrol(ctx, "zero")
    ctx.notes.append(f"patrol zero {report.id}")
    ack_report(ctx, report, "report_kind_zero")


router.message(kind="zero_report")(zero_report)
router.message(kind="command", command="zero")(zero_report)

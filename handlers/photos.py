"""Photos sent right after a report ("已拍照留存") are attached to that sender's latest record."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from handlers.context import MessageContext
from storage.models import PatrolEntry, Ticket

ATTACH_WINDOW = timedelta(minutes=10)


def attach_photo(ctx: MessageContext) -> bool:
    """Attach `ctx.event.image_path` to the sender's ticket or patrol entry of the last minutes."""
    path = ctx.event.image_path
    if not path:
        return False
    since = ctx.now - ATTACH_WINDOW
    session = ctx.store.session
    ticket = session.exec(
        select(Ticket)
        .where(Ticket.reporter_id == ctx.sender.id, col(Ticket.created_at) >= since)
        .order_by(col(Ticket.id).desc())
    ).first()
    if ticket is not None:
        ticket.photo_path = path
        ctx.store.add(ticket)
        ctx.store.add_ticket_event(ticket, ctx.now, ctx.sender.id, "photo", path)
        return True
    entry = session.exec(
        select(PatrolEntry)
        .where(PatrolEntry.person_id == ctx.sender.id, col(PatrolEntry.at) >= since)
        .order_by(col(PatrolEntry.id).desc())
    ).first()
    if entry is not None:
        entry.photo_path = path
        ctx.store.add(entry)
        return True
    return False

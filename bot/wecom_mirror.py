"""Mirror supervisor-facing messages (major alerts, digests, bulletins) into a WeCom group robot.

The copies are ordinary outbox rows for the `wecom` account, so they are durable, paced (20 a
minute per robot) and retried like everything else. Their dedupe key is derived from the kind and
text: the same alert sent privately to three supervisors is mirrored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlmodel import Session, col, select

from bot.connectors.wecom import ACCOUNT
from handlers.events import ChatKind, Outbound
from storage.models import MIRRORED, OutboxMessage
from storage.store import Store

WINDOW = 500  # recent rows looked at per pass


def mirror_key(row: OutboxMessage) -> str:
    digest = hashlib.sha256(f"{row.kind}\n{row.text}".encode()).hexdigest()[:24]
    return f"wecom:{row.kind}:{digest}"


# The newest supervisor messages of the chat accounts. MIRRORED is the literal condition of the
# partial index ix_outbox_mirrored (migration 0009): the planners read it newest first and stop at
# the window, never touching the group replies that make up nearly all of the outbox.
RECENT_MIRRORED = (
    select(OutboxMessage)
    .where(MIRRORED, OutboxMessage.account != ACCOUNT)
    .order_by(col(OutboxMessage.id).desc())
    .limit(WINDOW)
)


def mirror_once(session_factory: Callable[[], Session]) -> int:
    """Enqueue WeCom copies of recent supervisor messages not mirrored yet; returns how many."""
    with session_factory() as session:
        store = Store(session)
        added = 0
        for row in reversed(list(session.exec(RECENT_MIRRORED))):
            copy = Outbound(
                chat=ChatKind.GROUP,
                to_id="wecom",
                to_name="企业微信督办群",
                kind=row.kind,
                text=row.text,
                dedupe_key=mirror_key(row),
                account=ACCOUNT,
            )
            added += store.enqueue(copy, row.created_at)
        session.commit()
        return added

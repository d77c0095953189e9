"""Composing outbound messages: every reply and notice becomes an outbox row, never a direct send.

Text is masked here as the last line of defence, whatever the template or caller did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from handlers.events import ChatKind, Outbound
from handlers.parsing import mask_pii
from storage.models import MicroGrid, Person
from storage.store import Store


def contact_of(person: Person) -> str:
    """Where a private message to this person goes: the platform id, else a roster handle the
    connector resolves by name (people the bot has not seen yet)."""
    return person.wechat_id or f"person:{person.code}"


class Mailer:
    """Writes outbound messages for one unit of work; dedupe keys derive from `key_prefix`."""

    def __init__(
        self, store: Store, at: datetime, key_prefix: str, account: str = "default", *, once: bool = False
    ) -> None:
        """`once`: the keys are "at most once per period" keys that may have been used before (as
        opposed to keys derived from a new inbound message or job claim, new by construction)."""
        self.store = store
        self.once = once
        self.at = at
        self.key_prefix = key_prefix
        self.account = account
        self._seq = 0
        self.sent: list[Outbound] = []

    def _key(self, suffix: str | None) -> str:
        self._seq += 1
        return f"{self.key_prefix}:{suffix or self._seq}"

    def to_group(
        self,
        grid: MicroGrid,
        kind: str,
        text: str,
        mentions: Sequence[Person] = (),
        key: str | None = None,
    ) -> None:
        self._put(
            Outbound(
                chat=ChatKind.GROUP,
                to_id=grid.room_id or f"topic:{grid.room_topic}",
                to_name=grid.room_topic or grid.name,
                kind=kind,
                text=mask_pii(text),
                mentions=tuple(contact_of(p) for p in mentions),
                mention_names=tuple(p.wechat_name or p.name for p in mentions),
                dedupe_key=self._key(key),
                account=grid.account or self.account,
            )
        )

    def to_person(self, person: Person, kind: str, text: str, key: str | None = None) -> None:
        self._put(
            Outbound(
                chat=ChatKind.PRIVATE,
                to_id=contact_of(person),
                to_name=person.name,
                kind=kind,
                text=mask_pii(text),
                dedupe_key=self._key(key),
                account=self.account,
            )
        )

    def _put(self, message: Outbound) -> None:
        if self.store.enqueue(message, self.at, may_exist=self.once):
            self.sent.append(message)

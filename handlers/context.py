"""What a message handler gets: the event, its parse, the sender and grid, the store and the clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from handlers.clock import Clock
from handlers.events import ChatKind, MessageReceived
from handlers.outbox import Mailer
from handlers.parsing import ParseResult
from handlers.policy import WorkflowPolicy
from handlers.templates import Templates
from handlers.workdays import WorkCalendar
from storage.models import MicroGrid, Person
from storage.store import Store

STAFF_ROLES = ("leader", "member")


@dataclass(frozen=True, slots=True)
class Sender:
    person: Person
    role: str  # leader | member | merchant | supervisor | resident
    is_admin: bool = False
    supervisor_levels: tuple[int, ...] = ()

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_supervisor(self) -> bool:
        return bool(self.supervisor_levels)

    @property
    def id(self) -> int:
        assert self.person.id is not None
        return self.person.id


@dataclass(slots=True)
class Services:
    """The long-lived collaborators every unit of work shares."""

    clock: Clock
    policy: WorkflowPolicy
    texts: Templates
    calendar: WorkCalendar = field(default_factory=WorkCalendar)


@dataclass
class MessageContext:
    event: MessageReceived
    parsed: ParseResult
    store: Store
    services: Services
    sender: Sender
    grid: MicroGrid | None
    inbound_id: int
    mailer: Mailer
    notes: list[str] = field(default_factory=list)  # what the handler did, for logs and tests

    @property
    def now(self) -> datetime:
        return self.event.at

    @property
    def policy(self) -> WorkflowPolicy:
        return self.services.policy

    @property
    def texts(self) -> Templates:
        return self.services.texts

    def today(self) -> date:
        return self.event.at.astimezone(self.policy.tz).date()

    @property
    def in_group(self) -> bool:
        return self.event.chat == ChatKind.GROUP

    def render(self, key: str, **values: object) -> str:
        return self.texts.render(key, **values)

    def reply(self, kind: str, text: str, mentions: Sequence[Person] = ()) -> None:
        """Answer where the message came from: the group, else the sender in private."""
        if self.in_group and self.grid is not None:
            self.mailer.to_group(self.grid, kind, text, mentions)
        else:
            self.mailer.to_person(self.sender.person, kind, text)

    def reply_private(self, kind: str, text: str) -> None:
        self.mailer.to_person(self.sender.person, kind, text)

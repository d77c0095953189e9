"""The inbound pipeline: typed event → dedupe + store → parse → route to a handler → outbox → commit.

One inbound message is one transaction: its record, its effects (patrol, ticket, incident, points)
and its replies (outbox rows) commit together or not at all. A message id seen before is dropped
at the first insert, so a duplicate or replayed event is processed once.

Group commit: `handle_batch` runs the messages queued so far through the same steps, in order, in
ONE transaction (a commit costs more than a message's work). Ids already stored or repeated in the
batch are dropped by one query up front. If anything in the batch fails, the whole batch is rolled
back and its messages re-run one at a time through `handle`, so only the bad one is kept as an
error and the others commit as if never batched. In a batch the write-only rows (outbox, points,
entries, ticket events) are queued by the Store and sent per table just before the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from handlers import commands, incidents, reports, tickets
from handlers.context import STAFF_ROLES, MessageContext, Services
from handlers.events import (
    InboundEvent,
    MemberJoined,
    MemberLeft,
    MessageRecalled,
    MessageReceived,
    Outbound,
    RoomRenamed,
    storable,
)
from handlers.identity import cached_grid, cached_role, resolve_grid, resolve_person, sender_of
from handlers.outbox import Mailer
from handlers.parsing import Parser, ParseResult, mask_pii
from handlers.photos import attach_photo
from handlers.router import Router
from storage.cache import RosterCache
from storage.store import DeferredWriteConflict, Store, contact_key

log = logging.getLogger(__name__)

MAX_STORED_CHARS = 100_000  # a 1 MB message is kept to this much; the parser reads less still
# Longer messages are parsed in their turn, not ahead (Pipeline._parse_ahead): their results
# hold the whole text twice, ~0.8 MB each at the stored maximum, and for them the parse's own
# time, not the caches, is what counts.
PARSE_AHEAD_MAX_CHARS = 2_000


def default_router() -> Router:
    router = Router("gridbot")
    for module in (reports, tickets, incidents, commands):
        router.include(module.router)
    return router


@dataclass
class Outcome:
    duplicate: bool = False
    inbound_id: int | None = None
    kind: str | None = None
    outbound: list[Outbound] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


class Pipeline:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        services: Services,
        parser: Parser | None = None,
        router: Router | None = None,
        cache: RosterCache | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.services = services
        self.parser = parser or Parser()
        self.router = router or default_router()
        self.cache = cache if cache is not None else RosterCache()

    async def handle(self, event: InboundEvent) -> Outcome:
        if isinstance(event, MessageReceived):
            return await self.handle_message(event)
        if isinstance(event, MessageRecalled):
            return self.handle_recall(event)
        if isinstance(event, RoomRenamed):
            with self.session_factory() as session:
                Store(session, self.cache).rename_room(event.room_id, event.new_topic)
                session.commit()
            return Outcome()
        if isinstance(event, MemberJoined | MemberLeft):
            log.info("%s room=%s members=%d", type(event).__name__, event.room_id, len(event.member_ids))
        return Outcome()

    async def handle_batch(self, events: Sequence[InboundEvent]) -> list[Outcome]:
        """Process queued events in order, messages in one transaction; one Outcome per event."""
        outcomes: list[Outcome] = []
        run: list[MessageReceived] = []
        for event in map(storable, events):
            if isinstance(event, MessageReceived):
                run.append(event)
                continue
            outcomes += await self._handle_messages(run)  # what came before a recall goes first
            run = []
            outcomes.append(await self.handle(event))
        outcomes += await self._handle_messages(run)
        return outcomes

    async def _handle_messages(self, events: Sequence[MessageReceived]) -> list[Outcome]:
        if len(events) <= 1:
            return [await self.handle_message(event) for event in events]
        try:
            with self.session_factory() as session:
                store = Store(session, self.cache, deferred=True)
                keys = [(e.account, e.message_id) for e in events]
                store.expect_senders([e.sender_id for e in events])
                store.expect_patrols(lambda: self._patrol_days(events))
                ahead: dict[int, tuple[str, ParseResult]] = {}
                # The repeat check's window (handlers.tickets) back from the batch's first message;
                # the batch is parsed while the store's first round trip is out (PostgreSQL).
                seen = store.open_batch(
                    keys,
                    requests_since=min(e.at for e in events) - tickets.REPEAT_WINDOW,
                    meanwhile=lambda: ahead.update(self._parse_ahead(events)),
                )
                outcomes = []
                for i, event in enumerate(events):
                    key = (event.account, event.message_id)
                    if key in seen:
                        outcomes.append(Outcome(duplicate=True))
                        continue
                    seen.add(key)
                    outcome = await self._process(store, event, event.text[:MAX_STORED_CHARS], ahead.get(i))
                    if outcome.duplicate:  # stored meanwhile by another writer: redo one by one
                        raise DeferredWriteConflict(f"message {event.message_id} stored concurrently")
                    outcomes.append(outcome)
                store.commit()
                return outcomes
        except Exception as exc:
            log.warning("batch of %d messages failed (%s); processing one by one", len(events), exc)
            self.cache.clear()  # it may hold rows of the rolled-back transaction
            return [await self.handle_message(event) for event in events]

    def _parse_ahead(self, events: Sequence[MessageReceived]) -> dict[int, tuple[str, ParseResult]]:
        """The batch's messages parsed one after another, before any is handled, each with its
        sender's role as the roster cache holds it: {index: (role, result)}.

        Parsing back to back keeps the parser's tables in the CPU's caches; interleaved with the
        handlers' and SQLite's work, a parse took twice as long (25 µs a message against 12 in the
        workflow bench's mix). A message whose role is not cached is parsed in its turn, and one
        whose role has changed by then (a claim earlier in the batch) is parsed again: the
        result is a function of text, chat, role and time alone. A message already recorded is
        parsed too (which ones are is the answer of the round trip this overlaps) and its result
        not used: a duplicate delivery is rare."""
        ahead: dict[int, tuple[str, ParseResult]] = {}
        for i, event in enumerate(events):
            if len(event.text) > PARSE_AHEAD_MAX_CHARS:
                continue
            role = cached_role(self.cache, event)
            if role is not None:
                ahead[i] = (role, self._parse(event, event.text, role))
        return ahead

    def _patrol_days(self, events: Sequence[MessageReceived]) -> set[tuple[int, date]]:
        """(grid, day) of the batch's messages from grid staff, as far as the roster cache knows
        them: the patrol records their reports may count into (`Store.expect_patrols`). A guess
        both ways: a record named here and not reported into stays unchanged, and a report into
        one not named here is counted by its own upsert."""
        tz = self.services.policy.tz
        days = set()
        for event in events:
            if cached_role(self.cache, event) in STAFF_ROLES:
                grid = cached_grid(self.cache, event)
                if grid is not None and grid.id is not None:
                    days.add((grid.id, event.at.astimezone(tz).date()))
        return days

    def _parse(self, event: MessageReceived, text: str, role: str) -> ParseResult:
        return self.parser.parse(text, chat=str(event.chat), role=role, now=event.at)

    async def handle_message(self, event: MessageReceived, *, retried: bool = False) -> Outcome:
        event = storable(event)  # type: ignore[assignment]  # a MessageReceived stays one
        text = event.text[:MAX_STORED_CHARS]
        try:
            with self.session_factory() as session:
                outcome = await self._process(Store(session, self.cache), event, text)
                if outcome.duplicate:
                    session.rollback()  # anything resolving the sender wrote goes too: done before
                    self.cache.forget(contact_key(event.sender_id))  # a resident made just now
                else:
                    session.commit()
                return outcome
        except Exception as exc:  # a bug must not lose the message: keep it, marked, and move on
            self.cache.clear()  # it may hold rows of the rolled-back transaction
            if not retried and isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The pooled connection had died (a database restart since its last use; storage.db
                # pings only idle ones). SQLAlchemy has emptied the pool: do it again on a new one,
                # rather than keep the message as an error. (Still down: the retry cannot keep it
                # either, and the error goes up to the service, which retries the batch.)
                log.warning("database connection lost; message %s again on a new one", event.message_id)
                return await self.handle_message(event, retried=True)
            log.exception("failed to process message %s: %s", event.message_id, mask_pii(text[:200]))
            return self._keep_failed(event, text, exc)

    async def _process(
        self,
        store: Store,
        event: MessageReceived,
        text: str,
        ahead: tuple[str, ParseResult] | None = None,
    ) -> Outcome:
        grid = (
            store.grid_for_room(event.room_id, event.room_topic)
            if event.room_id or event.room_topic
            else None
        )
        person = resolve_person(store, event, grid, self.services)
        if grid is None:
            grid = resolve_grid(store, event, person)
        sender = sender_of(store, person, grid)
        if ahead is not None and ahead[0] == sender.role:
            parsed = ahead[1]
        else:
            parsed = self._parse(event, text, sender.role)
        # One insert with everything known: the dedupe check and the record in one statement.
        inbound_id = store.insert_inbound(
            event,
            text,
            kind=parsed.kind,
            masked_text=parsed.masked_text[:4000],
            parsed=_summary(parsed),
            person_id=person.id,
            micro_grid_id=grid.id if grid else None,
        )
        if inbound_id is None:
            return Outcome(duplicate=True)
        mailer = Mailer(store, event.at, f"in:{event.account}:{event.message_id}", event.account)
        ctx = MessageContext(
            event=event,
            parsed=parsed,
            store=store,
            services=self.services,
            sender=sender,
            grid=grid,
            inbound_id=inbound_id,
            mailer=mailer,
        )
        if event.image_path:
            store.flush_writes()  # the photo goes to the sender's latest entry, maybe still queued
            attach_photo(ctx)
        else:
            await self.router.dispatch(ctx)
        return Outcome(inbound_id=inbound_id, kind=parsed.kind, outbound=mailer.sent, notes=ctx.notes)

    def _keep_failed(self, event: MessageReceived, text: str, exc: Exception) -> Outcome:
        with self.session_factory() as session:
            store = Store(session)
            inbound_id = store.insert_inbound(event, text)
            if inbound_id is None:
                return Outcome(duplicate=True, error=str(exc))
            record = store.inbound(inbound_id)
            assert record is not None
            record.kind = "error"
            record.masked_text = mask_pii(text[:4000])
            record.parsed = {"error": f"{type(exc).__name__}: {mask_pii(str(exc))[:500]}"}
            store.add(record)
            session.commit()
        return Outcome(inbound_id=inbound_id, kind="error", error=str(exc))

    def handle_recall(self, event: MessageRecalled) -> Outcome:
        """A recalled message: its record and what it created are marked, never silently kept."""
        with self.session_factory() as session:
            store = Store(session)
            record = store.inbound_by_platform_id(event.account, event.message_id)
            if record is None or record.id is None:
                return Outcome()
            record.recalled = True
            store.add(record)
            for ticket in store.tickets_by_message(record.id):
                ticket.recalled = True
                store.add(ticket)
                store.add_ticket_event(ticket, event.at, record.person_id, "recalled", "原消息已撤回")
            for incident in store.incidents_by_message(record.id):
                # Escalation goes on: a recalled emergency may still be real; supervisors decide.
                incident.recalled = True
                store.add(incident)
            mark_patrol_entries_recalled(store, record.id)
            session.commit()
            return Outcome(inbound_id=record.id, notes=["recalled"])


def mark_patrol_entries_recalled(store: Store, inbound_id: int) -> None:
    from sqlmodel import select

    from storage.models import PatrolEntry

    for entry in store.session.exec(select(PatrolEntry).where(PatrolEntry.message_id == inbound_id)):
        entry.recalled = True
        store.session.add(entry)


def _summary(parsed: ParseResult) -> dict[str, object]:
    """What of the parse is kept with the message: the structured fields, not the texts again.

    The same as `parsed.to_json()` without text, masked_text and pii, built field by field: the
    generic `asdict` walk cost more than the rest of a chit-chat message's handling.
    """
    args = parsed.args
    return {
        "kind": parsed.kind,
        "category": parsed.category,
        "building": parsed.building,
        "unit": parsed.unit,
        "floor": parsed.floor,
        "room": parsed.room,
        "handled": parsed.handled,
        "command": parsed.command,
        "args": None
        if args is None
        else {"refs": list(args.refs), "grade": args.grade, "rating": args.rating, "text": args.text},
        "grade_hint": parsed.grade_hint,
        "times": [{"phrase": t.phrase, "at": t.at.isoformat(), "deadline": t.deadline} for t in parsed.times],
    }

"""Who is speaking, and for which grid: the platform contact id is identity, never the display name.

A roster person the bot has not seen yet is recognised once by their WeChat name, in a group of a
grid where the roster gives them a role (or in private, or as a supervisor), and from then on only
by their contact id. Someone else who later takes the same display name stays a resident.
"""

from __future__ import annotations

import logging

from sqlmodel import col, select

from handlers.context import Sender
from handlers.events import ChatKind, MessageReceived
from storage.models import InboundMessage, MicroGrid, Person
from storage.store import Store

log = logging.getLogger(__name__)

ROLE_ORDER = {"leader": 0, "member": 1, "merchant": 2}


def resolve_grid(store: Store, event: MessageReceived, person: Person | None) -> MicroGrid | None:
    if event.chat == ChatKind.GROUP:
        return store.grid_for_room(event.room_id, event.room_topic)
    if person is None or person.id is None:
        return None
    roles = sorted(store.grid_roles(person.id), key=lambda r: ROLE_ORDER.get(r.role, 9))
    if roles:
        return store.grid(roles[0].micro_grid_id)
    # A resident writing in private: the grid whose group they last spoke in.
    stmt = (
        select(InboundMessage.micro_grid_id)
        .where(InboundMessage.sender_id == event.sender_id, col(InboundMessage.micro_grid_id).is_not(None))
        .order_by(col(InboundMessage.id).desc())
        .limit(1)
    )
    grid_id = store.session.exec(stmt).first()
    return store.grid(grid_id)


def _may_claim(store: Store, person: Person, event: MessageReceived, grid: MicroGrid | None) -> bool:
    """May this unseen contact be recognised as roster `person` by display name?"""
    assert person.id is not None
    if event.chat == ChatKind.PRIVATE or person.is_admin or store.supervisor_rows(person.id):
        return True
    if grid is None:  # a group not bound yet: as in private, else staff would become residents
        return bool(store.grid_roles(person.id))
    return grid is not None and any(r.micro_grid_id == grid.id for r in store.grid_roles(person.id))


def resolve_person(store: Store, event: MessageReceived, grid: MicroGrid | None) -> Person:
    person = store.person_by_contact(event.sender_id)
    if person is not None:
        return person
    candidate = store.unbound_roster_person(event.sender_name)
    if candidate is not None and _may_claim(store, candidate, event, grid):
        store.bind_contact(candidate, event.sender_id)
        log.info("bound contact %s to roster person %s", event.sender_id, candidate.code)
        return candidate
    return store.ensure_resident(event.sender_id, event.sender_name)


def sender_of(store: Store, person: Person, grid: MicroGrid | None) -> Sender:
    assert person.id is not None
    roles = store.grid_roles(person.id)
    levels = tuple(sorted({s.level for s in store.supervisor_rows(person.id)}))
    role = "resident"
    in_grid = [r for r in roles if grid is not None and r.micro_grid_id == grid.id]
    if in_grid:
        role = min(in_grid, key=lambda r: ROLE_ORDER.get(r.role, 9)).role
    elif levels:
        role = "supervisor"
    elif grid is None and roles:
        # A group not bound to any grid yet: grid staff keep their role, so they are told to
        # have it bound rather than being treated as residents.
        role = min(roles, key=lambda r: ROLE_ORDER.get(r.role, 9)).role
    return Sender(person=person, role=role, is_admin=person.is_admin, supervisor_levels=levels)

"""Who is speaking, and for which grid: the platform contact id is identity, never the display name.

A roster person is bound to a chat contact once, and from then on recognised only by its contact
id: through the roster's `wechat_id`, or, for someone the roster gives no `wechat_id`, with proof —
the person sends `#认领 <6位认领码>` (handlers/commands.py). Their claim code is handed to them by a
supervisor (`gridbot roster codes`); it is derived from a deployment secret, so no table holds it.

Until then an unseen contact speaking under such a person's WeChat name is a resident: they are
told privately how to claim (once a day) and the grid's supervisors are alerted (once a day per
roster person). Someone who later takes the same display name stays a resident either way.

The roster switch `identity.claim_by_name: true` (the demo's) restores the convenience of binding
by display name on first sight: in a group of a grid where the roster gives the person a role, in
private, or for supervisors and admins anywhere. Then whoever speaks first under a leader's name
becomes the leader, so production rosters leave it off.

Claim codes: `claim_code(secret, person)` is six digits of HMAC-SHA256(secret, "gridbot-claim:" +
person.code + ":" + person.id). The secret is env `GRIDBOT_SECRET`, else the file `secret.key`
next to the SQLite database (created on first use; with the default `data/gridbot.sqlite3` it is
the dashboard's `data/secret.key`), or in `$GRIDBOT_DATA_DIR` (default `./data`) for PostgreSQL —
where several workers must share `GRIDBOT_SECRET`. Changing the secret changes every code.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy.engine import URL
from sqlmodel import col, select

from handlers.context import Sender, Services
from handlers.events import ChatKind, MessageReceived
from handlers.labels import LEVEL_NAMES
from handlers.outbox import Mailer
from handlers.policy import WorkflowPolicy
from handlers.templates import Templates
from storage.cache import MISSING, RosterCache
from storage.models import MicroGrid, OutboxMessage, Person
from storage.store import Store, contact_key, room_key

log = logging.getLogger(__name__)

ROLE_ORDER = {"leader": 0, "member": 1, "merchant": 2}
ROLE_NAMES = {"leader": "微网格长", "member": "微网格员", "merchant": "商户"}
SUPERVISOR_TITLES = {1: "综合网格长", 2: "社区督办", 3: "街道督办"}

# The services (policy, templates) of the unit of work, on its session: the pipeline hands
# resolve_person a Store, and the session factory (bot/runtime.py, the test harness) puts them here.
ENV_SECRET = "GRIDBOT_SECRET"
ENV_DATA_DIR = "GRIDBOT_DATA_DIR"
SECRET_FILENAME = "secret.key"
CLAIM_DIGITS = 6


def resolve_grid(store: Store, event: MessageReceived, person: Person | None) -> MicroGrid | None:
    if event.chat == ChatKind.GROUP:
        return store.grid_for_room(event.room_id, event.room_topic)
    if person is None or person.id is None:
        return None
    roles = sorted(store.grid_roles(person.id), key=lambda r: ROLE_ORDER.get(r.role, 9))
    if roles:
        return store.grid(roles[0].micro_grid_id)
    # A resident writing in private: the grid whose group they last spoke in.
    grid_id = store.last_grid_of_sender(event.sender_id)
    return store.grid(grid_id)


def _may_claim(store: Store, person: Person, event: MessageReceived, grid: MicroGrid | None) -> bool:
    """Is this unseen contact, speaking here, a plausible `person` (same display name)?"""
    assert person.id is not None
    if event.chat == ChatKind.PRIVATE or person.is_admin or store.supervisor_rows(person.id):
        return True
    if grid is None:  # a group not bound yet: as in private, else staff would become residents
        return bool(store.grid_roles(person.id))
    return grid is not None and any(r.micro_grid_id == grid.id for r in store.grid_roles(person.id))


@cache
def _default_templates() -> Templates:
    return Templates()


def _rules(store: Store, services: Services | None) -> tuple[WorkflowPolicy, Templates]:
    if services is not None:
        return services.policy, services.texts
    return WorkflowPolicy(), _default_templates()  # nothing said: the safe default, codes required


def resolve_person(
    store: Store, event: MessageReceived, grid: MicroGrid | None, services: Services | None = None
) -> Person:
    person = store.person_by_contact(event.sender_id)
    if person is not None:  # the fast path, every message of a known contact: one cached look-up
        return person
    candidate = store.unbound_roster_person(event.sender_name)
    if candidate is None or not _may_claim(store, candidate, event, grid):
        return store.ensure_resident(event.sender_id, event.sender_name)
    policy, texts = _rules(store, services)
    if policy.claim_by_name:
        store.bind_contact(candidate, event.sender_id)
        log.info("bound contact %s to roster person %s by display name", event.sender_id, candidate.code)
        return candidate
    resident = store.ensure_resident(event.sender_id, event.sender_name)
    _unclaimed_name_used(store, event, grid, candidate, resident, policy, texts)
    return resident


def sender_of(store: Store, person: Person, grid: MicroGrid | None) -> Sender:
    person_id = person.id
    assert person_id is not None
    grid_id = grid.id if grid is not None else None
    # Every message asks this; the answer changes only with the roster, as its inputs do.
    role, levels = store.cached(_sender_key(person_id, grid_id), lambda: _role_in(store, person_id, grid_id))
    return Sender(person=person, role=role, is_admin=person.is_admin, supervisor_levels=levels)


def cached_role(cache: RosterCache, event: MessageReceived) -> str | None:
    """The sender's role in this group as the roster cache holds it; None if any of it is not
    cached (a private chat, a new contact, a cold cache). A peek, never a load, so it reads and
    writes nothing: the pipeline uses it to parse a batch ahead, and checks it against the role
    that `sender_of` gives when the message's turn comes (a claim earlier in the batch may
    change it)."""
    if event.chat != ChatKind.GROUP or not event.room_id:
        return None
    grid = cache.peek(room_key(event.room_id))
    person = cache.peek(contact_key(event.sender_id))
    if not isinstance(grid, MicroGrid) or not isinstance(person, Person):
        return None
    known = cache.peek(_sender_key(person.id, grid.id))
    if known is not MISSING:
        return str(known[0])
    # Someone with no role and no supervisor post anywhere is a resident in every group
    # (`_role_in`): a resident's first message in another group is parsed ahead too.
    if cache.peek(("roles", person.id)) == [] and cache.peek(("supervisor", person.id)) == []:
        return "resident"
    return None


def cached_grid(cache: RosterCache, event: MessageReceived) -> MicroGrid | None:
    """The micro-grid of the message's group as the roster cache holds it; None if not cached."""
    grid = cache.peek(room_key(event.room_id)) if event.room_id else None
    return grid if isinstance(grid, MicroGrid) else None


def _sender_key(person_id: int | None, grid_id: int | None) -> tuple[str, int | None, int | None]:
    """The roster cache's key for a person's role in a grid (`sender_of`, `cached_role`)."""
    return ("sender", person_id, grid_id)


def _role_in(store: Store, person_id: int, grid_id: int | None) -> tuple[str, tuple[int, ...]]:
    """A person's role where they speak (a grid, or none) and their supervisor levels."""
    roles = store.grid_roles(person_id)
    levels = tuple(sorted({s.level for s in store.supervisor_rows(person_id)}))
    role = "resident"
    in_grid = [r for r in roles if grid_id is not None and r.micro_grid_id == grid_id]
    if in_grid:
        role = min(in_grid, key=lambda r: ROLE_ORDER.get(r.role, 9)).role
    elif levels:
        role = "supervisor"
    elif grid_id is None and roles:
        # A group not bound to any grid yet: grid staff keep their role, so they are told to
        # have it bound rather than being treated as residents.
        role = min(roles, key=lambda r: ROLE_ORDER.get(r.role, 9)).role
    return role, levels


# -- an unbound roster identity's name used by an unseen contact ---------------------------------


def role_label(store: Store, person: Person, grid: MicroGrid | None = None) -> str:
    """「3号楼微网格 微网格长」: what the roster makes this person (here, or their first post)."""
    assert person.id is not None
    roles = store.grid_roles(person.id)
    here = [r for r in roles if grid is not None and r.micro_grid_id == grid.id] or roles
    if here:
        role = min(here, key=lambda r: ROLE_ORDER.get(r.role, 9))
        where = store.grid(role.micro_grid_id)
        return f"{where.name if where else ''} {ROLE_NAMES.get(role.role, role.role)}".strip()
    levels = [s.level for s in store.supervisor_rows(person.id)]
    if levels:
        level = max(levels)
        return SUPERVISOR_TITLES.get(level, LEVEL_NAMES.get(level, "督办"))
    return "管理员" if person.is_admin else "网格工作人员"


def supervisors_to_alert(store: Store, person: Person, grid: MicroGrid | None) -> list[Person]:
    """Who hears about claims of `person`'s identity: the level-1 supervisors of this grid and of
    the person's grids; where there are none (or the person is one of them), the next level up of
    their communities. Never the person themself (the name may lead a message to the impostor)."""
    assert person.id is not None
    grids: dict[int, MicroGrid] = {}
    for micro in [grid, *(store.grid(r.micro_grid_id) for r in store.grid_roles(person.id))]:
        if micro is not None and micro.id is not None:
            grids.setdefault(micro.id, micro)
    communities = {c for c in (store.community_of_grid(g) for g in grids.values()) if c is not None}
    own = store.supervisor_rows(person.id)
    communities |= {s.community_id for s in own if s.community_id is not None}
    for s in own:
        if s.comp_grid_id is not None:
            comp = store.comp_grid(s.comp_grid_id)
            if comp is not None:
                communities.add(comp.community_id)
    found: dict[int, Person] = {}
    for micro in grids.values():
        for p in store.supervisors_at(1, micro, None):
            if p.id is not None and p.id != person.id:
                found.setdefault(p.id, p)
    for level in (2, 3):
        if found:
            break
        for community_id in sorted(communities):
            for p in store.supervisors_at(level, None, community_id):
                if p.id is not None and p.id != person.id:
                    found.setdefault(p.id, p)
    return list(found.values())


def contact_tag(contact_id: str) -> str:
    """A short stable stand-in for a contact id in outbox keys (ids may be long)."""
    return hashlib.sha256(contact_id.encode()).hexdigest()[:16]


def outbox_keys_taken(store: Store, keys: list[str]) -> set[str]:
    """Which of these dedupe keys are in the outbox already (queued rows of this unit included)."""
    store.flush_writes()
    stmt = select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(keys))
    return set(store.session.exec(stmt))


def _unclaimed_name_used(
    store: Store,
    event: MessageReceived,
    grid: MicroGrid | None,
    candidate: Person,
    resident: Person,
    policy: WorkflowPolicy,
    texts: Templates,
) -> None:
    """Tell the contact how to claim (once a day per contact) and alert the supervisors (once a day
    per roster person), through the outbox."""
    assert candidate.id is not None
    day = event.at.astimezone(policy.tz).strftime("%Y%m%d")
    label = role_label(store, candidate, grid)
    hint_prefix = f"claim-hint:{contact_tag(event.sender_id)}:{day}"
    alert_prefix = f"claim-alert:{candidate.id}:{day}"
    recipients = supervisors_to_alert(store, candidate, grid)
    keys = [f"{hint_prefix}:1", *(f"{alert_prefix}:{p.id}" for p in recipients)]
    taken = outbox_keys_taken(store, keys)
    if keys[0] not in taken:
        hint = Mailer(store, event.at, hint_prefix, event.account)
        hint.to_person(
            resident, "claim_hint", texts.render("claim_hint", name=candidate.name, role=label), key="1"
        )
    where = (
        f"「{grid.room_topic or grid.name}」群"
        if grid is not None and event.chat == ChatKind.GROUP
        else "私聊"
    )
    alert = Mailer(store, event.at, alert_prefix, event.account)
    text = texts.render("claim_alert", name=candidate.name, role=label, where=where)
    for person in recipients:
        if f"{alert_prefix}:{person.id}" not in taken:
            alert.to_person(person, "claim_alert", text, key=str(person.id))
    log.warning(
        "contact %s spoke as unclaimed roster person %s (%s): kept a resident",
        event.sender_id,
        candidate.code,
        where,
    )


# -- claim codes -------------------------------------------------------------------------------


def secret_file(url: URL) -> Path:
    """Where the claim secret is kept when env GRIDBOT_SECRET is not set."""
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / SECRET_FILENAME
    return Path(os.environ.get(ENV_DATA_DIR) or "data") / SECRET_FILENAME


_file_secrets: dict[Path, bytes] = {}


def claim_secret(url: URL) -> bytes:
    """The deployment secret claim codes derive from: env GRIDBOT_SECRET, else `secret_file(url)`,
    made (random, mode 600) on first use so that restarts keep the same codes."""
    if os.environ.get(ENV_SECRET):
        return os.environ[ENV_SECRET].encode()
    path = secret_file(url)
    if path not in _file_secrets:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:  # O_EXCL: another worker may be first; 0o600 from the start
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(secrets.token_hex(32))
        value = path.read_text(encoding="utf-8").strip().encode()
        if not value:
            raise RuntimeError(f"认领码密钥文件为空 / empty secret file: {path}")
        _file_secrets[path] = value
    return _file_secrets[path]


def store_secret(store: Store) -> bytes:
    return claim_secret(store.session.get_bind().engine.url)


def claim_code(secret: bytes, person: Person) -> str:
    """The person's six-digit claim code (the same until the secret changes)."""
    message = f"gridbot-claim:{person.code}:{person.id}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**CLAIM_DIGITS).zfill(CLAIM_DIGITS)


def unbound_roster_people(store: Store) -> list[Person]:
    """Roster people (not residents) whose contact id is not known yet, by id."""
    stmt = (
        select(Person)
        .where(col(Person.is_resident).is_(False), col(Person.wechat_id).is_(None))
        .order_by(col(Person.id))
    )
    return list(store.session.exec(stmt))


def person_for_code(store: Store, code: str, display_name: str) -> Person | None:
    """The unbound roster person whose claim code this is. Every candidate is compared (in
    constant time), not only namesakes: a WeChat name may differ from the roster. Should two codes
    coincide, the one whose name the sender uses wins; otherwise nobody (and it is logged)."""
    secret = store_secret(store)
    given = code.encode()
    matches = [
        p for p in unbound_roster_people(store) if hmac.compare_digest(claim_code(secret, p).encode(), given)
    ]
    if len(matches) > 1:
        named = [p for p in matches if display_name in (p.name, p.wechat_name)]
        if len(named) != 1:
            log.warning("claim code matches %d roster people: none bound", len(matches))
            return None
        matches = named
    return matches[0] if matches else None


def bind_claimed(store: Store, person: Person, contact_id: str) -> None:
    """Bind `contact_id` to roster `person`; the resident row made for the contact lets go of it
    (kept, with its history), as a roster import does."""
    holder = store.session.exec(select(Person).where(Person.wechat_id == contact_id)).first()
    if holder is not None and holder.id != person.id:
        holder.wechat_id = None
        store.add(holder)
    store.bind_contact(person, contact_id)
    log.info("bound contact %s to roster person %s by claim code", contact_id, person.code)


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One line of `gridbot roster codes`."""

    person: Person
    role: str
    code: str


def claim_codes(store: Store, secret: bytes) -> list[ClaimRow]:
    """Every unbound roster person with their role and claim code (for supervisors to hand out)."""
    return [ClaimRow(p, role_label(store, p), claim_code(secret, p)) for p in unbound_roster_people(store)]

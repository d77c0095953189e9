"""Tables. One module so that alembic autogenerate and readers see the whole schema at once.

Conventions: times are stored as timezone-aware UTC-normalised datetimes (`DateTime(timezone=True)`);
`day` columns are the local (Asia/Shanghai) calendar date the record belongs to.
Texts that may leave the record are stored masked (`masked_text`); the raw text stays only in
`InboundMessage.text` and is shown to no one by the bot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Datetimes recently bound for SQLite and their texts, by object identity, shared by every
# column's processor: a message's rows (inbound, ticket, its event, outbox, patrol entry, points)
# mostly carry the same `at` object, and a batch binds them table by table, so one message's
# time comes round once per table. The entry holds the datetime itself, so its id cannot be
# reused while it is here; the memo is emptied when it reaches `_SQLITE_TEXT_MEMO` entries.
_sqlite_texts: dict[int, tuple[datetime, str]] = {}
_SQLITE_TEXT_MEMO = 512


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps no offset, PostgreSQL's timestamptz does; normalising to UTC on the way in and
    re-attaching UTC on the way out makes both behave the same. Naive datetimes are refused: a
    naive time in a governance record is a bug (whose 18:00?).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"aware datetime required, got {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite: the check, the shift to UTC and SQLAlchemy's storage format in one function
        # (the generic chain of two processors and a %-dict was a tenth of a message's binding).
        def to_sqlite(value: Any) -> str | None:
            if value is None:
                return None
            known = _sqlite_texts.get(id(value))
            if known is not None and known[0] is value:
                return known[1]
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError(f"aware datetime required, got {value!r}")
            # "YYYY-MM-DD HH:MM:SS.ffffff", SQLAlchemy's SQLite format (always the microseconds):
            # the aware ISO form without its "+00:00", a quarter faster than formatting fields.
            text = value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
            if len(_sqlite_texts) >= _SQLITE_TEXT_MEMO:
                _sqlite_texts.clear()
            _sqlite_texts[id(value)] = (value, text)
            return text

        return to_sqlite

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Named constraints on every backend, so later migrations (batch mode on SQLite) can find and drop
# them by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _where_set(column: str) -> Index:
    """An index of `column` over the rows where it is set (a partial index, on both backends).

    For columns empty when the row is written and set later (who resolved a ticket, and when):
    writing the row then touches no page of the index. Queries that compare the column (a
    range of times, `= ?` of a foreign-key check) imply IS NOT NULL, so both planners still use
    it, SQLite's foreign-key checks included (migration 0008)."""
    where = text(f"{column} IS NOT NULL")
    return Index(f"ix_ticket_{column}", column, sqlite_where=where, postgresql_where=where)


def _message_fk() -> ForeignKey:
    """A row's inbound message, checked at commit (DEFERRABLE INITIALLY DEFERRED, migrations
    0003 and 0010): the pipeline's group commit sends a batch's inbound records as one insert at
    the end, after the tickets and entries citing them. The schema says so, rather than each
    transaction: SQLite's `PRAGMA defer_foreign_keys` expires every prepared statement of the
    connection, so each batch prepared all its statements again, 8% of its instructions.
    Indexed, like every foreign-key column (migration 0005): while a deferred violation is
    outstanding, SQLite looks up the citing rows of every parent row inserted; without an index
    that was a scan of each whole citing table per message, growing with the database."""
    return ForeignKey("inboundmessage.id", deferrable=True, initially="DEFERRED")


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=128)
    street: str = Field(default="", max_length=128)


class CompGrid(SQLModel, table=True):
    """综合网格: a comprehensive grid led by a community cadre."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    code: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=128)


class MicroGrid(SQLModel, table=True):
    """微网格: one building or 30–50 households, one WeChat group."""

    id: int | None = Field(default=None, primary_key=True)
    comp_grid_id: int = Field(foreign_key="compgrid.id", index=True)
    code: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=128)
    kind: str = Field(default="residential", max_length=16)  # residential | merchant
    room_topic: str = Field(default="", max_length=128, index=True)  # the group chat's topic
    room_id: str | None = Field(default=None, max_length=128, unique=True)  # platform binding
    account: str = Field(default="default", max_length=64)  # bot account that sits in the group
    buildings: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=64)  # roster key; residents: "res:<contact id>"
    name: str = Field(max_length=64)
    wechat_name: str = Field(default="", max_length=128, index=True)
    wechat_id: str | None = Field(default=None, max_length=128, unique=True)  # platform contact id
    phone: str = Field(default="", max_length=32)
    is_admin: bool = False
    is_resident: bool = False  # created on first message from someone not in the roster


class GridRole(SQLModel, table=True):
    """A person's role in one micro-grid: leader (微网格长) or member (微网格员/楼栋长/志愿者)."""

    __table_args__ = (UniqueConstraint("person_id", "micro_grid_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    micro_grid_id: int = Field(foreign_key="microgrid.id", index=True)
    role: str = Field(max_length=16)  # leader | member | merchant


class Supervisor(SQLModel, table=True):
    """Level 1: comprehensive grid; 2: community (社区书记/总网格长); 3: street."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    level: int
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    comp_grid_id: int | None = Field(default=None, foreign_key="compgrid.id", index=True)


class InboundMessage(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account", "platform_id", name="uq_inbound_platform_id"),)
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(default="default", max_length=64)
    platform_id: str = Field(max_length=128)
    chat: str = Field(max_length=16)
    room_id: str | None = Field(default=None, max_length=128)
    # Grid and person are not indexed (migration 0009), the only foreign keys so left. Nothing
    # reads messages by either, and each index took an entry, mostly on a page of its own, from
    # every message: together a quarter of the pages a batch wrote. The check an index would
    # serve, SQLite's look-up of the rows citing a parent inserted while a deferred violation is
    # outstanding, does not happen: no grid is inserted by the code that writes messages (the
    # roster import has transactions of its own, nothing deferred), and a batch sends its queued
    # rows before it inserts someone new (`Store._settle_deferred_rows`), so nothing is
    # outstanding then. Neither row is ever deleted.
    micro_grid_id: int | None = Field(default=None, foreign_key="microgrid.id")
    sender_id: str = Field(max_length=128)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    text: str  # raw text, never sent anywhere
    masked_text: str = ""
    kind: str = Field(default="other", max_length=16)
    parsed: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_column=_ts(index=True))
    recalled: bool = False
    image_path: str | None = None


class PatrolReport(SQLModel, table=True):
    """一日一记录: one row per micro-grid and day; status is the most serious thing reported."""

    __table_args__ = (UniqueConstraint("micro_grid_id", "day", name="uq_patrol_grid_day"),)
    id: int | None = Field(default=None, primary_key=True)
    micro_grid_id: int = Field(foreign_key="microgrid.id", index=True)
    day: date = Field(index=True)
    status: str = Field(max_length=16)  # zero | basic | major | missed
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    summary: str = ""  # masked
    entries: int = 0
    first_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    recalled: bool = False


class PatrolEntry(SQLModel, table=True):
    """Each message that fed a day's patrol record (zero reports, handled basics)."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="patrolreport.id", index=True)
    message_id: int | None = Field(default=None, index=True, sa_column_args=[_message_fk()])
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    kind: str = Field(max_length=16)
    category: str | None = Field(default=None, max_length=32)
    masked_text: str = ""
    at: datetime = Field(sa_column=_ts())
    recalled: bool = False
    photo_path: str | None = None


class Ticket(SQLModel, table=True):
    """诉求/事项: shown as R<id>."""

    # The daily digest reads overdue work as `status IN (open, accepted) AND deadline < t`;
    # the composite serves it as two range scans instead of a walk over every open ticket.
    # The repeat check reads a reporter's tickets of the last day: (reporter_id, created_at)
    # skips their older ones, which pile up over the months.
    # On SQLite it asks per request instead, by (reporter_id, masked_text): one probe finds the
    # few tickets with that text. Not on PostgreSQL, which loads a batch's senders' tickets in
    # one round trip (and would refuse index entries over ~2.7 kB: a text may have 2,000 CJK
    # characters).
    # Who accepted and resolved it and when it was resolved and rated are empty when a ticket is
    # opened, by a quarter of all messages: indexed only where set (`_where_set`).
    __table_args__ = (
        Index("ix_ticket_status_deadline", "status", "deadline"),
        # PostgreSQL's batch load of the senders' open requests reads (reporter_id, created_at);
        # SQLite probes per request by (reporter_id, masked_text) instead (migration 0007), which
        # also serves its foreign-key look-ups of reporter_id, so it keeps only that one (0009).
        Index("ix_ticket_reporter_created", "reporter_id", "created_at").ddl_if(dialect="postgresql"),
        Index("ix_ticket_reporter_text", "reporter_id", "masked_text").ddl_if(dialect="sqlite"),
        *(_where_set(column) for column in ("accepted_by", "resolved_by", "resolved_at", "rated_at")),
    )
    id: int | None = Field(default=None, primary_key=True)
    micro_grid_id: int | None = Field(default=None, foreign_key="microgrid.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="person.id")  # indexed below
    message_id: int | None = Field(default=None, index=True, sa_column_args=[_message_fk()])
    category: str = Field(default="other", max_length=32)
    grade: str = Field(default="A", max_length=1)
    building: int | None = None
    unit: int | None = None
    floor: int | None = None
    room: str | None = Field(default=None, max_length=16)
    masked_text: str = ""
    # open accepted resolved rated suspended; indexed as the lead of ix_ticket_status_deadline
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_ts(index=True))
    deadline: datetime = Field(sa_column=_ts())  # with status: ix_ticket_status_deadline
    accepted_by: int | None = Field(default=None, foreign_key="person.id")
    accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    resolved_by: int | None = Field(default=None, foreign_key="person.id")
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    resolution: str = ""
    rating: int | None = None
    rated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))  # bulletins
    escalation_level: int = 0
    recalled: bool = False
    photo_path: str | None = None


class TicketEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = Field(sa_column=_ts())
    actor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    action: str = Field(max_length=32)  # opened accepted resolved rated escalated suspended resumed recalled
    note: str = ""


class Incident(SQLModel, table=True):
    """重大情况: shown as M<id>."""

    id: int | None = Field(default=None, primary_key=True)
    micro_grid_id: int | None = Field(default=None, foreign_key="microgrid.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    message_id: int | None = Field(default=None, index=True, sa_column_args=[_message_fk()])
    category: str = Field(default="other", max_length=32)
    location: str = ""
    masked_text: str = ""
    status: str = Field(default="open", max_length=16, index=True)  # open | acked
    level: int = 1  # the supervisor level alerted most recently
    rounds: int = 1  # alerts sent so far (first alert included)
    created_at: datetime = Field(sa_column=_ts(index=True))
    next_escalation_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))
    acked_by: int | None = Field(default=None, foreign_key="person.id", index=True)
    acked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    recalled: bool = False


class IncidentAlert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    level: int
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    action: str = Field(max_length=16)  # alert | escalation | ack
    at: datetime = Field(sa_column=_ts())


class PointsEntry(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rule", "ref", "person_id", name="uq_points_once"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    at: datetime = Field(sa_column=_ts(index=True))
    rule: str = Field(max_length=32)  # zero_report basic_report ticket_closed_in_time overdue ...
    points: int
    ref: str = Field(default="", max_length=64)  # what earned it: "R12", "patrol:5:2026-11-23"


# Outbox kinds addressed to supervisors, which the WeCom mirror copies to the supervisors' group
# robot. One literal condition for the partial index and the mirror's query alike: a planner uses
# a partial index only for a query whose condition it can see implies the index's.
MIRRORED_KINDS = ("major_alert", "major_escalation", "digest", "weekly_bulletin", "monthly_bulletin")
MIRRORED = text(f"kind IN ({', '.join(repr(kind) for kind in MIRRORED_KINDS)})")


class OutboxMessage(SQLModel, table=True):
    """Durable outbox: written in the same transaction as the effects that caused it."""

    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe"),
        Index("ix_outbox_pending", "status", "account", "id"),
        # The WeCom mirror's newest supervisor messages (bot/wecom_mirror.py); partial, so the
        # replies in groups, nearly every outbox row, are not in it (migration 0009).
        Index("ix_outbox_mirrored", "id", sqlite_where=MIRRORED, postgresql_where=MIRRORED),
    )
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200)
    account: str = Field(default="default", max_length=64)
    chat: str = Field(max_length=16)
    to_id: str = Field(max_length=128)
    to_name: str = Field(default="", max_length=128)
    kind: str = Field(max_length=32)
    text: str
    mentions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    mention_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_ts())  # not searched by: no index (migration 0008)
    not_before: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed
    # While `sending`: the worker that claimed the row; `not_before` is then its lease's end, after
    # which another worker may take the row over (the claimant died mid-send).
    claimed_by: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    platform_msg_id: str | None = Field(default=None, max_length=128)
    last_error: str = ""


class JobRun(SQLModel, table=True):
    """Each scheduled run claimed once (job key + its due time): survives restarts, shared by workers."""

    __table_args__ = (UniqueConstraint("job_key", name="uq_jobrun_key"),)
    id: int | None = Field(default=None, primary_key=True)
    job_key: str = Field(max_length=200)  # e.g. "chase:2026-11-23T16:00"
    claimed_at: datetime = Field(sa_column=_ts())
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    worker: str = Field(default="", max_length=64)


class DashboardUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    password_hash: str
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    street: str = Field(default="", max_length=128)
    can_see_pii: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

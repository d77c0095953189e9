"""Index ticket columns only where set; no index of the outbox's created_at

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 10:00:00

Opening a ticket wrote an entry into four indexes of columns that are empty until later:
accepted_by, resolved_by, resolved_at and rated_at, all NULL. Each is now a partial index
(`WHERE column IS NOT NULL`), so opening a ticket leaves them alone; the reads that use them (the
bulletins' resolved and rated windows, a foreign-key check of a person) compare the column,
which implies IS NOT NULL, and both SQLite and PostgreSQL still use them. SQLite's check of a
new person while a deferred violation is outstanding took 1.7 µs a person with the partial index
against 3.7 µs with the full one (200,000 tickets; 5.6 ms with none).

The outbox's created_at index had no query: every outbox read goes by status, key or id.

In the workflow benchmark (saturated, batches of 6 on SQLite, in turns with the code before) a
message then cost 16.51-16.58 write calls instead of 18.22-18.35, and 37.5-37.7 kB written
instead of 41.1-41.6 kB (the process's own counts in /proc/self/io, checkpoints included).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SET_LATER = ("accepted_by", "resolved_by", "resolved_at", "rated_at")


def _index(column: str, partial: bool) -> None:
    where = sa.text(f"{column} IS NOT NULL") if partial else None
    op.create_index(
        f"ix_ticket_{column}", "ticket", [column], unique=False, sqlite_where=where, postgresql_where=where
    )


def upgrade() -> None:
    for column in SET_LATER:
        op.drop_index(f"ix_ticket_{column}", table_name="ticket")
        _index(column, partial=True)
    op.drop_index("ix_outboxmessage_created_at", table_name="outboxmessage")


def downgrade() -> None:
    op.create_index("ix_outboxmessage_created_at", "outboxmessage", ["created_at"], unique=False)
    for column in SET_LATER:
        op.drop_index(f"ix_ticket_{column}", table_name="ticket")
        _index(column, partial=False)

"""index every foreign-key column that had none

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 01:00:00

SQLite checks a foreign key from the parent's side too: while a deferred violation is
outstanding, inserting a parent row makes it look up every child row that cites the new key.
The pipeline's group commit has one outstanding for most of a batch (its inbound rows go in
last, after the tickets and entries citing them, with `PRAGMA defer_foreign_keys`), so each
inbound row and each new person searched every citing table; without an index on the citing
column that was a scan of the whole table. In a 10,000-message benchmark an inbound row cost
160 µs (15 µs with these indexes) and a new person 210 µs, both growing with the database.
PostgreSQL has the same need whenever a parent row is deleted or its key changes.

ix_ticket_reporter_id becomes (reporter_id, created_at): the repeat check reads a reporter's
tickets of the last day, and the composite skips the older ones instead of reading each.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("patrolentry", "message_id"),
    ("ticket", "message_id"),
    ("incident", "message_id"),
    ("inboundmessage", "person_id"),
    ("patrolreport", "reporter_id"),
    ("patrolentry", "person_id"),
    ("ticket", "accepted_by"),
    ("ticket", "resolved_by"),
    ("ticketevent", "actor_id"),
    ("incident", "reporter_id"),
    ("incident", "acked_by"),
    ("incidentalert", "person_id"),
    ("dashboarduser", "community_id"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
    op.create_index("ix_ticket_reporter_created", "ticket", ["reporter_id", "created_at"], unique=False)
    op.drop_index("ix_ticket_reporter_id", table_name="ticket")


def downgrade() -> None:
    op.create_index("ix_ticket_reporter_id", "ticket", ["reporter_id"], unique=False)
    op.drop_index("ix_ticket_reporter_created", table_name="ticket")
    for table, column in reversed(COLUMNS):
        op.drop_index(f"ix_{table}_{column}", table_name=table)

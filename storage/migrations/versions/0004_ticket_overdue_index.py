"""ticket indexes for the digests' overdue and rating aggregates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00

The daily digest counts overdue tickets as `status IN ('open', 'accepted') AND deadline < t`
UNION ALL `resolved_at >= t AND deadline < t` (see handlers/digests.py `_overdue_halves`); the
first half needs a composite (status, deadline) index, the second is served by
ix_ticket_resolved_at. The weekly / monthly bulletins sum ratings by `rated_at` in the period,
which had no index. Plain CREATE INDEX works on SQLite and PostgreSQL alike: no batch mode needed.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_status_deadline", "ticket", ["status", "deadline"], unique=False)
    op.create_index("ix_ticket_rated_at", "ticket", ["rated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_rated_at", table_name="ticket")
    op.drop_index("ix_ticket_status_deadline", table_name="ticket")

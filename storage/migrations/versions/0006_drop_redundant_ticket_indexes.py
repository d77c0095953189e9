"""drop the ticket indexes that the composite (status, deadline) index makes redundant

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 03:30:00

`ix_ticket_status` is the leading column of `ix_ticket_status_deadline` (0004), which serves every
status look-up it served. `ix_ticket_deadline` had no query of its own: every deadline condition
comes with a status (the overdue scans, the follow-up job), or with resolved_at, which has its own
index. Every ticket insert paid for both, and every status change for one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_ticket_status", table_name="ticket")
    op.drop_index("ix_ticket_deadline", table_name="ticket")


def downgrade() -> None:
    op.create_index("ix_ticket_deadline", "ticket", ["deadline"], unique=False)
    op.create_index("ix_ticket_status", "ticket", ["status"], unique=False)

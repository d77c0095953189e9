"""SQLite: index tickets by (reporter_id, masked_text) for the per-request repeat check

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 05:30:00

The repeat check ("the same reporter posting the same request again") used to load, once per
batch, every open ticket of the last day of each sender in the batch. A sender with a dozen open
tickets made that ~400 rows a batch of 64, about 1.5 ms. On SQLite, where a query costs no round
trip, one probe per request by (reporter_id, masked_text) is cheaper. PostgreSQL keeps the batch
load and does not get this index: a btree entry there may not exceed ~2.7 kB, and a masked text
may hold 2,000 CJK characters.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_ticket_reporter_text", "ticket", ["reporter_id", "masked_text"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_ticket_reporter_text", table_name="ticket")

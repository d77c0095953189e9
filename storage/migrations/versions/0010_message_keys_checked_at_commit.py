"""Foreign keys to inboundmessage checked at commit by the schema (INITIALLY DEFERRED)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 13:00:00

The pipeline's group commit queues a batch's inbound records and sends them last, so the rows
citing them (tickets, incidents, patrol entries) are written first and their keys must be
checked at commit. Each batch asked for that: `PRAGMA defer_foreign_keys = ON` on SQLite, `SET
CONSTRAINTS ALL DEFERRED` on PostgreSQL. On SQLite that pragma, like every flag pragma, expires
all of the connection's prepared statements, so every batch prepared each of its statements
again: under callgrind, `sqlite3Reprepare` was 8.7% of the pipeline's instructions (2,124
re-preparations for 2,000 messages in batches of 16). With the keys INITIALLY DEFERRED, no
transaction has to ask. The constraints were DEFERRABLE INITIALLY IMMEDIATE since 0003;
PostgreSQL alters them in place, SQLite rebuilds the three tables (batch mode).

A message handled alone inserts its record before anything cites it, so a check at commit
finds what a check per statement found; a violation now fails the commit instead of the
statement, and both roll the message back.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("incident", "patrolentry", "ticket")


def _name(table: str) -> str:
    return f"fk_{table}_message_id_inboundmessage"


def _initially(when: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {_name(table)} DEFERRABLE INITIALLY {when}")
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(_name(table), type_="foreignkey")
            batch.create_foreign_key(
                _name(table), "inboundmessage", ["message_id"], ["id"], deferrable=True, initially=when
            )


def upgrade() -> None:
    _initially("DEFERRED")


def downgrade() -> None:
    _initially("IMMEDIATE")

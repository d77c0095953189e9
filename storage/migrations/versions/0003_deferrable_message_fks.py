"""deferrable foreign keys to inboundmessage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:05:00

The pipeline's group commit queues a batch's inbound records and sends them in one insert just
before commit; tickets, incidents and patrol entries citing them may be written first, so their
foreign keys to inboundmessage become DEFERRABLE INITIALLY IMMEDIATE (still checked per statement
unless the transaction runs SET CONSTRAINTS ALL DEFERRED). PostgreSQL alters the constraints in
place; SQLite rebuilds the three tables (batch mode), where the pipeline uses
PRAGMA defer_foreign_keys instead but the schema should still say what the models say.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("incident", "patrolentry", "ticket")


def _name(table: str) -> str:
    return f"fk_{table}_message_id_inboundmessage"


def _set(deferrable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        clause = "DEFERRABLE INITIALLY IMMEDIATE" if deferrable else "NOT DEFERRABLE"
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ALTER CONSTRAINT {_name(table)} {clause}")
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(_name(table), type_="foreignkey")
            batch.create_foreign_key(
                _name(table),
                "inboundmessage",
                ["message_id"],
                ["id"],
                deferrable=True if deferrable else None,
                initially="IMMEDIATE" if deferrable else None,
            )


def upgrade() -> None:
    _set(True)


def downgrade() -> None:
    _set(False)

"""The initial migration reproduces storage/models.py exactly, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage.db import make_engine
from storage.migrate import alembic_config, check_head, current, head, include_for, upgrade


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": include_for(conn.dialect.name),
                },
            )
            return list(compare_metadata(ctx, SQLModel.metadata))
    finally:
        engine.dispose()


def test_upgrade_empty_database_to_head(empty_db_url: str) -> None:
    assert current(empty_db_url) is None
    assert not check_head(empty_db_url)
    assert upgrade(empty_db_url) == head()
    assert current(empty_db_url) == head()
    assert check_head(empty_db_url)


def test_schema_after_upgrade_matches_models(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert _diff(empty_db_url) == []


def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert upgrade(empty_db_url) == head()


def test_downgrade_to_base_and_back(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
    finally:
        engine.dispose()
    upgrade(empty_db_url)
    assert _diff(empty_db_url) == []


def test_upgrade_accepts_an_engine(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert upgrade(engine) == head()
        assert check_head(engine)
    finally:
        engine.dispose()


# Foreign keys left without an index on purpose (migration 0009, storage/models.py says why):
# nothing reads messages by grid or person, no grid is inserted while the pipeline's deferred
# violation is outstanding, and a batch settles it before inserting a person
# (tests/workflow/test_batch.py checks that look-up is skipped); neither row is ever deleted.
UNINDEXED_FOREIGN_KEYS = ["inboundmessage.micro_grid_id", "inboundmessage.person_id"]


def test_every_foreign_key_column_leads_an_index(empty_db_url: str) -> None:
    """SQLite looks up the citing rows of each parent row it inserts while a deferred violation
    is outstanding (the pipeline's group commit), and both backends do on parent deletes:
    without an index on the citing column, each such look-up scans the whole table. The one
    exception is listed, so that a new unindexed key still fails here."""
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        inspector = inspect(engine)
        missing = []
        for table in inspector.get_table_names():
            leading = {tuple(ix["column_names"][:1]) for ix in inspector.get_indexes(table)}
            leading |= {tuple(uc["column_names"][:1]) for uc in inspector.get_unique_constraints(table)}
            leading.add(tuple(inspector.get_pk_constraint(table)["constrained_columns"][:1]))
            for fk in inspector.get_foreign_keys(table):
                if tuple(fk["constrained_columns"][:1]) not in leading:
                    missing.append(f"{table}.{fk['constrained_columns'][0]}")
        assert missing == UNINDEXED_FOREIGN_KEYS
    finally:
        engine.dispose()

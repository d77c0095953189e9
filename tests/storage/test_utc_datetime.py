"""UTCDateTime's fused SQLite bind processor writes what SQLAlchemy's own chain would write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from storage import models
from storage.models import UTCDateTime

DIALECT = sqlite.dialect()
TYPE = UTCDateTime()
FUSED = TYPE.dialect_impl(DIALECT).bind_processor(DIALECT)
STORAGE = sqlite.DATETIME().bind_processor(DIALECT)


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_same_text_as_sqlalchemy(naive: datetime, offset_minutes: int) -> None:
    value = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert FUSED is not None and STORAGE is not None
    assert FUSED(value) == STORAGE(TYPE.process_bind_param(value, DIALECT))


def test_text_sorts_as_time() -> None:
    assert FUSED is not None
    early = FUSED(datetime(2026, 11, 23, 8, 0, tzinfo=timezone(timedelta(hours=8))))
    late = FUSED(datetime(2026, 11, 23, 0, 0, 0, 1, tzinfo=UTC))
    assert early == "2026-11-23 00:00:00.000000" and early < late


@pytest.mark.parametrize("bad", [datetime(2026, 11, 23, 8, 0), "2026-11-23", 0])
def test_naive_or_non_datetime_refused(bad: object) -> None:
    assert FUSED is not None
    with pytest.raises(ValueError, match="aware datetime required"):
        FUSED(bad)


def test_none_passes() -> None:
    assert FUSED is not None and FUSED(None) is None


def test_repeated_and_interleaved_values_keep_their_own_text() -> None:
    """The processor remembers the values it converted: repeats and alternations of objects
    must still give each its own text."""
    assert FUSED is not None
    a = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    b = datetime(2026, 11, 23, 9, 0, 0, 1, tzinfo=UTC)
    texts = [FUSED(v) for v in (a, a, b, a, b, b)]
    expected_a, expected_b = "2026-11-23 01:00:00.000000", "2026-11-23 09:00:00.000001"
    assert texts == [expected_a, expected_a, expected_b, expected_a, expected_b, expected_b]
    with pytest.raises(ValueError, match="aware datetime required"):
        FUSED(datetime(2026, 11, 23, 9, 0))  # a naive value right after a remembered one


def test_the_memo_outlives_neither_its_bound_nor_its_objects() -> None:
    """Past the memo's size it starts again; a value made after another was freed (the same
    id, perhaps) gets its own text, not the freed one's."""
    assert FUSED is not None and STORAGE is not None
    start = datetime(2026, 11, 23, tzinfo=UTC)
    for minutes in range(3 * 512):
        value = start + timedelta(minutes=minutes)
        assert FUSED(value) == STORAGE(TYPE.process_bind_param(value, DIALECT))
        del value  # the next one may take its place in memory
    assert len(models._sqlite_texts) <= 512

"""bench/host_probe.py's arithmetic: which units count as slowed and how long a stretch runs."""

from __future__ import annotations

import pytest

from bench.host_probe import summarise


def test_slowed_units_and_their_longest_stretch() -> None:
    # Median 1 ms. 1.4 ms is not slowed (under 1.5×); 2 ms and 3 ms are, back to back (5 ms),
    # then once more alone (4 ms): 9 ms slowed of 16.4.
    ms = [1, 1, 2, 3, 1, 1.4, 1, 4, 1, 1]
    r = summarise([m / 1000 for m in ms])
    assert r["units"] == 10
    assert r["median_us"] == pytest.approx(1000)
    assert r["slowed_share_pct"] == pytest.approx(100 * 9 / sum(ms))
    assert r["longest_slowed_ms"] == pytest.approx(5)
    assert r["max_unit_ms"] == pytest.approx(4)

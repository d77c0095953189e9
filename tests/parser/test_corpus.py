"""Score-like evaluation on the shared labelled corpus; asserts the bars from the issue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.parsing import Parser

CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus/messages.jsonl"
FIELDS = ("category", "building", "unit", "floor", "room", "handled", "command")


def _norm(field: str, value: object) -> object:
    if value is None:
        return None
    if field == "room":
        return str(value)
    if field in ("building", "unit", "floor"):
        try:
            return int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return value
    return value


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not available")
def test_corpus_bars() -> None:
    parser = Parser()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    kind_ok = majors = major_hit = false_major = field_ok = field_total = 0
    misses: list[str] = []
    for row in rows:
        exp = row["expect"]
        got = parser.parse(row["text"], chat=row.get("chat", "group"), role=row.get("role")).to_json()
        kind_ok += got["kind"] == exp["kind"]
        majors += exp["kind"] == "major"
        major_hit += exp["kind"] == "major" and got["kind"] == "major"
        false_major += exp["kind"] != "major" and got["kind"] == "major"
        for field in FIELDS:
            if field in exp:
                field_total += 1
                ok = _norm(field, got.get(field)) == _norm(field, exp[field])
                field_ok += ok
                if not ok:
                    misses.append(f"{row['id']} {field}")
        if got["kind"] != exp["kind"]:
            misses.append(f"{row['id']} kind {got['kind']} != {exp['kind']}")
    assert kind_ok / len(rows) >= 0.97, misses
    assert major_hit == majors, misses
    assert false_major <= 1, misses
    assert field_ok / field_total >= 0.95, misses

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


SECOND_AUTHOR = Path(__file__).resolve().parent / "data" / "second_author.jsonl"


def _score(path: Path, parser: Parser | None = None) -> tuple[float, int, int, int, float, list[str]]:
    """(kind accuracy, majors, majors found, false majors, field accuracy, misses) of `path`."""
    parser = parser or Parser()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
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
    return kind_ok / len(rows), majors, major_hit, false_major, field_ok / field_total, misses


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not available")
def test_corpus_bars() -> None:
    kind, majors, found, false_major, fields, misses = _score(CORPUS)
    assert kind >= 0.97, misses
    assert found == majors, misses
    assert false_major <= 1, misses
    assert fields >= 0.95, misses


def test_second_author_set() -> None:
    """38,991 messages written for this test without looking at the corpus (tests/parser/data), as
    the held-back set's author would: other phrasings, dialect, traps for false majors, numerals.
    Each batch was scored before the rules were changed for it: 0.10-1.00 kind accuracy a batch,
    56% of the majors in the last 33 batches (docs/benchmarks.md, "Stop 13"), which shows what the
    development corpus alone did not. A few labels are a matter of judgement (a thanks that also
    reports, a car across the fire lane: safety or dispute), hence the lower kind bar."""
    kind, majors, found, false_major, fields, misses = _score(SECOND_AUTHOR)
    assert found == majors, misses
    # The alarm model (chatter.py) flags a major the rules' words missed when it is sure; on
    # the messages it learnt from it still calls a few near-majors major (a child crying alone
    # for an hour): at most one in 2,000 of the others.
    assert false_major <= (len(SECOND_AUTHOR.read_text(encoding="utf-8").splitlines()) - majors) // 2000
    assert kind >= 0.93, misses
    assert fields >= 0.93, misses


def test_second_author_set_by_the_rules_alone() -> None:
    """Without the two models the rules find every major and make no false one: the models
    add to the rules, they do not carry them."""
    rules = Parser()
    rules.chatter = rules.alarm = None
    _kind, majors, found, false_major, _fields, misses = _score(SECOND_AUTHOR, rules)
    assert found == majors, misses
    assert false_major == 0, [m for m in misses if "!= major" not in m and "major" in m]

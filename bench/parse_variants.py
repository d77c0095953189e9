"""How far the parser's labels hold when a message is written another way: a generalisation report.

The held-back set is written by another author, so a figure on the labelled sets alone says
little. This rewrites every labelled message (../shared/corpus/messages.jsonl where present,
and tests/parser/data/second_author.jsonl) and counts the rewrites whose kind, category or
handled flag differ from the message as written:

  the rewrites of tests/parser/test_invariance.py (traditional characters, full-width, spaces
      for commas, numerals in words, quoted replies, @mentions, emoji), which the tests hold
      at zero;
  every punctuation mark removed (巡查燃气没有闻到异味): reported, not held at zero, since
      without any mark some sentences are ambiguous to a reader too;
  one everyday word swapped for a synonym (bench/synonyms.yaml: 老人 → 老太太, 楼道 → 楼梯间).

    .venv/bin/python bench/parse_variants.py [--show 20]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.parsing import Parser  # noqa: E402
from tests.parser.test_invariance import VARIANTS, labelled_rows  # noqa: E402

LABELS = ("kind", "category", "handled")
_PUNCTUATION = re.compile("[，。！？、,.!?；;]")


def synonym_swaps(text: str, groups: list[list[str]]) -> Iterator[tuple[str, str]]:
    """(swap, rewritten text) for each word of a group in `text` and each other word of it."""
    for group in groups:
        for word in group:
            if word in text:
                for other in group:
                    if other != word:
                        yield f"{word}→{other}", text.replace(word, other, 1)
                break  # the first word of the group found; the others are often inside it


def _single(rewrite: Callable[[str], str]) -> Callable[[str], Iterator[tuple[str, str]]]:
    """A one-way rewrite as a family of one rewrite."""

    def one(text: str) -> Iterator[tuple[str, str]]:
        yield "", rewrite(text)

    return one


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show", type=int, default=10, help="changed rewrites to print per family")
    args = ap.parse_args()
    parser = Parser()
    rows = labelled_rows()
    groups = yaml.safe_load((ROOT / "bench" / "synonyms.yaml").read_text(encoding="utf-8"))["groups"]

    def labels(text: str, row: dict[str, object]) -> tuple[object, ...]:
        got = parser.parse(text, chat=str(row.get("chat", "group")), role=row.get("role")).to_json()  # type: ignore[arg-type]
        return tuple(got.get(f) for f in LABELS)

    families: dict[str, Callable[[str], Iterator[tuple[str, str]]]] = {
        name: _single(fn) for name, fn in VARIANTS.items()
    }
    families["no punctuation at all"] = _single(lambda text: _PUNCTUATION.sub("", text))
    families["a synonym swapped"] = lambda text: synonym_swaps(text, groups)

    print(f"{len(rows)} labelled messages; a rewrite counts as changed when {', '.join(LABELS)} differ")
    print(f"{'rewrite':24s} {'rewrites':>9s} {'changed':>8s} {'rate':>7s}")
    for name, rewrite in families.items():
        total, changed, swaps = 0, 0, Counter[str]()
        shown: list[str] = []
        for row in rows:
            text = str(row["text"])
            before = None
            for swap, variant in rewrite(text):
                if variant == text:
                    continue
                before = before or labels(text, row)
                total += 1
                if labels(variant, row) != before:
                    changed += 1
                    swaps[swap] += 1
                    if len(shown) < args.show:
                        shown.append(f"    {row['id']}: {variant}")
        rate = changed / total if total else 0.0
        print(f"{name:24s} {total:9d} {changed:8d} {rate:7.1%}")
        if args.show and shown:
            if len(swaps) > 1:
                print("    most often: " + ", ".join(f"{swap} ({n})" for swap, n in swaps.most_common(8)))
            print("\n".join(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())

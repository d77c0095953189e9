"""Learn `config/parser/chatter.tsv`: the parser's second opinion on basic versus chat.

Reads labelled messages (JSON lines as in ../shared/corpus: text, role, expect.kind), keeps the
ones labelled `basic` or `other`, and writes naive-Bayes log-odds for every character and pair
of characters seen at least `--min-count` times (see handlers/parsing/chatter.py). The
development corpus is deliberately not a default input, so that score.py stays a fair check.

    .venv/bin/python scripts/train_chatter.py [--data FILE ...] [--threshold 16] [--check]

`--check` first trains on half of the labelled batches and reports, on the other half, how the
parser does with and without the model (the threshold's trade-off), then writes the file from all.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.parsing import Parser  # noqa: E402
from handlers.parsing.chatter import ChatterModel, features  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "parser" / "data" / "second_author.jsonl"
OUT = ROOT / "config" / "parser" / "chatter.tsv"
KINDS = ("basic", "other")

Row = tuple[str, str, str | None, str]  # id, text as the model reads it, role, labelled kind


def read(paths: list[Path]) -> list[Row]:
    """The labelled messages, each as the parser hands it to the model."""
    parser = Parser()
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                text = parser.chatter_input(row["text"], row.get("role"))
                if text is not None:  # (a message the model is never asked about teaches it nothing)
                    rows.append((row["id"], text, row.get("role"), row["expect"]["kind"]))
    return rows


def train(rows: list[Row], min_count: int, threshold: float) -> ChatterModel:
    counts = {kind: Counter[str]() for kind in KINDS}
    totals = Counter[str]()
    for _id, text, role, kind in rows:
        if kind in counts:
            counts[kind].update(features(text, role))
            totals[kind] += 1
    basic, other = totals["basic"] + 1, totals["other"] + 1
    weights = {}
    for feature in counts["basic"].keys() | counts["other"].keys():
        seen_basic, seen_other = counts["basic"][feature], counts["other"][feature]
        if seen_basic + seen_other >= min_count and "\n" not in feature:
            # presence log-likelihood ratio, with half a count of smoothing on either side
            weights[feature] = math.log((seen_basic + 0.5) / basic) - math.log((seen_other + 0.5) / other)
    bias = math.log(basic / other)
    return ChatterModel(weights, bias, math.log(other / basic), threshold)


def write(model: ChatterModel, path: Path) -> None:
    lines = ["# chatter model: log-odds of basic over other (scripts/train_chatter.py)"]
    lines += [f"{name}\t{getattr(model, name):.4f}" for name in ("bias", "unseen", "threshold")]
    lines += [f"{feature}\t{weight:.3f}" for feature, weight in sorted(model.weights.items())]
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\n".join(lines) + "\n")


def check(paths: list[Path], rows: list[Row], min_count: int, threshold: float) -> None:
    """Kind accuracy on held-out batches (ids without their number), with and without."""
    parser = Parser()
    raw = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                raw[row["id"]] = row
    for fold in (0, 1):

        def held(row_id: str, fold: int = fold) -> bool:
            return zlib.crc32(row_id.rstrip("0123456789").encode()) % 2 == fold

        model = train([r for r in rows if not held(r[0])], min_count, threshold)
        tested = [row for row_id, row in raw.items() if held(row_id)]
        plain = with_model = 0
        for row in tested:
            text, chat, role = row["text"], row.get("chat", "group"), row.get("role")
            parser.chatter = None
            plain += parser.parse(text, chat=chat, role=role).kind == row["expect"]["kind"]
            parser.chatter = model
            with_model += parser.parse(text, chat=chat, role=role).kind == row["expect"]["kind"]
        print(
            f"fold {fold}: {len(tested)} messages held out; kind accuracy rules alone "
            f"{plain / len(tested):.4f}, with the model {with_model / len(tested):.4f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threshold", type=float, default=16.0)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    rows = read(args.data)
    if args.check:
        check(args.data, rows, args.min_count, args.threshold)
    model = train(rows, args.min_count, args.threshold)
    write(model, args.out)
    print(f"{args.out}: {len(model.weights)} features from {sum(r[3] in KINDS for r in rows)} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Learn the parser's two second opinions (handlers/parsing/chatter.py) from labelled messages.

`--model chatter` (the default) writes `config/parser/chatter.tsv`, basic versus chat: it keeps
the messages labelled `basic` or `other` that the parser would ask it about. `--model alarm`
writes `config/parser/alarm.tsv`, a major against everything else, from every message that is not
a command. Both are naive-Bayes log-odds for every character and pair of characters seen at least
`--min-count` times. Input: JSON lines as in ../shared/corpus (text, role, expect.kind). The
development corpus is deliberately not a default input, so that score.py stays a fair check.

    .venv/bin/python scripts/train_chatter.py [--model chatter|alarm] [--data FILE ...]
        [--threshold N] [--check]

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.parsing import Parser  # noqa: E402
from handlers.parsing.chatter import ChatterModel, features  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "parser" / "data" / "second_author.jsonl"


@dataclass(frozen=True)
class Spec:
    """One model: its file, the kind it speaks for, the kinds it is learnt against (None: all
    others), what it reads of a message, its default threshold and the file's first line."""

    out: Path
    positive: str
    negatives: tuple[str, ...] | None
    reads: Callable[[Parser, str, str | None], str | None]
    threshold: float
    title: str


SPECS = {
    "chatter": Spec(
        ROOT / "config" / "parser" / "chatter.tsv",
        "basic",
        ("other",),
        Parser.chatter_input,
        16.0,
        "chatter model: log-odds of basic over other",
    ),
    "alarm": Spec(
        ROOT / "config" / "parser" / "alarm.tsv",
        "major",
        None,
        Parser.alarm_input,
        50.0,
        "alarm model: log-odds of major over everything else",
    ),
}

Row = tuple[str, str, str | None, str]  # id, text as the model reads it, role, labelled kind


def read(paths: list[Path], spec: Spec) -> list[Row]:
    """The labelled messages, each as the parser hands it to the model."""
    parser = Parser()
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                text = spec.reads(parser, row["text"], row.get("role"))
                if text is not None:  # (a message the model is never asked about teaches it nothing)
                    rows.append((row["id"], text, row.get("role"), row["expect"]["kind"]))
    return rows


def learnt_from(spec: Spec, kind: str) -> bool | None:
    """True: an example of the model's kind; False: a counter-example; None: not used."""
    if kind == spec.positive:
        return True
    return False if spec.negatives is None or kind in spec.negatives else None


def train(rows: list[Row], spec: Spec, min_count: int, threshold: float) -> ChatterModel:
    counts = {side: Counter[str]() for side in (True, False)}
    totals = Counter[bool]()
    for _id, text, role, kind in rows:
        side = learnt_from(spec, kind)
        if side is not None:
            counts[side].update(features(text, role))
            totals[side] += 1
    yes, no = totals[True] + 1, totals[False] + 1
    weights = {}
    for feature in counts[True].keys() | counts[False].keys():
        seen_yes, seen_no = counts[True][feature], counts[False][feature]
        if seen_yes + seen_no >= min_count and "\n" not in feature:
            # presence log-likelihood ratio, with half a count of smoothing on either side
            weights[feature] = math.log((seen_yes + 0.5) / yes) - math.log((seen_no + 0.5) / no)
    return ChatterModel(weights, math.log(yes / no), math.log(no / yes), threshold)


def write(model: ChatterModel, spec: Spec, path: Path) -> None:
    lines = [f"# {spec.title} (scripts/train_chatter.py)"]
    lines += [f"{name}\t{getattr(model, name):.4f}" for name in ("bias", "unseen", "threshold")]
    lines += [f"{feature}\t{weight:.3f}" for feature, weight in sorted(model.weights.items())]
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\n".join(lines) + "\n")


def check(paths: list[Path], rows: list[Row], spec: Spec, min_count: int, threshold: float) -> None:
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

        model = train([r for r in rows if not held(r[0])], spec, min_count, threshold)
        tested = [row for row_id, row in raw.items() if held(row_id)]
        plain = with_model = 0
        for row in tested:
            text, chat, role = row["text"], row.get("chat", "group"), row.get("role")
            setattr(parser, spec.out.stem, None)
            plain += parser.parse(text, chat=chat, role=role).kind == row["expect"]["kind"]
            setattr(parser, spec.out.stem, model)
            with_model += parser.parse(text, chat=chat, role=role).kind == row["expect"]["kind"]
        print(
            f"fold {fold}: {len(tested)} messages held out; kind accuracy rules alone "
            f"{plain / len(tested):.4f}, with the model {with_model / len(tested):.4f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SPECS), default="chatter")
    ap.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA])
    ap.add_argument("--out", type=Path, default=None, help="default: the model's file in config/parser")
    ap.add_argument("--threshold", type=float, default=None, help="default: the model's own")
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    spec = SPECS[args.model]
    out = args.out or spec.out
    threshold = spec.threshold if args.threshold is None else args.threshold
    rows = read(args.data, spec)
    if args.check:
        check(args.data, rows, spec, args.min_count, threshold)
    model = train(rows, spec, args.min_count, threshold)
    write(model, spec, out)
    used = sum(learnt_from(spec, r[3]) is not None for r in rows)
    print(f"{out}: {len(model.weights)} features from {used} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())

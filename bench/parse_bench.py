"""Parser benchmark: in-process, >= 100,000 messages on one core.

The corpus (../shared/corpus/messages.jsonl) is repeated and varied — random building and
phone numbers, traditional-character conversion, leading @mentions, full-width digits — so
caches of exact strings cannot flatter the figures. Prints mean and p99 µs per message and
the import time of `handlers.parsing` plus lexicon load, measured in a fresh subprocess.

`--instructions` also counts CPU instructions per parse under valgrind's callgrind: two runs that
parse 1,000 and 3,000 varied messages twice each; their difference over the 4,000 extra parses
leaves start-up out, and regex compiling too (both runs compile every keyword regex first).
Unlike the timings, that count does not move when other work shares the machine, so it is the
figure to compare changes with (about a minute).

    .venv/bin/python bench/parse_bench.py [--n 100000] [--seed 7] [--instructions]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / ".." / "shared" / "corpus" / "messages.jsonl"
FALLBACK = [
    "7栋2单元楼道堆放纸箱，已通知住户清理",
    "十二号楼三单元二〇三室门口着火了！",
    "今日巡查无异常，零报告",
    "#评价 R12 5",
    "请问居住证在哪里办？电话13812345678",
]
_TRAD = str.maketrans("楼栋单元号里发现着门电话无报告请问时间", "樓棟單元號裡發現著門電話無報告請問時間")
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
IMPORT_PROBE = (
    "import time; t=time.perf_counter(); import handlers.parsing as p; p.default_parser(); "
    "print((time.perf_counter()-t)*1000)"
)


def load_texts() -> list[str]:
    if not CORPUS.exists():
        return FALLBACK
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [str(row["text"]) for row in rows]


def vary(text: str, rng: random.Random) -> str:
    """One random variation of a corpus message."""
    choice = rng.random()
    if choice < 0.2:
        text = f"{rng.randint(1, 40)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}0{rng.randint(1, 4)} {text}"
    elif choice < 0.35:
        text = text.translate(_TRAD)
    elif choice < 0.5:
        text = f"@网格长\u2005{text}"
    elif choice < 0.6:
        text = text.translate(_FULL)
    elif choice < 0.7:
        text = f"{text} 电话1{rng.randint(3, 9)}{rng.randint(100000000, 999999999)}"
    return text


def import_ms() -> float:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _callgrind_total(n: int, seed: int) -> int:
    """Instructions of a whole run that parses `n` messages twice (the first pass warms up)."""
    cmd = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--callgrind-child", str(n), "--seed", str(seed),
    ]  # fmt: skip
    # A fixed hash seed: set and dict orders (and so the count) then repeat from run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    for line in out.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise RuntimeError("callgrind printed no instruction count")


def instructions_per_message(seed: int) -> float:
    small, large = 1000, 3000
    return (_callgrind_total(large, seed) - _callgrind_total(small, seed)) / (2 * (large - small))


def _callgrind_child(n: int, seed: int) -> None:
    from handlers.parsing.parser import warm_parser

    parser = warm_parser()  # every keyword regex compiled before the count, as `gridbot serve` does
    rng = random.Random(seed)
    texts = load_texts()
    batch = [vary(rng.choice(texts), rng) for _ in range(n)]
    for _ in range(2):
        for text in batch:
            parser.parse(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="messages to parse (default 100000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    ap.add_argument("--callgrind-child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    if args.callgrind_child:
        _callgrind_child(args.callgrind_child, args.seed)
        return 0
    from handlers.parsing.parser import warm_parser

    # As `gridbot serve` starts: every keyword regex compiled first, so no timed message pays
    # for a compile (a lazily compiled one costs 0.1-1 ms, the first time its key is met).
    compile_started = time.perf_counter()
    parser = warm_parser()
    compile_ms = (time.perf_counter() - compile_started) * 1000
    rng = random.Random(args.seed)
    texts = load_texts()
    roles = ["leader", "member", "resident", "merchant", "supervisor", None]
    batch = [(vary(rng.choice(texts), rng), rng.choice(roles)) for _ in range(args.n)]
    warm_started = time.perf_counter()
    for text, role in batch[:1000]:  # warm-up: regex caches, lazy imports
        parser.parse(text, role=role)
    warm_ms = (time.perf_counter() - warm_started) * 1000
    # As `gridbot serve` does once set up: the lexicon and this batch of inputs are long-lived, and
    # left in the collector's generations every full collection would walk them again.
    gc.collect()
    gc.freeze()

    timings: list[float] = []
    clock = time.perf_counter_ns
    started = clock()
    for text, role in batch:
        t0 = clock()
        parser.parse(text, role=role)
        timings.append((clock() - t0) / 1000.0)
    total_s = (clock() - started) / 1e9

    timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    import handlers.parsing

    built = "compiled with mypyc" if handlers.parsing.NATIVE else "plain Python"
    print(f"parser: {built}")
    print(f"messages: {len(timings)}  total: {total_s:.2f} s")
    print(
        f"mean: {statistics.fmean(timings):.1f} µs/msg  p50: {timings[len(timings) // 2]:.1f} µs  "
        f"p99: {p99:.1f} µs  max: {timings[-1]:.0f} µs"
    )
    print(f"compiling every keyword regex (warm_parser): {compile_ms:.0f} ms")
    print(f"warm-up (first 1000 messages): {warm_ms:.0f} ms")
    print(f"import handlers.parsing + lexicon load: {import_ms():.0f} ms")
    if args.instructions:
        print(f"instructions: {instructions_per_message(args.seed):,.0f} per message (callgrind)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

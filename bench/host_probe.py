"""How steady is this host? A fixed piece of pure-Python work, timed back to back.

The rate mode's p99 (bench/workflow_bench.py) is decided by the host as much as by the code: when
the machine runs the same work slower for tens of milliseconds, the queue grows for as long as
it lasts. This probe measures that alone, with nothing of GridBot's in it: one unit is ~70 µs of
arithmetic on a steady machine, repeated for `--seconds`; a unit taking more than 1.5× the median
counts as slowed. It prints the median unit, the share of the time spent in slowed units, the
longest stretch of slowed units back to back, and the slowest unit.

    .venv/bin/python bench/host_probe.py [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

SLOWED = 1.5  # a unit this many times the median is one the host ran slowly


def unit() -> int:
    total = 0
    for i in range(2000):
        total += i * i
    return total


def probe(seconds: float) -> dict[str, float]:
    for _ in range(200):  # warm: the first units pay for the interpreter's caches
        unit()
    durations: list[float] = []
    end = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        unit()
        done = time.perf_counter()
        durations.append(done - started)
        if done > end:
            break
    return summarise(durations)


def summarise(durations: list[float]) -> dict[str, float]:
    median = statistics.median(durations)
    slowed = longest = stretch = 0.0
    for d in durations:
        if d > SLOWED * median:
            slowed += d
            stretch += d
            longest = max(longest, stretch)
        else:
            stretch = 0.0
    return {
        "units": len(durations),
        "median_us": median * 1e6,
        "slowed_share_pct": 100 * slowed / sum(durations),
        "longest_slowed_ms": longest * 1e3,
        "max_unit_ms": max(durations) * 1e3,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", action="store_true", help="one line of JSON, for bench/run_all.py")
    args = ap.parse_args()
    r = probe(args.seconds)
    if args.json:
        print("JSON " + json.dumps(r))
        return 0
    print(
        f"{r['units']:.0f} units of fixed work: median {r['median_us']:.0f} µs; time in units over"
        f" {SLOWED}× the median {r['slowed_share_pct']:.1f}%; longest such stretch"
        f" {r['longest_slowed_ms']:.1f} ms; slowest unit {r['max_unit_ms']:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

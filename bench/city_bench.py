"""City-scale benchmark: 10,000 micro-grids and a year of history, on SQLite and PostgreSQL.

Builds a synthetic city (bench/city_gen.py: 20 streets × 10 communities × 5 comprehensive grids ×
10 micro-grids, three staff per micro-grid, 1,221 supervisors, one PatrolReport per grid and day,
tickets with their events, incidents, points) with bulk loads — executemany in 50,000-row batches
on SQLite (synchronous=OFF during the load), COPY on PostgreSQL — then measures, in a fresh child
process so its peak RSS is the measurement's alone:

chase      handlers.scheduled.patrol_chase at 16:00 of the measured day (30% of grids silent),
           committed: every chase message written to the outbox.
digest     handlers.digests.daily_digest at 21:00 for the same day, committed: one digest per
           supervisor (comprehensive grid, community, street, city).
today      bot.dashboard.queries.today + pages.today_page (what GET /admin does after the session
           check) for a community account (50 grids) and a street account (500 grids); the first
           (cold) call and the median of the next `--repeat`.
heatmap    bot.dashboard.queries.compliance over 30 days for the same accounts (median).
peak RSS   of the measuring process (VmHWM on Linux; ru_maxrss elsewhere — on Linux ru_maxrss
           would include the generating parent's peak, inherited across fork + exec).

    .venv/bin/python bench/city_bench.py [--backend sqlite|postgres|both] [--grids 10000] [--days 365]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.city_gen import City, LoadStats, load_postgres, load_sqlite  # noqa: E402
from bench.workflow_bench import drop_pg, pg_database  # noqa: E402
from storage import sqlite_library  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

TODAY = date(2026, 11, 23)  # a Monday


def generate(url: str, city: City) -> tuple[LoadStats, float]:
    """Migrate an empty database to head and load the city; returns the load stats and migrate time."""
    t0 = time.perf_counter()
    upgrade(url)
    migrate_s = time.perf_counter() - t0
    engine = make_engine(url)
    try:
        loader = load_sqlite if engine.dialect.name == "sqlite" else load_postgres
        return loader(engine, city), migrate_s
    finally:
        engine.dispose()


# -- measurement (runs in a child process) ---------------------------------------------------------


def _at(day: date, hour: int) -> datetime:
    from handlers.clock import SHANGHAI

    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def _rss_mib() -> float:
    """Peak RSS of this process so far, MiB. On Linux VmHWM of /proc/self/status: ru_maxrss is
    carried over from the parent at fork and kept across execve, so a child started by the
    (large) generating process would report the parent's peak instead of its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, grids: int, days: int, repeat: int) -> dict[str, Any]:
    from bot.dashboard import pages, queries
    from handlers.clock import SHANGHAI, VirtualClock
    from handlers.context import Services
    from handlers.digests import daily_digest, digest_templates
    from handlers.policy import WorkflowPolicy
    from handlers.scheduled import patrol_chase
    from handlers.templates import Templates
    from storage.db import session_factory
    from storage.store import Store

    city = City(grids, days, TODAY)
    engine = make_engine(url)
    sessions = session_factory(engine)
    clock = VirtualClock(_at(TODAY, 16))
    services = Services(clock=clock, policy=WorkflowPolicy(), texts=Templates())
    digest_templates()  # template load is not the digest's cost
    out: dict[str, Any] = {"rss_start_mib": _rss_mib()}  # imports, engine, templates

    with sessions() as session:
        t0 = time.perf_counter()
        out["chased"] = patrol_chase(Store(session), services, _at(TODAY, 16))
        session.commit()
        out["chase_s"] = time.perf_counter() - t0
    out["rss_after_chase_mib"] = _rss_mib()

    clock.set(_at(TODAY, 21))
    with sessions() as session:
        t0 = time.perf_counter()
        out["digests"] = daily_digest(Store(session), services, TODAY, _at(TODAY, 21))
        session.commit()
        out["digest_s"] = time.perf_counter() - t0
    out["rss_after_digest_mib"] = _rss_mib()

    accounts = {
        "community": queries.Viewer(frozenset({1}), username="community"),
        "street": queries.Viewer(frozenset(city.street_communities(1)), username="street"),
    }
    for label, viewer in accounts.items():
        times = []
        tiles = 0
        for _ in range(repeat + 1):
            with sessions() as session:
                t0 = time.perf_counter()
                view = queries.today(session, viewer, TODAY)
                pages.today_page(view, SHANGHAI)
                times.append(time.perf_counter() - t0)
                tiles = view.total
        out[f"today_{label}_cold_ms"] = times[0] * 1000
        out[f"today_{label}_ms"] = statistics.median(times[1:]) * 1000
        out[f"today_{label}_tiles"] = tiles
        times = []
        for _ in range(max(1, repeat // 2)):
            with sessions() as session:
                t0 = time.perf_counter()
                queries.compliance(session, viewer, TODAY, 30)
                times.append(time.perf_counter() - t0)
        out[f"heatmap_{label}_ms"] = statistics.median(times) * 1000
    engine.dispose()
    out["peak_rss_mib"] = _rss_mib()
    return out


def measure_in_child(url: str, grids: int, days: int, repeat: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        url,
        "--grids",
        str(grids),
        "--days",
        str(days),
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- driver ----------------------------------------------------------------------------------------


def run_backend(backend: str, city: City, repeat: int, keep: Path | None) -> dict[str, Any]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gridbot_city_") as tmp:
            folder = keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"city_{city.grids}x{city.days}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{path}"
            stats, migrate_s = generate(url, city)
            result = measure_in_child(url, city.grids, city.days, repeat)
            result["db_mib"] = path.stat().st_size / 2**20
    else:
        name, url = pg_database("gridbot_city")
        try:
            stats, migrate_s = generate(url, city)
            result = measure_in_child(url, city.grids, city.days, repeat)
            admin = create_engine(url)
            with admin.connect() as conn:
                result["db_mib"] = (
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one() / 2**20
                )
            admin.dispose()
        finally:
            drop_pg(name)
    result.update(
        backend=backend,
        rows=stats.total,
        rows_by_table=stats.rows,
        load_s=stats.seconds,
        analyze_s=stats.analyze_seconds,
        migrate_s=migrate_s,
    )
    return result


METRICS = (
    ("rows", "rows generated", "", "{:,.0f}"),
    ("load_s", "generation (bulk load)", "s", "{:.1f}"),
    ("analyze_s", "ANALYZE after load", "s", "{:.1f}"),
    ("db_mib", "database size", "MiB", "{:,.0f}"),
    ("chase_s", "16:00 chase enqueued (all grids)", "s", "{:.2f}"),
    ("chased", "  chase messages", "", "{:,.0f}"),
    ("digest_s", "all daily digests for one day", "s", "{:.2f}"),
    ("digests", "  digests written", "", "{:,.0f}"),
    ("today_community_ms", "dashboard today, community (median)", "ms", "{:.1f}"),
    ("today_community_cold_ms", "dashboard today, community (first)", "ms", "{:.1f}"),
    ("today_street_ms", "dashboard today, street (median)", "ms", "{:.1f}"),
    ("today_street_cold_ms", "dashboard today, street (first)", "ms", "{:.1f}"),
    ("heatmap_community_ms", "dashboard 30-day heatmap, community", "ms", "{:.1f}"),
    ("heatmap_street_ms", "dashboard 30-day heatmap, street", "ms", "{:.1f}"),
    ("peak_rss_mib", "peak RSS of the measuring process", "MiB", "{:.0f}"),
    ("rss_start_mib", "  RSS before the first job (imports)", "MiB", "{:.0f}"),
    ("rss_after_chase_mib", "  peak RSS after the chase", "MiB", "{:.0f}"),
    ("rss_after_digest_mib", "  peak RSS after the digests", "MiB", "{:.0f}"),
)


def print_table(city: City, results: list[dict[str, Any]]) -> None:
    print(
        f"city: {city.grids:,} micro-grids ({city.streets} streets, {city.communities} communities, "
        f"{city.comps} comprehensive grids), {city.days} days ending {city.today}"
    )
    backends = [r["backend"] for r in results]
    print(f"{'metric':40s} {'unit':5s} " + " ".join(f"{b:>12s}" for b in backends))
    for key, label, unit, form in METRICS:
        cells = [form.format(r[key]) if key in r else "-" for r in results]
        print(f"{label:40s} {unit:5s} " + " ".join(f"{c:>12s}" for c in cells))
    for r in results:
        parts = ", ".join(f"{t} {n:,}" for t, n in r["rows_by_table"].items())
        print(f"{r['backend']} rows: {parts}")


def main() -> int:
    sqlite_library.tune()  # as `gridbot` does at start, before any connection opens
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=10, help="dashboard calls per account after the first")
    ap.add_argument("--keep", type=Path, default=None, help="keep the SQLite file in this folder")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child: measure this URL
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.grids, args.days, args.repeat)))
        return 0
    city = City(args.grids, args.days, TODAY)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = [run_backend(b, city, args.repeat, args.keep) for b in backends]
    print_table(city, results)
    if args.json:
        print("JSON " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

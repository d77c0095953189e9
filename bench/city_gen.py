"""Synthetic city for bench/city_bench.py: roster, staff, supervisors and a year of history.

Shape (full scale): 20 streets × 10 communities × 5 comprehensive grids × 10 micro-grids = 10,000
micro-grids; per micro-grid a leader and two members; a level-1 supervisor per comprehensive grid,
a level-2 per community, a level-3 per street (one Supervisor row per community of the street) and
one city-wide level-3. History, per micro-grid and day: one PatrolReport (80% zero, 12% basic,
1% major, 7% missed; on the measured day only 70% have reported by 16:00 and nothing is missed yet),
a ticket with probability 0.15 (with its events: opened / accepted / resolved / rated), an incident
per major report, points for basic / major reports and tickets closed.

Rows are produced as tuples in the form both backends accept: datetimes as naive-UTC text in
SQLAlchemy's SQLite storage format (PostgreSQL reads them as UTC because the loader sets the
session time zone), dates as ISO text, booleans as 0/1, JSON as text. Ids are explicit, so the
generator needs no round trips; PostgreSQL sequences are moved past them after the load.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from handlers.clock import SHANGHAI

Row = tuple[Any, ...]

GRIDS_PER_COMP = 10
COMPS_PER_COMMUNITY = 5
COMMUNITIES_PER_STREET = 10
STAFF_PER_GRID = 3  # leader + 2 members
TICKET_P = 0.15
CATEGORIES = ("repair", "noise", "sanitation", "parking", "safety", "other")
GRADE_DAYS = {"A": 1, "B": 3, "C": 7}
BATCH = 50_000

COLUMNS: dict[str, tuple[str, ...]] = {
    "community": ("id", "code", "name", "street"),
    "compgrid": ("id", "community_id", "code", "name"),
    "microgrid": (
        "id",
        "comp_grid_id",
        "code",
        "name",
        "kind",
        "room_topic",
        "room_id",
        "account",
        "buildings",
        "active",
    ),
    "person": ("id", "code", "name", "wechat_name", "wechat_id", "phone", "is_admin", "is_resident"),
    "gridrole": ("id", "person_id", "micro_grid_id", "role"),
    "supervisor": ("id", "person_id", "level", "community_id", "comp_grid_id"),
    "patrolreport": (
        "id",
        "micro_grid_id",
        "day",
        "status",
        "reporter_id",
        "summary",
        "entries",
        "first_at",
        "updated_at",
        "recalled",
    ),
    "ticket": (
        "id",
        "micro_grid_id",
        "reporter_id",
        "category",
        "grade",
        "building",
        "unit",
        "masked_text",
        "status",
        "created_at",
        "deadline",
        "accepted_by",
        "accepted_at",
        "resolved_by",
        "resolved_at",
        "resolution",
        "rating",
        "rated_at",
        "escalation_level",
        "recalled",
    ),
    "ticketevent": ("id", "ticket_id", "at", "actor_id", "action", "note"),
    "incident": (
        "id",
        "micro_grid_id",
        "community_id",
        "reporter_id",
        "category",
        "location",
        "masked_text",
        "status",
        "level",
        "rounds",
        "created_at",
        "next_escalation_at",
        "acked_by",
        "acked_at",
        "recalled",
    ),
    "pointsentry": ("id", "person_id", "community_id", "at", "rule", "points", "ref"),
}
ROSTER_TABLES = ("community", "compgrid", "microgrid", "person", "gridrole", "supervisor")
HISTORY_TABLES = ("patrolreport", "ticket", "ticketevent", "incident", "pointsentry")


@dataclass(frozen=True, slots=True)
class City:
    grids: int
    days: int
    today: date  # the measured day; history is [today - days + 1, today]
    seed: int = 7

    @property
    def comps(self) -> int:
        return -(-self.grids // GRIDS_PER_COMP)

    @property
    def communities(self) -> int:
        return -(-self.comps // COMPS_PER_COMMUNITY)

    @property
    def streets(self) -> int:
        return -(-self.communities // COMMUNITIES_PER_STREET)

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=self.days - 1)

    def comp_of(self, grid: int) -> int:  # 1-based ids throughout
        return (grid - 1) // GRIDS_PER_COMP + 1

    def community_of_comp(self, comp: int) -> int:
        return (comp - 1) // COMPS_PER_COMMUNITY + 1

    def street_of(self, community: int) -> int:
        return (community - 1) // COMMUNITIES_PER_STREET + 1

    def leader(self, grid: int) -> int:
        return (grid - 1) * STAFF_PER_GRID + 1

    def street_communities(self, street: int) -> list[int]:
        first = (street - 1) * COMMUNITIES_PER_STREET + 1
        return list(range(first, min(first + COMMUNITIES_PER_STREET, self.communities + 1)))


# -- value formats ---------------------------------------------------------------------------------


def local_ts(day: date, minutes: float) -> datetime:
    """`minutes` after local midnight of `day`, as a naive UTC datetime."""
    local = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(minutes=minutes)
    return local.astimezone(UTC).replace(tzinfo=None)


def fmt(dt: datetime | None) -> str | None:
    return None if dt is None else f"{dt:%Y-%m-%d %H:%M:%S}.{dt.microsecond:06d}"


# -- roster ----------------------------------------------------------------------------------------


def roster_rows(city: City) -> dict[str, Iterator[Row]]:
    def community() -> Iterator[Row]:
        for c in range(1, city.communities + 1):
            yield (c, f"C{c:04d}", f"第{c}社区", f"第{city.street_of(c)}街道")

    def compgrid() -> Iterator[Row]:
        for g in range(1, city.comps + 1):
            yield (g, city.community_of_comp(g), f"G{g:05d}", f"第{g}综合网格")

    def microgrid() -> Iterator[Row]:
        for m in range(1, city.grids + 1):
            c = city.community_of_comp(city.comp_of(m))
            n = (m - 1) % (GRIDS_PER_COMP * COMPS_PER_COMMUNITY) + 1
            topic = f"第{c}社区{n}号楼微网格群"
            yield (
                m,
                city.comp_of(m),
                f"M{m:06d}",
                f"第{c}社区{n}号楼",
                "residential",
                topic,
                f"room:{m}",
                "default",
                f"[{n}]",
                1,
            )

    def person() -> Iterator[Row]:
        pid = 0
        for m in range(1, city.grids + 1):
            for k, role in enumerate(("长", "员甲", "员乙")):
                pid += 1
                name = f"网格{role}{m}"
                yield (pid, f"P{pid:07d}", name, name, f"wx:p{pid}", f"139{pid:08d}", 0, 0)
                _ = k
        for kind, n in (("主任", city.comps), ("书记", city.communities), ("街道", city.streets), ("市", 1)):
            for i in range(1, n + 1):
                pid += 1
                name = f"{kind}{i}"
                yield (pid, f"P{pid:07d}", name, name, f"wx:p{pid}", f"138{pid:08d}", 0, 0)

    def gridrole() -> Iterator[Row]:
        rid = 0
        for m in range(1, city.grids + 1):
            for k, role in enumerate(("leader", "member", "member")):
                rid += 1
                yield (rid, city.leader(m) + k, m, role)

    def supervisor() -> Iterator[Row]:
        sid = 0
        pid = city.grids * STAFF_PER_GRID
        for g in range(1, city.comps + 1):
            sid, pid = sid + 1, pid + 1
            yield (sid, pid, 1, city.community_of_comp(g), g)
        for c in range(1, city.communities + 1):
            sid, pid = sid + 1, pid + 1
            yield (sid, pid, 2, c, None)
        for s in range(1, city.streets + 1):
            pid += 1
            for c in city.street_communities(s):  # a street = the union of its communities
                sid += 1
                yield (sid, pid, 3, c, None)
        sid, pid = sid + 1, pid + 1
        yield (sid, pid, 3, None, None)  # city-wide

    return {
        "community": community(),
        "compgrid": compgrid(),
        "microgrid": microgrid(),
        "person": person(),
        "gridrole": gridrole(),
        "supervisor": supervisor(),
    }


# -- history ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Buffers:
    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t in HISTORY_TABLES})
    ids: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HISTORY_TABLES, 0))

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]


def history_batches(city: City) -> Iterator[dict[str, list[Row]]]:
    """Day by day, every history table's rows for that day (a few tens of thousands at full scale)."""
    rng = random.Random(city.seed)
    buf = _Buffers()
    for offset in range(city.days):
        day = city.first_day + timedelta(days=offset)
        is_today = day == city.today
        age = (city.today - day).days
        base = local_ts(day, 0)
        day_text = day.isoformat()
        for m in range(1, city.grids + 1):
            _grid_day(city, rng, buf, m, day, day_text, base, is_today, age)
        yield buf.rows
        buf.rows = {t: [] for t in HISTORY_TABLES}


def _grid_day(
    city: City,
    rng: random.Random,
    buf: _Buffers,
    m: int,
    day: date,
    day_text: str,
    base: datetime,
    is_today: bool,
    age: int,
) -> None:
    leader = city.leader(m)
    community = city.community_of_comp(city.comp_of(m))
    r = rng.random()
    status: str | None
    if is_today:  # 16:00: 70% have reported, nothing is missed yet
        status = "zero" if r < 0.62 else "basic" if r < 0.70 else None
    else:
        status = "zero" if r < 0.80 else "basic" if r < 0.92 else "major" if r < 0.93 else "missed"
    if status is not None:
        rid = buf.next_id("patrolreport")
        if status == "missed":
            buf.rows["patrolreport"].append(
                (rid, m, day_text, "missed", None, "", 0, None, fmt(base + timedelta(hours=18)), 0)
            )
        else:
            reporter = leader + (1 if rng.random() < 0.3 else 0)
            first = base + timedelta(minutes=480 + rng.random() * 420)
            summary = "" if status == "zero" else "楼道堆放杂物，已清理"
            buf.rows["patrolreport"].append(
                (rid, m, day_text, status, reporter, summary, 1, fmt(first), fmt(first), 0)
            )
            if status != "zero":
                buf.rows["pointsentry"].append(
                    (
                        buf.next_id("pointsentry"),
                        reporter,
                        community,
                        fmt(first),
                        f"{status}_report",
                        2 if status == "basic" else 3,
                        f"patrol:{m}:{day_text}",
                    )
                )
            if status == "major":
                _incident(buf, rng, m, community, reporter, first)
    if rng.random() < TICKET_P:
        _ticket(buf, rng, m, community, leader, base, age)


def _incident(buf: _Buffers, rng: random.Random, m: int, community: int, reporter: int, at: datetime) -> None:
    acked = at + timedelta(minutes=2 + rng.random() * 40)
    buf.rows["incident"].append(
        (
            buf.next_id("incident"),
            m,
            community,
            reporter,
            "fire",
            "楼道",
            "楼道冒烟",
            "acked",
            1,
            1,
            fmt(at),
            None,
            reporter,
            fmt(acked),
            0,
        )
    )


def _ticket(
    buf: _Buffers, rng: random.Random, m: int, community: int, leader: int, base: datetime, age: int
) -> None:
    tid = buf.next_id("ticket")
    g = rng.random()
    grade = "A" if g < 0.7 else "B" if g < 0.95 else "C"
    span = timedelta(days=GRADE_DAYS[grade])
    created = base + timedelta(minutes=420 + rng.random() * 900)
    deadline = created + span
    category = rng.choice(CATEGORIES)
    events: list[tuple[datetime, int | None, str]] = [(created, None, "opened")]
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    rated_at: datetime | None = None
    accepted_by: int | None = None
    resolved_by: int | None = None
    rating: int | None = None
    # Older tickets are mostly done; 1% stay open (and overdue), recent ones are in every state.
    s = rng.random()
    if age > 7:
        state = "rated" if s < 0.6 else "resolved" if s < 0.99 else "open" if s < 0.995 else "accepted"
    else:
        state = "rated" if s < 0.3 else "resolved" if s < 0.6 else "accepted" if s < 0.8 else "open"
    if state != "open":
        accepted_by, accepted_at = leader, created + timedelta(minutes=5 + rng.random() * 120)
        events.append((accepted_at, leader, "accepted"))
    if state in ("resolved", "rated"):
        resolved_by = leader
        assert accepted_at is not None
        resolved_at = accepted_at + span * (0.1 + rng.random())
        events.append((resolved_at, leader, "resolved"))
        in_time = resolved_at <= deadline
        buf.rows["pointsentry"].append(
            (
                buf.next_id("pointsentry"),
                leader,
                community,
                fmt(resolved_at),
                "ticket_closed_in_time" if in_time else "ticket_overdue",
                3 if in_time else -1,
                f"R{tid}",
            )
        )
    if state == "rated":
        assert resolved_at is not None
        rating, rated_at = rng.choice((3, 4, 5, 5, 5)), resolved_at + timedelta(hours=1 + rng.random() * 20)
        events.append((rated_at, None, "rated"))
    buf.rows["ticket"].append(
        (
            tid,
            m,
            None,
            category,
            grade,
            rng.randint(1, 30),
            rng.randint(1, 6),
            "楼道灯坏了",
            state,
            fmt(created),
            fmt(deadline),
            accepted_by,
            fmt(accepted_at),
            resolved_by,
            fmt(resolved_at),
            "已处理" if resolved_at else "",
            rating,
            fmt(rated_at),
            0,
            0,
        )
    )
    for at, actor, action in events:
        buf.rows["ticketevent"].append((buf.next_id("ticketevent"), tid, fmt(at), actor, action, ""))


# -- loaders ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadStats:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    analyze_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


Writer = Callable[[str, list[Row]], None]


def _feed(city: City, write: Writer, stats: LoadStats) -> None:
    for table, roster in roster_rows(city).items():
        batch: list[Row] = []
        for row in roster:
            batch.append(row)
            if len(batch) >= BATCH:
                write(table, batch)
                stats.rows[table] = stats.rows.get(table, 0) + len(batch)
                batch = []
        if batch:
            write(table, batch)
            stats.rows[table] = stats.rows.get(table, 0) + len(batch)
    pending: dict[str, list[Row]] = {t: [] for t in HISTORY_TABLES}
    for day_rows in history_batches(city):
        for table, rows in day_rows.items():
            pending[table] += rows
            if len(pending[table]) >= BATCH:
                write(table, pending[table])
                stats.rows[table] = stats.rows.get(table, 0) + len(pending[table])
                pending[table] = []
    for table, rows in pending.items():
        if rows:
            write(table, rows)
        stats.rows[table] = stats.rows.get(table, 0) + len(rows)


def load_sqlite(engine: Engine, city: City) -> LoadStats:
    """executemany in big batches on the engine's DBAPI connection, one transaction, with
    synchronous=OFF and foreign_keys=OFF during the load (both restored for the measurement,
    which opens its own connections)."""
    stats = LoadStats()
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA cache_size=-262144")  # 256 MiB for the index builds
        cur.execute("BEGIN")

        def write(table: str, rows: list[Row]) -> None:
            cols = COLUMNS[table]
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            cur.executemany(sql, rows)

        _feed(city, write, stats)
        cur.execute("COMMIT")
        stats.seconds = time.perf_counter() - started
        t0 = time.perf_counter()
        cur.execute("ANALYZE")
        stats.analyze_seconds = time.perf_counter() - t0
        cur.close()
    finally:
        raw.close()
    return stats


def load_postgres(engine: Engine, city: City) -> LoadStats:
    """COPY FROM STDIN through psycopg's `cursor.copy()`, one transaction; FK triggers off for the
    load (session_replication_role = replica), sequences moved past the explicit ids, then ANALYZE."""
    stats = LoadStats()
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute("SET session_replication_role = replica")

            def write(table: str, rows: list[Row]) -> None:
                with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

            _feed(city, write, stats)
            for table in (*ROSTER_TABLES, *HISTORY_TABLES):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                    f" FROM {table}"
                )
            cur.execute("SET session_replication_role = DEFAULT")
        conn.commit()
        stats.seconds = time.perf_counter() - started
        t0 = time.perf_counter()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ANALYZE")
        conn.autocommit = False
        stats.analyze_seconds = time.perf_counter() - t0
    finally:
        raw.close()
    return stats

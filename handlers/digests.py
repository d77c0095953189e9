"""Supervisors' daily digest (日报) and weekly / monthly bulletins (周报 / 月通报).

Every figure is aggregated in SQL, grouped by micro-grid (or by person for points), once per run for
the union of all supervisors' scopes; each supervisor's message is then cut from those in-memory
per-grid aggregates. A run therefore costs about ten queries whether the street has ten grids or
thousands, and whether it has one supervisor or hundreds. Only portable SQLAlchemy expressions are
used (GROUP BY, CASE, a ROW_NUMBER window), so SQLite and PostgreSQL give the same answers.

Wording lives in config/digest_templates.yaml; the code decides which lines appear and drops the
longest lists first so a message stays readable on a phone (MAX_LINES / MAX_CHARS).
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, or_, true
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from handlers.common import fmt_day
from handlers.context import Services
from handlers.labels import category_name
from handlers.outbox import Mailer
from handlers.templates import TemplateError, Templates
from storage.models import (
    Community,
    CompGrid,
    GridRole,
    Incident,
    MicroGrid,
    PatrolReport,
    Person,
    PointsEntry,
    Supervisor,
    Ticket,
)
from storage.store import Store

log = logging.getLogger(__name__)

GridIds = SelectOfScalar[int | None]  # a subquery of micro-grid ids, used as `col.in_(ids)`

DIGEST_TEMPLATES = Path(__file__).resolve().parent.parent / "config" / "digest_templates.yaml"

REPORTED = ("zero", "basic", "major")  # "missed" is a row too, but it is not a report
OVERDUE_STATES = ("open", "accepted")  # suspended (挂起) work is paused: its deadline does not run
GRADES = ("A", "B", "C")
MAX_LINES = 25
MAX_CHARS = 1200
MAX_UNITS = 8  # community / comprehensive-grid lines before "其余…"
MAX_NAMES = 3  # grid names on one unit line
MAX_WORST = 6  # grid names on the street-wide "未报网格" line
OLDEST_OVERDUE = 3
MAX_INCIDENTS = 5
MAX_CATEGORIES = 4
DAILY_TOP = 3
BULLETIN_TOP = 5
BULLETIN_LOWEST = 5
RECENT_DAYS = 7  # "worst" missing grids: fewest reports over this many days before the digest day
NAME_CHARS = 14  # long grid / unit names are cut so one line cannot eat the message

REQUIRED_TEMPLATES = (
    "sep", "more", "grade_item", "grade_sep", "category_item", "unit_kind_comp", "unit_kind_community",
    "scope_all", "scope_many", "daily_header", "daily_patrol", "daily_patrol_rest_day",
    "daily_missing_names", "daily_unit", "daily_unit_names", "daily_unit_ok", "daily_units_rest",
    "daily_units_rest_ok",
    "daily_new_tickets", "daily_new_tickets_none", "daily_closed", "daily_overdue", "daily_overdue_none",
    "daily_overdue_item", "late_days", "late_hours", "daily_incidents", "daily_incidents_none",
    "daily_incident_acked", "daily_incident_open", "daily_top", "daily_top_none", "top_item",
    "truncated", "weekly_header", "monthly_header", "bulletin_rate", "bulletin_unit",
    "bulletin_units_rest", "bulletin_lowest", "bulletin_lowest_item", "bulletin_all_full",
    "bulletin_closed", "bulletin_closed_none", "bulletin_rating", "bulletin_rating_none",
    "bulletin_top", "bulletin_top_none",
)  # fmt: skip


# -- templates -------------------------------------------------------------------------------------


@functools.cache
def digest_templates(path: Path = DIGEST_TEMPLATES) -> Templates:
    """The digest wording, checked once: a community's edit that drops a key fails loudly here,
    at the first digest, rather than as a half-written message."""
    texts = Templates(path)
    missing = [key for key in REQUIRED_TEMPLATES if not texts.has(key)]
    if missing:
        raise TemplateError(f"日报模板 {path} 缺少：{', '.join(missing)}")
    return texts


# -- scope -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Which micro-grids a supervisor sees: whole communities, single comprehensive grids, or all."""

    comp_grid_ids: frozenset[int] = frozenset()
    community_ids: frozenset[int] = frozenset()
    everything: bool = False

    @classmethod
    def all(cls) -> Scope:
        return cls(everything=True)

    @classmethod
    def of_supervisor(cls, row: Supervisor) -> Scope:
        if row.level <= 1:
            if row.comp_grid_id is not None:
                return cls(comp_grid_ids=frozenset({row.comp_grid_id}))
            # A level-1 row without its comprehensive grid is a roster slip; its community is the
            # nearest sensible reading, nothing at all if that is missing too.
            return cls(community_ids=frozenset({row.community_id})) if row.community_id else cls()
        if row.community_id is not None:
            return cls(community_ids=frozenset({row.community_id}))
        # Levels 2–3 without a community cover every community, as Store.supervisors_at reads them.
        return cls.all()

    @classmethod
    def of_supervisors(cls, rows: Iterable[Supervisor]) -> Scope:
        return functools.reduce(lambda a, b: a | b, (cls.of_supervisor(r) for r in rows), cls())

    def __or__(self, other: Scope) -> Scope:
        return Scope(
            self.comp_grid_ids | other.comp_grid_ids,
            self.community_ids | other.community_ids,
            self.everything or other.everything,
        )

    @property
    def empty(self) -> bool:
        return not (self.everything or self.comp_grid_ids or self.community_ids)

    def covers(self, community_id: int | None, comp_grid_id: int | None = None) -> bool:
        return (
            self.everything
            or (community_id is not None and community_id in self.community_ids)
            or (comp_grid_id is not None and comp_grid_id in self.comp_grid_ids)
        )

    def sql(self) -> ColumnElement[bool]:
        """The same test over CompGrid columns, for queries joined to CompGrid."""
        if self.everything:
            return true()
        if self.empty:
            return false()
        return or_(
            col(CompGrid.id).in_(sorted(self.comp_grid_ids)),
            col(CompGrid.community_id).in_(sorted(self.community_ids)),
        )


# -- the grid directory ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridInfo:
    id: int
    name: str
    comp_grid_id: int
    comp_name: str
    community_id: int
    community_name: str
    street: str


def _scope_grid_ids(scope: Scope) -> GridIds:
    """A subquery of the active micro-grids in scope; filters aggregates without an IN list of ids."""
    return (
        select(col(MicroGrid.id))
        .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
        .where(col(MicroGrid.active).is_(True), scope.sql())
    )


def load_directory(store: Store, scope: Scope) -> dict[int, GridInfo]:
    """Active micro-grids in scope, in roster order (community, comprehensive grid, grid code)."""
    # CompGrid and Community come back as entities: few, and shared through the identity map.
    stmt = (
        select(col(MicroGrid.id), MicroGrid.name, CompGrid, Community)
        .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
        .join(Community, col(Community.id) == col(CompGrid.community_id))
        .where(col(MicroGrid.active).is_(True), scope.sql())
        .order_by(col(Community.code), col(CompGrid.code), col(MicroGrid.code))
    )
    directory: dict[int, GridInfo] = {}
    for gid, name, comp, community in store.session.exec(stmt):
        assert gid is not None and comp.id is not None and community.id is not None
        directory[gid] = GridInfo(
            gid, name, comp.id, comp.name, community.id, community.name, community.street
        )
    return directory


@dataclass(frozen=True, slots=True)
class _Directory:
    """The grid directory indexed by comprehensive grid and community, built once per run.

    Cutting a scope then costs its comprehensive grids rather than a `Scope.covers` test of every
    grid in the city per supervisor (1,221 supervisors × 10,000 grids was the digest's whole cost).
    Comprehensive grids are kept in roster order; their grids are contiguous in the directory, so
    concatenating them in that order gives exactly the directory's grid order."""

    grids: dict[int, GridInfo]
    comp_grids: dict[int, tuple[GridInfo, ...]]  # comp id -> its active grids, roster order
    community_comps: dict[int, tuple[int, ...]]  # community id -> its comp ids, roster order
    comp_rank: dict[int, int]  # comp id -> position in roster order

    @classmethod
    def build(cls, grids: dict[int, GridInfo]) -> _Directory:
        comp_grids: dict[int, list[GridInfo]] = defaultdict(list)
        community_comps: dict[int, list[int]] = defaultdict(list)
        for g in grids.values():
            if g.comp_grid_id not in comp_grids:
                community_comps[g.community_id].append(g.comp_grid_id)
            comp_grids[g.comp_grid_id].append(g)
        return cls(
            grids,
            {c: tuple(members) for c, members in comp_grids.items()},
            {c: tuple(comps) for c, comps in community_comps.items()},
            {c: rank for rank, c in enumerate(comp_grids)},
        )

    def comps_in(self, scope: Scope) -> list[int]:
        """The comprehensive grids with active grids in `scope`, in roster order."""
        if scope.everything:
            return list(self.comp_grids)
        chosen = {c for c in scope.comp_grid_ids if c in self.comp_rank}
        for community in scope.community_ids:
            chosen.update(self.community_comps.get(community, ()))
        return sorted(chosen, key=self.comp_rank.__getitem__)

    def by_community(self, comps: Sequence[int]) -> list[tuple[int, tuple[int, ...]]]:
        """`comps` (roster order) grouped by community, communities in roster order."""
        groups: dict[int, list[int]] = defaultdict(list)
        for c in comps:
            groups[self.comp_grids[c][0].community_id].append(c)
        return [(community, tuple(members)) for community, members in groups.items()]

    def first(self, comp_id: int) -> GridInfo:
        return self.comp_grids[comp_id][0]


Agg = TypeVar("Agg")


@dataclass(slots=True)
class _Rollup(Generic[Agg]):
    """Per-comprehensive-grid aggregates, built once, and per-community ones summed from them, so a
    community's message merges its few comp aggregates and a street's its community aggregates.

    `merge` must give what `leaf` would give over the concatenated grids (parts arrive in roster
    order), which keeps every figure, and every tie order, as a grid-by-grid pass would have it."""

    directory: _Directory
    leaf: Callable[[Sequence[GridInfo]], Agg]
    merge: Callable[[Sequence[Agg]], Agg]
    _comps: dict[int, Agg] = field(default_factory=dict)
    _communities: dict[int, Agg] = field(default_factory=dict)

    def comp(self, comp_id: int) -> Agg:
        if comp_id not in self._comps:
            self._comps[comp_id] = self.leaf(self.directory.comp_grids[comp_id])
        return self._comps[comp_id]

    def community(self, community_id: int, comps: tuple[int, ...]) -> Agg:
        """The aggregate over `comps` of one community: cached when they are the whole community
        (a scope may also hold only some comprehensive grids of a community)."""
        whole = comps == self.directory.community_comps[community_id]
        if whole and community_id in self._communities:
            return self._communities[community_id]
        agg = self.merge([self.comp(c) for c in comps])
        if whole:
            self._communities[community_id] = agg
        return agg


@dataclass(frozen=True, slots=True)
class _Cut(Generic[Agg]):
    """One scope cut from a rollup: its comp and community aggregates and their total, in roster order."""

    comps: list[tuple[GridInfo, Agg]]  # (the comp's first grid, for its names; aggregate)
    communities: list[tuple[GridInfo, Agg]]
    total: Agg

    @classmethod
    def of(cls, rollup: _Rollup[Agg], scope: Scope) -> _Cut[Agg]:
        directory = rollup.directory
        comps = directory.comps_in(scope)
        groups = directory.by_community(comps)
        communities = [(directory.first(cs[0]), rollup.community(c, cs)) for c, cs in groups]
        return cls(
            [(directory.first(c), rollup.comp(c)) for c in comps],
            communities,
            rollup.merge([agg for _, agg in communities]),
        )

    def name(self, scope: Scope, texts: Templates) -> str:
        # scope_name reads only comp-level fields, so one grid per comprehensive grid suffices.
        return scope_name([g for g, _ in self.comps], scope, texts)


def scope_name(grids: Sequence[GridInfo], scope: Scope, texts: Templates) -> str:
    """Whose grids these are, for the header: a comprehensive grid, a community, or the street."""
    if scope.everything:
        streets = {g.street for g in grids}
        communities = {g.community_name for g in grids}
        if len(streets) == 1 and "" not in streets:
            return next(iter(streets))
        return next(iter(communities)) if len(communities) == 1 else texts.render("scope_all")
    # Whole communities by their name; comprehensive grids outside them by theirs.
    names = dict.fromkeys(
        g.community_name if g.community_id in scope.community_ids else g.comp_name for g in grids
    )
    return texts.render("scope_many", names=_names(list(names), texts, 2))


# -- shared helpers --------------------------------------------------------------------------------


def _window(tz: ZoneInfo, first: date, end: date) -> tuple[datetime, datetime]:
    """[first 00:00, end 00:00) local time, as aware datetimes (the DB type stores them as UTC)."""
    return datetime.combine(first, time(), tz), datetime.combine(end, time(), tz)


def _short(name: str) -> str:
    """Long names keep their head and tail: grids of one community share a prefix and differ at
    the end ("幸福社区…3号楼"), so cutting only the tail would make them all look alike."""
    if len(name) <= NAME_CHARS:
        return name
    head = NAME_CHARS // 3
    return name[:head] + "…" + name[-(NAME_CHARS - head - 1) :]


def _names(names: Sequence[str], texts: Templates, limit: int) -> str:
    """ "甲、乙、丙" or "甲、乙等7个" when the list is longer than `limit`."""
    sep = texts.render("sep")
    shown = sep.join(_short(n) for n in names[:limit])
    return shown if len(names) <= limit else texts.render("more", items=shown, count=len(names))


def _pct(part: int, whole: int) -> str:
    return "—" if whole == 0 else f"{round(100 * part / whole)}%"


@dataclass(frozen=True, slots=True)
class Contributor:
    person_id: int
    name: str
    points: int


@dataclass(frozen=True, slots=True)
class _Points:
    person_id: int
    name: str
    community_id: int | None
    points: int


@dataclass(slots=True)
class _PointsBook:
    """Points earned in a window, per person and community, with where each person works.

    Rows are bucketed once by community and by comprehensive grid, so `top` reads only the rows a
    scope can count instead of every row of the window per supervisor."""

    rows: list[_Points]
    person_comps: dict[int, set[int]]  # person -> comprehensive grids of their micro-grid roles
    comp_community: dict[int, int]
    _by_community: dict[int | None, list[int]] = field(init=False)  # row indexes
    _by_comp: dict[int, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self._by_community = defaultdict(list)
        self._by_comp = defaultdict(list)
        for i, row in enumerate(self.rows):
            self._by_community[row.community_id].append(i)
            for comp in self.person_comps.get(row.person_id, ()):
                if self._comp_counts(row, comp):
                    self._by_comp[comp].append(i)

    def top(self, scope: Scope, n: int) -> tuple[Contributor, ...]:
        totals: dict[int, int] = defaultdict(int)
        names: dict[int, str] = {}
        for i in self._rows_in(scope):
            row = self.rows[i]
            totals[row.person_id] += row.points
            names[row.person_id] = row.name
        ranked = sorted(
            (Contributor(pid, names[pid], pts) for pid, pts in totals.items() if pts > 0),
            key=lambda c: (-c.points, c.name, c.person_id),
        )
        return tuple(ranked[:n])

    def _rows_in(self, scope: Scope) -> Iterable[int]:
        """Indexes of the rows `scope` counts, each once (a row may sit in several buckets)."""
        if scope.everything:
            return range(len(self.rows))
        picked: set[int] = set()
        for community in scope.community_ids:
            picked.update(self._by_community.get(community, ()))
        for comp in scope.comp_grid_ids:
            picked.update(self._by_comp.get(comp, ()))
        return picked

    def _comp_counts(self, row: _Points, comp: int) -> bool:
        # A comprehensive-grid scope: the person works in one of its micro-grids, and the points
        # were earned in that grid's community (or carry no community at all).
        return row.community_id is None or row.community_id == self.comp_community.get(comp)


def _load_points(store: Store, start: datetime, end: datetime, directory: dict[int, GridInfo]) -> _PointsBook:
    in_window = and_(col(PointsEntry.at) >= start, col(PointsEntry.at) < end)
    stmt = (
        select(
            col(PointsEntry.person_id),
            Person.name,
            col(PointsEntry.community_id),
            func.sum(PointsEntry.points),
        )
        .join(Person, col(Person.id) == col(PointsEntry.person_id))
        .where(in_window)
        .group_by(col(PointsEntry.person_id), Person.name, col(PointsEntry.community_id))
    )
    rows = [_Points(pid, name, cid, int(pts or 0)) for pid, name, cid, pts in store.session.exec(stmt)]
    earners = select(col(PointsEntry.person_id)).where(in_window).distinct()
    roles = (
        select(col(GridRole.person_id), col(MicroGrid.comp_grid_id))
        .join(MicroGrid, col(MicroGrid.id) == col(GridRole.micro_grid_id))
        .where(col(GridRole.person_id).in_(earners))
        .distinct()
    )
    person_comps: dict[int, set[int]] = defaultdict(set)
    for pid, comp in store.session.exec(roles):
        person_comps[pid].add(comp)
    comp_community = {g.comp_grid_id: g.community_id for g in directory.values()}
    return _PointsBook(rows, dict(person_comps), comp_community)


def _supervisor_scopes(store: Store) -> list[tuple[Person, Scope]]:
    """Every supervisor once, with the union of their rows' scopes (one person may hold several)."""
    stmt = (
        select(Person, Supervisor)
        .join(Supervisor, col(Supervisor.person_id) == col(Person.id))
        .order_by(col(Person.id), col(Supervisor.id))
    )
    people: dict[int, Person] = {}
    rows: dict[int, list[Supervisor]] = defaultdict(list)
    for person, row in store.session.exec(stmt):
        assert person.id is not None
        people[person.id] = person
        rows[person.id].append(row)
    return [(people[pid], Scope.of_supervisors(rows[pid])) for pid in people]


def _union(scopes: Iterable[Scope]) -> Scope:
    return functools.reduce(lambda a, b: a | b, scopes, Scope())


def _send_all(
    store: Store,
    at: datetime,
    account: str,
    prefix: str,
    kind: str,
    compose: Callable[[Scope], str | None],
) -> int:
    """One private message per supervisor, keyed `{prefix}:{person id}` so a re-run sends nothing."""
    mailer = Mailer(store, at, prefix, account)
    for person, scope in _supervisor_scopes(store):
        text = compose(scope)
        if text is None:
            log.warning("supervisor %s has no active grids in scope; no %s sent", person.id, kind)
            continue
        mailer.to_person(person, kind, text, key=f"{person.id}")
    return len(mailer.sent)


# -- daily figures ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolCount:
    """Reports of one day over a set of grids; `missing` lists grid names, worst first."""

    name: str
    grids: int
    zero: int
    basic: int
    major: int
    missing: tuple[str, ...]

    @property
    def reported(self) -> int:
        return self.zero + self.basic + self.major


@dataclass(frozen=True, slots=True)
class OverdueTicket:
    ref: str
    grid: str
    deadline: datetime
    late: timedelta


@dataclass(frozen=True, slots=True)
class IncidentFact:
    ref: str
    category: str
    created_at: datetime
    ack_minutes: int | None  # None: not acknowledged


@dataclass(frozen=True, slots=True)
class DailyFigures:
    day: date
    scope_name: str
    required: bool  # False on a rest day when the community patrols on working days only
    total: PatrolCount
    by_community: tuple[PatrolCount, ...]
    by_comp_grid: tuple[PatrolCount, ...]
    new_by_category: dict[str, int]
    new_by_grade: dict[str, int]
    closed: int
    closed_in_time: int
    overdue: int
    oldest_overdue: tuple[OverdueTicket, ...]
    incidents: tuple[IncidentFact, ...]
    top: tuple[Contributor, ...]

    @property
    def new_tickets(self) -> int:
        return sum(self.new_by_grade.values())


@dataclass(slots=True)
class _GridDay:
    status: str | None = None
    new: Counter[tuple[str, str]] = field(default_factory=Counter)  # (category, grade) -> count
    closed: int = 0
    in_time: int = 0
    overdue: int = 0
    recent_reports: int = 0


@dataclass(frozen=True, slots=True)
class _IncidentRow:
    id: int
    grid_id: int | None
    community_id: int | None
    category: str
    created_at: datetime
    acked_at: datetime | None


@dataclass(frozen=True, slots=True)
class _DayAgg:
    """One day's figures summed over some grids: a comprehensive grid, a community, a scope."""

    grids: int = 0
    zero: int = 0
    basic: int = 0
    major: int = 0
    missing: tuple[tuple[int, str], ...] = ()  # (reports over the past week, grid name), worst first
    new: Counter[tuple[str, str]] = field(default_factory=Counter)  # (category, grade) -> count
    closed: int = 0
    in_time: int = 0
    overdue: int = 0
    oldest: tuple[tuple[datetime, int, int], ...] = ()  # (deadline, ticket id, grid id), oldest first

    def patrol(self, name: str) -> PatrolCount:
        missing = tuple(grid for _, grid in self.missing)
        return PatrolCount(name, self.grids, self.zero, self.basic, self.major, missing)


def _merge_days(parts: Sequence[_DayAgg]) -> _DayAgg:
    """Parts arrive in roster order, each already sorted: a stable sort of their concatenation
    orders ties exactly as one sort over all their grids would (and Counter keeps first-seen key
    order, which decides the order of equally common categories)."""
    new: Counter[tuple[str, str]] = Counter()
    for p in parts:
        new.update(p.new)
    oldest = sorted(chain.from_iterable(p.oldest for p in parts))
    return _DayAgg(
        grids=sum(p.grids for p in parts),
        zero=sum(p.zero for p in parts),
        basic=sum(p.basic for p in parts),
        major=sum(p.major for p in parts),
        missing=tuple(sorted(chain.from_iterable(p.missing for p in parts), key=itemgetter(0))),
        new=new,
        closed=sum(p.closed for p in parts),
        in_time=sum(p.in_time for p in parts),
        overdue=sum(p.overdue for p in parts),
        oldest=tuple(oldest[:OLDEST_OVERDUE]),
    )


@dataclass(slots=True)
class _DayData:
    """One day's raw aggregates for a set of grids; `figures` cuts one scope out of them."""

    day: date
    as_of: datetime
    required: bool
    directory: _Directory
    grids: dict[int, _GridDay]
    oldest: list[tuple[int, int, datetime]]  # (ticket id, grid id, deadline), a few per grid
    incidents: list[_IncidentRow]
    points: _PointsBook
    texts: Templates
    _rollup: _Rollup[_DayAgg] = field(init=False)
    _oldest_by_grid: dict[int, list[tuple[datetime, int, int]]] = field(init=False)
    _incidents_by_comp: dict[int, list[int]] = field(init=False)  # indexes into `incidents`
    _incidents_by_community: dict[int | None, list[int]] = field(init=False)  # no micro-grid named

    def __post_init__(self) -> None:
        self._rollup = _Rollup(self.directory, self._leaf, _merge_days)
        self._oldest_by_grid = defaultdict(list)
        for tid, gid, deadline in self.oldest:
            self._oldest_by_grid[gid].append((deadline, tid, gid))
        self._incidents_by_comp = defaultdict(list)
        self._incidents_by_community = defaultdict(list)
        for i, row in enumerate(self.incidents):
            if row.grid_id is None:
                self._incidents_by_community[row.community_id].append(i)
            elif row.grid_id in self.directory.grids:  # an inactive grid's incident reaches no one
                self._incidents_by_comp[self.directory.grids[row.grid_id].comp_grid_id].append(i)

    def figures(self, scope: Scope) -> DailyFigures:
        cut = _Cut.of(self._rollup, scope)
        total = cut.total
        by_category: Counter[str] = Counter()
        by_grade: Counter[str] = Counter()
        for (category, grade), n in total.new.items():
            by_category[category] += n
            by_grade[grade] += n
        return DailyFigures(
            day=self.day,
            scope_name=cut.name(scope, self.texts),
            required=self.required,
            total=total.patrol(""),
            by_community=tuple(agg.patrol(g.community_name) for g, agg in cut.communities),
            by_comp_grid=tuple(agg.patrol(g.comp_name) for g, agg in cut.comps),
            new_by_category=dict(by_category.most_common()),
            new_by_grade={grade: by_grade.get(grade, 0) for grade in sorted({*GRADES, *by_grade})},
            closed=total.closed,
            closed_in_time=total.in_time,
            overdue=total.overdue,
            oldest_overdue=tuple(
                OverdueTicket(f"R{tid}", self.directory.grids[gid].name, deadline, self.as_of - deadline)
                for deadline, tid, gid in total.oldest
            ),
            incidents=self._incidents(scope, [g.comp_grid_id for g, _ in cut.comps]),
            top=self.points.top(scope, DAILY_TOP),
        )

    def _leaf(self, grids: Sequence[GridInfo]) -> _DayAgg:
        days = [self.grids[g.id] for g in grids]
        statuses = Counter(d.status for d in days)
        # Worst first: of today's missing grids, those that reported least over the past week.
        missing = sorted(
            (
                (d.recent_reports, g.name)
                for g, d in zip(grids, days, strict=True)
                if d.status not in REPORTED
            ),
            key=itemgetter(0),
        )
        new: Counter[tuple[str, str]] = Counter()
        for d in days:
            new.update(d.new)
        oldest = sorted(row for g in grids for row in self._oldest_by_grid.get(g.id, ()))
        return _DayAgg(
            grids=len(grids),
            zero=statuses["zero"],
            basic=statuses["basic"],
            major=statuses["major"],
            missing=tuple(missing),
            new=new,
            closed=sum(d.closed for d in days),
            in_time=sum(d.in_time for d in days),
            overdue=sum(d.overdue for d in days),
            oldest=tuple(oldest[:OLDEST_OVERDUE]),
        )

    def _incidents(self, scope: Scope, comps: Sequence[int]) -> tuple[IncidentFact, ...]:
        """Incidents in the scope's grids, and those naming only a community the scope covers."""
        if scope.everything:
            picked: Iterable[int] = sorted(
                i for bucket in (*self._incidents_by_comp.values(), *self._incidents_by_community.values())
                for i in bucket
            )  # fmt: skip
        else:
            chosen = [i for c in comps for i in self._incidents_by_comp.get(c, ())]
            chosen += [i for c in scope.community_ids for i in self._incidents_by_community.get(c, ())]
            picked = sorted(chosen)  # back to time order
        facts = []
        for i in picked:
            row = self.incidents[i]
            minutes = None
            if row.acked_at is not None:
                minutes = max(0, round((row.acked_at - row.created_at).total_seconds() / 60))
            facts.append(IncidentFact(f"M{row.id}", category_name(row.category), row.created_at, minutes))
        return tuple(facts)


def _patrol_required(services: Services, day: date) -> bool:
    return not services.policy.workdays_only or services.calendar.is_workday(day)


def _load_day(
    store: Store, services: Services, day: date, scope: Scope, as_of: datetime, texts: Templates
) -> _DayData:
    tz = services.policy.tz
    start, end = _window(tz, day, day + timedelta(days=1))
    directory = load_directory(store, scope)
    grids = {gid: _GridDay() for gid in directory}
    in_scope = _scope_grid_ids(scope)
    _fill_patrols(store, grids, day, in_scope)
    _fill_new_tickets(store, grids, start, end, in_scope)
    _fill_closed(store, grids, start, end, in_scope)
    oldest = _fill_overdue(store, grids, as_of, in_scope)
    return _DayData(
        day=day,
        as_of=as_of,
        required=_patrol_required(services, day),
        directory=_Directory.build(directory),
        grids=grids,
        oldest=oldest,
        incidents=_load_incidents(store, start, end),
        points=_load_points(store, start, end, directory),
        texts=texts,
    )


def _fill_patrols(store: Store, grids: dict[int, _GridDay], day: date, in_scope: GridIds) -> None:
    today = select(col(PatrolReport.micro_grid_id), PatrolReport.status).where(
        PatrolReport.day == day,
        col(PatrolReport.recalled).is_(False),
        col(PatrolReport.micro_grid_id).in_(in_scope),
    )
    for gid, status in store.session.exec(today):
        if gid in grids:
            grids[gid].status = status
    week = (
        select(col(PatrolReport.micro_grid_id), func.count())
        .where(
            col(PatrolReport.day) >= day - timedelta(days=RECENT_DAYS),
            col(PatrolReport.day) < day,
            col(PatrolReport.status).in_(REPORTED),
            col(PatrolReport.recalled).is_(False),
            col(PatrolReport.micro_grid_id).in_(in_scope),
        )
        .group_by(col(PatrolReport.micro_grid_id))
    )
    for gid, n in store.session.exec(week):
        if gid in grids:
            grids[gid].recent_reports = int(n)


def _ticket_grid_in(in_scope: GridIds) -> ColumnElement[bool]:
    """Tickets of the grids in scope, for queries that pick a period's tickets by a time index
    (created_at, resolved_at, rated_at). Written as `micro_grid_id + 0` so that no index on the
    grid serves it: without statistics SQLite preferred ix_ticket_micro_grid_id for the GROUP BY
    and walked every ticket the grids ever had, where the period holds a few."""
    return (col(Ticket.micro_grid_id) + 0).in_(in_scope)


def _fill_new_tickets(
    store: Store, grids: dict[int, _GridDay], start: datetime, end: datetime, in_scope: GridIds
) -> None:
    stmt = (
        select(col(Ticket.micro_grid_id), Ticket.category, Ticket.grade, func.count())
        .where(
            col(Ticket.created_at) >= start,
            col(Ticket.created_at) < end,
            col(Ticket.recalled).is_(False),
            _ticket_grid_in(in_scope),
        )
        .group_by(col(Ticket.micro_grid_id), Ticket.category, Ticket.grade)
    )
    for gid, category, grade, n in store.session.exec(stmt):
        if gid in grids:
            grids[gid].new[(category, grade)] += int(n)


def _closed_counts(
    store: Store, start: datetime, end: datetime, in_scope: GridIds
) -> dict[int, tuple[int, int]]:
    """Per grid: tickets resolved in [start, end), and how many of them by their deadline."""
    in_time = func.sum(case((col(Ticket.resolved_at) <= col(Ticket.deadline), 1), else_=0))
    stmt = (
        select(col(Ticket.micro_grid_id), func.count(), in_time)
        .where(
            col(Ticket.resolved_at) >= start,
            col(Ticket.resolved_at) < end,
            col(Ticket.recalled).is_(False),
            _ticket_grid_in(in_scope),
        )
        .group_by(col(Ticket.micro_grid_id))
    )
    return {gid: (int(n), int(ok or 0)) for gid, n, ok in store.session.exec(stmt) if gid is not None}


def _fill_closed(
    store: Store, grids: dict[int, _GridDay], start: datetime, end: datetime, in_scope: GridIds
) -> None:
    for gid, (n, ok) in _closed_counts(store, start, end, in_scope).items():
        if gid in grids:
            grids[gid].closed, grids[gid].in_time = n, ok


def _overdue_halves(as_of: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Open past its deadline at `as_of`, read so that a re-run for a past day gives that day's
    answer: a ticket resolved after `as_of` was still open then.

    Two disjoint predicates rather than one OR: "still open" is served by the (status, deadline)
    index and "resolved since" by resolved_at's, whereas the OR made SQLite read every ticket of
    the grids in scope. The second half leaves out the open states so that a ticket reopened after
    its resolution (open, with a resolved_at) is counted once, by the first."""
    common = (
        col(Ticket.recalled).is_(False),
        col(Ticket.created_at) < as_of,
        col(Ticket.deadline) < as_of,
    )
    still_open = and_(col(Ticket.status).in_(OVERDUE_STATES), *common)
    resolved_since = and_(
        col(Ticket.resolved_at) >= as_of, col(Ticket.status).not_in(OVERDUE_STATES), *common
    )
    return still_open, resolved_since


def _fill_overdue(
    store: Store, grids: dict[int, _GridDay], as_of: datetime, in_scope: GridIds
) -> list[tuple[int, int, datetime]]:
    """Overdue counts per grid, and each grid's few oldest overdue tickets.

    One windowed query per half of `_overdue_halves`: ROW_NUMBER keeps the rows fetched bounded by
    grids × OLDEST_OVERDUE however large the backlog, and COUNT over the same partition gives the
    grid's total in the same pass. A grid's oldest overall are among the two halves' oldest; the
    digest sorts and cuts them again per scope."""
    oldest: list[tuple[int, int, datetime]] = []
    for half in _overdue_halves(as_of):
        counted: set[int] = set()  # each of a grid's rows carries the grid's count of this half
        for tid, gid, deadline, n in store.session.exec(_ranked_overdue(half, in_scope)):
            if gid not in grids:
                continue
            if gid not in counted:
                counted.add(gid)
                grids[gid].overdue += int(n)
            oldest.append((tid, gid, deadline))
    return oldest


def _ranked_overdue(where: ColumnElement[bool], in_scope: GridIds) -> Select[int, int, datetime, int]:
    # `micro_grid_id + 0` (same value, no index) for the partition and the scope filter: given the
    # bare column SQLite walks ix_ticket_micro_grid_id to get the partitions pre-sorted, i.e. every
    # ticket of the grids in scope; this way it takes the half's own index and sorts the few
    # matches. PostgreSQL plans the same either way.
    grid = col(Ticket.micro_grid_id) + 0
    pos = func.row_number().over(partition_by=grid, order_by=(col(Ticket.deadline), col(Ticket.id)))
    # SQLAlchemy's own select: sqlmodel's typed overloads stop at four columns.
    ranked = (
        sa_select(
            col(Ticket.id),
            col(Ticket.micro_grid_id),
            col(Ticket.deadline),
            pos.label("pos"),
            func.count().over(partition_by=grid).label("n"),
        )
        .where(where, grid.in_(in_scope))
        .subquery()
    )
    c = ranked.c
    return select(c.id, c.micro_grid_id, c.deadline, c.n).where(c.pos <= OLDEST_OVERDUE)


def _load_incidents(store: Store, start: datetime, end: datetime) -> list[_IncidentRow]:
    # A day's major incidents are few; scope is applied per supervisor in memory because an incident
    # may name only a community (no micro-grid).
    stmt = (
        select(Incident)
        .where(
            col(Incident.created_at) >= start,
            col(Incident.created_at) < end,
            col(Incident.recalled).is_(False),
        )
        .order_by(col(Incident.created_at), col(Incident.id))
    )
    return [
        _IncidentRow(i.id or 0, i.micro_grid_id, i.community_id, i.category, i.created_at, i.acked_at)
        for i in store.session.exec(stmt)
    ]


def collect_daily(
    store: Store,
    services: Services,
    day: date,
    scope: Scope,
    *,
    as_of: datetime | None = None,
    templates: Templates | None = None,
) -> DailyFigures:
    """One day's figures for `scope`. Overdue is judged at `as_of` (default: the end of `day`)."""
    texts = templates or digest_templates()
    end_of_day = _window(services.policy.tz, day, day + timedelta(days=1))[1]
    return _load_day(store, services, day, scope, as_of or end_of_day, texts).figures(scope)


# -- daily rendering -------------------------------------------------------------------------------


def _late(late: timedelta, texts: Templates) -> str:
    if late >= timedelta(days=1):
        return texts.render("late_days", days=late.days)
    return texts.render("late_hours", hours=max(1, int(late.total_seconds() // 3600)))


def _patrol_lines(f: DailyFigures, texts: Templates) -> list[str]:
    t = f.total
    key = "daily_patrol" if f.required else "daily_patrol_rest_day"
    head = texts.render(
        key,
        reported=t.reported,
        grids=t.grids,
        zero=t.zero,
        basic=t.basic,
        major=t.major,
        missing=len(t.missing),
    )
    if len(f.by_community) > 1:  # a street: one line per community, then the worst grids
        lines = [head, *_unit_lines(f.by_community, texts, "unit_kind_community", names=False)]
        if f.required and t.missing:
            lines.append(texts.render("daily_missing_names", names=_names(t.missing, texts, MAX_WORST)))
        return lines
    if len(f.by_comp_grid) > 1:  # a community: one line per comprehensive grid, with names
        return [head, *_unit_lines(f.by_comp_grid, texts, "unit_kind_comp", names=f.required)]
    if f.required and t.missing:
        return [head, texts.render("daily_missing_names", names=_names(t.missing, texts, MAX_WORST))]
    return [head]


def _unit_lines(units: Sequence[PatrolCount], texts: Templates, kind: str, names: bool) -> list[str]:
    """Worst units first; units that all reported are folded into one "其余…" line past MAX_UNITS."""
    ordered = sorted(units, key=lambda u: (-len(u.missing), u.reported / max(u.grids, 1)))
    lines = []
    for u in ordered[:MAX_UNITS]:
        values: dict[str, object] = {"unit": _short(u.name), "reported": u.reported, "grids": u.grids}
        if not u.missing:
            lines.append(texts.render("daily_unit_ok", **values))
        elif names:
            lines.append(
                texts.render("daily_unit_names", names=_names(u.missing, texts, MAX_NAMES), **values)
            )
        else:
            lines.append(texts.render("daily_unit", missing=len(u.missing), **values))
    rest = ordered[MAX_UNITS:]
    if rest:
        missing = sum(len(u.missing) for u in rest)
        key = "daily_units_rest" if missing else "daily_units_rest_ok"
        lines.append(texts.render(key, count=len(rest), unit=texts.render(kind), missing=missing))
    return lines


def _ticket_lines(f: DailyFigures, texts: Templates) -> list[str]:
    sep = texts.render("sep")
    if f.new_tickets:
        cats = list(f.new_by_category.items())
        shown = sep.join(
            texts.render("category_item", category=category_name(c), count=n)
            for c, n in cats[:MAX_CATEGORIES]
        )
        if len(cats) > MAX_CATEGORIES:
            shown = texts.render("more", items=shown, count=len(cats))
        grades = texts.render("grade_sep").join(
            texts.render("grade_item", grade=g, count=n) for g, n in f.new_by_grade.items()
        )
        new = texts.render("daily_new_tickets", count=f.new_tickets, categories=shown, grades=grades)
    else:
        new = texts.render("daily_new_tickets_none")
    closed = texts.render("daily_closed", closed=f.closed, in_time=f.closed_in_time)
    if f.overdue:
        items = sep.join(
            texts.render("daily_overdue_item", ref=o.ref, grid=_short(o.grid), late=_late(o.late, texts))
            for o in f.oldest_overdue
        )
        overdue = texts.render("daily_overdue", count=f.overdue, items=items)
    else:
        overdue = texts.render("daily_overdue_none")
    return [new, closed, overdue]


def _incident_line(f: DailyFigures, texts: Templates) -> str:
    if not f.incidents:
        return texts.render("daily_incidents_none")
    # Past the limit, unacknowledged incidents matter most; each group stays in time order.
    shown = sorted(f.incidents, key=lambda i: i.ack_minutes is not None)[:MAX_INCIDENTS]
    parts = [
        texts.render("daily_incident_open", ref=i.ref, category=i.category)
        if i.ack_minutes is None
        else texts.render("daily_incident_acked", ref=i.ref, category=i.category, minutes=i.ack_minutes)
        for i in shown
    ]
    items = texts.render("sep").join(parts)
    if len(f.incidents) > MAX_INCIDENTS:
        items = texts.render("more", items=items, count=len(f.incidents))
    return texts.render("daily_incidents", count=len(f.incidents), items=items)


def _top_line(top: Sequence[Contributor], texts: Templates, key: str, none_key: str) -> str:
    if not top:
        return texts.render(none_key)
    items = texts.render("sep").join(texts.render("top_item", name=c.name, points=c.points) for c in top)
    return texts.render(key, items=items)


def fit(
    lines: Sequence[str], texts: Templates, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS
) -> str:
    """Join lines, cutting the tail (with a pointer to the dashboard) if the bounds would break.

    The line builders already cap every list; this is the guarantee when names are long."""
    text = "\n".join(lines)
    if len(lines) <= max_lines and len(text) <= max_chars:
        return text
    tail = texts.render("truncated")
    kept: list[str] = []
    used = len(tail)
    for line in lines[: max_lines - 1]:
        if used + len(line) + 1 > max_chars:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, tail])[:max_chars]


def render_daily(f: DailyFigures, texts: Templates | None = None) -> str:
    texts = texts or digest_templates()
    lines = [
        texts.render("daily_header", day=fmt_day(f.day), scope=f.scope_name),
        *_patrol_lines(f, texts),
        *_ticket_lines(f, texts),
        _incident_line(f, texts),
        _top_line(f.top, texts, "daily_top", "daily_top_none"),
    ]
    return fit(lines, texts)


def daily_digest(
    store: Store,
    services: Services,
    day: date,
    at: datetime,
    account: str = "default",
    *,
    templates: Templates | None = None,
) -> int:
    """Write each supervisor's digest of `day` (kind "digest"); returns how many were written.

    Re-running the same day writes nothing new: keys are `digest:{day}:{person id}`."""
    texts = templates or digest_templates()
    targets = _supervisor_scopes(store)
    if not targets:
        return 0
    end_of_day = _window(services.policy.tz, day, day + timedelta(days=1))[1]
    data = _load_day(store, services, day, _union(s for _, s in targets), min(at, end_of_day), texts)

    def compose(scope: Scope) -> str | None:
        figures = data.figures(scope)
        return render_daily(figures, texts) if figures.total.grids else None

    return _send_all(store, at, account, f"digest:{day}", "digest", compose)


# -- weekly / monthly ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportRate:
    """Days with a report over days a report was due, for one grid or a group of grids."""

    name: str
    done: int
    total: int

    @property
    def rate(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True, slots=True)
class BulletinFigures:
    start: date
    end: date  # exclusive
    scope_name: str
    due_days: int  # days a report was due in the period
    overall: ReportRate
    grids: tuple[ReportRate, ...]  # lowest rate first
    by_community: tuple[ReportRate, ...]
    by_comp_grid: tuple[ReportRate, ...]
    closed: int
    closed_in_time: int
    rating_sum: int
    rating_count: int
    top: tuple[Contributor, ...]

    @property
    def rating_avg(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None


@dataclass(slots=True)
class _GridPeriod:
    reported: int = 0
    closed: int = 0
    in_time: int = 0
    rating_sum: int = 0
    rating_count: int = 0


@dataclass(frozen=True, slots=True)
class _PeriodAgg:
    """A period's figures summed over some grids; `rates` per grid, lowest first."""

    grids: int = 0
    done: int = 0
    closed: int = 0
    in_time: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    rates: tuple[ReportRate, ...] = ()


def _lowest_first(rates: Iterable[ReportRate]) -> tuple[ReportRate, ...]:
    return tuple(sorted(rates, key=lambda r: r.rate))


def _merge_periods(parts: Sequence[_PeriodAgg]) -> _PeriodAgg:
    """As `_merge_days`: sorted parts in roster order re-sort stably into the all-grids order."""
    return _PeriodAgg(
        grids=sum(p.grids for p in parts),
        done=sum(p.done for p in parts),
        closed=sum(p.closed for p in parts),
        in_time=sum(p.in_time for p in parts),
        rating_sum=sum(p.rating_sum for p in parts),
        rating_count=sum(p.rating_count for p in parts),
        rates=_lowest_first(chain.from_iterable(p.rates for p in parts)),
    )


@dataclass(slots=True)
class _PeriodData:
    start: date
    end: date
    due_days: int
    directory: _Directory
    grids: dict[int, _GridPeriod]
    points: _PointsBook
    texts: Templates
    _rollup: _Rollup[_PeriodAgg] = field(init=False)

    def __post_init__(self) -> None:
        self._rollup = _Rollup(self.directory, self._leaf, _merge_periods)

    def figures(self, scope: Scope) -> BulletinFigures:
        cut = _Cut.of(self._rollup, scope)
        total = cut.total
        return BulletinFigures(
            start=self.start,
            end=self.end,
            scope_name=cut.name(scope, self.texts),
            due_days=self.due_days,
            overall=ReportRate("", total.done, self.due_days * total.grids),
            grids=total.rates,
            by_community=self._unit_rates((g.community_name, agg) for g, agg in cut.communities),
            by_comp_grid=self._unit_rates((g.comp_name, agg) for g, agg in cut.comps),
            closed=total.closed,
            closed_in_time=total.in_time,
            rating_sum=total.rating_sum,
            rating_count=total.rating_count,
            top=self.points.top(scope, BULLETIN_TOP),
        )

    def _unit_rates(self, units: Iterable[tuple[str, _PeriodAgg]]) -> tuple[ReportRate, ...]:
        return _lowest_first(ReportRate(name, agg.done, agg.grids * self.due_days) for name, agg in units)

    def _leaf(self, grids: Sequence[GridInfo]) -> _PeriodAgg:
        data = [self.grids[g.id] for g in grids]
        return _PeriodAgg(
            grids=len(grids),
            done=sum(d.reported for d in data),
            closed=sum(d.closed for d in data),
            in_time=sum(d.in_time for d in data),
            rating_sum=sum(d.rating_sum for d in data),
            rating_count=sum(d.rating_count for d in data),
            rates=_lowest_first(
                ReportRate(g.name, d.reported, self.due_days) for g, d in zip(grids, data, strict=True)
            ),
        )


def _due_days(services: Services, start: date, end: date) -> list[date]:
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    return [d for d in days if _patrol_required(services, d)]


def _load_period(
    store: Store, services: Services, start: date, end: date, scope: Scope, texts: Templates
) -> _PeriodData:
    due = _due_days(services, start, end)
    t0, t1 = _window(services.policy.tz, start, end)
    directory = load_directory(store, scope)
    grids = {gid: _GridPeriod() for gid in directory}
    in_scope = _scope_grid_ids(scope)
    _fill_report_days(store, grids, start, end, due, in_scope)
    for gid, (n, ok) in _closed_counts(store, t0, t1, in_scope).items():
        if gid in grids:
            grids[gid].closed, grids[gid].in_time = n, ok
    _fill_ratings(store, grids, t0, t1, in_scope)
    points = _load_points(store, t0, t1, directory)
    return _PeriodData(start, end, len(due), _Directory.build(directory), grids, points, texts)


def _fill_report_days(
    store: Store, grids: dict[int, _GridPeriod], start: date, end: date, due: list[date], in_scope: GridIds
) -> None:
    if not due:
        return
    # Only days a report was due count, so a rest-day report cannot lift a grid above 100%.
    days = col(PatrolReport.day).in_(due) if len(due) < (end - start).days else true()
    stmt = (
        select(col(PatrolReport.micro_grid_id), func.count())
        .where(
            col(PatrolReport.day) >= start,
            col(PatrolReport.day) < end,
            days,
            col(PatrolReport.status).in_(REPORTED),
            col(PatrolReport.recalled).is_(False),
            col(PatrolReport.micro_grid_id).in_(in_scope),
        )
        .group_by(col(PatrolReport.micro_grid_id))
    )
    for gid, n in store.session.exec(stmt):
        if gid in grids:
            grids[gid].reported = int(n)


def _fill_ratings(
    store: Store, grids: dict[int, _GridPeriod], start: datetime, end: datetime, in_scope: GridIds
) -> None:
    """Ratings given in the period (a ticket closed last week and rated this week counts now)."""
    stmt = (
        select(col(Ticket.micro_grid_id), func.sum(Ticket.rating), func.count())
        .where(
            col(Ticket.rated_at) >= start,
            col(Ticket.rated_at) < end,
            col(Ticket.rating).is_not(None),
            col(Ticket.recalled).is_(False),
            _ticket_grid_in(in_scope),
        )
        .group_by(col(Ticket.micro_grid_id))
    )
    for gid, total, n in store.session.exec(stmt):
        if gid in grids:
            grids[gid].rating_sum, grids[gid].rating_count = int(total or 0), int(n)


def collect_period(
    store: Store,
    services: Services,
    start: date,
    end: date,
    scope: Scope,
    *,
    templates: Templates | None = None,
) -> BulletinFigures:
    """Bulletin figures for [start, end) (local dates) and `scope`."""
    texts = templates or digest_templates()
    return _load_period(store, services, start, end, scope, texts).figures(scope)


def _rate_lines(f: BulletinFigures, texts: Templates) -> list[str]:
    lines = [texts.render("bulletin_rate", rate=_pct(f.overall.done, f.overall.total),
                          done=f.overall.done, total=f.overall.total)]  # fmt: skip
    units, kind = (
        (f.by_community, "unit_kind_community")
        if len(f.by_community) > 1
        else (f.by_comp_grid, "unit_kind_comp")
    )
    if len(units) > 1:
        for u in units[:MAX_UNITS]:
            lines.append(texts.render("bulletin_unit", unit=_short(u.name), rate=_pct(u.done, u.total)))
        if len(units) > MAX_UNITS:
            lines.append(
                texts.render("bulletin_units_rest", count=len(units) - MAX_UNITS, unit=texts.render(kind))
            )
    lowest = [g for g in f.grids if g.done < g.total][:BULLETIN_LOWEST]
    if lowest:
        items = texts.render("sep").join(
            texts.render("bulletin_lowest_item", grid=_short(g.name), rate=_pct(g.done, g.total))
            for g in lowest
        )
        lines.append(texts.render("bulletin_lowest", items=items))
    elif f.overall.total:
        lines.append(texts.render("bulletin_all_full"))
    return lines


def _work_lines(f: BulletinFigures, texts: Templates) -> list[str]:
    closed = (
        texts.render(
            "bulletin_closed", closed=f.closed, in_time=f.closed_in_time, pct=_pct(f.closed_in_time, f.closed)
        )
        if f.closed
        else texts.render("bulletin_closed_none")
    )
    avg = f.rating_avg
    rating = (
        texts.render("bulletin_rating_none")
        if avg is None
        else texts.render("bulletin_rating", avg=f"{avg:.1f}", count=f.rating_count)
    )
    return [closed, rating]


def render_bulletin(f: BulletinFigures, header: str, texts: Templates | None = None) -> str:
    texts = texts or digest_templates()
    lines = [
        header,
        *_rate_lines(f, texts),
        *_work_lines(f, texts),
        _top_line(f.top, texts, "bulletin_top", "bulletin_top_none"),
    ]
    return fit(lines, texts)


def _bulletin(
    store: Store,
    services: Services,
    start: date,
    end: date,
    at: datetime,
    account: str,
    *,
    prefix: str,
    kind: str,
    header: Callable[[BulletinFigures], str],
    texts: Templates,
) -> int:
    targets = _supervisor_scopes(store)
    if not targets:
        return 0
    data = _load_period(store, services, start, end, _union(s for _, s in targets), texts)

    def compose(scope: Scope) -> str | None:
        figures = data.figures(scope)
        return render_bulletin(figures, header(figures), texts) if figures.grids else None

    return _send_all(store, at, account, prefix, kind, compose)


def weekly_bulletin(
    store: Store,
    services: Services,
    week_start: date,
    at: datetime,
    account: str = "default",
    *,
    templates: Templates | None = None,
) -> int:
    """The 7 days from `week_start` (a Monday); keys `weekly:{week_start}:{person id}`."""
    texts = templates or digest_templates()
    end = week_start + timedelta(days=7)
    last = fmt_day(end - timedelta(days=1))

    def header(f: BulletinFigures) -> str:
        return texts.render("weekly_header", start=fmt_day(week_start), end=last, scope=f.scope_name)

    return _bulletin(
        store, services, week_start, end, at, account,
        prefix=f"weekly:{week_start}", kind="weekly_bulletin", header=header, texts=texts,
    )  # fmt: skip


def monthly_bulletin(
    store: Store,
    services: Services,
    month: date,
    at: datetime,
    account: str = "default",
    *,
    templates: Templates | None = None,
) -> int:
    """The calendar month containing `month` (pass its first day); keys `monthly:{YYYY-MM}:{person id}`."""
    texts = templates or digest_templates()
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    label = f"{start.year}年{start.month}月"

    def header(f: BulletinFigures) -> str:
        return texts.render("monthly_header", month=label, scope=f.scope_name)

    return _bulletin(
        store, services, start, end, at, account,
        prefix=f"monthly:{start:%Y-%m}", kind="monthly_bulletin", header=header, texts=texts,
    )  # fmt: skip
